import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// The app lives in src/ui; static files in public/; the build goes to dist/ at the top.
// Svelte options are inline (configFile: false) so the repository needs no svelte.config.js.
export default defineConfig({
  root: here('.'),
  publicDir: here('../../public'),
  base: './',
  plugins: [svelte({ configFile: false, compilerOptions: { runes: true } })],
  build: {
    outDir: here('../../dist'),
    emptyOutDir: true,
    target: 'es2022',
    // The budget test reads the gzip figure; vite's own report would only repeat it.
    reportCompressedSize: false,
  },
  server: { fs: { allow: [here('../..')] } },
});
