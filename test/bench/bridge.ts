/**
 * Benchmark: the bridge against direct TCP and Debian's websockify (the standard WebSocket-to-TCP
 * bridge), all three in front of the same local SMTP server, measured in one run.
 * - round trip: NOOP -> 250, p50 and p99 over many tries;
 * - throughput: bytes per second of one large DATA, from the first byte sent to the 250.
 * Ratios are this bridge over websockify (lower latency / higher throughput is better).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect as netConnect, createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { SMTPServer } from 'smtp-server';
import WebSocket from 'ws';
import { startBridge } from '../../src/bridge/server';
import { encodeMessage, parseBridgeMessage } from '../../src/net/wire';

export interface Row {
  name: string;
  value: number;
  unit: string;
  anchor?: string;
  ratio?: number;
}

const ROUND_TRIPS = 2000;
const WARMUP = 200;
const DATA_BYTES = 8 * 1024 * 1024;
const CHUNK_BYTES = 32 * 1024;
const ORIGIN = 'http://localhost:5173';

/** One SMTP connection through some transport: write text, read replies. */
interface Pipe {
  write(text: string): void;
  reply(): Promise<string>;
  close(): void;
}

function replyReader(): { push(text: string): void; reply(): Promise<string> } {
  let buffer = '';
  let waiting: (() => void) | null = null;
  const complete = (): number => {
    // A reply ends with a line "xyz text\r\n" (RFC 5321 section 4.2).
    const match = /(^|\r\n)\d{3}( [^\r\n]*)?\r\n/.exec(buffer);
    return match ? match.index + match[0].length : -1;
  };
  return {
    push(text) {
      buffer += text;
      if (waiting && complete() !== -1) {
        const wake = waiting;
        waiting = null;
        wake();
      }
    },
    async reply() {
      while (complete() === -1) await new Promise<void>((resolve) => (waiting = resolve));
      const end = complete();
      const reply = buffer.slice(0, end);
      buffer = buffer.slice(end);
      return reply;
    },
  };
}

function directPipe(port: number): Promise<Pipe> {
  return new Promise((resolve, reject) => {
    const reader = replyReader();
    const socket = netConnect({ host: '127.0.0.1', port }, () =>
      resolve({ write: (text) => socket.write(text), reply: reader.reply, close: () => socket.destroy() }),
    );
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => reader.push(text));
    socket.once('error', reject);
  });
}

function websockifyPipe(port: number): Promise<Pipe> {
  return new Promise((resolve, reject) => {
    const reader = replyReader();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, ['binary']);
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer) => reader.push(data.toString('utf8')));
    ws.once('open', () => resolve({ write: (text) => ws.send(Buffer.from(text), { binary: true }), reply: reader.reply, close: () => ws.close() }));
    ws.once('error', reject);
  });
}

function bridgePipe(url: string, smtpPort: number): Promise<Pipe> {
  return new Promise((resolve, reject) => {
    const reader = replyReader();
    const ws = new WebSocket(url, { headers: { Origin: ORIGIN } });
    ws.on('message', (data: Buffer) => {
      const parsed = parseBridgeMessage(data.toString());
      if (!parsed.ok) return;
      const message = parsed.message;
      if (message.type === 'data') reader.push(message.text);
      else if (message.type === 'connected') resolve({ write: (text) => ws.send(encodeMessage({ type: 'send', data: text })), reply: reader.reply, close: () => ws.close() });
      else if (message.type === 'error') reject(new Error(message.message));
    });
    ws.once('open', () => ws.send(encodeMessage({ type: 'connect', host: '127.0.0.1', port: smtpPort, tls: 'none' })));
    ws.once('error', reject);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(open: () => Promise<Pipe>): Promise<{ p50: number; p99: number; bytesPerSecond: number }> {
  const pipe = await open();
  await pipe.reply();
  pipe.write('EHLO bench.test\r\n');
  await pipe.reply();
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + ROUND_TRIPS; i++) {
    const start = performance.now();
    pipe.write('NOOP\r\n');
    const reply = await pipe.reply();
    if (!reply.startsWith('250')) throw new Error(`NOOP got ${reply}`);
    if (i >= WARMUP) samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);

  pipe.write('MAIL FROM:<bench@example.com>\r\n');
  await pipe.reply();
  pipe.write('RCPT TO:<sink@mail.test>\r\n');
  await pipe.reply();
  pipe.write('DATA\r\n');
  await pipe.reply();
  const line = `${'x'.repeat(76)}\r\n`;
  const chunk = line.repeat(Math.floor(CHUNK_BYTES / line.length));
  const chunks = Math.ceil(DATA_BYTES / chunk.length);
  const start = performance.now();
  for (let i = 0; i < chunks; i++) pipe.write(chunk);
  pipe.write('.\r\n');
  const accepted = await pipe.reply();
  const seconds = (performance.now() - start) / 1000;
  if (!accepted.startsWith('250')) throw new Error(`DATA got ${accepted}`);
  pipe.write('QUIT\r\n');
  await pipe.reply();
  pipe.close();
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), bytesPerSecond: (chunks * chunk.length) / seconds };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

async function startWebsockify(port: number, smtpPort: number): Promise<ChildProcess> {
  const child = spawn('websockify', [`127.0.0.1:${port}`, `127.0.0.1:${smtpPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.once('error', () => undefined);
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`websockify exited: ${stderr.trim()} (install it with: apt-get install -y websockify)`);
    const up = await new Promise<boolean>((resolve) => {
      const probe = netConnect({ host: '127.0.0.1', port }, () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (up) return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill();
  throw new Error(`websockify did not start: ${stderr.trim()}`);
}

export async function benchBridge(): Promise<Row[]> {
  const smtp = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    disableReverseLookup: true,
    onData(stream, _session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => callback());
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
  const address = (smtp as unknown as { server: import('node:net').Server }).server.address();
  const smtpPort = typeof address === 'object' && address ? address.port : 0;
  const websockifyPort = await freePort();
  const websockify = await startWebsockify(websockifyPort, smtpPort);
  const bridge = await startBridge({
    port: 0,
    policy: { localPorts: [smtpPort] },
    limits: { maxBytesToServer: DATA_BYTES * 2, maxSendFrames: 100_000 },
    log: () => undefined,
  });
  try {
    const direct = await measure(() => directPipe(smtpPort));
    const viaWebsockify = await measure(() => websockifyPipe(websockifyPort));
    const viaBridge = await measure(() => bridgePipe(bridge.url, smtpPort));
    const rows: Row[] = [];
    for (const [name, result] of [['direct tcp', direct], ['websockify', viaWebsockify], ['bridge', viaBridge]] as const) {
      const isBridge = name === 'bridge';
      rows.push(
        { name: `${name} round trip p50 (NOOP -> 250)`, value: result.p50, unit: 'ms', ...(isBridge ? { anchor: 'websockify', ratio: result.p50 / viaWebsockify.p50 } : {}) },
        { name: `${name} round trip p99 (NOOP -> 250)`, value: result.p99, unit: 'ms', ...(isBridge ? { anchor: 'websockify', ratio: result.p99 / viaWebsockify.p99 } : {}) },
        { name: `${name} DATA throughput`, value: result.bytesPerSecond, unit: 'bytes/s', ...(isBridge ? { anchor: 'websockify', ratio: result.bytesPerSecond / viaWebsockify.bytesPerSecond } : {}) },
      );
    }
    rows.push(
      { name: 'bridge round trip p50 vs direct tcp', value: viaBridge.p50, unit: 'ms', anchor: 'direct tcp', ratio: viaBridge.p50 / direct.p50 },
      { name: 'bridge DATA throughput vs direct tcp', value: viaBridge.bytesPerSecond, unit: 'bytes/s', anchor: 'direct tcp', ratio: viaBridge.bytesPerSecond / direct.bytesPerSecond },
    );
    for (const row of rows) {
      const value = row.unit === 'bytes/s' ? `${(row.value / 1e6).toFixed(1)} MB/s` : `${row.value.toFixed(3)} ms`;
      console.log(`${row.name.padEnd(44)} ${value.padStart(12)}${row.ratio === undefined ? '' : `   ratio ${row.ratio.toFixed(2)} vs ${row.anchor}`}`);
    }
    return rows;
  } finally {
    await bridge.close();
    websockify.kill('SIGTERM');
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  }
}
