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
 * Each program runs in a fresh process doing `--runs` five-day runs, and again doing one: the
 * difference, divided by the runs less one, is the instructions of one warm run, without starting
 * Node, loading the code and the first run's compiling (V8 still optimises some code in the
 * runs after). The anchor beside it is XState alone: the bench's bare machine (an assign, an
 * emit and a timeout per transition) stepped as many times, in as many actors, as one run of
 * this tree, so the ratio says what the world, the protocol and our machines cost on top of
 * XState's floor. Beside each count comes a digest
 * of the run's record (as test/bench/worldRecord.ts writes it): a change that should only make
 * the run cheaper must leave it alone. Compare trees in one invocation (`--against`): absolute
 * counts move by about 3% between invocations, the ratio between two trees by 0.05%. What
 * instructions do not show is the cost of memory traffic, the part of the run that moves with
 * the host: allocation is the meter for that.
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
const USAGE = 'usage: npx tsx test/bench/instructions.ts [--runs N (2 or more)] [--against <git ref>]';

interface Counted {
  instructions: number;
  /** What the program printed: a record digest, or how many transitions the anchor stepped. */
  output: string;
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
for (const event of world ? world.log.all() : []) hash.update(JSON.stringify(event) + '\\n');
for (const handle of world ? world.deliveries() : []) hash.update(JSON.stringify({ id: handle.id, recipients: handle.recipients(), timeline: handle.timeline(), dsns: handle.dsns }) + '\\n');
process.stdout.write(hash.digest('hex').slice(0, 16) + '\\n');
`;
}

/**
 * The anchor: XState alone, the bench's bare machine (an assign, an emit and a timeout per
 * transition) stepped as many times, in as many actors, as one five-day run of this tree.
 */
function anchorProgram(): string {
  const at = (file: string) => JSON.stringify(path.join(ROOT, file));
  return `
import './prelude.mjs';
import { VirtualClock } from ${at('src/sim/clock.ts')};
import { bareMachine, stepBareMachines } from ${at('test/bench/virtualTime.ts')};
const [runs, actors, transitions] = process.argv.slice(2).map(Number);
const machine = bareMachine();
let written = 0;
for (let i = 0; i < runs; i++) written += stepBareMachines(machine, actors, transitions, new VirtualClock());
process.stdout.write(written + '\\n');
`;
}

/** This tree's run, counted (not under valgrind): its XState transitions and actors. */
function countingProgram(): string {
  return `
import './prelude.mjs';
import { countTransitions } from ${JSON.stringify(path.join(ROOT, 'test/bench/virtualTime.ts'))};
const { microsteps, actors } = countTransitions();
process.stdout.write(microsteps + ' ' + actors + '\\n');
`;
}

/** Bundle a program (its source) into `dir`; returns the bundle's path. */
async function bundle(source: string, dir: string): Promise<string> {
  const entry = path.join(dir, 'program.mjs');
  const outfile = path.join(dir, 'program.bundle.mjs');
  // Imported first: virtualTime.ts runs its bench when it is the program, which it would be in
  // the bundle.
  writeFileSync(path.join(dir, 'prelude.mjs'), "process.argv[1] = 'measured';\n");
  writeFileSync(entry, source);
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile, logLevel: 'error', nodePaths: [path.join(ROOT, 'node_modules')] });
  return outfile;
}

/** Count one bundle's instructions in a fresh process under valgrind. */
function count(program: string, args: readonly (string | number)[]): Promise<Counted> {
  return new Promise((resolve, reject) => {
    const valgrind = ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null', process.execPath, '--single-threaded', program, ...args.map(String)];
    const proc = spawn('valgrind', valgrind, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
      resolve({ instructions: Number(refs[1]!.replaceAll(',', '')), output: out.trim() });
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
    if (arg === '--runs' && /^([2-9]|[1-9]\d+)$/.test(argv[i + 1] ?? '')) runs = Number(argv[++i]);
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
    const dir = (name: string) => mkdtempSync(path.join(work, `${name}-`));
    const mine = await bundle(measuredProgram(ROOT), dir('this'));
    const theirs = other ? await bundle(measuredProgram(other.dir), dir('other')) : undefined;
    const anchor = await bundle(anchorProgram(), dir('anchor'));
    const counted = spawnSync(process.execPath, [await bundle(countingProgram(), dir('count'))], { encoding: 'utf8' });
    const [transitions, actors] = counted.stdout.trim().split(' ').map(Number);
    if (counted.status !== 0 || !transitions || !actors) throw new Error(`counting the run's transitions failed: ${counted.stderr.trim()}`);
    // Each program also runs once alone: the difference is the warm runs alone, without starting
    // Node, loading the code and the first run's compiling. Two processes at a time (counts do not depend on what
    // else the machine runs, and this machine has two cores).
    const jobs: Array<() => Promise<Counted>> = [
      () => count(mine, [runs]),
      () => count(mine, [1]),
      () => count(anchor, [runs, actors, transitions]),
      () => count(anchor, [1, actors, transitions]),
      ...(theirs ? [() => count(theirs, [runs]), () => count(theirs, [1])] : []),
    ];
    const results: Counted[] = [];
    for (let i = 0; i < jobs.length; i += 2) results.push(...(await Promise.all(jobs.slice(i, i + 2).map((job) => job()))));
    const [mineRuns, mineIdle, anchorRuns, anchorIdle, theirRuns, theirIdle] = results;
    const perRun = (work: Counted, idle: Counted) => (work.instructions - idle.instructions) / (runs - 1);
    const g = (n: number) => `${(n / 1e9).toFixed(3)} G`;
    // The anchor did step as many transitions as the run (each emits once).
    if (Number(anchorRuns!.output) !== runs * transitions) throw new Error(`the anchor stepped ${anchorRuns!.output} transitions, not ${runs * transitions}`);
    const minePerRun = perRun(mineRuns!, mineIdle!);
    const anchorPerRun = perRun(anchorRuns!, anchorIdle!);
    process.stdout.write(
      `this tree: ${g(minePerRun)} instructions per warm five-day run (${runs} runs in one process, less one run alone; record ${mineRuns!.output})\n` +
        `anchor, XState alone: ${g(anchorPerRun)} for ${transitions.toLocaleString('en-US')} transitions in ${actors.toLocaleString('en-US')} actors of the bench's bare machine, as many as one run\n` +
        `this tree / anchor: ${(minePerRun / anchorPerRun).toFixed(2)}\n`,
    );
    if (theirRuns && theirIdle) {
      const theirPerRun = perRun(theirRuns, theirIdle);
      process.stdout.write(
        `${against}: ${g(theirPerRun)} per five-day run (record ${theirRuns.output})\n` +
          `this tree / ${against}: ${(minePerRun / theirPerRun).toFixed(4)}; records ${mineRuns!.output === theirRuns.output ? 'the same' : 'DIFFER'}\n`,
      );
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
