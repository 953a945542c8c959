/**
 * Counted, not timed: the CPU instructions the five-day run of section 6 executes, for telling
 * whether a change made the run do less work. On this kind of machine the run's wall time moves
 * by half from one minute to the next (the host's memory system, see docs/architecture.md,
 * "Where five virtual days go"), so two builds cannot be told apart by time unless they differ
 * by more than about 15%. Instructions counted by valgrind do not move with the host: a process
 * under valgrind runs one thread at a time, and with V8's `--single-threaded` (no background
 * compiler or GC threads) the same tree gives the same count to within about 0.2%.
 *
 *   npx tsx test/bench/instructions.ts                  this tree
 *   npx tsx test/bench/instructions.ts --against HEAD~1 this tree and another commit, side by side
 *   npx tsx test/bench/instructions.ts --runs 5         five-day runs per process (default 3)
 *
 * Each tree is measured in one fresh process doing `--runs` five-day runs, so the count includes
 * starting Node and compiling: compare trees, not the count with a run's time. Beside the count
 * it prints a digest of the run's whole record (test/bench/worldRecord.ts): a change that should
 * only make the run cheaper must leave the digest alone. What instructions do not show is the
 * cost of memory traffic, the part of the run that moves with the host: allocation (section 6's
 * bytes per run) is the meter for that.
 *
 * Needs valgrind (Debian: apt-get install -y valgrind). Takes about a minute per five-day run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const USAGE = 'usage: npx tsx test/bench/instructions.ts [--runs N] [--against <git ref>]';

interface Counted {
  instructions: number;
  recordDigest: string;
}

/**
 * The measured program for `tree`: `runs` five-day runs, then a digest of the last run's record
 * (as worldRecord.ts writes it, less the mailboxes' parsed copies, which follow from the log and
 * the DSNs). Bundled ahead, so the count holds no TypeScript loader (whose cache made the same
 * code differ by 4% between two checkouts).
 */
function measuredProgram(tree: string): string {
  const at = (file: string) => JSON.stringify(path.join(tree, file));
  return `
import './prelude.mjs';
import { createHash } from 'node:crypto';
import { createWorld } from ${at('src/sim/world.ts')};
import { runFiveDays } from ${at('test/bench/virtualTime.ts')};
const runs = Number(process.argv[2]);
let world;
for (let i = 0; i < runs; i++) {
  world = createWorld({ seed: 42 });
  runFiveDays(world);
}
const hash = createHash('sha256');
for (const event of world.log.all()) hash.update(JSON.stringify(event) + '\\n');
for (const handle of world.deliveries()) hash.update(JSON.stringify({ id: handle.id, recipients: handle.recipients(), timeline: handle.timeline(), dsns: handle.dsns }) + '\\n');
process.stdout.write(hash.digest('hex').slice(0, 16) + '\\n');
`;
}

/** Bundle `tree`'s measured program into `dir`; returns the bundle's path. */
async function bundle(tree: string, dir: string): Promise<string> {
  const entry = path.join(dir, 'measured.mjs');
  const outfile = path.join(dir, 'measured.bundle.mjs');
  // Imported first: virtualTime.ts runs its bench when it is the program, which it would be in
  // the bundle.
  writeFileSync(path.join(dir, 'prelude.mjs'), "process.argv[1] = 'measured';\n");
  writeFileSync(entry, measuredProgram(tree));
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile, logLevel: 'error', nodePaths: [path.join(ROOT, 'node_modules')] });
  return outfile;
}

/** Count one bundle's instructions in a fresh process under valgrind. */
function count(program: string, runs: number): Promise<Counted> {
  return new Promise((resolve, reject) => {
    const args = ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null', process.execPath, '--single-threaded', program, String(runs)];
    const proc = spawn('valgrind', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    proc.on('error', reject);
    proc.on('close', (code) => {
      const refs = /I\s+refs:\s+([\d,]+)/.exec(err);
      if (code !== 0 || !refs) {
        reject(new Error(`valgrind on ${program} exited ${code}:\n${err.split('\n').slice(-15).join('\n')}`));
        return;
      }
      resolve({ instructions: Number(refs[1]!.replaceAll(',', '')), recordDigest: out.trim() });
    });
  });
}

/** A detached worktree of `ref` sharing this tree's node_modules; removed by the returned function. */
function worktreeOf(ref: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smtp-lab-instructions-'));
  const added = spawnSync('git', ['worktree', 'add', '--detach', dir, ref], { cwd: ROOT, encoding: 'utf8' });
  if (added.status !== 0) throw new Error(`git worktree add ${ref} failed: ${added.stderr.trim()}`);
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return {
    dir,
    remove: () => {
      spawnSync('git', ['worktree', 'remove', '--force', dir], { cwd: ROOT });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main(argv: readonly string[]): Promise<number> {
  let runs = 3;
  let against: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--runs' && /^[1-9]\d*$/.test(argv[i + 1] ?? '')) runs = Number(argv[++i]);
    else if (arg === '--against' && argv[i + 1]) against = argv[++i];
    else {
      process.stderr.write(`instructions: unknown or incomplete argument "${arg}"\n${USAGE}\n`);
      return 2;
    }
  }
  if (spawnSync('valgrind', ['--version']).status !== 0) {
    process.stderr.write('instructions: valgrind is not installed. Install it with: apt-get install -y valgrind\n');
    return 2;
  }
  const work = mkdtempSync(path.join(os.tmpdir(), 'smtp-lab-instructions-'));
  const other = against === undefined ? undefined : worktreeOf(against);
  try {
    const mine = await bundle(ROOT, mkdtempSync(path.join(work, 'this-')));
    const theirs = other ? await bundle(other.dir, mkdtempSync(path.join(work, 'other-'))) : undefined;
    // Both processes at once: counts do not depend on what else the machine runs.
    const [a, b] = await Promise.all([count(mine, runs), ...(theirs ? [count(theirs, runs)] : [])]);
    process.stdout.write(`this tree: ${a!.instructions.toLocaleString('en-US')} instructions for ${runs} five-day runs in one process (record ${a!.recordDigest})\n`);
    if (b) {
      process.stdout.write(`${against}: ${b.instructions.toLocaleString('en-US')} instructions (record ${b.recordDigest})\n`);
      process.stdout.write(`this tree / ${against}: ${(a!.instructions / b.instructions).toFixed(4)}; records ${a!.recordDigest === b.recordDigest ? 'the same' : 'DIFFER'}\n`);
    }
    return 0;
  } finally {
    other?.remove();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`instructions: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
