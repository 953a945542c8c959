/**
 * Counted, not timed: the CPU instructions the five-day run of section 6 executes, for telling
 * whether a change made the run do less work. On this kind of machine the run's wall time moves
 * by half from one minute to the next (the host's memory system, see docs/architecture.md,
 * "Where five virtual days go"), so two builds cannot be told apart by time unless they differ
 * by more than about 15%. Instructions counted by valgrind do not move with the host: a process
 * under valgrind runs one thread at a time, and with V8's `--single-threaded` (no background
 * compiler or GC threads) and fixed hash and random seeds, one bundle counts the same to within
 * about 0.13% from one process to the next.
 *
 *   npx tsx test/bench/instructions.ts                  this tree
 *   npx tsx test/bench/instructions.ts --against HEAD~1 this tree and another commit, side by side
 *   npx tsx test/bench/instructions.ts --runs 7         five-day runs per process (default 5)
 *   npx tsx test/bench/instructions.ts --xstate 6.0.0-alpha.52
 *                                                       also the anchor's bare machine written for
 *                                                       another XState (installed from npm into a
 *                                                       temporary folder): is it a faster floor?
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
 * counts move by about 3% between invocations. The per-run figure is a difference of two
 * counts, so it carries both their noise: with 3 runs per process (the default before
 * 2026-11-29, without fixed seeds) the ratio between the same two trees moved by ±2% from one
 * invocation to the next; 5 runs with fixed seeds measured a change of 0.3%. What
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
const USAGE = 'usage: npx tsx test/bench/instructions.ts [--runs N (2 or more)] [--against <git ref>] [--xstate <6.x version>]';

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
  // The prelude first: virtualTime.ts must not find itself the program.
  return `
import './prelude.mjs';
import { bareMachine, stepBareMachines } from ${JSON.stringify(path.join(ROOT, 'test/bench/virtualTime.ts'))};
${BARE_RUNS_HEAD}
const machine = bareMachine();
for (let i = 0; i < runs; i++) written += stepBareMachines(machine, actors, transitions, countingClock());
${BARE_RUNS_TAIL}`;
}

/**
 * What the anchor's programs share: the arguments (runs, actors, transitions), a virtual clock
 * that counts the timers armed on it, and the closing line: the events written and the timers
 * armed, which must be the same for two programs to be compared.
 */
const BARE_RUNS_HEAD = `
import { VirtualClock } from ${JSON.stringify(path.join(ROOT, 'src/sim/clock.ts'))};
const [runs, actors, transitions] = process.argv.slice(2).map(Number);
let written = 0;
let timers = 0;
const countingClock = () => {
  const clock = new VirtualClock();
  const setTimeout = clock.setTimeout;
  clock.setTimeout = (fn, ms) => (timers++, setTimeout(fn, ms));
  return clock;
};`;
const BARE_RUNS_TAIL = `process.stdout.write(written + ' ' + timers + '\\n');\n`;

/**
 * The anchor's bare machine written for XState 6, whose transitions are functions that return
 * the target and the new context and emit through \`enq\` (there are no \`assign\` or \`emit\`
 * action objects): the same two states, the same context, an emitted event and a reply timeout
 * armed on the virtual clock per transition, stepped as \`stepBareMachines\` steps the anchor.
 * It prints what it wrote and how many timers it armed, which must match the anchor's.
 */
function xstate6Program(): string {
  return `
import './prelude.mjs';
import { createActor, createMachine } from 'xstate';
${BARE_RUNS_HEAD}
const step = (target) => ({ context }, enq) => {
  enq.emit({ type: 'send', text: 'NOOP\\r\\n' });
  return { target, context: { ...context, n: context.n + 1 } };
};
const machine = createMachine({
  context: { n: 0, name: 'client.example', pipelining: true, tls: 'none' },
  initial: 'a',
  states: {
    a: { on: { go: step('b') }, after: { 300000: 'done' } },
    b: { on: { go: step('a') }, after: { 300000: 'done' } },
    done: { type: 'final' },
  },
});
for (let i = 0; i < runs; i++) {
  const clock = countingClock();
  for (let s = 0; s < actors; s++) {
    const actor = createActor(machine, { clock });
    actor.on('send', () => { written += 1; });
    actor.start();
    const steps = Math.floor(transitions / actors) + (s < transitions % actors ? 1 : 0);
    for (let k = 0; k < steps; k++) actor.send({ type: 'go' });
    actor.stop();
  }
}
${BARE_RUNS_TAIL}`;
}

/** Install \`xstate@version\` from npm into \`dir\` (its own node_modules, nothing of this tree touched). */
function installXState(version: string, dir: string): void {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const installed = spawnSync(npm, ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `xstate@${version}`], { encoding: 'utf8' });
  if (installed.status !== 0) throw new Error(`npm install xstate@${version} failed: ${(installed.stderr || installed.stdout).trim().split('\n').slice(-5).join('\n')}`);
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
    // Fixed seeds for V8's string hashes and its random source (object identity hashes among
    // them), so Maps and Sets lay out alike from one process to the next: the same bundle then
    // counts within 0.13% (two processes), against 0.35% with V8's random seeds.
    const v8 = ['--single-threaded', '--hash-seed=1', '--random-seed=1'];
    const valgrind = ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null', process.execPath, ...v8, program, ...args.map(String)];
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
  let runs = 5;
  let against: string | undefined;
  /** Another XState 6 release to count the anchor's bare machine on. */
  let xstateNext: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--runs' && /^([2-9]|[1-9]\d+)$/.test(argv[i + 1] ?? '')) runs = Number(argv[++i]);
    else if (arg === '--against' && argv[i + 1]) against = argv[++i];
    else if (arg === '--xstate' && /^6\.\d+\.\d+(-[0-9A-Za-z.]+)?$/.test(argv[i + 1] ?? '')) xstateNext = argv[++i];
    else if (arg === '--xstate') {
      process.stderr.write(`instructions: --xstate takes an XState 6 version, such as 6.0.0-alpha.52 (the bare machine is written in its API), not "${argv[i + 1] ?? ''}"\n${USAGE}\n`);
      return 2;
    }
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
    let next: string | undefined;
    if (xstateNext) {
      const nextDir = dir('xstate-next');
      installXState(xstateNext, nextDir);
      next = await bundle(xstate6Program(), nextDir);
    }
    type Job = readonly [name: string, run: () => Promise<Counted>];
    const jobs: Job[] = [
      ['mine', () => count(mine, [runs])],
      ['mine idle', () => count(mine, [1])],
      ['anchor', () => count(anchor, [runs, actors, transitions])],
      ['anchor idle', () => count(anchor, [1, actors, transitions])],
      ...(theirs ? ([['theirs', () => count(theirs, [runs])], ['theirs idle', () => count(theirs, [1])]] satisfies Job[]) : []),
      ...(next ? ([['next', () => count(next, [runs, actors, transitions])], ['next idle', () => count(next, [1, actors, transitions])]] satisfies Job[]) : []),
    ];
    const results = new Map<string, Counted>();
    for (let i = 0; i < jobs.length; i += 2) {
      const pair = jobs.slice(i, i + 2);
      const done = await Promise.all(pair.map(([, job]) => job()));
      pair.forEach(([name], k) => results.set(name, done[k]!));
    }
    const perRun = (name: string) => (results.get(name)!.instructions - results.get(`${name} idle`)!.instructions) / (runs - 1);
    const g = (n: number) => `${(n / 1e9).toFixed(3)} G`;
    // The anchor did step as many transitions as the run (each emits once), arming a timer each.
    const [anchorWritten, anchorTimers] = results.get('anchor')!.output.split(' ').map(Number);
    if (anchorWritten !== runs * transitions) throw new Error(`the anchor stepped ${anchorWritten} transitions, not ${runs * transitions}`);
    const minePerRun = perRun('mine');
    const anchorPerRun = perRun('anchor');
    const record = results.get('mine')!.output;
    process.stdout.write(
      `this tree: ${g(minePerRun)} instructions per warm five-day run (${runs} runs in one process, less one run alone; record ${record})\n` +
        `anchor, XState alone: ${g(anchorPerRun)} for ${transitions.toLocaleString('en-US')} transitions in ${actors.toLocaleString('en-US')} actors of the bench's bare machine, as many as one run\n` +
        `this tree / anchor: ${(minePerRun / anchorPerRun).toFixed(2)}\n`,
    );
    if (theirs) {
      const theirPerRun = perRun('theirs');
      const theirRecord = results.get('theirs')!.output;
      process.stdout.write(
        `${against}: ${g(theirPerRun)} per five-day run (record ${theirRecord})\n` +
          `this tree / ${against}: ${(minePerRun / theirPerRun).toFixed(4)}; records ${record === theirRecord ? 'the same' : 'DIFFER'}\n`,
      );
    }
    if (next) {
      // The same work or no comparison: as many events written and timers armed as the anchor.
      if (results.get('next')!.output !== results.get('anchor')!.output) {
        throw new Error(`xstate@${xstateNext}'s bare machine wrote and armed "${results.get('next')!.output}", the anchor "${results.get('anchor')!.output}"`);
      }
      const nextPerRun = perRun('next');
      process.stdout.write(
        `the anchor on xstate@${xstateNext}: ${g(nextPerRun)} (the same machine in its API: ${anchorWritten!.toLocaleString('en-US')} events written, ${anchorTimers!.toLocaleString('en-US')} timers armed, as on this tree's XState)\n` +
          `xstate@${xstateNext} / this tree's XState, per transition: ${(nextPerRun / anchorPerRun).toFixed(2)}\n`,
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
