import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

// Browser tests: one file at a time in one process (one Chromium), with room for slow starts.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
  },
});
