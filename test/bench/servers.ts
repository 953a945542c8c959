/**
 * The servers under test, each started in its own child process on a loopback port, so
 * that its memory (VmRSS in /proc/<pid>/status) can be read the same way for every one
 * and the load client never shares its event loop.
 *
 * - smtp-server: nodemailer's npm `smtp-server`, the anchor (anchor-smtp-server.ts).
 * - smtp-sink:   Postfix's test sink, a C reference near the limit of the machine.
 * - smtpd:       this project's server (`src/smtpd/cli.ts --persona friendly --port 0`).
 *
 * A server that cannot run gives a reason, never a zero.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export type ServerId = 'smtpd' | 'smtp-server' | 'smtp-sink';

export const serverLabels: Record<ServerId, string> = {
  smtpd: 'smtpd',
  'smtp-server': 'smtp-server (npm)',
  'smtp-sink': 'smtp-sink (Postfix)',
};

export interface RunningServer {
  id: ServerId;
  host: string;
  port: number;
  /** The process that owns the listening socket (its RSS is the server's). */
  pid: number;
  stop(): Promise<void>;
}

export type ServerStart = { ok: true; server: RunningServer } | { ok: false; reason: string };

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The line every Node server under test prints once it listens. */
export const LISTENING_LINE = /listening on [^\s:]+:(\d+)/;

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 30_000;

/** Resident memory of a process in bytes, from /proc/<pid>/status (Linux). */
export function readRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS line for process ${pid}`);
  return Number(match[1]) * 1024;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** The most telling line of a failed process's output: its error line, else its last lines. */
export function tail(text: string): string {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('at ') && !/^Node\.js v\d/.test(line));
  const errorLine = lines.find((line) => /^(\w*Error\b|error\b)|\berror:/i.test(line));
  return errorLine ?? (lines.slice(-3).join(' | ') || 'no output');
}

/** Starts a Node script in one process (node --import tsx, not the tsx CLI, which forks). */
function startNodeServer(id: ServerId, script: string, args: string[]): Promise<ServerStart> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const settle = (result: ServerStart) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!result.ok) void stopChild(child);
      resolve(result);
    };
    const timer = setTimeout(
      () => settle({ ok: false, reason: `${id} printed no "listening on" line within ${START_TIMEOUT_MS / 1000} s: ${tail(stderr || stdout)}` }),
      START_TIMEOUT_MS,
    );
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      // After the listening line only drain: a server that logs each session must not grow this.
      if (settled) return;
      stdout = (stdout + chunk).slice(-4000);
      const match = LISTENING_LINE.exec(stdout);
      if (match && child.pid !== undefined) {
        const pid = child.pid;
        settle({ ok: true, server: { id, host: HOST, port: Number(match[1]), pid, stop: () => stopChild(child) } });
      }
    });
    // Keep draining both pipes so a chatty server never blocks on a full pipe.
    child.stderr!.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    child.on('error', (error) => settle({ ok: false, reason: `${id} did not start: ${error.message}` }));
    child.on('exit', (code, signal) =>
      settle({ ok: false, reason: `${id} exited (${signal ?? `code ${code}`}) before listening: ${tail(stderr || stdout)}` }),
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const SMTP_SINK_INSTALL_LINE = 'DEBIAN_FRONTEND=noninteractive apt-get install -y postfix';
let smtpSinkBinary: Promise<{ path: string } | { reason: string }> | null = null;

function findSmtpSink(): string | null {
  const candidates = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of candidates) {
    const candidate = path.join(dir, 'smtp-sink');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** Finds smtp-sink; installs Postfix when running as root; otherwise says how to. */
export function ensureSmtpSink(log: (line: string) => void = () => {}): Promise<{ path: string } | { reason: string }> {
  smtpSinkBinary ??= (async () => {
    const found = findSmtpSink();
    if (found) return { path: found };
    if (process.getuid?.() !== 0) {
      return { reason: `smtp-sink is not installed; as root run: ${SMTP_SINK_INSTALL_LINE}` };
    }
    log(`smtp-sink is missing: running ${SMTP_SINK_INSTALL_LINE}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // Without a preseeded answer Postfix's installer asks what kind of mail server to be.
    spawnSync('debconf-set-selections', { input: 'postfix postfix/main_mailer_type select No configuration\n', env });
    let install = spawnSync('apt-get', ['install', '-y', 'postfix'], { env, encoding: 'utf8' });
    if (install.status !== 0) {
      spawnSync('apt-get', ['update'], { env, encoding: 'utf8' });
      install = spawnSync('apt-get', ['install', '-y', 'postfix'], { env, encoding: 'utf8' });
    }
    const installed = findSmtpSink();
    if (installed) return { path: installed };
    return { reason: `installing postfix failed (${tail(install.stderr ?? '')}); run: ${SMTP_SINK_INSTALL_LINE}` };
  })();
  return smtpSinkBinary;
}

async function startSmtpSink(log: (line: string) => void): Promise<ServerStart> {
  const binary = await ensureSmtpSink(log);
  if ('reason' in binary) return { ok: false, reason: binary.reason };
  let lastReason = '';
  // smtp-sink cannot report an ephemeral port, so pick a free one; retry if it was taken meanwhile.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    // -m: allow more simultaneous sessions than the idle-connection test opens (default 256);
    // -u: smtp-sink refuses to keep root privileges.
    const args = ['-m', '2048', ...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []), `${HOST}:${port}`, '1024'];
    const child = spawn(binary.path, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    const spawnError = new Promise<string>((resolve) => child.once('error', (error) => resolve(error.message)));
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && child.exitCode === null) {
      if (await canConnect(port)) {
        return { ok: true, server: { id: 'smtp-sink', host: HOST, port, pid: child.pid!, stop: () => stopChild(child) } };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const error = await Promise.race([spawnError, new Promise<string>((resolve) => setTimeout(() => resolve(''), 10))]);
    lastReason = `smtp-sink did not listen on port ${port}: ${error || tail(stderr) || 'no output'}`;
    await stopChild(child);
  }
  return { ok: false, reason: lastReason };
}

/**
 * Extra arguments for smtpd, e.g. to make it discard messages, given as a space-separated
 * list in SMTP_LAB_BENCH_SMTPD_ARGS.
 */
function smtpdExtraArgs(): string[] {
  return (process.env.SMTP_LAB_BENCH_SMTPD_ARGS ?? '').split(/\s+/).filter(Boolean);
}

export async function startServer(id: ServerId, log: (line: string) => void = () => {}): Promise<ServerStart> {
  switch (id) {
    case 'smtp-server': {
      const script = path.join('test', 'bench', 'anchor-smtp-server.ts');
      if (!existsSync(path.join(projectRoot, 'node_modules', 'smtp-server'))) {
        return { ok: false, reason: 'smtp-server is not installed (a devDependency): run npm install' };
      }
      return startNodeServer(id, script, ['--port', '0']);
    }
    case 'smtpd': {
      const script = path.join('src', 'smtpd', 'cli.ts');
      if (!existsSync(path.join(projectRoot, script))) {
        return { ok: false, reason: 'smtpd: not built yet (src/smtpd/cli.ts is missing)' };
      }
      // --quiet: the anchor runs with its logger off, so smtpd does too (a fair comparison).
      return startNodeServer(id, script, ['--persona', 'friendly', '--port', '0', '--quiet', ...smtpdExtraArgs()]);
    }
    case 'smtp-sink':
      return startSmtpSink(log);
  }
}
