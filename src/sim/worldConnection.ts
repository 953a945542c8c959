/**
 * One TCP connection of the simulated network, seen from the server's side of the wire: a
 * server session machine (`machines/server.ts`) with the host's persona backend, fed with the
 * text a client writes and logging every command, reply and TLS step in the world's event log.
 *
 * It is synchronous on purpose: the world's own sending MTA drives thousands of sessions in
 * virtual time, and `net/simLink.ts` adds the asynchrony of a socket for interactive use.
 */
import type { CertificateReport, TlsReport } from '../protocol/tls';
import { createActor, type Actor, type InspectionEvent } from 'xstate';
import { serverMachine, type LineEvent, type ServerEmitted } from '../machines/server';
import { clientMachine, type ClientInput, type ClientReport, type TlsOutcome } from '../machines/client';
import { implicitTlsPlan, type ServerBackend, type TlsHandshakePlan } from '../machines/backend';
import { LineFramer, type FramedLine } from '../protocol/framing';
import { MAX_TEXT_LINE_OCTETS } from '../protocol/limits';

/** How much of one line `LineFramer` keeps by default (its `maxBufferedLineOctets`). */
const FRAMER_KEPT_OCTETS = 65536;
import { formatReply, type Reply } from '../protocol/reply';
import type { EventLog, WorldEventBody } from './events';
import type { VirtualClock } from './clock';

/** What a TLS client learns from the handshake: the same shape the bridge reports. */
export type SimCertificate = CertificateReport;

export type SimTlsReport = TlsReport;

export type HandshakeResult = { ok: true; report: SimTlsReport } | { ok: false; reason: string };

/** The simulated CA every healthy host's certificate chains to (the world trusts it). */
export const SIMULATED_CA = 'CN=Simulated World CA, O=smtp-lab';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** OpenSSL's date form, e.g. "Mar 10 09:00:00 2026 GMT". */
function opensslDate(at: number): string {
  const d = new Date(at);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCFullYear()} GMT`;
}

/**
 * Fingerprints already made, by their text: a world has few hosts, and its sending MTA shakes
 * hands with the same ones thousands of times.
 */
const fingerprints = new Map<string, string>();

/** A stable fake SHA-256 fingerprint (FNV-1a rounds): the same host always shows the same one. */
function fingerprintOf(text: string): string {
  let fingerprint = fingerprints.get(text);
  if (fingerprint === undefined) {
    fingerprint = computeFingerprint(text);
    // A bound, should names be made up without end (a learner's typing): start afresh.
    if (fingerprints.size >= 4096) fingerprints.clear();
    fingerprints.set(text, fingerprint);
  }
  return fingerprint;
}

function computeFingerprint(text: string): string {
  const bytes: string[] = [];
  let h = 0x811c9dc5;
  for (let round = 0; bytes.length < 32; round++) {
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i) + round;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    for (let k = 0; k < 4 && bytes.length < 32; k++) bytes.push(((h >>> (k * 8)) & 0xff).toString(16).padStart(2, '0').toUpperCase());
  }
  return bytes.join(':');
}

/**
 * The outcome of the handshake a persona planned (`TlsHandshakePlan`), as a real TLS stack
 * would report it: a self-signed or wrong-name certificate still gives an encrypted channel,
 * only `authorized` is false; a failed handshake gives no channel at all.
 */
export function simulateHandshake(host: string, plan: TlsHandshakePlan, now: number): HandshakeResult {
  if (plan === 'fail') return { ok: false, reason: `TLS handshake with ${host} failed: the server aborted the negotiation (handshake failure alert)` };
  const day = 86_400_000;
  const subject = plan === 'wrong-name' ? 'CN=wrong-name.test' : `CN=${host}`;
  const certificate: SimCertificate = {
    subject,
    issuer: plan === 'self-signed' ? subject : SIMULATED_CA,
    validFrom: opensslDate(now - 30 * day),
    validTo: opensslDate(now + 335 * day),
    fingerprint256: fingerprintOf(`${subject}|${plan}`),
    san: [plan === 'wrong-name' ? 'DNS:wrong-name.test' : `DNS:${host}`],
  };
  const base = { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', certificate };
  if (plan === 'self-signed') return { ok: true, report: { ...base, authorized: false, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' } };
  if (plan === 'wrong-name') return { ok: true, report: { ...base, authorized: false, authorizationError: 'ERR_TLS_CERT_ALTNAME_INVALID' } };
  return { ok: true, report: { ...base, authorized: true } };
}

export interface ServerEndOptions {
  connectionId: string;
  host: string;
  port: number;
  backend: ServerBackend;
  peer: { address: string; port: number };
  clock: VirtualClock;
  log: EventLog;
  /** Called once when the session has ended (either side). */
  onEnded?: () => void;
  /**
   * Implicit TLS (RFC 8314, port 465): the handshake comes first, and the server says nothing
   * until it is done; the session then starts already inside TLS.
   */
  implicitTls?: boolean;
  /** XState's inspection of the server session (see `WorldOptions.inspect`). */
  inspect?: (event: InspectionEvent) => void;
}

type ReplyListener = (reply: Reply, wire: string) => void;

/** Hears the replies of one server step together, in wire order (never an empty list). */
type RepliesListener = (replies: readonly Reply[]) => void;

/** Text of seven-bit characters only, where octets and UTF-16 code units count the same. */
const ASCII_ONLY = /^[\x00-\x7f]*$/;

/**
 * What `LineFramer.push(text)` gives for whole ASCII lines, without the round trip through UTF-8
 * bytes: a message written by the world's own MTA is split into its lines directly. Undefined
 * (so the framer does it) when a line is still pending, when the text ends mid-line, when it is
 * not ASCII, or when a line is longer than the framer keeps.
 */
function framedAscii(text: string, pendingOctets: number): LineEvent[] | undefined {
  if (pendingOctets !== 0 || !text.endsWith('\n') || !ASCII_ONLY.test(text)) return undefined;
  // Made as the machine's line events at once (a framed line plus its type), not copied later.
  const lines: LineEvent[] = [];
  let start = 0;
  while (start < text.length) {
    const newline = text.indexOf('\n', start);
    const crlf = newline > start && text.charCodeAt(newline - 1) === 13;
    const end = crlf ? newline - 1 : newline;
    const octets = end - start;
    if (octets > FRAMER_KEPT_OCTETS) return undefined;
    lines.push({ type: 'line', text: text.slice(start, end), ending: crlf ? 'crlf' : 'lf', tooLong: octets + 2 > MAX_TEXT_LINE_OCTETS, octets });
    start = newline + 1;
  }
  return lines;
}
type CloseListener = (by: 'server' | 'client', reason: string) => void;

function lineEvent(line: FramedLine): LineEvent {
  return { type: 'line', text: line.text, ending: line.ending, tooLong: line.tooLong, octets: line.octets };
}

/** The server end of one simulated connection. */
export class ServerEnd {
  readonly connectionId: string;
  readonly host: string;
  readonly port: number;
  private readonly actor: Actor<typeof serverMachine>;
  private readonly framer = new LineFramer();
  private readonly options: ServerEndOptions;
  private replyListeners: ReplyListener[] = [];
  /** Listeners (among `replyListeners`) that never read the wire text. */
  private readonly replyValueListeners = new Set<ReplyListener>();
  private repliesListeners: RepliesListener[] = [];
  /**
   * Replies of the server's current step (or of the write being handled) not yet handed on,
   * with nothing else after them: a reply the server adds joins them, so the replies to one
   * write (a pipelined group) reach the listeners together.
   */
  private openReplies: Reply[] | undefined;
  /** The open replies' delivery is already among `held` (else it is due at the end of the step). */
  private openHeld = false;
  private closeListeners: CloseListener[] = [];
  private plannedHandshake: TlsHandshakePlan | undefined;
  private waitingHandshake: ((result: HandshakeResult) => void) | undefined;
  /** Deliveries to listeners held back while a write is being handled. */
  private held: Array<() => void> | undefined;
  private tls = false;
  private ended = false;
  /** Implicit TLS: the session starts once the handshake is done. */
  private startAfterHandshake = false;
  /** Replies and closes that came before anyone listened (the banner of a fresh session). */
  private backlog: Array<{ kind: 'reply'; reply: Reply; wire: string } | { kind: 'close'; reason: string }> = [];

  constructor(options: ServerEndOptions) {
    this.options = options;
    this.connectionId = options.connectionId;
    this.host = options.host;
    this.port = options.port;
    this.actor = createActor(serverMachine, {
      input: { backend: options.backend, peer: options.peer, ...(options.implicitTls ? { implicitTls: true } : {}) },
      clock: options.clock,
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    if (options.implicitTls) {
      const plan = implicitTlsPlan(options.backend);
      this.plannedHandshake = plan === 'refused' ? 'fail' : plan;
    }
    // The events this end acts on, each by name: an `accepted` (the persona has stored the
    // message already) then finds no listener, and XState drops it without a call.
    const onServerEvent = (event: ServerEmitted) => this.onServerEvent(event);
    this.actor.on('reply', onServerEvent);
    this.actor.on('starttls', onServerEvent);
    this.actor.on('close', onServerEvent);
    // XState tells observers after a step's emitted events: the replies of the step are all out.
    this.actor.subscribe({ next: () => this.endOfStep() });
    this.log({ kind: 'connection', connectionId: this.connectionId, client: options.peer.address, port: options.port, outcome: 'connected' });
  }

  /** Start the session: the banner (or a 421) is emitted now, or after an implicit-TLS handshake. */
  start(): void {
    if (this.options.implicitTls && !this.tls) {
      this.startAfterHandshake = true;
      return;
    }
    this.actor.start();
  }

  get isTls(): boolean {
    return this.tls;
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** The server machine's state, e.g. "ready", "rcpt", "data" (the machine view shows it). */
  get machineState(): string {
    const value = this.actor.getSnapshot().value;
    return typeof value === 'string' ? value : JSON.stringify(value);
  }

  /** True while the server sits on a delayed reply (a tarpit, a slow banner). */
  get waitingOnServer(): boolean {
    return !this.ended && this.actor.getSnapshot().matches('holding');
  }

  /** The server agreed to STARTTLS (220) and waits for the handshake. */
  get handshakePending(): boolean {
    return this.plannedHandshake !== undefined;
  }

  onReply(listener: ReplyListener): void {
    this.replyListeners.push(listener);
    this.flushBacklog();
  }

  /** Like `onReply`, for a listener that reads the reply value only, never its wire text. */
  onReplyValue(listener: (reply: Reply) => void): void {
    this.replyValueListeners.add(listener);
    this.onReply(listener);
  }

  /**
   * Like `onReplyValue`, but hears the replies of one server step as one list, in wire order:
   * the answers to one write of the client (a pipelined MAIL/RCPT/DATA group, RFC 2920 §3.1),
   * the banner alone, or a reply a tarpit held back with those to the lines that waited behind
   * it. A close comes after the replies before it.
   */
  onReplies(listener: RepliesListener): void {
    this.repliesListeners.push(listener);
    this.flushBacklog();
  }

  onClose(listener: CloseListener): void {
    this.closeListeners.push(listener);
    this.flushBacklog();
  }

  /** Text the client wrote (any chunking; lines end in CRLF or LF). */
  write(text: string): void {
    if (this.ended) return;
    // Like a socket, the server's answers reach the client after the write, not inside it: the
    // server has handled every line written (and planned any handshake) before the client reads.
    const outer = this.held === undefined;
    if (outer) this.held = [];
    // Every line of one write is on the wire before the server reads the first, so the log
    // shows a pipelined batch as it crossed the network (RFC 2920 §3): all commands, then replies.
    const lines = framedAscii(text, this.framer.pendingOctets) ?? this.framer.push(text).map(lineEvent);
    for (const line of lines) this.log({ kind: 'command', connectionId: this.connectionId, line: line.text });
    if (lines.length === 1) {
      this.actor.send(lines[0]!);
    } else if (lines.length > 1) {
      // One event for the whole write: the machine handles the lines in order as if each came
      // alone, and message text goes straight into its DATA collector. A session the server
      // closed part-way ignores the rest, as it would ignore separate lines.
      this.actor.send({ type: 'lines', lines });
    }
    if (!outer) return;
    const out = this.held!;
    this.held = undefined;
    if (this.openHeld) this.openReplies = undefined;
    for (const deliver of out) deliver();
  }

  /**
   * The client starts the handshake. If the server's "go ahead" is still on its way through the
   * machine, the handshake runs as soon as it comes; `done` hears the result.
   */
  startHandshake(done: (result: HandshakeResult) => void): void {
    if (this.plannedHandshake !== undefined || this.ended) {
      done(this.handshake());
      // Implicit TLS: the banner comes inside the finished handshake, after the client's side of it.
      if (this.options.implicitTls && this.tls && this.startAfterHandshake && !this.ended) {
        this.startAfterHandshake = false;
        this.actor.start();
      }
      return;
    }
    this.waitingHandshake = done;
  }

  /** Run the handshake the server agreed to. Without a 220 to STARTTLS there is nothing to shake hands with. */
  handshake(): HandshakeResult {
    const plan = this.plannedHandshake;
    if (plan === undefined) return { ok: false, reason: 'the server has not agreed to STARTTLS (send STARTTLS and wait for 220 first)' };
    this.plannedHandshake = undefined;
    const result = simulateHandshake(this.host, plan, this.options.clock.now());
    if (result.ok) {
      this.tls = true;
      const r = result.report;
      this.log({
        kind: 'tls',
        connectionId: this.connectionId,
        step: 'established',
        detail: `${r.protocol} ${r.cipher}; certificate ${r.certificate?.subject ?? 'none'} issued by ${r.certificate?.issuer ?? '?'}${r.authorized ? ', verified' : `, NOT verified (${r.authorizationError})`}`,
      });
      if (this.options.implicitTls) {
        // The session starts once the client has heard the handshake's result (startHandshake).
      } else {
        this.actor.send({ type: 'tls.established', info: { protocol: r.protocol, cipher: r.cipher, serverName: this.host } });
      }
    } else {
      this.log({ kind: 'tls', connectionId: this.connectionId, step: 'failed', detail: result.reason });
      if (!this.options.implicitTls) this.actor.send({ type: 'tls.failed', reason: result.reason });
      // The client learns of it from the handshake result, not as a close by the server.
      this.end('client', 'TLS handshake failed');
    }
    return result;
  }

  /** The client hangs up. */
  disconnect(reason = 'client closed the connection'): void {
    if (this.ended) return;
    this.actor.send({ type: 'disconnect' });
    this.end('client', reason);
  }

  private onServerEvent(event: ServerEmitted): void {
    switch (event.type) {
      case 'reply': {
        this.log({ kind: 'reply', connectionId: this.connectionId, reply: event.reply });
        if (this.openReplies !== undefined) {
          this.openReplies.push(event.reply);
          break;
        }
        // The replies that follow in the same step (or write) join this one.
        const replies = [event.reply];
        this.openReplies = replies;
        this.openHeld = this.held !== undefined;
        if (this.held !== undefined) this.held.push(() => this.deliverReplies(replies));
        break;
      }
      case 'starttls':
        this.plannedHandshake = event.handshake;
        this.log({ kind: 'tls', connectionId: this.connectionId, step: 'starttls', detail: 'server ready to start TLS; handshake next' });
        if (this.waitingHandshake) {
          const done = this.waitingHandshake;
          this.waitingHandshake = undefined;
          done(this.handshake());
        }
        break;
      case 'close':
        this.end('server', event.reason);
        break;
    }
  }

  private end(by: 'server' | 'client', reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.log({ kind: 'connection', connectionId: this.connectionId, client: this.options.peer.address, port: this.port, outcome: 'closed' });
    this.dispatch(() => {
      if (by === 'server' && this.closeListeners.length === 0) this.backlog.push({ kind: 'close', reason });
      for (const listener of this.closeListeners) listener(by, reason);
    });
    this.actor.stop();
    this.options.onEnded?.();
  }

  private deliverReplies(replies: readonly Reply[]): void {
    if (this.replyListeners.length === 0 && this.repliesListeners.length === 0) {
      for (const reply of replies) this.backlog.push({ kind: 'reply', reply, wire: formatReply(reply) });
      return;
    }
    for (const reply of replies) {
      // The wire text is made only when a listener reads it (the world's own sessions do not).
      let wire: string | undefined;
      for (const listener of this.replyListeners) {
        if (this.replyValueListeners.has(listener)) listener(reply, '');
        else listener(reply, (wire ??= formatReply(reply)));
      }
    }
    for (const listener of this.repliesListeners) listener(replies);
  }

  /** The server's step is over: its replies go out together, unless a write holds them. */
  private endOfStep(): void {
    if (this.openReplies !== undefined && !this.openHeld) this.releaseReplies();
  }

  /** No more replies join the open ones; hand them on now unless a write holds them. */
  private releaseReplies(): void {
    const replies = this.openReplies;
    this.openReplies = undefined;
    if (replies !== undefined && !this.openHeld) this.deliverReplies(replies);
  }

  private dispatch(deliver: () => void): void {
    // Whatever comes after replies (a close) keeps its place behind them.
    this.releaseReplies();
    if (this.held) this.held.push(deliver);
    else deliver();
  }

  private flushBacklog(): void {
    if (this.replyListeners.length === 0 && this.repliesListeners.length === 0 && this.closeListeners.length === 0) return;
    const items = this.backlog;
    this.backlog = [];
    for (const item of items) {
      if (item.kind === 'reply') {
        for (const l of this.replyListeners) l(item.reply, item.wire);
        for (const l of this.repliesListeners) l([item.reply]);
      } else for (const l of this.closeListeners) l('server', item.reason);
    }
  }

  private log(body: WorldEventBody): void {
    // The (fresh) body becomes the logged event itself, so it carries the stamp.
    const stamped = body as WorldEventBody & { at: number; host: string };
    stamped.at = this.options.clock.now();
    stamped.host = this.host;
    this.options.log.append(stamped);
  }
}

/**
 * Drive a client session machine against a server end, synchronously where the wire allows
 * and in virtual time where it does not (delays and timeouts ride the world's clock).
 */
export function runClientSession(
  server: ServerEnd,
  input: ClientInput,
  clock: VirtualClock,
  done: (report: ClientReport) => void,
  inspect?: (event: InspectionEvent) => void,
): void {
  const client = createActor(clientMachine, { input: { ...input, mode: 'driving' }, clock, ...(inspect ? { inspect } : {}) });
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    if (!server.isClosed) server.disconnect('client finished');
    done(client.getSnapshot().output!);
  };
  client.on('send', ({ text }) => server.write(text));
  client.on('starttls', () => server.startHandshake((result) => {
    const report: TlsOutcome | undefined = result.ok
      ? {
          protocol: result.report.protocol,
          cipher: result.report.cipher,
          authorized: result.report.authorized,
          ...(result.report.authorizationError ? { authorizationError: result.report.authorizationError } : {}),
        }
      : undefined;
    client.send(result.ok ? { type: 'tls.established', report: report! } : { type: 'tls.failed', reason: result.reason });
  }));
  client.on('close', () => server.disconnect('client hung up'));
  client.subscribe({
    complete: finish,
    error: (error) => {
      finished = true;
      if (!server.isClosed) server.disconnect('client error');
      throw error;
    },
  });
  // The replies to one write (a pipelined group) are read in one transition.
  server.onReplies((replies) => client.send(replies.length === 1 ? { type: 'reply', reply: replies[0]! } : { type: 'replies', replies }));
  server.onClose((by) => {
    // A client that has finished (a 221, or a 421 it read) has nothing left to hear.
    if (by === 'server' && !finished) client.send({ type: 'closed' });
  });
  client.start();
  server.start();
}
