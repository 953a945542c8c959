/**
 * `wsLink`: a `Link` over the bridge, for real-network mode. One WebSocket carries one SMTP
 * connection (docs/bridge-protocol.md): the bridge resolves the host, checks its policy, dials,
 * and relays text both ways; STARTTLS is a `starttls` frame after the server's 220 and comes
 * back as a `tls` report with the certificate the real server presented.
 *
 * Everything that goes wrong is turned into plain words for the terminal: a refusal names the
 * policy rule, a timeout says which one, a limit says which limit.
 *
 * `resolveViaBridge` is `dig` in real mode: the same lookup through the bridge's resolver, with
 * the answer printed the way the simulated dig prints it (src/sim/dig.ts).
 */
import { recordLine, type DigQuery } from '../sim/dig';
import type { DnsRecord, DnsStatus } from '../sim/dns';
import { BridgeError, describeBridgeError, openBridgeSocket, timers, type BridgeSocket, type BridgeSocketOptions } from './bridgeClient';
import { ConnectError, LinkEmitter, type Link, type LinkEvents, type LinkFactory, type StartTlsOptions, type TlsReport } from './link';
import { RESOLVE_TYPES, type BridgeMessage, type ConnectTls, type ErrorMessage, type ResolveAnswer, type ResolveErrorCode, type ResolveType, type TlsMessage } from './wire';

export interface BridgeTarget {
  host: string;
  port: number;
  /** "implicit" speaks TLS from the first byte (port 465, RFC 8314); "none" is plain TCP, STARTTLS later. */
  tls: ConnectTls;
  /** SNI and the name the certificate is checked against; the host by default. */
  serverName?: string;
}

export type WsLinkOptions = BridgeSocketOptions;

/** A Link over the bridge, with what the bridge told about the connection. */
export interface BridgeLink extends Link {
  /** The address the bridge checked and dialled (it never looks the name up twice). */
  readonly remoteAddress: string;
  /** The name asked for, or null when the host was an address literal. */
  readonly resolvedFrom: string | null;
  /** The latest TLS handshake's report, or null while the connection is plain. */
  readonly tlsReport: TlsReport | null;
}

/** A ConnectError that also keeps what the bridge said: its error code and, for refusals and limits, the rule. */
export class BridgeConnectError extends ConnectError {
  constructor(
    code: ConnectError['code'],
    message: string,
    readonly bridgeCode: BridgeError['code'],
    readonly rule?: string,
  ) {
    super(code, message);
    this.name = 'BridgeConnectError';
  }
}

function connectErrorCode(error: Pick<ErrorMessage, 'code' | 'message'> | BridgeError): ConnectError['code'] {
  switch (error.code) {
    case 'refused-by-policy':
      return 'policy';
    case 'dns-failed':
      return 'unknown-host';
    case 'connect-failed':
      return /ECONNREFUSED/.test(error.message) ? 'refused' : 'failed';
    case 'timeout':
      return 'timeout';
    default:
      return 'failed';
  }
}

function toTlsReport(frame: TlsMessage): TlsReport {
  const report: TlsReport = {
    protocol: frame.protocol,
    cipher: frame.cipher,
    certificate: frame.certificate ? { ...frame.certificate, san: [...frame.certificate.san] } : null,
    authorized: frame.authorized,
  };
  if (frame.authorizationError !== undefined) report.authorizationError = frame.authorizationError;
  return report;
}

function targetText(host: string, port: number): string {
  return `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}

/**
 * JSON escapes a control character as six bytes (\u0000), so this many UTF-16 units always fit
 * in a frame of `maxFrameBytes`; a longer `send` (a large DATA body) goes out in several frames.
 */
function sendChunkLength(maxFrameBytes: number): number {
  return Math.max(1, Math.floor((maxFrameBytes - 64) / 6));
}

type Queued = { [E in keyof LinkEvents]: { event: E; payload: LinkEvents[E] } }[keyof LinkEvents];

class WsLink implements BridgeLink {
  readonly host: string;
  readonly port: number;
  readonly remoteAddress: string;
  readonly resolvedFrom: string | null;
  private readonly socket: BridgeSocket;
  private readonly events = new LinkEmitter();
  private readonly target: string;
  private readonly chunkLength: number;
  private isClosed = false;
  private report: TlsReport | null = null;
  /** The last error frame, so the close that follows it carries its words. */
  private lastError: ErrorMessage | null = null;
  private pendingTls: { resolve: (report: TlsReport) => void; reject: (error: Error) => void } | null = null;
  /**
   * Events from before the first listener: the banner usually arrives in the same read as
   * `connected`, before the caller had a chance to subscribe.
   */
  private early: Queued[] | null = [];

  constructor(socket: BridgeSocket, host: string, port: number, connected: { remoteAddress: string; resolvedFrom: string | null }, implicitTls: TlsMessage | null) {
    this.socket = socket;
    this.host = host;
    this.port = port;
    this.target = targetText(host, port);
    this.remoteAddress = connected.remoteAddress;
    this.resolvedFrom = connected.resolvedFrom;
    this.chunkLength = sendChunkLength(socket.hello.limits.maxFrameBytes);
    if (implicitTls) {
      this.report = toTlsReport(implicitTls);
      this.emit('tls', this.report);
    }
    socket.onFrame((frame) => this.onFrame(frame));
    socket.onGone((words) => this.finish('bridge', this.lastError ? describeBridgeError(this.lastError, this.target) : words));
  }

  get secure(): boolean {
    return this.report !== null;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get tlsReport(): TlsReport | null {
    return this.report;
  }

  send(text: string): void {
    if (this.isClosed || text.length === 0 || !this.socket.isOpen) return;
    for (let start = 0; start < text.length; ) {
      let end = Math.min(text.length, start + this.chunkLength);
      // Never cut a surrogate pair: each frame must be valid text on its own.
      const last = text.charCodeAt(end - 1);
      if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
      this.socket.send({ type: 'send', data: text.slice(start, end) });
      start = end;
    }
  }

  startTls(options: StartTlsOptions = {}): Promise<TlsReport> {
    if (this.isClosed) return Promise.reject(new Error('the connection is closed'));
    if (this.report !== null) return Promise.reject(new Error('TLS is already up on this connection'));
    if (this.pendingTls !== null) return Promise.reject(new Error('a TLS handshake is already under way'));
    return new Promise<TlsReport>((resolve, reject) => {
      this.pendingTls = { resolve, reject };
      this.socket.send(options.serverName !== undefined ? { type: 'starttls', servername: options.serverName } : { type: 'starttls' });
    });
  }

  close(): void {
    if (this.isClosed) return;
    // The bridge lets bytes already sent (a QUIT) reach the server before it hangs up.
    if (this.socket.isOpen) this.socket.send({ type: 'close', reason: 'closed by the client' });
    this.finish('client', 'closed by the client');
  }

  on<E extends keyof LinkEvents>(event: E, listener: (payload: LinkEvents[E]) => void): () => void {
    const off = this.events.on(event, listener);
    if (this.early !== null) {
      const early = this.early;
      this.early = null;
      // A microtask later, so every listener registered in the same turn hears the early events.
      timers.queueMicrotask(() => {
        for (const item of early) this.events.emit(item.event, item.payload as never);
      });
    }
    return off;
  }

  private emit<E extends keyof LinkEvents>(event: E, payload: LinkEvents[E]): void {
    if (this.early !== null) this.early.push({ event, payload } as Queued);
    else this.events.emit(event, payload);
  }

  private onFrame(frame: BridgeMessage): void {
    if (this.isClosed) return;
    switch (frame.type) {
      case 'data':
        this.emit('data', frame.text);
        return;
      case 'tls': {
        this.report = toTlsReport(frame);
        this.emit('tls', this.report);
        const pending = this.pendingTls;
        this.pendingTls = null;
        pending?.resolve(this.report);
        return;
      }
      case 'error':
        this.lastError = frame;
        if (frame.code === 'tls-failed' && this.pendingTls) {
          const pending = this.pendingTls;
          this.pendingTls = null;
          pending.reject(new Error(describeBridgeError(frame, this.target)));
        }
        return;
      case 'closed': {
        const words = this.lastError ? describeBridgeError(this.lastError, this.target) : frame.reason;
        this.finish(frame.by, words);
        return;
      }
      default:
        // hello, connected and resolved belong to the opening; nothing to do with them here.
        return;
    }
  }

  private finish(by: LinkEvents['close']['by'], reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.pendingTls) {
      this.pendingTls.reject(new Error(`the connection closed during the TLS handshake: ${reason}`));
      this.pendingTls = null;
    }
    this.emit('close', { by, reason });
    if (by !== 'client') this.socket.drop();
  }
}

/**
 * Open an SMTP connection through the bridge at `bridgeUrl`. Resolves once the bridge is
 * connected (and, for implicit TLS, once the handshake is done); rejects with a
 * BridgeConnectError whose message is plain words naming what refused or failed.
 */
export async function connectViaBridge(bridgeUrl: string, target: BridgeTarget, options: WsLinkOptions = {}): Promise<BridgeLink> {
  const where = targetText(target.host, target.port);
  let socket: BridgeSocket;
  try {
    socket = await openBridgeSocket(bridgeUrl, options);
  } catch (error) {
    const bridgeError = error as BridgeError;
    throw new BridgeConnectError(connectErrorCode(bridgeError), bridgeError.message, bridgeError.code, bridgeError.rule);
  }
  return new Promise<BridgeLink>((resolve, reject) => {
    let connected: { remoteAddress: string; resolvedFrom: string | null } | null = null;
    let lastError: ErrorMessage | null = null;
    let done = false;
    const fail = (error: BridgeConnectError): void => {
      if (done) return;
      done = true;
      socket.drop();
      reject(error);
    };
    socket.onFrame((frame) => {
      if (done) return;
      if (frame.type === 'error') {
        lastError = frame;
        // A refusal or failure ends the session; the frame says why, in the bridge's words.
        if (frame.code !== 'bad-frame' && frame.code !== 'not-connected') {
          fail(new BridgeConnectError(connectErrorCode(frame), describeBridgeError(frame, where), frame.code, frame.rule));
        }
        return;
      }
      if (frame.type === 'connected') {
        connected = { remoteAddress: frame.remoteAddress, resolvedFrom: frame.resolvedFrom };
        if (target.tls === 'none') {
          done = true;
          resolve(new WsLink(socket, target.host, target.port, connected, null));
        }
        return;
      }
      if (frame.type === 'tls' && connected !== null) {
        done = true;
        resolve(new WsLink(socket, target.host, target.port, connected, frame));
      }
    });
    socket.onGone((words) => {
      if (lastError) fail(new BridgeConnectError(connectErrorCode(lastError), describeBridgeError(lastError, where), lastError.code, lastError.rule));
      else fail(new BridgeConnectError('failed', `The bridge closed before the connection to ${where} was made: ${words}.`, 'bridge-closed'));
    });
    socket.send({
      type: 'connect',
      host: target.host,
      port: target.port,
      tls: target.tls,
      ...(target.serverName !== undefined ? { servername: target.serverName } : {}),
    });
  });
}

export interface BridgeLinkFactoryOptions extends WsLinkOptions {
  /** Ports that speak TLS from the first byte; default 465 (RFC 8314) plus any given here. */
  implicitTlsPorts?: readonly number[];
}

/** A LinkFactory over the bridge, for code that does not care which transport it gets. */
export function bridgeLinkFactory(bridgeUrl: string, options: BridgeLinkFactoryOptions = {}): LinkFactory {
  const implicit = new Set([465, ...(options.implicitTlsPorts ?? [])]);
  return (host, port) => connectViaBridge(bridgeUrl, { host, port, tls: implicit.has(port) ? 'implicit' : 'none' }, options);
}

// ---------------------------------------------------------------------------------------------
// dig through the bridge

/** DNS response codes dig prints; REFUSED comes from real servers, which the simulated world never sends. */
export type BridgeDnsStatus = DnsStatus | 'REFUSED';

export type BridgeDigResult =
  | {
      ok: true;
      status: BridgeDnsStatus;
      /** The answers as records of the simulated world's shape (TTL 0 where the resolver does not report one: MX, TXT). */
      answers: DnsRecord[];
      /** What dig would print. */
      text: string;
      query: DigQuery;
    }
  | { ok: false; error: string };

export interface ResolveViaBridgeOptions extends WsLinkOptions {
  /** `+short`: only the data of each answer. */
  short?: boolean;
  /** The arguments as typed, for dig's `<<>> ... <<>>` header line; `TYPE NAME` by default. */
  args?: readonly string[];
  /** Give up after this long; 15 s by default (the bridge's resolver tries twice, 5 s each). */
  timeoutMs?: number;
}

const STATUS_BY_ERROR: Partial<Record<ResolveErrorCode, BridgeDnsStatus>> = {
  nxdomain: 'NXDOMAIN',
  nodata: 'NOERROR',
  servfail: 'SERVFAIL',
  refused: 'REFUSED',
};

function toRecord(name: string, answer: ResolveAnswer): DnsRecord {
  switch (answer.rrtype) {
    case 'MX':
      return { type: 'MX', name, ttl: 0, preference: answer.preference, exchange: answer.exchange };
    case 'A':
      return { type: 'A', name, ttl: answer.ttl, address: answer.address };
    case 'AAAA':
      return { type: 'AAAA', name, ttl: answer.ttl, address: answer.address };
    case 'TXT':
      return { type: 'TXT', name, ttl: 0, text: answer.text };
  }
}

/** TXT data as dig prints it: each character-string quoted, as the record holds them (RFC 1035 §3.3.14). */
function txtData(chunks: readonly string[]): string {
  return chunks.map((chunk) => `"${chunk.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(' ');
}

function answerLine(name: string, answer: ResolveAnswer): string {
  const line = recordLine(toRecord(name, answer));
  // The simulated world keeps TXT as one string; a real record keeps its 255-octet chunks apart.
  if (answer.rrtype === 'TXT') return line.slice(0, line.lastIndexOf('\tTXT\t') + 5) + txtData(answer.chunks);
  return line;
}

function shortData(answer: ResolveAnswer): string {
  switch (answer.rrtype) {
    case 'MX':
      return `${answer.preference} ${answer.exchange.replace(/\.?$/, '.')}`;
    case 'A':
    case 'AAAA':
      return answer.address;
    case 'TXT':
      return txtData(answer.chunks);
  }
}

/** A 16-bit id from the query, so the same question prints the same header (as the simulated dig does). */
function queryId(type: string, name: string): number {
  let hash = 2166136261;
  for (const ch of `${type} ${name}`) {
    hash ^= ch.charCodeAt(0);
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  return hash & 0xffff;
}

function formatDig(query: DigQuery, status: BridgeDnsStatus, answers: ResolveAnswer[], args: readonly string[], bridgeUrl: string, elapsedMs: number): string {
  if (query.short) {
    const text = answers.map(shortData).join('\n');
    return text === '' ? '' : `${text}\n`;
  }
  const owner = `${query.name.replace(/\.$/, '')}.`;
  const lines = [
    '',
    `; <<>> DiG 9.18 (through the bridge) <<>> ${args.join(' ')}`,
    ';; global options: +cmd',
    ';; Got answer:',
    `;; ->>HEADER<<- opcode: QUERY, status: ${status}, id: ${queryId(query.type, query.name)}`,
    `;; flags: qr rd ra; QUERY: 1, ANSWER: ${answers.length}, AUTHORITY: 0, ADDITIONAL: 0`,
    '',
    ';; QUESTION SECTION:',
    `;${owner}\t\tIN\t${query.type}`,
  ];
  if (answers.length > 0) {
    lines.push('', ';; ANSWER SECTION:', ...answers.map((answer) => answerLine(query.name, answer)));
    if (answers.some((answer) => answer.rrtype === 'MX' || answer.rrtype === 'TXT')) {
      lines.push(";; (TTL 0: the bridge's resolver does not report the TTL of MX and TXT records)");
    }
  }
  lines.push('', `;; Query time: ${Math.round(elapsedMs)} msec`, `;; SERVER: the bridge's resolver (${bridgeUrl})`, '');
  return lines.join('\n') + '\n';
}

/**
 * Look `name` up through the bridge's resolver, for `dig` in real mode. Resolves (never
 * rejects) with the answers and dig's text, or `{ok: false, error}` in plain words when there is
 * no answer to print (the bridge is unreachable, the lookup timed out, the name is malformed).
 */
export async function resolveViaBridge(bridgeUrl: string, name: string, type: string, options: ResolveViaBridgeOptions = {}): Promise<BridgeDigResult> {
  const rrtype = type.toUpperCase();
  if (!(RESOLVE_TYPES as readonly string[]).includes(rrtype)) {
    return { ok: false, error: `dig: record type ${rrtype} is not looked up in real mode (use ${RESOLVE_TYPES.join(', ')})` };
  }
  const asked = name.replace(/\.$/, '').toLowerCase();
  if (asked === '') return { ok: false, error: 'dig: which name? e.g. dig MX example.net' };
  const query: DigQuery = { name: asked, type: rrtype as ResolveType, short: options.short === true };
  const args = options.args ?? [...(query.short ? ['+short'] : []), rrtype, name];
  const started = Date.now();

  let socket: BridgeSocket;
  try {
    socket = await openBridgeSocket(bridgeUrl, options);
  } catch (error) {
    return { ok: false, error: `dig: ${(error as Error).message}` };
  }
  return new Promise<BridgeDigResult>((resolve) => {
    let done = false;
    const finish = (result: BridgeDigResult): void => {
      if (done) return;
      done = true;
      timers.clearTimeout(timer);
      if (socket.isOpen) socket.send({ type: 'close', reason: 'lookup done' });
      resolve(result);
    };
    const timeoutMs = options.timeoutMs ?? 15_000;
    const timer = timers.setTimeout(() => finish({ ok: false, error: `;; connection timed out; no answer for ${asked} ${rrtype} through the bridge within ${timeoutMs / 1000} s` }), timeoutMs);
    socket.onFrame((frame) => {
      if (frame.type === 'error') {
        finish({ ok: false, error: `dig: ${describeBridgeError(frame)}` });
        return;
      }
      if (frame.type !== 'resolved' || frame.id !== '1') return;
      if ('answers' in frame) {
        finish({ ok: true, status: 'NOERROR', answers: frame.answers.map((answer) => toRecord(asked, answer)), text: formatDig(query, 'NOERROR', frame.answers, args, bridgeUrl, Date.now() - started), query });
        return;
      }
      const status = STATUS_BY_ERROR[frame.error.code];
      if (status === undefined) {
        // No DNS answer at all (timeout, a malformed name, the lookup limit): nothing dig-shaped to print.
        finish({ ok: false, error: frame.error.code === 'timeout' ? `;; connection timed out; ${frame.error.message}` : `dig: ${frame.error.message}` });
        return;
      }
      finish({ ok: true, status, answers: [], text: formatDig(query, status, [], args, bridgeUrl, Date.now() - started), query });
    });
    socket.onGone((words) => finish({ ok: false, error: `dig: ${words}` }));
    socket.send({ type: 'resolve', id: '1', name: asked, rrtype: rrtype as ResolveType });
  });
}
