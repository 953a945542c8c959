// The import rules of docs/architecture.md, checked on every source file: core folders stay
// free of DOM, Node and UI code so the same protocol model runs in the browser and in Node.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

type Folder = 'protocol' | 'machines' | 'sim' | 'net' | 'lab' | 'course' | 'ui' | 'bridge' | 'smtpd' | 'bin';

/** Which project folders and which packages each folder may import. */
const rules: Record<Folder, { folders: Folder[]; packages: RegExp }> = {
  protocol: { folders: [], packages: /^$/ },
  machines: { folders: ['protocol'], packages: /^xstate(\/|$)/ },
  sim: { folders: ['protocol', 'machines'], packages: /^xstate(\/|$)/ },
  net: { folders: ['protocol', 'sim', 'machines'], packages: /^xstate(\/|$)/ },
  lab: { folders: ['protocol', 'machines', 'sim', 'net'], packages: /^xstate(\/|$)/ },
  course: { folders: ['protocol', 'machines', 'sim', 'lab'], packages: /^xstate(\/|$)/ },
  ui: {
    folders: ['protocol', 'machines', 'sim', 'net', 'lab', 'course'],
    packages: /^(svelte(\/|$)|@xterm\/|xstate(\/|$))/,
  },
  bridge: { folders: ['protocol', 'net'], packages: /^(node:|ws$)/ },
  smtpd: { folders: ['protocol', 'machines', 'sim'], packages: /^(node:|selfsigned$|xstate(\/|$))/ },
  bin: { folders: ['protocol', 'machines', 'sim', 'net', 'lab', 'course', 'bridge', 'smtpd'], packages: /^(node:|ws$|xstate(\/|$))/ },
};

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return walk(path);
    return /\.(ts|svelte)$/.test(name) ? [path] : [];
  });
}

const importPattern = /(?:^|\n)\s*(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string, source = readFileSync(file, 'utf8')): string[] {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
  return [...text.matchAll(importPattern)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

function folderOf(path: string): string {
  return relative(src, path).split(sep)[0]!;
}

// Build configuration (vite.config.ts) runs in Node at build time, not in the app.
const files = walk(src).filter((file) => !file.endsWith('.config.ts'));

describe('import rules', () => {
  it('finds the source tree', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it('the checker catches what it must (a rule check that cannot fail is no check)', () => {
    const fake = join(src, 'protocol', 'fake.ts');
    expect(violations(fake, "import { createActor } from 'xstate';\nimport x from '../ui/App.svelte';\nimport './reply';")).toEqual([
      'xstate',
      '../ui/App.svelte (src/ui)',
    ]);
    expect(violations(join(src, 'machines', 'm.ts'), "import { setup } from 'xstate';\nexport { Replies } from '../protocol/replies';")).toEqual([]);
    expect(violations(join(src, 'sim', 's.ts'), "const fs = await import('node:fs');")).toEqual(['node:fs']);
  });

  for (const file of files) {
    const folder = folderOf(file) as Folder;
    const rel = relative(root, file);
    it(`${rel} imports only what ${folder}/ may`, () => {
      expect(rules[folder], `${rel}: src/${folder} is not a folder of docs/architecture.md`).toBeDefined();
      expect(violations(file), `${rel} imports what src/${folder}/ may not`).toEqual([]);
    });
  }
});

function violations(file: string, source?: string): string[] {
  const folder = folderOf(file) as Folder;
  const rule = rules[folder];
  const wrong: string[] = [];
  for (const spec of importsOf(file, source)) {
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          if (target.startsWith(src + sep)) {
            const targetFolder = folderOf(target);
            if (targetFolder !== folder && !rule.folders.includes(targetFolder as Folder)) {
              // net/wire.ts is the one file of net/ that the bridge shares.
              const wireException = folder === 'bridge' && relative(src, target).replace(/\.ts$/, '') === join('net', 'wire');
              if (!wireException) wrong.push(`${spec} (src/${targetFolder})`);
            }
          } else if (!(folder === 'ui' && relative(root, target).startsWith('lessons'))) {
            wrong.push(`${spec} (outside src/)`);
          }
        } else if (!rule.packages.test(spec)) {
          wrong.push(spec);
        }
      }
  return wrong;
}
