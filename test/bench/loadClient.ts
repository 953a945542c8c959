/**
 * A raw-socket SMTP load client (node:net only), so every server under test is driven by
 * exactly the same bytes. It does not reuse the project's own protocol code on purpose:
 * a bug shared by client and server would otherwise go unnoticed.
 *
 * Every reply is checked against the code the step expects; an unexpected reply is counted
 * as an error and kept as a sample, never ignored. A message counts as delivered only when
 * MAIL, RCPT, DATA and the final "." all got their expected codes.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { percentile } from './stats';

export interface SmtpReply {
  code: number;
  lines: string[];
}

export interface LoadOptions {
  port: number;
  host?: string;
  /** Concurrent connections. */
  connections: number;
  /** Messages sent one after another on each connection. */
  messagesPerConnection: number;
  /**
   * RFC 2920: send MAIL, RCPT and DATA in one write and read the three replies after.
   * Only used when asked AND the server advertises PIPELINING; otherwise lock-step.
   */
  pipelining?: boolean;
  sender?: string;
  recipient?: string;
  ehloName?: string;
  /** Approximate size of each message (headers + body) in bytes. */
  messageBytes?: number;
  /** A reply that takes longer than this is an error and ends the connection. */
  replyTimeoutMs?: number;
}

export interface LoadErrorSample {
  connection: number;
  step: string;
  expected: string;
  got: string;
}

export interface LatencyPercentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  /** Messages for which MAIL, RCPT, DATA and "." all got the expected reply. */
  delivered: number;
  /** Messages asked for but not delivered (refused, or lost with their connection). */
  failed: number;
  /** Unexpected replies, timeouts and connection failures. */
  errors: number;
  /** The first few errors, verbatim. */
  errorSamples: LoadErrorSample[];
  /** Wall time from the first connect to the last connection's end. */
  seconds: number;
  messagesPerSecond: number;
  /** Per delivered message: from writing MAIL to reading the reply to ".", in ms. */
  latencyMs: LatencyPercentiles | null;
  /** Whether pipelining was really used on every connection. */
  pipelined: boolean;
}

const MAX_ERROR_SAMPLES = 5;

/** Incremental reply reader: RFC 5321 4.2.1, "ddd-" continues a reply, "ddd " (or "ddd") ends it. */
class ReplyReader {
  private pendingText = '';
  private pendingLines: string[] = [];

  push(chunk: string): SmtpReply[] {
    this.pendingText += chunk;
    const replies: SmtpReply[] = [];
    let newline: number;
    while ((newline = this.pendingText.indexOf('\n')) >= 0) {
      let line = this.pendingText.slice(0, newline);
      this.pendingText = this.pendingText.slice(newline + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      const match = /^(\d{3})([ -]|$)(.*)$/.exec(line);
      if (!match) {
        // Not a reply line at all: surface it as code 0 so it is counted as unexpected.
        this.pendingLines = [];
        replies.push({ code: 0, lines: [line] });
        continue;
      }
      this.pendingLines.push(match[3]!);
      if (match[2] !== '-') {
        replies.push({ code: Number(match[1]), lines: this.pendingLines });
        this.pendingLines = [];
      }
    }
    return replies;
  }
}

class ConnectionClosedError extends Error {}

/** One client connection: write text, await replies in order, with a timeout per reply. */
class SmtpConnection {
  private readonly reader = new ReplyReader();
  private readonly queued: SmtpReply[] = [];
  private waiting: { resolve: (reply: SmtpReply) => void; reject: (error: Error) => void } | null = null;
  private failure: Error | null = null;
  private readonly closed: Promise<void>;

  private constructor(
    private readonly socket: net.Socket,
    private readonly replyTimeoutMs: number,
  ) {
    socket.setEncoding('latin1');
    socket.setNoDelay(true);
    socket.on('data', (chunk: string) => {
      for (const reply of this.reader.push(chunk)) this.deliver(reply);
    });
    socket.on('error', (error) => this.fail(error));
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.fail(new ConnectionClosedError('connection closed by the server'));
        resolve();
      });
    });
  }

  static open(host: string, port: number, replyTimeoutMs: number): Promise<SmtpConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const onError = (error: Error) => reject(error);
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new SmtpConnection(socket, replyTimeoutMs));
      });
    });
  }

  private deliver(reply: SmtpReply): void {
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve(reply);
    } else {
      this.queued.push(reply);
    }
  }

  private fail(error: Error): void {
    if (!this.failure) this.failure = error;
    if (this.waiting) {
      const { reject } = this.waiting;
      this.waiting = null;
      reject(error);
    }
  }

  write(text: string): void {
    this.socket.write(text, 'latin1');
  }

  nextReply(): Promise<SmtpReply> {
    const queued = this.queued.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`no reply within ${this.replyTimeoutMs} ms`));
      }, this.replyTimeoutMs);
      this.waiting = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  /** Ends politely if possible, and is sure to be gone within a second. */
  async close(): Promise<void> {
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 1000);
    await this.closed;
    clearTimeout(timer);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function describeReply(reply: SmtpReply): string {
  return reply.code === 0 ? `not a reply: ${JSON.stringify(reply.lines[0])}` : `${reply.code} ${reply.lines.join(' / ')}`;
}

/** A message of about `bytes` bytes, dot-stuffed (RFC 5321 4.5.2) and ended with CRLF.CRLF. */
export function buildMessage(sender: string, recipient: string, bytes: number): string {
  const headers = [
    `From: <${sender}>`,
    `To: <${recipient}>`,
    'Subject: load test',
    'Message-ID: <load-test@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
  ];
  const lines = [...headers];
  let size = headers.join('\r\n').length + 2;
  const filler = 'The quick brown fox jumps over the lazy dog, then over the example.net fence.';
  while (size < bytes) {
    lines.push(filler);
    size += filler.length + 2;
  }
  const body = lines.map((line) => (line.startsWith('.') ? `.${line}` : line)).join('\r\n');
  return `${body}\r\n.\r\n`;
}

interface Tally {
  delivered: number;
  failed: number;
  errors: number;
  errorSamples: LoadErrorSample[];
  latencies: number[];
  allPipelined: boolean;
}

function recordError(tally: Tally, sample: LoadErrorSample): void {
  tally.errors++;
  if (tally.errorSamples.length < MAX_ERROR_SAMPLES) tally.errorSamples.push(sample);
}

/** Reads one reply and checks its code; records an error if it is not one of `expected`. */
async function expectReply(
  connection: SmtpConnection,
  tally: Tally,
  index: number,
  step: string,
  expected: readonly number[],
): Promise<{ ok: boolean; reply: SmtpReply }> {
  const reply = await connection.nextReply();
  const ok = expected.includes(reply.code);
  if (!ok) recordError(tally, { connection: index, step, expected: expected.join('|'), got: describeReply(reply) });
  // 421: the server is shutting the channel (RFC 5321 3.8); nothing more will succeed.
  if (reply.code === 421) throw new ConnectionClosedError(`421 at ${step}`);
  return { ok, reply };
}

async function openSession(
  options: Required<Omit<LoadOptions, 'connections' | 'messagesPerConnection'>>,
  tally: Tally,
  index: number,
): Promise<{ connection: SmtpConnection; extensions: string[] } | null> {
  let connection: SmtpConnection;
  try {
    connection = await SmtpConnection.open(options.host, options.port, options.replyTimeoutMs);
  } catch (error) {
    recordError(tally, { connection: index, step: 'connect', expected: 'connected', got: String(error) });
    return null;
  }
  try {
    const banner = await expectReply(connection, tally, index, 'banner', [220]);
    if (!banner.ok) {
      connection.destroy();
      return null;
    }
    connection.write(`EHLO ${options.ehloName}\r\n`);
    const ehlo = await expectReply(connection, tally, index, 'EHLO', [250]);
    if (!ehlo.ok) {
      connection.destroy();
      return null;
    }
    const extensions = ehlo.reply.lines.slice(1).map((line) => line.split(' ')[0]!.toUpperCase());
    return { connection, extensions };
  } catch (error) {
    recordError(tally, { connection: index, step: 'greeting', expected: '220 then 250', got: String(error) });
    connection.destroy();
    return null;
  }
}

async function runConnection(
  options: Required<Omit<LoadOptions, 'connections' | 'messagesPerConnection'>>,
  messages: number,
  message: string,
  tally: Tally,
  index: number,
): Promise<void> {
  const session = await openSession(options, tally, index);
  if (!session) {
    tally.failed += messages;
    return;
  }
  const { connection } = session;
  const pipelined = options.pipelining && session.extensions.includes('PIPELINING');
  if (!pipelined) tally.allPipelined = false;
  const envelope = [`MAIL FROM:<${options.sender}>\r\n`, `RCPT TO:<${options.recipient}>\r\n`, 'DATA\r\n'];
  let sent = 0;
  try {
    for (; sent < messages; sent++) {
      const started = performance.now();
      let accepted = true;
      let dataOpen = false;
      if (pipelined) {
        connection.write(envelope.join(''));
        const mail = await expectReply(connection, tally, index, 'MAIL', [250]);
        const rcpt = await expectReply(connection, tally, index, 'RCPT', [250, 251]);
        const data = await expectReply(connection, tally, index, 'DATA', [354]);
        accepted = mail.ok && rcpt.ok && data.ok;
        dataOpen = data.reply.code === 354;
      } else {
        connection.write(envelope[0]!);
        accepted = (await expectReply(connection, tally, index, 'MAIL', [250])).ok;
        if (accepted) {
          connection.write(envelope[1]!);
          accepted = (await expectReply(connection, tally, index, 'RCPT', [250, 251])).ok;
        }
        if (accepted) {
          connection.write(envelope[2]!);
          const data = await expectReply(connection, tally, index, 'DATA', [354]);
          accepted = data.ok;
          dataOpen = data.reply.code === 354;
        }
      }
      if (dataOpen) {
        // Once 354 is given the server reads a message whatever else happened; send it.
        connection.write(message);
        accepted = (await expectReply(connection, tally, index, 'end of data', [250])).ok && accepted;
      } else {
        // Abandon the half-made transaction so the next one starts clean (RFC 5321 4.1.1.5).
        connection.write('RSET\r\n');
        const reset = await expectReply(connection, tally, index, 'RSET', [250]);
        if (!reset.ok) throw new ConnectionClosedError('RSET refused');
      }
      if (accepted) {
        tally.delivered++;
        tally.latencies.push(performance.now() - started);
      } else {
        tally.failed++;
      }
    }
    connection.write('QUIT\r\n');
    await expectReply(connection, tally, index, 'QUIT', [221]);
    await connection.close();
  } catch (error) {
    if (!(error instanceof ConnectionClosedError && /^(421|RSET)/.test(error.message))) {
      recordError(tally, { connection: index, step: `message ${sent + 1}`, expected: 'a reply', got: String(error) });
    }
    // The message in progress and every later one on this connection are lost.
    tally.failed += messages - sent;
    connection.destroy();
  }
}

/** C connections × M messages each, all connections at once; see LoadResult. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (!Number.isInteger(options.connections) || options.connections < 1) {
    throw new RangeError(`connections must be a whole number >= 1, got ${options.connections}`);
  }
  if (!Number.isInteger(options.messagesPerConnection) || options.messagesPerConnection < 0) {
    throw new RangeError(`messagesPerConnection must be a whole number >= 0, got ${options.messagesPerConnection}`);
  }
  const settings = {
    port: options.port,
    host: options.host ?? '127.0.0.1',
    pipelining: options.pipelining ?? false,
    // example.net: the domain smtpd's personas serve unless told otherwise.
    sender: options.sender ?? 'load@example.com',
    recipient: options.recipient ?? 'inbox@example.net',
    ehloName: options.ehloName ?? 'client.example.com',
    messageBytes: options.messageBytes ?? 1024,
    replyTimeoutMs: options.replyTimeoutMs ?? 10_000,
  };
  const message = buildMessage(settings.sender, settings.recipient, settings.messageBytes);
  const tally: Tally = { delivered: 0, failed: 0, errors: 0, errorSamples: [], latencies: [], allPipelined: settings.pipelining };
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.connections }, (_, index) =>
      runConnection(settings, options.messagesPerConnection, message, tally, index),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    delivered: tally.delivered,
    failed: tally.failed,
    errors: tally.errors,
    errorSamples: tally.errorSamples,
    seconds,
    messagesPerSecond: tally.delivered / seconds,
    latencyMs:
      tally.latencies.length === 0
        ? null
        : {
            p50: percentile(tally.latencies, 50),
            p95: percentile(tally.latencies, 95),
            p99: percentile(tally.latencies, 99),
            max: Math.max(...tally.latencies),
          },
    pipelined: tally.allPipelined,
  };
}

export interface IdleConnectionSet {
  /** Connections that got their banner and a 250 to EHLO and are still open. */
  open: number;
  errors: number;
  errorSamples: LoadErrorSample[];
  /** Closes every connection (QUIT is not sent: the server sees the peer go away). */
  close(): Promise<void>;
}

/**
 * Opens n connections, reads each banner, sends EHLO once and leaves them open, so the
 * server's memory per idle connection can be read. Opens at most `batch` at a time so
 * the listen backlog is not what is measured.
 */
export async function idleConnections(
  port: number,
  n: number,
  options: { host?: string; batch?: number; replyTimeoutMs?: number; ehloName?: string } = {},
): Promise<IdleConnectionSet> {
  const settings = {
    port,
    host: options.host ?? '127.0.0.1',
    pipelining: false,
    sender: '',
    recipient: '',
    ehloName: options.ehloName ?? 'idle.example.com',
    messageBytes: 0,
    replyTimeoutMs: options.replyTimeoutMs ?? 10_000,
  };
  const batch = options.batch ?? 50;
  const tally: Tally = { delivered: 0, failed: 0, errors: 0, errorSamples: [], latencies: [], allPipelined: false };
  const opened: SmtpConnection[] = [];
  for (let first = 0; first < n; first += batch) {
    const sessions = await Promise.all(
      Array.from({ length: Math.min(batch, n - first) }, (_, offset) => openSession(settings, tally, first + offset)),
    );
    for (const session of sessions) if (session) opened.push(session.connection);
  }
  return {
    open: opened.length,
    errors: tally.errors,
    errorSamples: tally.errorSamples,
    close: async () => {
      for (const connection of opened) connection.destroy();
    },
  };
}
