/**
 * `npm run bench`: the performance table, each figure beside an anchor measured in the same run.
 *
 * Usage:
 *   npm run bench                      text table on stdout, progress on stderr
 *   npm run bench -- --json            one JSON object per line: first {"type":"machine",...},
 *                                      then {"type":"row",...} per measure
 *   npm run bench -- --markdown        a Markdown table (for the README's Performance section)
 *   npm run bench -- --quick           fewer repetitions and smaller loads (a smoke run)
 *   npm run bench -- --only 1,2        run only some sections (1..6)
 *   npm run bench -- --repetitions 7   repetitions per figure (default 5, 3 with --quick)
 *   npm run bench -- --rebuild         rebuild dist/ before measuring its size
 *
 * Sections:
 *   1. smtpd vs nodemailer's smtp-server: messages/s at 1, 10, 50 connections; memory per idle
 *      connection over 500 connections. Ratio smtpd/smtp-server; targets >= 1.0 and <= 1.0.
 *   2. Postfix's smtp-sink through the same load client; ratio smtpd/smtp-sink.
 *   3. The server machine in-process: commands/s and one transaction's cost; ratio of
 *      smtpd's per-message cost to it.
 *   4. The bridge (bridge.ts: benchBridge).
 *   5. The browser: first-load gzip size of dist/ against the budget; Enter -> reply p95
 *      (browser.ts: benchBrowser).
 *   6. Virtual time (virtualTime.ts: benchVirtualTime).
 *
 * Every figure is the median of several repetitions after a warm-up, with min–max beside it.
 * Servers run in child processes on 127.0.0.1 ephemeral ports; throughput repetitions of the
 * servers alternate so a slow moment of the machine does not favour one of them. A server that
 * cannot run is a SKIPPED row with the reason; an exception in a section is an ERROR row and
 * the other sections still run. Environment: SMTP_LAB_BENCH_SMTPD_ARGS adds flags to smtpd.
 */
import os from 'node:os';
import path from 'node:path';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { repeat, summarize, type Summary } from './stats';
import { runLoad, idleConnections, type LoadResult } from './loadClient';
import { startServer, readRssBytes, serverLabels, projectRoot, tail, type RunningServer, type ServerId } from './servers';
import { loadServerMachine, runMachineSession, COMMANDS_PER_TRANSACTION } from './machine';
import {
  measuredRow,
  skippedRow,
  errorRow,
  renderText,
  renderMarkdown,
  renderJson,
  type BenchRow,
  type BenchContext,
} from './rows';
import { FIRST_LOAD_BUDGET_KIB } from '../ui/firstLoadBudget';

// ---------------------------------------------------------------- options

interface Options {
  json: boolean;
  markdown: boolean;
  quick: boolean;
  rebuild: boolean;
  only: Set<number> | null;
  repetitions: number | null;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { json: false, markdown: false, quick: false, rebuild: false, only: null, repetitions: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') options.json = true;
    else if (arg === '--markdown') options.markdown = true;
    else if (arg === '--quick') options.quick = true;
    else if (arg === '--rebuild') options.rebuild = true;
    else if (arg === '--only') {
      const list = (argv[++i] ?? '').split(',').map(Number);
      if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1 || n > 6)) {
        throw new Error(`--only needs section numbers 1..6 separated by commas, got ${JSON.stringify(argv[i])}`);
      }
      options.only = new Set(list);
    } else if (arg === '--repetitions') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--repetitions needs a whole number >= 1, got ${JSON.stringify(argv[i])}`);
      options.repetitions = n;
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write('usage: npm run bench -- [--json | --markdown] [--quick] [--only 1,2,...] [--repetitions N] [--rebuild]\n');
      process.exit(0);
    } else {
      throw new Error(`unknown option ${arg} (try --help)`);
    }
  }
  if (options.json && options.markdown) throw new Error('--json and --markdown exclude each other');
  return options;
}

// ---------------------------------------------------------------- the machine it ran on

interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  date: string;
  /** 1-minute load average when the run began: other work on the machine widens the spread. */
  loadAverage: number;
  anchors: Record<string, string>;
}

function describeMachine(): MachineInfo {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) cpu = match[1]!.trim();
  } catch {
    // Not Linux: os.cpus() is what there is.
  }
  const anchors: Record<string, string> = {};
  try {
    anchors['smtp-server'] = JSON.parse(readFileSync(path.join(projectRoot, 'node_modules', 'smtp-server', 'package.json'), 'utf8')).version;
  } catch {
    anchors['smtp-server'] = 'not installed';
  }
  const postfix = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'postfix'], { encoding: 'utf8' });
  anchors.postfix = postfix.status === 0 ? postfix.stdout.trim() : 'not installed';
  return {
    cpu,
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    date: new Date().toISOString(),
    loadAverage: Math.round(os.loadavg()[0]! * 100) / 100,
    anchors,
  };
}

// ---------------------------------------------------------------- sections 1 and 2: servers

const SERVERS: ServerId[] = ['smtp-server', 'smtp-sink', 'smtpd'];
const CONCURRENCY = [1, 10, 50];
const IDLE_CONNECTIONS = 500;

interface ServerFigures {
  throughput: Map<number, { summary: Summary; errors: number; note: string }>;
  memory?: { summary: Summary; errors: number; note: string };
  failures: Map<string, string>;
}

function loadNote(results: LoadResult[]): string {
  const p95 = results.map((r) => r.latencyMs?.p95).filter((v): v is number => v !== undefined);
  const parts: string[] = [];
  if (p95.length > 0) parts.push(`latency p95 ${summarize(p95).median.toFixed(2)} ms`);
  const sample = results.flatMap((r) => r.errorSamples)[0];
  if (sample) parts.push(`first error: ${sample.step}: expected ${sample.expected}, got ${sample.got}`);
  return parts.join('; ');
}

async function measureServers(context: BenchContext, wanted: Set<ServerId>): Promise<{ figures: Map<ServerId, ServerFigures>; skipped: Map<ServerId, string> }> {
  const figures = new Map<ServerId, ServerFigures>();
  const skipped = new Map<ServerId, string>();
  const running = new Map<ServerId, RunningServer>();
  const warmupMessages = context.quick ? 200 : 500;
  const secondsPerRun = context.quick ? 0.4 : 1;
  const maxPerConnection = (connections: number) => Math.ceil((context.quick ? 2000 : 10_000) / connections);
  try {
    for (const id of SERVERS) {
      if (!wanted.has(id)) continue;
      const started = await startServer(id, context.log);
      if (started.ok) {
        running.set(id, started.server);
        figures.set(id, { throughput: new Map(), failures: new Map() });
        context.log(`${serverLabels[id]}: listening on port ${started.server.port} (pid ${started.server.pid})`);
      } else {
        skipped.set(id, started.reason);
        context.log(`${serverLabels[id]}: skipped: ${started.reason}`);
      }
    }
    // Throughput: one server process each for all repetitions, warmed up first; the
    // repetitions alternate between servers.
    for (const connections of CONCURRENCY) {
      const results = new Map<ServerId, LoadResult[]>();
      // Each server gets as many messages as it handles in about `secondsPerRun`, from its
      // warm-up rate, so a slow server does not stretch the run and a fast one is not measured
      // over a few milliseconds. At least 10 messages per connection.
      const perConnection = new Map<ServerId, number>();
      for (let run = -context.warmup; run < context.repetitions; run++) {
        for (const [id, server] of running) {
          if (figures.get(id)!.failures.has(`c${connections}`)) continue;
          try {
            const messages = perConnection.get(id) ?? Math.max(10, Math.ceil(warmupMessages / connections));
            const result = await runLoad({ port: server.port, connections, messagesPerConnection: messages });
            if (!perConnection.has(id) && result.messagesPerSecond > 0) {
              perConnection.set(id, Math.min(maxPerConnection(connections), Math.max(10, Math.ceil((result.messagesPerSecond * secondsPerRun) / connections))));
            }
            if (run >= 0) results.set(id, [...(results.get(id) ?? []), result]);
          } catch (error) {
            figures.get(id)!.failures.set(`c${connections}`, (error as Error).message);
          }
        }
      }
      for (const [id, list] of results) {
        if (list.every((r) => r.delivered === 0)) {
          // A server that delivers nothing has no throughput to show: an error row, not a 0.
          figures.get(id)!.failures.set(`c${connections}`, `no message delivered; ${loadNote(list)}`);
          continue;
        }
        const summary = summarize(list.map((r) => r.messagesPerSecond));
        const errors = list.reduce((sum, r) => sum + r.errors, 0);
        figures.get(id)!.throughput.set(connections, { summary, errors, note: loadNote(list) });
        context.log(`${serverLabels[id]}: ${connections} connection(s): ${summary.median.toFixed(0)} messages/s, ${errors} errors`);
      }
    }
  } finally {
    for (const server of running.values()) await server.stop();
  }
  // Memory: a fresh process per repetition, so garbage from the throughput runs (or a
  // previous repetition) is not in the baseline.
  const memoryRepetitions = Math.max(1, Math.min(context.repetitions, 3));
  for (const id of running.keys()) {
    const perConnection: number[] = [];
    let errors = 0;
    let note = '';
    try {
      for (let run = 0; run < memoryRepetitions; run++) {
        const started = await startServer(id, context.log);
        if (!started.ok) throw new Error(started.reason);
        const server = started.server;
        try {
          await new Promise((resolve) => setTimeout(resolve, 300));
          const before = readRssBytes(server.pid);
          const idle = await idleConnections(server.port, IDLE_CONNECTIONS);
          await new Promise((resolve) => setTimeout(resolve, 700));
          const after = readRssBytes(server.pid);
          errors += idle.errors;
          if (idle.errorSamples[0] && !note) note = `first error: ${idle.errorSamples[0].step}: ${idle.errorSamples[0].got}`;
          await idle.close();
          if (idle.open === 0) throw new Error(`no idle connection could be opened (${note})`);
          perConnection.push((after - before) / idle.open / 1024);
        } finally {
          await server.stop();
        }
      }
      figures.get(id)!.memory = { summary: summarize(perConnection), errors, note: note || `VmRSS growth / ${IDLE_CONNECTIONS} connections, fresh process each run` };
      context.log(`${serverLabels[id]}: ${summarize(perConnection).median.toFixed(1)} KiB per idle connection`);
    } catch (error) {
      figures.get(id)!.failures.set('memory', (error as Error).message);
    }
  }
  return { figures, skipped };
}

/** A server that ran but failed the measure is an error; one that could not run is skipped. */
function notMeasuredRow(section: string, name: string, unit: string, failure: string | undefined, skipReason: string): BenchRow {
  return failure === undefined ? skippedRow(section, name, unit, skipReason) : { ...errorRow(section, name, failure), unit };
}

function serverRows(
  section: string,
  subject: ServerId,
  anchor: ServerId,
  data: { figures: Map<ServerId, ServerFigures>; skipped: Map<ServerId, string> },
  includeAnchorRows: boolean,
  /** Targets apply to the anchor of section 1; smtp-sink is a reference, its ratio has none. */
  withTargets: boolean,
): BenchRow[] {
  const rows: BenchRow[] = [];
  const anchorFigures = data.figures.get(anchor);
  const subjectFigures = data.figures.get(subject);
  const unavailable = (id: ServerId) => data.skipped.get(id) ?? `${serverLabels[id]} was not measured`;
  for (const connections of CONCURRENCY) {
    const name = (id: ServerId) => `${serverLabels[id]}, ${connections} connection${connections === 1 ? '' : 's'}`;
    const anchorResult = anchorFigures?.throughput.get(connections);
    if (includeAnchorRows) {
      if (anchorResult) rows.push(measuredRow(section, name(anchor), anchorResult.summary, 'messages/s', { errors: anchorResult.errors, note: anchorResult.note }));
      else rows.push(notMeasuredRow(section, name(anchor), 'messages/s', anchorFigures?.failures.get(`c${connections}`), unavailable(anchor)));
    }
    const subjectResult = subjectFigures?.throughput.get(connections);
    if (subjectResult) {
      rows.push(
        measuredRow(section, name(subject), subjectResult.summary, 'messages/s', {
          anchor: serverLabels[anchor],
          ...(anchorResult ? { anchorMedian: anchorResult.summary.median } : {}),
          ...(withTargets ? { target: { kind: 'at-least' as const, value: 1.0 } } : {}),
          errors: subjectResult.errors,
          note: subjectResult.note,
        }),
      );
    } else {
      rows.push(notMeasuredRow(section, name(subject), 'messages/s', subjectFigures?.failures.get(`c${connections}`), unavailable(subject)));
    }
  }
  const memoryName = (id: ServerId) => `${serverLabels[id]}, memory per idle connection (${IDLE_CONNECTIONS})`;
  if (includeAnchorRows) {
    const memory = anchorFigures?.memory;
    if (memory) rows.push(measuredRow(section, memoryName(anchor), memory.summary, 'KiB', { errors: memory.errors, note: memory.note }));
    else rows.push(notMeasuredRow(section, memoryName(anchor), 'KiB', anchorFigures?.failures.get('memory'), unavailable(anchor)));
  }
  const memory = subjectFigures?.memory;
  if (memory) {
    rows.push(
      measuredRow(section, memoryName(subject), memory.summary, 'KiB', {
        anchor: serverLabels[anchor],
        ...(anchorFigures?.memory ? { anchorMedian: anchorFigures.memory.summary.median } : {}),
        ...(withTargets ? { target: { kind: 'at-most' as const, value: 1.0 } } : {}),
        errors: memory.errors,
        note: memory.note,
      }),
    );
  } else {
    rows.push(notMeasuredRow(section, memoryName(subject), 'KiB', subjectFigures?.failures.get('memory'), unavailable(subject)));
  }
  return rows;
}

// ---------------------------------------------------------------- section 3: the machine alone

async function machineSection(context: BenchContext, smtpdPerMessageMicros: number | undefined): Promise<BenchRow[]> {
  const section = '3 machine';
  const loaded = await loadServerMachine(context.projectRoot);
  if (!loaded.ok) {
    return [
      skippedRow(section, 'server machine, commands/s', 'commands/s', loaded.reason),
      skippedRow(section, 'server machine, one transaction', 'µs', loaded.reason),
    ];
  }
  const transactions = context.quick ? 500 : 2000;
  const seconds: number[] = [];
  await repeat(async (run) => {
    const spent = await runMachineSession(loaded.driver, transactions);
    if (run >= 0) seconds.push(spent);
    return spent;
  }, context);
  const commandsPerSecond = summarize(seconds.map((s) => (transactions * COMMANDS_PER_TRANSACTION) / s));
  const microsPerTransaction = summarize(seconds.map((s) => (s * 1e6) / transactions));
  const note = `input event ${loaded.driver.shape.name}; MAIL, RCPT, DATA, end of data = ${COMMANDS_PER_TRANSACTION} commands`;
  const rows = [
    measuredRow(section, 'server machine, commands/s', commandsPerSecond, 'commands/s', { note }),
    measuredRow(section, 'server machine, one transaction', microsPerTransaction, 'µs'),
  ];
  if (smtpdPerMessageMicros === undefined) {
    rows.push(skippedRow(section, 'smtpd per-message cost vs the machine alone', 'µs', 'smtpd was not measured (section 1)'));
  } else {
    rows.push(
      measuredRow(section, 'smtpd per-message cost (1 connection) vs the machine alone', summarize([smtpdPerMessageMicros]), 'µs', {
        anchor: 'server machine, one transaction',
        anchorMedian: microsPerTransaction.median,
        note: 'ratio = how many times the machine alone the real server spends per message',
      }),
    );
  }
  return rows;
}

// ---------------------------------------------------------------- sections 4-6: modules

type SectionFunction = (context: BenchContext) => Promise<BenchRow[]>;

/** Imports test/bench/<file> if it exists and calls its export; otherwise a skipped row. */
async function moduleSection(context: BenchContext, section: string, file: string, exportName: string, what: string): Promise<BenchRow[]> {
  const full = path.join(context.projectRoot, 'test', 'bench', file);
  if (!existsSync(full)) return [skippedRow(section, what, '', `test/bench/${file} is not written yet`)];
  const module = (await import(pathToFileURL(full).href)) as Record<string, unknown>;
  const run = (module[exportName] ?? module.default) as SectionFunction | undefined;
  if (typeof run !== 'function') return [skippedRow(section, what, '', `test/bench/${file} exports no ${exportName}()`)];
  // A section module that prints its own lines must not break --json or --markdown output.
  const stdoutWrite = process.stdout.write;
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  let rows: unknown;
  try {
    rows = await run(context);
  } finally {
    process.stdout.write = stdoutWrite;
  }
  if (!Array.isArray(rows)) throw new Error(`${exportName}() returned ${typeof rows}, not an array of rows`);
  return rows.map((row) => normalizeRow(section, row));
}

/** Accepts a BenchRow, or the simpler {name, value, unit, anchor?, ratio?} shape, and checks it. */
function normalizeRow(section: string, raw: unknown): BenchRow {
  const row = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<BenchRow> & { value?: number };
  const name = typeof row.name === 'string' ? row.name : JSON.stringify(raw);
  const median = typeof row.median === 'number' ? row.median : row.value;
  const status = row.status === 'ok' || row.status === 'skipped' || row.status === 'error' ? row.status : Number.isFinite(median) ? 'ok' : 'error';
  const normalized: BenchRow = { ...row, section: row.section || section, name, status, unit: typeof row.unit === 'string' ? row.unit : '' };
  delete (normalized as { value?: number }).value;
  if (typeof median === 'number') normalized.median = median;
  if (status === 'ok' && !Number.isFinite(median)) return { ...normalized, status: 'error', note: 'the row carries no finite value' };
  return normalized;
}

// ---------------------------------------------------------------- section 5: the built app's size


function firstLoadFiles(dist: string): string[] {
  const index = path.join(dist, 'index.html');
  const html = readFileSync(index, 'utf8');
  const files = new Set<string>([index]);
  // What the browser fetches before the app runs: scripts, stylesheets, module preloads.
  const pattern = /<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"[^>]*>/g;
  for (const match of html.matchAll(pattern)) {
    const tag = match[0];
    const url = match[1]!;
    if (/^(?:[a-z]+:)?\/\//i.test(url) || url.startsWith('data:')) continue;
    if (tag.startsWith('<link') && !/rel="(?:stylesheet|modulepreload)"/.test(tag)) continue;
    const file = path.join(dist, url.replace(/^\.?\//, '').split(/[?#]/)[0]!);
    if (existsSync(file)) files.add(file);
  }
  return [...files];
}

async function bundleSizeRows(context: BenchContext, rebuild: boolean): Promise<BenchRow[]> {
  const section = '5 browser';
  const name = 'first load, gzip (index.html + scripts + styles)';
  const dist = path.join(context.projectRoot, 'dist');
  const config = path.join('src', 'ui', 'vite.config.ts');
  if (rebuild || !existsSync(path.join(dist, 'index.html'))) {
    if (!existsSync(path.join(context.projectRoot, config))) {
      return [skippedRow(section, name, 'KiB', 'no dist/ and no src/ui/vite.config.ts to build it with')];
    }
    context.log('building dist/ (npx vite build --config src/ui/vite.config.ts)');
    const build = spawnSync('npx', ['vite', 'build', '--config', config], { cwd: context.projectRoot, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`vite build failed: ${tail(`${build.stdout}\n${build.stderr}`)}`);
  }
  if (!existsSync(path.join(dist, 'index.html'))) throw new Error('the build wrote no dist/index.html');
  const files = firstLoadFiles(dist);
  const gzipBytes = files.reduce((sum, file) => sum + gzipSync(readFileSync(file), { level: 9 }).length, 0);
  const assets = existsSync(path.join(dist, 'assets')) ? readdirSync(path.join(dist, 'assets')).length : 0;
  const kib = gzipBytes / 1024;
  const row = measuredRow(section, name, summarize([kib]), 'KiB', {
    anchor: 'budget',
    anchorMedian: FIRST_LOAD_BUDGET_KIB,
    target: { kind: 'at-most', value: 1.0 },
    note: `${files.length} files fetched first (of ${assets} in assets/), gzip -9, budget ${FIRST_LOAD_BUDGET_KIB} KiB`,
  });
  return [row];
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const repetitions = options.repetitions ?? (options.quick ? 3 : 5);
  const context: BenchContext = {
    quick: options.quick,
    warmup: 1,
    repetitions,
    log: (line) => process.stderr.write(`bench: ${line}\n`),
    projectRoot,
  };
  const wants = (section: number) => options.only === null || options.only.has(section);
  const machine = describeMachine();
  const machineLine = `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.os}, load ${machine.loadAverage}; smtp-server ${machine.anchors['smtp-server']}, postfix ${machine.anchors.postfix}; ${machine.date}`;
  if (options.json) process.stdout.write(`${JSON.stringify({ type: 'machine', ...machine })}\n`);
  else process.stdout.write(`${options.markdown ? `${machineLine.replace(/^machine:/, '**Machine:**')}\n\n` : `${machineLine}\n\n`}`);

  const rows: BenchRow[] = [];
  const emit = (newRows: BenchRow[]) => {
    rows.push(...newRows);
    if (options.json) for (const row of newRows) process.stdout.write(`${renderJson(row)}\n`);
  };
  /** Runs a section in isolation: its exception becomes an error row. */
  const isolated = async (section: string, what: string, body: () => Promise<BenchRow[]>) => {
    const started = Date.now();
    context.log(`section ${section}: starting`);
    try {
      emit(await body());
    } catch (error) {
      context.log(`section ${section}: ${(error as Error).stack ?? error}`);
      emit([errorRow(section, what, error)]);
    }
    context.log(`section ${section}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  };

  let smtpdPerMessageMicros: number | undefined;
  if (wants(1) || wants(2) || wants(3)) {
    const ids = new Set<ServerId>(['smtpd']);
    if (wants(1)) ids.add('smtp-server');
    if (wants(2)) ids.add('smtp-sink');
    let data: Awaited<ReturnType<typeof measureServers>> | undefined;
    await isolated('1+2 servers', 'starting the servers', async () => {
      data = await measureServers(context, ids);
      return [];
    });
    if (data) {
      const measured = data;
      if (wants(1)) await isolated('1 smtpd vs smtp-server', 'throughput and memory', async () => serverRows('1 smtpd vs smtp-server', 'smtpd', 'smtp-server', measured, true, true));
      if (wants(2)) await isolated('2 smtp-sink', 'throughput and memory', async () => serverRows('2 smtp-sink', 'smtpd', 'smtp-sink', measured, true, false));
      const single = measured.figures.get('smtpd')?.throughput.get(1);
      if (single) smtpdPerMessageMicros = 1e6 / single.summary.median;
    }
  }
  if (wants(3)) await isolated('3 machine', 'server machine in-process', () => machineSection(context, smtpdPerMessageMicros));
  if (wants(4)) await isolated('4 bridge', 'bridge', () => moduleSection(context, '4 bridge', 'bridge.ts', 'benchBridge', 'bridge: direct TCP vs websockify vs bridge'));
  if (wants(5)) {
    await isolated('5 browser', 'first-load size', () => bundleSizeRows(context, options.rebuild));
    await isolated('5 browser', 'Enter -> reply p95', () => moduleSection(context, '5 browser', 'browser.ts', 'benchBrowser', 'Enter -> reply rendered p95 (Chromium, sim mode)'));
  }
  if (wants(6)) await isolated('6 virtual time', 'virtual time', () => moduleSection(context, '6 virtual time', 'virtualTime.ts', 'benchVirtualTime', 'five days of retries for 1,000 messages'));

  if (options.markdown) process.stdout.write(`${renderMarkdown(rows)}\n`);
  else if (!options.json) process.stdout.write(`${renderText(rows)}\n`);
  const missed = rows.filter((row) => row.targetMet === false).map((row) => row.name);
  const summary = `targets: ${rows.filter((row) => row.targetMet === true).length} met, ${missed.length} not met${missed.length ? ` (${missed.join('; ')})` : ''}; ${rows.filter((r) => r.status === 'skipped').length} skipped, ${rows.filter((r) => r.status === 'error').length} errors`;
  if (options.json) process.stdout.write(`${JSON.stringify({ type: 'summary', text: summary })}\n`);
  else process.stdout.write(`\n${summary}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
