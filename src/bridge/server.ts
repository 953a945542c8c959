/**
 * The WebSocket-to-TCP bridge for the browser's real-network mode. One WebSocket carries one
 * SMTP connection; the browser asks, the bridge resolves, checks the target policy, connects,
 * upgrades to TLS on request and relays bytes. The wire format is src/net/wire.ts.
 *
 * The bridge keeps no state between sessions, so several may run behind a WebSocket proxy.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { Resolver } from 'node:dns/promises';
import { StringDecoder } from 'node:string_decoder';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import {
  BRIDGE_PROTOCOL_VERSION,
  encodeMessage,
  parseClientMessage,
  type BridgeErrorCode,
  type BridgeLimits,
  type BridgeMessage,
  type CertificateReport,
  type ClosedBy,
  type ConnectMessage,
  type ConnectTls,
  type ResolveAnswer,
  type ResolveErrorCode,
  type ResolveMessage,
  type StartTlsMessage,
  type TlsMessage,
} from '../net/wire';
import {
  createPolicy,
  formatIpAddress,
  isLocalhostName,
  judgeTarget,
  parseIpAddress,
  parseTargetHost,
  summarisePolicy,
  type IpAddress,
  type PolicyOptions,
  type TargetPolicy,
} from './policy';

export const DEFAULT_BRIDGE_PORT = 8787;

/** The app's own origins: the vite dev server (5173) and preview / `npm start` server (4173). */
export const DEFAULT_APP_ORIGINS: readonly string[] = [
  'http://localhost:5173',
  'http://127.0.0.1:5173',
  'http://localhost:4173',
  'http://127.0.0.1:4173',
];

export const DEFAULT_LIMITS: BridgeLimits = {
  maxSessionsPerClient: 8,
  maxSessionsTotal: 64,
  idleMs: 5 * 60_000,
  sessionMs: 30 * 60_000,
  connectTimeoutMs: 10_000,
  maxBytesToServer: 10 * 1024 * 1024,
  maxBytesFromServer: 10 * 1024 * 1024,
  maxSendFrames: 10_000,
  maxResolves: 100,
  maxBadFrames: 16,
  maxFrameBytes: 64 * 1024,
};

export interface BridgeOptions {
  /** Address to listen on; 127.0.0.1 unless you mean to expose the bridge. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Allowed Origin header values, e.g. "http://localhost:5173". */
  origins?: readonly string[];
  /** Accept upgrades with no Origin header (non-browser clients). Off by default. */
  allowMissingOrigin?: boolean;
  policy?: PolicyOptions;
  /** DNS servers as "IP" or "IP:PORT" ("[IPv6]:PORT"); the system's servers when absent. */
  dnsServers?: readonly string[];
  dnsTimeoutMs?: number;
  limits?: Partial<BridgeLimits>;
  /** Extra PEM CA certificates trusted when verifying servers (in addition to Node's defaults). */
  trustedCa?: readonly string[];
  /** Where the per-session lines and limit hits go; console.log by default. */
  log?: (line: string) => void;
}

export interface BridgeHandle {
  host: string;
  port: number;
  /** ws:// URL of the bridge. */
  url: string;
  policy: TargetPolicy;
  limits: BridgeLimits;
  /** Sessions open right now. */
  sessionCount(): number;
  close(): Promise<void>;
}

function checkLimits(limits: BridgeLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0) throw new Error(`limit ${name} must be a positive number, got ${value}`);
  }
}

/** Check "IP" / "IP:PORT" / "[IPv6]:PORT" before Node's resolver sees it, so a typo is a clear error. */
export function checkDnsServer(text: string): string {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  const hostPort = /^([^:]+):(\d{1,5})$/.exec(text);
  const [host, port] = bracketed ? [bracketed[1]!, bracketed[2]] : hostPort ? [hostPort[1]!, hostPort[2]] : [text, undefined];
  if (isIP(host) === 0) throw new Error(`DNS server "${text}" must be an IP address, optionally with :PORT`);
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw new Error(`DNS server "${text}": port must be 1 to 65535`);
  return text;
}

function normaliseOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

function formatName(name: PeerCertificate['subject'] | undefined): string {
  if (!name) return '';
  return Object.entries(name)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : String(value)}`)
    .join(', ');
}

function certificateReport(socket: TLSSocket): CertificateReport | null {
  const certificate = socket.getPeerCertificate();
  if (!certificate || Object.keys(certificate).length === 0) return null;
  return {
    subject: formatName(certificate.subject),
    issuer: formatName(certificate.issuer),
    validFrom: certificate.valid_from,
    validTo: certificate.valid_to,
    fingerprint256: certificate.fingerprint256,
    san: certificate.subjectaltname ? certificate.subjectaltname.split(', ') : [],
  };
}

function tlsReport(socket: TLSSocket): TlsMessage {
  const report: TlsMessage = {
    type: 'tls',
    protocol: socket.getProtocol() ?? 'unknown',
    cipher: socket.getCipher()?.name ?? 'unknown',
    certificate: certificateReport(socket),
    authorized: socket.authorized,
  };
  if (!socket.authorized) report.authorizationError = String(socket.authorizationError ?? 'not verified');
  return report;
}

const DNS_ERRORS: Record<string, ResolveErrorCode> = {
  ENOTFOUND: 'nxdomain',
  ENODATA: 'nodata',
  ESERVFAIL: 'servfail',
  EREFUSED: 'refused',
  ETIMEOUT: 'timeout',
  ECONNREFUSED: 'failed',
};

function dnsErrorCode(error: unknown): ResolveErrorCode {
  const code = (error as { code?: string }).code;
  return (code && DNS_ERRORS[code]) || 'failed';
}

function dnsErrorWords(code: ResolveErrorCode, name: string, rrtype: string): string {
  switch (code) {
    case 'nxdomain':
      return `${name} does not exist (NXDOMAIN)`;
    case 'nodata':
      return `${name} exists but has no ${rrtype} records`;
    case 'servfail':
      return `the DNS server failed to answer for ${name} (SERVFAIL)`;
    case 'refused':
      return `the DNS server refused the query for ${name}`;
    case 'timeout':
      return `no answer from the DNS server for ${name} in time`;
    default:
      return `the lookup of ${name} ${rrtype} failed`;
  }
}

/** Pause reading from the server when this much is waiting to go to the browser. */
const HIGH_WATER = 1024 * 1024;

export async function startBridge(options: BridgeOptions = {}): Promise<BridgeHandle> {
  const limits: BridgeLimits = { ...DEFAULT_LIMITS, ...options.limits };
  checkLimits(limits);
  const policy = createPolicy(options.policy);
  const policySummary = summarisePolicy(policy);
  const origins = new Set((options.origins ?? DEFAULT_APP_ORIGINS).map(normaliseOrigin));
  const log = options.log ?? ((line: string) => console.log(line));
  const dnsServers = (options.dnsServers ?? []).map(checkDnsServer);
  const dnsTimeoutMs = options.dnsTimeoutMs ?? 5000;
  const trustedCa = options.trustedCa && options.trustedCa.length > 0 ? [...options.trustedCa] : undefined;
  const listenHost = options.host ?? '127.0.0.1';

  const makeResolver = (): Resolver => {
    const resolver = new Resolver({ timeout: dnsTimeoutMs, tries: 2 });
    if (dnsServers.length > 0) resolver.setServers(dnsServers);
    return resolver;
  };
  // Fail at start, not at the first lookup, when Node rejects a server spelling.
  makeResolver();

  const sessions = new Set<Session>();
  const perClient = new Map<string, number>();
  let sessionNumber = 0;

  class Session {
    readonly number = ++sessionNumber;
    readonly started = Date.now();
    socket: Socket | TLSSocket | null = null;
    phase: 'idle' | 'connecting' | 'connected' | 'finished' = 'idle';
    target = '-';
    tlsSummary = 'none';
    bytesToServer = 0;
    bytesFromServer = 0;
    sendFrames = 0;
    resolves = 0;
    badFrames = 0;
    /** TCP is up; an error after this during connecting is the TLS handshake's. */
    tcpUp = false;
    decoder = new StringDecoder('utf8');
    idleTimer: NodeJS.Timeout | null = null;
    sessionTimer: NodeJS.Timeout;
    connectTimer: NodeJS.Timeout | null = null;

    constructor(
      readonly ws: WebSocket,
      readonly client: string,
      readonly origin: string,
    ) {
      this.sessionTimer = setTimeout(() => this.limitHit('session-length', `the session reached its maximum length of ${limits.sessionMs / 1000} s`), limits.sessionMs);
      this.touch();
      ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
      ws.on('close', () => this.finish('client', 'the browser closed the WebSocket'));
      ws.on('error', (error) => this.finish('client', `WebSocket error: ${error.message}`));
    }

    post(message: BridgeMessage): void {
      if (this.ws.readyState !== WebSocket.OPEN) return;
      this.ws.send(encodeMessage(message), () => {
        if (this.socket && this.socket.isPaused() && this.ws.bufferedAmount < HIGH_WATER / 2) this.socket.resume();
      });
      if (this.socket && this.ws.bufferedAmount > HIGH_WATER) this.socket.pause();
    }

    fail(code: BridgeErrorCode, message: string, rule?: string): void {
      this.post(rule === undefined ? { type: 'error', code, message } : { type: 'error', code, rule, message });
    }

    touch(): void {
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => this.limitHit('idle', `nothing happened for ${limits.idleMs / 1000} s`), limits.idleMs);
    }

    limitHit(limit: string, words: string): void {
      if (this.phase === 'finished') return;
      log(`bridge limit session=${this.number} client=${this.client} limit=${limit} ${JSON.stringify(words)}`);
      this.fail(limit === 'idle' || limit === 'session-length' ? 'timeout' : 'limit', words, limit);
      this.finish('bridge', `limit ${limit}: ${words}`, `limit:${limit}`);
    }

    onFrame(data: RawData, isBinary: boolean): void {
      if (this.phase === 'finished') return;
      this.touch();
      const bytes = Array.isArray(data) ? data.reduce((sum, part) => sum + part.length, 0) : data instanceof ArrayBuffer ? data.byteLength : data.length;
      if (bytes > limits.maxFrameBytes) {
        this.limitHit('max-frame-bytes', `a frame of ${bytes} bytes is larger than the ${limits.maxFrameBytes} bytes allowed`);
        return;
      }
      if (isBinary) {
        this.badFrame('binary frames are not used: send JSON text frames');
        return;
      }
      const parsed = parseClientMessage(data.toString());
      if (!parsed.ok) {
        this.badFrame(parsed.error);
        return;
      }
      const message = parsed.message;
      switch (message.type) {
        case 'resolve':
          void this.resolve(message);
          return;
        case 'connect':
          if (this.phase !== 'idle') {
            this.badFrame(this.phase === 'connecting' ? 'a connect is already in progress' : 'this WebSocket is already connected: one SMTP connection per WebSocket');
            return;
          }
          void this.connect(message);
          return;
        case 'starttls':
          this.startTls(message);
          return;
        case 'send': {
          if (this.phase !== 'connected' || !this.socket) {
            this.fail('not-connected', 'there is no open connection to send to: connect first');
            return;
          }
          if (++this.sendFrames > limits.maxSendFrames) {
            this.limitHit('send-frames', `more than ${limits.maxSendFrames} send frames in one session`);
            return;
          }
          const payload = 'data' in message ? Buffer.from(message.data, 'utf8') : Buffer.from(message.base64, 'base64');
          if (this.bytesToServer + payload.length > limits.maxBytesToServer) {
            this.limitHit('bytes-to-server', `more than ${limits.maxBytesToServer} bytes sent to the server`);
            return;
          }
          this.bytesToServer += payload.length;
          if (!this.socket.write(payload)) {
            // Stop reading the browser until the server has taken what is queued.
            this.ws.pause();
            this.socket.once('drain', () => this.ws.resume());
          }
          return;
        }
        case 'close':
          this.finish('client', message.reason ?? 'the browser closed the connection');
          return;
      }
    }

    badFrame(words: string): void {
      this.fail('bad-frame', words);
      if (++this.badFrames >= limits.maxBadFrames) {
        this.limitHit('bad-frames', `${this.badFrames} malformed frames in one session`);
      }
    }

    async resolve(message: ResolveMessage): Promise<void> {
      if (++this.resolves > limits.maxResolves) {
        this.post({ type: 'resolved', id: message.id, name: message.name, rrtype: message.rrtype, error: { code: 'limit', message: `more than ${limits.maxResolves} lookups in one session` } });
        this.limitHit('resolves', `more than ${limits.maxResolves} lookups in one session`);
        return;
      }
      const host = parseTargetHost(message.name);
      if (host.kind !== 'name') {
        const words = host.kind === 'refused' ? host.message : `${message.name} is an address, not a name`;
        this.post({ type: 'resolved', id: message.id, name: message.name, rrtype: message.rrtype, error: { code: 'bad-name', message: words } });
        return;
      }
      try {
        const answers = await lookup(makeResolver(), host.name, message.rrtype);
        this.post({ type: 'resolved', id: message.id, name: host.name, rrtype: message.rrtype, answers });
      } catch (error) {
        const code = dnsErrorCode(error);
        this.post({ type: 'resolved', id: message.id, name: host.name, rrtype: message.rrtype, error: { code, message: dnsErrorWords(code, host.name, message.rrtype) } });
      }
    }

    async connect(message: ConnectMessage): Promise<void> {
      this.phase = 'connecting';
      this.target = `${message.host}:${message.port}`;
      const host = parseTargetHost(message.host);
      if (host.kind === 'refused') {
        this.refuse(host.rule, host.message);
        return;
      }
      let candidates: IpAddress[];
      if (host.kind === 'address') {
        candidates = [host.address];
      } else if (isLocalhostName(host.name)) {
        candidates = [parseIpAddress('127.0.0.1')!, parseIpAddress('::1')!];
      } else {
        // The one lookup: its answers are judged and the judged address is the one dialled.
        const resolver = makeResolver();
        const [v4, v6] = await Promise.allSettled([resolver.resolve4(host.name), resolver.resolve6(host.name)]);
        if (this.phase !== 'connecting') return;
        const texts = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
        candidates = texts.map((text) => parseIpAddress(text)).filter((address): address is IpAddress => address !== null);
        if (candidates.length === 0) {
          const reason = v4.status === 'rejected' ? dnsErrorCode(v4.reason) : 'nodata';
          this.fail('dns-failed', `${host.name} has no address: ${dnsErrorWords(reason, host.name, 'A/AAAA')}`);
          this.finish('bridge', 'DNS lookup failed', 'dns-failed');
          return;
        }
      }
      const decisions = candidates.map((address) => ({ address, decision: judgeTarget(policy, message.host, address, message.port) }));
      const chosen = decisions.find((entry) => entry.decision.allowed);
      if (!chosen) {
        const first = decisions[0]!.decision;
        const others = decisions.length > 1 ? ` (every address of ${message.host} was refused: ${decisions.map((entry) => `${formatIpAddress(entry.address)} ${entry.decision.rule}`).join(', ')})` : '';
        this.refuse(first.rule, first.message + others);
        return;
      }
      this.dial(chosen.address, message, host.kind === 'name' ? host.name : null);
    }

    refuse(rule: string, words: string): void {
      log(`bridge refused session=${this.number} client=${this.client} target=${this.target} rule=${rule}`);
      this.fail('refused-by-policy', words, rule);
      this.finish('bridge', `refused by policy (${rule})`, `refused:${rule}`);
    }

    dial(address: IpAddress, message: ConnectMessage, name: string | null): void {
      const addressText = formatIpAddress(address);
      this.target = `${message.host}:${message.port}(${addressText})`;
      // Connect to the literal we judged; a lookup function that refuses proves no resolver runs again.
      const noLookup = (): never => {
        throw new Error('the bridge never looks a host up twice');
      };
      const servername = message.servername ?? name ?? undefined;
      let socket: Socket | TLSSocket;
      const onReady = (): void => {
        if (this.connectTimer) clearTimeout(this.connectTimer);
        this.phase = 'connected';
        this.post({ type: 'connected', remoteAddress: addressText, remotePort: message.port, resolvedFrom: name, tls: message.tls });
        if (message.tls === 'implicit') {
          const report = tlsReport(socket as TLSSocket);
          this.tlsSummary = `${report.protocol}${report.authorized ? '' : '(unverified)'}`;
          this.post(report);
        }
      };
      if (message.tls === 'implicit') {
        socket = tlsConnect({ host: addressText, port: message.port, servername, rejectUnauthorized: false, ca: trustedCa, lookup: noLookup });
        socket.once('secureConnect', onReady);
      } else {
        socket = netConnect({ host: addressText, port: message.port, lookup: noLookup });
        socket.once('connect', onReady);
      }
      socket.once('connect', () => {
        this.tcpUp = true;
      });
      socket.setNoDelay(true);
      this.socket = socket;
      this.connectTimer = setTimeout(() => {
        // A target that drops SYNs (firewall, host down, full accept queue) never refuses: only a timer ends the wait.
        const seconds = limits.connectTimeoutMs / 1000;
        const words = this.tcpUp
          ? `the TLS handshake with ${this.target} did not finish within ${seconds} s (connect timeout)`
          : `cannot connect to ${this.target}: no answer within ${seconds} s (connect timeout)`;
        this.fail('timeout', words);
        this.finish('bridge', 'connect timeout', 'timeout');
      }, limits.connectTimeoutMs);
      this.attach(socket);
    }

    attach(socket: Socket | TLSSocket): void {
      socket.on('data', (chunk: Buffer) => {
        this.touch();
        this.bytesFromServer += chunk.length;
        if (this.bytesFromServer > limits.maxBytesFromServer) {
          this.limitHit('bytes-from-server', `the server sent more than ${limits.maxBytesFromServer} bytes`);
          return;
        }
        const text = this.decoder.write(chunk);
        if (text.length > 0) this.post({ type: 'data', text });
      });
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (this.phase === 'finished') return;
        if (this.phase === 'connecting') {
          const code: BridgeErrorCode = this.tcpUp ? 'tls-failed' : 'connect-failed';
          const words = this.tcpUp ? `the TLS handshake with ${this.target} failed: ${error.message}` : `cannot connect to ${this.target}: ${error.message}`;
          this.fail(code, words);
          this.finish('bridge', `${code}: ${error.code ?? error.message}`, code);
        } else {
          this.finish('server', `connection error: ${error.message}`, 'server-error');
        }
      });
      socket.on('close', () => {
        if (socket !== this.socket) return;
        const rest = this.decoder.end();
        if (rest.length > 0) this.post({ type: 'data', text: rest });
        this.finish('server', 'the server closed the connection');
      });
    }

    startTls(message: StartTlsMessage): void {
      const plain = this.socket;
      if (this.phase !== 'connected' || !plain) {
        this.fail('not-connected', 'there is no open connection to start TLS on');
        return;
      }
      if ('encrypted' in plain) {
        this.badFrame('the connection is already encrypted');
        return;
      }
      plain.removeAllListeners('data');
      plain.removeAllListeners('close');
      plain.removeAllListeners('error');
      const servername = message.servername ?? this.servernameFromTarget();
      const secure = tlsConnect({ socket: plain, servername, rejectUnauthorized: false, ca: trustedCa });
      this.socket = secure;
      this.decoder = new StringDecoder('utf8');
      // Errors and close of the raw socket surface on the TLS socket from now on.
      plain.on('error', () => undefined);
      secure.on('error', (error) => {
        if (this.phase === 'finished') return;
        if (this.tlsSummary === 'handshaking') {
          this.fail('tls-failed', `the TLS handshake failed: ${error.message}`);
          this.finish('bridge', `TLS handshake failed: ${error.message}`, 'tls-failed');
        }
      });
      this.tlsSummary = 'handshaking';
      secure.once('secureConnect', () => {
        const report = tlsReport(secure);
        this.tlsSummary = `${report.protocol}${report.authorized ? '' : '(unverified)'}`;
        this.post(report);
        if (message.rejectUnauthorized === true && !report.authorized) {
          this.fail('tls-failed', `the server's certificate did not verify: ${report.authorizationError}`);
          this.finish('bridge', 'certificate not verified', 'tls-failed');
        }
      });
      this.attach(secure);
    }

    servernameFromTarget(): string | undefined {
      const host = this.target.slice(0, this.target.lastIndexOf(':'));
      const parsed = parseTargetHost(host);
      return parsed.kind === 'name' ? parsed.name : undefined;
    }

    finish(by: ClosedBy, reason: string, ending?: string): void {
      if (this.phase === 'finished') return;
      this.phase = 'finished';
      for (const timer of [this.idleTimer, this.sessionTimer, this.connectTimer]) if (timer) clearTimeout(timer);
      const socket = this.socket;
      if (socket) {
        // A client's close lets queued bytes (e.g. QUIT) reach the server first; anything else cuts at once.
        if (by === 'client' && !socket.destroyed) {
          socket.end();
          setTimeout(() => socket.destroy(), 2000).unref();
        } else socket.destroy();
      }
      if (this.ws.readyState === WebSocket.OPEN) {
        this.post({ type: 'closed', by, reason });
        this.ws.close(by === 'bridge' && ending?.startsWith('limit') ? 1008 : 1000, Buffer.from(reason).subarray(0, 120).toString());
      }
      sessions.delete(this);
      const left = (perClient.get(this.client) ?? 1) - 1;
      if (left <= 0) perClient.delete(this.client);
      else perClient.set(this.client, left);
      const seconds = ((Date.now() - this.started) / 1000).toFixed(3);
      log(
        `bridge session=${this.number} client=${this.client} origin=${this.origin} target=${this.target} tls=${this.tlsSummary} ` +
          `bytes_to_server=${this.bytesToServer} bytes_from_server=${this.bytesFromServer} duration=${seconds}s ` +
          `end=${ending ?? `${by}-closed`} reason=${JSON.stringify(reason)}`,
      );
    }
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes * 4 + 1024 });
  const server: Server = createServer((request, response) => {
    response.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket' });
    response.end('This is the smtp-lab bridge: connect with a WebSocket.\n');
  });

  const refuseUpgrade = (socket: Duplex, status: string, words: string): void => {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(words) + 1}\r\n\r\n${words}\n`);
  };

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const client = request.socket.remoteAddress ?? 'unknown';
    const origin = request.headers.origin;
    const originAllowed = origin === undefined ? options.allowMissingOrigin === true : origins.has(normaliseOrigin(origin));
    if (!originAllowed) {
      log(`bridge refused-origin client=${client} origin=${origin ?? '(none)'}`);
      refuseUpgrade(socket, '403 Forbidden', `Origin ${origin ?? '(none)'} is not allowed to use this bridge`);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      ws.on('error', () => undefined);
      const open = perClient.get(client) ?? 0;
      const overClient = open >= limits.maxSessionsPerClient;
      const overTotal = sessions.size >= limits.maxSessionsTotal;
      if (overClient || overTotal) {
        const limit = overClient ? 'sessions-per-client' : 'sessions-total';
        const words = overClient
          ? `${open} sessions are already open from ${client} (at most ${limits.maxSessionsPerClient})`
          : `the bridge already serves ${sessions.size} sessions (at most ${limits.maxSessionsTotal})`;
        log(`bridge limit client=${client} limit=${limit} ${JSON.stringify(words)}`);
        ws.send(encodeMessage({ type: 'error', code: 'limit', rule: limit, message: words }));
        ws.send(encodeMessage({ type: 'closed', by: 'bridge', reason: `limit ${limit}` }));
        ws.close(1013, 'try again later');
        return;
      }
      perClient.set(client, open + 1);
      const session = new Session(ws, client, origin ?? '(none)');
      sessions.add(session);
      session.post({ type: 'hello', version: BRIDGE_PROTOCOL_VERSION, limits, policy: policySummary });
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_BRIDGE_PORT, listenHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const urlHost = listenHost.includes(':') ? `[${listenHost}]` : listenHost;

  return {
    host: listenHost,
    port,
    url: `ws://${urlHost}:${port}/`,
    policy,
    limits,
    sessionCount: () => sessions.size,
    close: async () => {
      for (const session of [...sessions]) session.finish('bridge', 'the bridge is shutting down', 'shutdown');
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      wss.close();
    },
  };
}

async function lookup(resolver: Resolver, name: string, rrtype: ResolveMessage['rrtype']): Promise<ResolveAnswer[]> {
  switch (rrtype) {
    case 'MX': {
      const records = await resolver.resolveMx(name);
      // RFC 5321 section 5.1: lower preference is tried first; show them in that order.
      return records
        .sort((a, b) => a.priority - b.priority || a.exchange.localeCompare(b.exchange))
        .map((record) => ({ rrtype: 'MX', exchange: record.exchange, preference: record.priority }));
    }
    case 'A':
      return (await resolver.resolve4(name, { ttl: true })).map((record) => ({ rrtype: 'A', address: record.address, ttl: record.ttl }));
    case 'AAAA':
      return (await resolver.resolve6(name, { ttl: true })).map((record) => ({ rrtype: 'AAAA', address: record.address, ttl: record.ttl }));
    case 'TXT':
      return (await resolver.resolveTxt(name)).map((chunks) => ({ rrtype: 'TXT', text: chunks.join(''), chunks }));
  }
}

export type { ConnectTls };
