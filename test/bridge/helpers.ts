/**
 * Real peers for the bridge tests: an independent SMTP server (npm smtp-server), a real DNS
 * server (Debian's dnsmasq), and a WebSocket client that speaks the bridge's wire format.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { generate } from 'selfsigned';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import WebSocket from 'ws';
import { encodeMessage, parseBridgeMessage, type BridgeMessage, type ClientMessage } from '../../src/net/wire';

export const TEST_ORIGIN = 'http://localhost:5173';

export interface SmtpReply {
  code: number;
  lines: string[];
}

/** A browser stand-in: one WebSocket to the bridge, every frame kept in order. */
export class BridgeClient {
  readonly frames: BridgeMessage[] = [];
  /** Every frame but data, in order; data frames accumulate in `text` for readReply. */
  private readonly events: BridgeMessage[] = [];
  private cursor = 0;
  private text = '';
  private waiters: Array<() => void> = [];
  closeCode: number | null = null;
  closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const parsed = parseBridgeMessage(data.toString());
      if (!parsed.ok) throw new Error(parsed.error);
      this.frames.push(parsed.message);
      if (parsed.message.type === 'data') this.text += parsed.message.text;
      else this.events.push(parsed.message);
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code) => {
        this.closeCode = code;
        this.wake();
        resolve(code);
      });
    });
  }

  static open(url: string, origin: string | null = TEST_ORIGIN): Promise<BridgeClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, origin === null ? {} : { headers: { Origin: origin } });
      const client = new BridgeClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
      ws.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  private waitForChange(timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; frames so far: ${JSON.stringify(this.frames).slice(-600)}`)), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  send(message: ClientMessage): void {
    this.ws.send(encodeMessage(message));
  }

  sendRaw(frame: string | Buffer, binary = false): void {
    this.ws.send(frame, { binary });
  }

  /** The next frame of this type (data frames are consumed by readReply instead). */
  async next<T extends BridgeMessage['type']>(type: T, timeoutMs = 10_000): Promise<Extract<BridgeMessage, { type: T }>> {
    for (;;) {
      while (this.cursor < this.events.length) {
        const frame = this.events[this.cursor++]!;
        if (frame.type === type) return frame as Extract<BridgeMessage, { type: T }>;
      }
      if (this.closeCode !== null) throw new Error(`socket closed (${this.closeCode}) before a ${type} frame; frames: ${JSON.stringify(this.frames).slice(-600)}`);
      await this.waitForChange(timeoutMs, `a ${type} frame`);
    }
  }

  /** Read one complete SMTP reply (RFC 5321 section 4.2: "xyz-" continues, "xyz " ends). */
  async readReply(timeoutMs = 10_000): Promise<SmtpReply> {
    for (;;) {
      const lines = this.text.split('\r\n');
      for (let i = 0; i < lines.length - 1; i++) {
        if (/^\d{3}( |$)/.test(lines[i]!)) {
          const replyLines = lines.slice(0, i + 1);
          this.text = lines.slice(i + 1).join('\r\n');
          return { code: Number(replyLines[0]!.slice(0, 3)), lines: replyLines.map((line) => line.slice(4)) };
        }
      }
      if (this.closeCode !== null) throw new Error(`socket closed before a reply; text so far: ${JSON.stringify(this.text)}`);
      await this.waitForChange(timeoutMs, 'an SMTP reply');
    }
  }

  async command(line: string): Promise<SmtpReply> {
    this.send({ type: 'send', data: `${line}\r\n` });
    return this.readReply();
  }

  close(): void {
    this.ws.close();
  }
}

export interface ReceivedMessage {
  from: string;
  to: string[];
  user: string | undefined;
  body: Buffer;
  secure: boolean;
}

export interface SmtpPeer {
  port: number;
  server: SMTPServer;
  received: ReceivedMessage[];
  cert: string;
  fingerprint: string;
  close(): Promise<void>;
}

export const SMTP_USER = 'learner';
export const SMTP_PASSWORD = 'correct horse';

/** An independent SMTP server (smtp-server) with STARTTLS on a self-signed certificate and AUTH PLAIN/LOGIN. */
export async function startSmtpPeer(extra: Partial<SMTPServerOptions> = {}): Promise<SmtpPeer> {
  const pems = await generate([{ name: 'commonName', value: 'mx.mail.test' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'mx.mail.test' }] }],
  });
  const received: ReceivedMessage[] = [];
  const server = new SMTPServer({
    name: 'mx.mail.test',
    key: pems.private,
    cert: pems.cert,
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: false,
    authOptional: true,
    logger: false,
    disableReverseLookup: true,
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          user: session.user as string | undefined,
          body: Buffer.concat(chunks),
          secure: session.secure,
        });
        callback();
      });
    },
    ...extra,
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = (server as unknown as { server: TcpServer }).server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    server,
    received,
    cert: pems.cert,
    fingerprint: pems.fingerprint,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A TCP listener that counts connections: proof that a refused target was never dialled. */
export interface CountingListener {
  host: string;
  port: number;
  connections: number;
  close(): Promise<void>;
}

export async function startCountingListener(host: string, port = 0): Promise<CountingListener> {
  const sockets = new Set<Socket>();
  const listener: CountingListener = { host, port: 0, connections: 0, close: async () => undefined };
  const server = createTcpServer((socket) => {
    listener.connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.end('220 counting listener\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  listener.port = typeof address === 'object' && address ? address.port : 0;
  listener.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return listener;
}

export const DNSMASQ_INSTALL = 'apt-get install -y dnsmasq-base';

export interface DnsServer {
  port: number;
  /** "127.0.0.1:PORT" for the bridge's --dns-server. */
  server: string;
  close(): Promise<void>;
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/**
 * Start Debian's dnsmasq on a loopback port as an authoritative-for-these-names server with no
 * upstream. `records` are dnsmasq options such as "--mx-host=mail.test,mx.mail.test,10".
 */
export async function startDnsmasq(records: string[]): Promise<DnsServer> {
  const found = spawnSync('sh', ['-c', 'command -v dnsmasq || ls /usr/sbin/dnsmasq'], { encoding: 'utf8' });
  const binary = found.stdout.trim().split('\n')[0];
  if (found.status !== 0 || !binary) {
    throw new Error(`dnsmasq is not installed; install it with: ${DNSMASQ_INSTALL}`);
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freeUdpPort();
    const child: ChildProcess = spawn(
      binary,
      [
        '--keep-in-foreground',
        `--port=${port}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--no-resolv',
        '--no-hosts',
        '--no-poll',
        '--conf-file=/dev/null',
        '--pid-file=',
        '--user=root',
        '--log-facility=-',
        ...records,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // 'close', not 'exit': stderr is read to the end, so the address-in-use check below sees the message.
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const resolver = new Resolver({ timeout: 200, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    for (let i = 0; i < 50; i++) {
      const ready = await Promise.race([
        resolver.resolve4('dnsmasq-probe.test').then(
          () => true,
          (error: NodeJS.ErrnoException) => error.code === 'ENOTFOUND' || error.code === 'ENODATA' || error.code === 'EREFUSED',
        ),
        exited.then(() => false),
      ]);
      if (ready) {
        return {
          port,
          server: `127.0.0.1:${port}`,
          close: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        };
      }
      if (child.exitCode !== null) break;
      // Until dnsmasq binds, the probe is refused at once (ICMP port unreachable): wait a moment.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    child.kill('SIGKILL');
    await exited;
    // dnsmasq binds TCP on the same port too: "Address already in use" can be a TCP port another test holds.
    if (!/address (already )?in use/i.test(stderr)) throw new Error(`dnsmasq did not start: ${stderr.trim()}`);
  }
  throw new Error('dnsmasq could not find a free port');
}

/** Send one message through the bridge session and QUIT; returns the reply to the final dot. */
export async function plainTransaction(client: BridgeClient, from: string, to: string, body: string): Promise<SmtpReply> {
  const banner = await client.readReply();
  if (banner.code !== 220) throw new Error(`banner ${banner.code}`);
  for (const [line, code] of [
    ['EHLO client.test', 250],
    [`MAIL FROM:<${from}>`, 250],
    [`RCPT TO:<${to}>`, 250],
    ['DATA', 354],
  ] as const) {
    const reply = await client.command(line);
    if (reply.code !== code) throw new Error(`${line} -> ${reply.code} ${reply.lines.join(' ')}`);
  }
  const end = await client.command(`${body}\r\n.`);
  await client.command('QUIT');
  return end;
}

/** A loopback port whose TCP connects hang: a listener that never accepts, its accept queue full. */
export interface UnansweredTarget {
  host: string;
  port: number;
  close(): Promise<void>;
}

/*
 * Node's net.Server accepts every connection as soon as it arrives (even with pauseOnConnect and
 * backlog 1), so the never-accepting listener is a small python3 program. It listens with
 * backlog 1 and connects to itself until one connect gets no answer: from then on the accept
 * queue is full and Linux drops every further SYN (net.ipv4.tcp_abort_on_overflow=0), so a
 * client's connect neither succeeds nor fails until its own timer gives up.
 */
const UNANSWERED_LISTENER = `
import socket, sys
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(('127.0.0.1', 0))
listener.listen(1)
port = listener.getsockname()[1]
held = []
for attempt in range(32):
    filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    filler.settimeout(0.2)
    try:
        filler.connect(('127.0.0.1', port))
        held.append(filler)
    except socket.timeout:
        filler.close()
        print(port, flush=True)
        break
else:
    print('accept queue never filled', flush=True)
sys.stdin.read()
`;

export async function startUnansweredTarget(): Promise<UnansweredTarget> {
  const child = spawn('python3', ['-c', UNANSWERED_LISTENER], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const firstLine = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.once('error', (error) => reject(new Error(`cannot run python3 for the unanswered target: ${error.message}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!.trim());
    });
    void exited.then(() => reject(new Error(`the unanswered-target program exited: ${stderr.trim() || out.trim()}`)));
  });
  const close = async (): Promise<void> => {
    // Closing stdin ends the program; the kernel then resets the queued connections.
    child.stdin!.end();
    const killer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(killer);
  };
  if (!/^\d+$/.test(firstLine)) {
    await close();
    throw new Error(`no hanging loopback target on this machine: ${firstLine}`);
  }
  return { host: '127.0.0.1', port: Number(firstLine), close };
}
