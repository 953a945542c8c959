/**
 * First-load budget (firstLoadBudget.ts): the JavaScript and CSS a browser must fetch before the
 * terminal is usable, gzip-compressed. Reads the built dist/ (the test runner builds first).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { FIRST_LOAD_BUDGET_KIB } from './firstLoadBudget';

const BUDGET_BYTES = FIRST_LOAD_BUDGET_KIB * 1024;
const dist = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist');

/** Asset paths referenced by index.html as initial loads: module scripts, stylesheets, modulepreloads. */
function initialAssets(html: string): string[] {
  const found = new Set<string>();
  for (const [tag] of html.matchAll(/<(?:script|link)\b[^>]*>/g)) {
    const src = /\b(?:src|href)="([^"]+)"/.exec(tag)?.[1];
    if (!src || /^(?:https?:)?\/\//.test(src)) continue;
    const isScript = tag.startsWith('<script') && /type="module"/.test(tag);
    const isStyle = /rel="stylesheet"/.test(tag);
    const isPreload = /rel="modulepreload"/.test(tag);
    if (isScript || isStyle || isPreload) found.add(posix.normalize(src.replace(/^\.?\//, '')));
  }
  return [...found];
}

/** Chunks a JS file imports statically (not `import()`), which load before it runs. */
function staticImports(code: string, from: string): string[] {
  const out: string[] = [];
  for (const match of code.matchAll(/(?:^|[;}\s])import\s*(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"']+\.js)["']/g)) {
    out.push(posix.normalize(posix.join(posix.dirname(from), match[1])));
  }
  return out;
}

describe('first-load budget', () => {
  it(`keeps the JS and CSS needed before the terminal is usable within ${BUDGET_BYTES / 1024} KB gzip`, () => {
    const indexPath = join(dist, 'index.html');
    if (!existsSync(indexPath)) throw new Error('dist/index.html is missing: run npm run build first');
    const queue = initialAssets(readFileSync(indexPath, 'utf8'));
    expect(queue.some((asset) => asset.endsWith('.js'))).toBe(true);
    const seen = new Set<string>();
    const sizes: Array<[string, number]> = [];
    while (queue.length) {
      const asset = queue.shift()!;
      if (seen.has(asset)) continue;
      seen.add(asset);
      const body = readFileSync(join(dist, asset));
      sizes.push([asset, gzipSync(body, { level: 9 }).length]);
      if (asset.endsWith('.js')) queue.push(...staticImports(body.toString('utf8'), asset));
    }
    const total = sizes.reduce((sum, [, size]) => sum + size, 0);
    const report = sizes.map(([asset, size]) => `  ${asset}: ${(size / 1024).toFixed(1)} KB`).join('\n');
    console.log(`first load: ${(total / 1024).toFixed(1)} KB gzip (budget ${BUDGET_BYTES / 1024} KB)\n${report}`);
    expect(total, `first load is ${(total / 1024).toFixed(1)} KB gzip, over the ${BUDGET_BYTES / 1024} KB budget:\n${report}`).toBeLessThanOrEqual(BUDGET_BYTES);
  });
});
