/**
 * One SMTP server session (RFC 5321) as an XState v5 machine.
 *
 * The machine owns the protocol: which command is allowed when, syntax and sequence errors,
 * counters, the AUTH and STARTTLS sub-dialogues, the DATA collector and pipelining order. It asks
 * a `ServerBackend` (a persona, or `smtpd`'s configuration) at each hook what to answer.
 *
 * ## Driving it from a transport (a socket, or the simulated world)
 *
 *   const session = createActor(serverMachine, { input: { backend, peer }, clock });
 *   session.on('reply', ({ reply }) => socket.write(formatReply(reply)));
 *   session.on('starttls', ({ handshake }) => upgradeSocket(handshake)); // after the 220 is written
 *   session.on('close', () => socket.end());
 *   session.start();                        // the banner (or a 421/554) is emitted now
 *   framer.push(bytes) -> for each FramedLine: session.send({ type: 'line', ...line });
 *     (or several at once: session.send({ type: 'lines', lines: [...] }), handled as if line by line)
 *   after the handshake: session.send({ type: 'tls.established', info });  (or 'tls.failed')
 *   socket closed by the peer: session.send({ type: 'disconnect' });
 *
 * Emitted events are synchronous, in wire order: write each `reply` as it comes. Every framed
 * line goes in as one `line` event, whether it is a command, a DATA line or a SASL response;
 * the machine knows which. A `lines` batch costs one transition per change of reading mode, not
 * one per line: a pipelined MAIL/RCPT/DATA group is one, a message with its end of data another.
 * Lines sent while a delayed reply is pending (a tarpit, a slow banner) are queued and handled
 * in order once the reply is out (RFC 2920 §3: replies in the order of the commands). Delays
 * are XState `after` delays: pass the world's clock (or XState's `SimulatedClock`) as `clock`
 * and they run in virtual time.
 */
import { assign, enqueueActions, setup } from 'xstate';
import type { Reply } from '../protocol/reply';
import { Replies } from '../protocol/replies';
import { MAX_AUTH_LINE_OCTETS, MIN_RECIPIENTS_BUFFER } from '../protocol/limits';
import { utf8Length } from '../protocol/utf8';
import { isSaslCancel } from '../protocol/sasl';
import { receivedField, withProtocol } from '../protocol/trace';
import type { DataCollector } from '../protocol/framing';
import {
  createQueueIdSource,
  toHookAnswer,
  type AuthResult,
  type Envelope,
  type Extensions,
  type HookAnswer,
  type PeerAddress,
  type ReceivedMessage,
  type SaslMechanism,
  type ServerBackend,
  type SessionFacts,
  type TlsHandshakePlan,
  type TlsInfo,
} from './backend';
import { commandTable, parseLine, type CommandPhase, type VerbName } from './commands';

export interface ServerInput {
  backend: ServerBackend;
  peer: PeerAddress;
  /** The connection is TLS from the first byte (port 465, RFC 8314 §3.3). */
  implicitTls?: boolean | TlsInfo;
  /** Syntax and sequence errors tolerated before "421 4.7.0" and close (default 10). */
  maxBadCommands?: number;
  /** Recipients per transaction before "452 4.5.3" (default 100, RFC 5321 §4.5.3.1.8). */
  maxRecipients?: number;
  /** Queue ids when the backend has no `newQueueId` (default: a deterministic source). */
  queueIds?: () => string;
}

/** One framed line from the transport (`FramedLine` of protocol/framing.ts fits). */
export interface LineEvent {
  type: 'line';
  /** The line without its ending. */
  text: string;
  /** How the line ended on the wire: CRLF, or a bare LF. */
  ending: 'crlf' | 'lf';
  /** The line was longer than the framer's limit (its text is cut). */
  tooLong?: boolean;
  /** Octets of the line on the wire without the ending; computed from `text` when absent. */
  octets?: number;
}

/**
 * Several framed lines at once, e.g. all the lines of one read. The machine handles them exactly
 * as if each had come as its own `line` event, in order, but without a transition per line: the
 * commands of a pipelined group are decided in one, and in `data` the lines go straight into the
 * collector (a message can have a hundred thousand lines), with the end of data if it is there.
 */
export interface LinesEvent {
  type: 'lines';
  lines: readonly LineEvent[];
}

export type ServerEvent =
  | LineEvent
  | LinesEvent
  | { type: 'tls.established'; info?: TlsInfo }
  | { type: 'tls.failed'; reason: string }
  | { type: 'disconnect' };

export type CloseReason =
  | 'quit'
  /** A 421 (or a 554/521 banner): the server ends the session (RFC 5321 §3.8). */
  | 'server'
  | 'too-many-errors'
  /** The backend dropped the line without a word (flaky). */
  | 'dropped'
  | 'tls-failed';

export type ServerEmitted =
  | { type: 'reply'; reply: Reply }
  /** The 220 to STARTTLS is out: run the handshake now, then send `tls.established`. */
  | { type: 'starttls'; handshake: TlsHandshakePlan }
  | { type: 'close'; reason: CloseReason }
  /** A message was accepted (after the final 250 went out). For logs and the world. */
  | { type: 'accepted'; queueId: string; envelope: Envelope; message: ReceivedMessage };

/** The resting states a session can be in, as named in the machine (and the UI's state view). */
export type Phase = CommandPhase | 'data' | 'auth' | 'tlsHandshake' | 'closed';

/** What the last input led to: what goes on the wire, after how long, and where we go next. */
export interface Outcome {
  emits: ServerEmitted[];
  next: Phase;
  delayMs: number;
  /** The command succeeded (2xx/3xx reply, connection kept): its effects apply. */
  positive?: boolean;
}

/** An AUTH exchange in progress (RFC 4954 §4). */
export interface AuthExchange {
  mechanism: SaslMechanism;
  /** What the next client line is: the PLAIN response, or LOGIN's user name or password. */
  expecting: 'plain' | 'username' | 'password';
  username?: string;
}

export interface ServerContext {
  backend: ServerBackend;
  maxBadCommands: number;
  maxRecipients: number;
  queueIds: () => string;
  facts: SessionFacts;
  envelope?: Envelope;
  /** RCPT commands refused in this transaction: DATA then says 554, not 503 (RFC 5321 §3.3). */
  refusedRecipients: number;
  badCommands: number;
  auth?: AuthExchange;
  /**
   * The DATA collector (protocol/framing.ts) while in `data`. It is the one mutable part of the
   * context: a message can have a hundred thousand lines, and copying it per line would not do.
   */
  data?: DataCollector;
  outcome: Outcome;
  /**
   * Lines waiting for a delayed reply to go out, oldest first: those behind it in its own batch
   * and those that arrived meanwhile.
   */
  heldLines: readonly LineEvent[];
}

// ─── Helpers ──────────────────────────────────────────────────────────────────────────────

function emitReply(reply: Reply): ServerEmitted {
  return { type: 'reply', reply };
}

function freshFacts(peer: PeerAddress, tls: boolean, tlsInfo: TlsInfo | undefined, messagesAccepted: number): SessionFacts {
  return { peer, tls, ...(tlsInfo ? { tlsInfo } : {}), esmtp: false, messagesAccepted };
}

function extensionsOf(context: ServerContext): Extensions {
  return offeredTo(context.backend, context.facts);
}

function offeredTo(backend: ServerBackend, facts: SessionFacts): Extensions {
  const offered = backend.extensions(facts);
  // RFC 3207 §4.2: STARTTLS "MUST NOT" be advertised once TLS is up.
  return facts.tls ? { ...offered, starttls: false } : offered;
}

/**
 * An outcome's emits as they go on the wire, appended to `into`, for a session with these facts.
 * RFC 2034: enhanced status codes belong to servers that advertise ENHANCEDSTATUSCODES, so a
 * session that does not gets its replies without them (the backend is asked only when a reply
 * carries one).
 */
function toWire(backend: ServerBackend, facts: SessionFacts, emits: readonly ServerEmitted[], into: ServerEmitted[]): void {
  let enhanced: boolean | undefined;
  for (const item of emits) {
    if (item.type === 'reply' && item.reply.enhanced !== undefined && !(enhanced ??= offeredTo(backend, facts).enhancedStatusCodes === true)) {
      const { enhanced: _dropped, ...plain } = item.reply;
      into.push({ type: 'reply', reply: plain });
    } else {
      into.push(item);
    }
  }
}

/** Any UTF-16 unit outside US-ASCII (where one character is no longer one octet). */
const NON_ASCII = /[^\x00-\x7f]/;

/** The octet count of a line event (without its ending). */
function lineOctets(line: LineEvent): number {
  if (line.octets !== undefined) return line.octets;
  // Nearly every SMTP line is US-ASCII (RFC 5321 §2.4), where the count is the string length:
  // one native regular-expression scan instead of a code point walk for every message line.
  return NON_ASCII.test(line.text) ? utf8Length(line.text) : line.text.length;
}

/**
 * Turn a backend answer into an outcome. `success` says where to go on a 2xx/3xx reply,
 * `failure` on 4xx/5xx. Any 421 closes the connection (RFC 5321 §3.8), as does `close`.
 */
function fromAnswer(answer: HookAnswer, defaultReply: Reply, success: Phase, failure: Phase, extra: ServerEmitted[] = []): Outcome {
  const reply = answer.reply ?? defaultReply;
  const delayMs = Math.max(0, answer.delayMs ?? 0);
  if (answer.silent) {
    return { emits: [{ type: 'close', reason: 'dropped' }], next: 'closed', delayMs };
  }
  const closes = answer.close === true || reply.code === 421;
  const next = closes ? 'closed' : reply.code < 400 ? success : failure;
  const emits: ServerEmitted[] = [emitReply(reply)];
  if (reply.code < 400) emits.push(...extra);
  if (closes) emits.push({ type: 'close', reason: 'server' });
  return { emits, next, delayMs, positive: !closes && reply.code < 400 };
}

function accepted(reply: Reply): boolean {
  return reply.code < 400;
}

/** The phase a session returns to after its transaction ends or fails to start. */
function idlePhase(context: ServerContext): CommandPhase {
  return context.facts.heloName === undefined ? 'waitingForHelo' : 'ready';
}

/**
 * A client error (syntax, sequence): counted, and past `maxBadCommands` the session ends with
 * 421 4.7.0 instead of the error (as Postfix's smtpd_hard_error_limit and smtp-server's
 * "too many unrecognized commands" do).
 */
function clientError(context: ServerContext, reply: Reply, stay: Phase): Pick<ServerContext, 'badCommands' | 'outcome'> {
  const badCommands = context.badCommands + 1;
  if (badCommands >= context.maxBadCommands) {
    return {
      badCommands,
      outcome: {
        emits: [emitReply(Replies.tooManyErrors(context.backend.hostname)), { type: 'close', reason: 'too-many-errors' }],
        next: 'closed',
        delayMs: 0,
      },
    };
  }
  return { badCommands, outcome: { emits: [emitReply(reply)], next: stay, delayMs: 0 } };
}

function asLine(event: ServerEvent): LineEvent {
  if (event.type !== 'line') throw new Error(`expected a line event, got ${event.type}`);
  return event;
}

function asLines(event: ServerEvent): readonly LineEvent[] {
  if (event.type !== 'lines') throw new Error(`expected a lines event, got ${event.type}`);
  return event.lines;
}

/** Commands of a mail transaction: what TLS-only and AUTH-only policies guard. */
const TRANSACTION_VERBS: ReadonlySet<VerbName> = new Set(['MAIL', 'RCPT', 'DATA']);

// ─── Decisions (each returns the context changes, always including an `outcome`) ─────────

type Decision = Partial<ServerContext> & { outcome: Outcome };

function decideGreeting(context: ServerContext): Decision {
  const answer = toHookAnswer(context.backend.onConnect?.(context.facts));
  const outcome = fromAnswer(answer, Replies.greeting(context.backend.hostname), 'waitingForHelo', 'closed');
  // A banner that is not 220 (421, 554, 521) refuses the session: close after it (RFC 5321 §3.1).
  if (outcome.next === 'closed' && !outcome.emits.some((e) => e.type === 'close')) {
    outcome.emits.push({ type: 'close', reason: 'server' });
  }
  return { outcome };
}

/**
 * The checks every command line goes through, in this fixed order (as smtp-server's
 * `_onCommand` does them): too long, unparseable, out of sequence, TLS required, AUTH required,
 * not offered, and only then the command's handler. The first that matches answers. (One
 * function rather than a guarded transition per check: the line is parsed once, and a command
 * costs one transition, not seven guard evaluations.)
 */
function decideCommandLine(context: ServerContext, line: LineEvent, phase: CommandPhase): Decision {
  // RFC 5321 §4.5.3.1.4: the framer cut a line over its limit. (A line the framer passed but
  // that is still over 512 octets, or 12288 for AUTH per RFC 4954 §4, is caught by the parser.)
  if (line.tooLong === true) return clientError(context, Replies.lineTooLong(), phase);
  const result = parseLine(line.text);
  if (!result.ok) return clientError(context, result.reply, phase);
  const command = result.command;
  const spec = commandTable[command.verb];
  // The command table says where each verb is allowed (RFC 5321 §4.1.4 on order).
  const sequenceError = spec.sequenceError(context, phase);
  if (sequenceError !== undefined) return clientError(context, sequenceError, phase);
  // RFC 3207 §4: a server may refuse mail (and RFC 4954 §4 AUTH) until STARTTLS.
  const policy = context.backend.policy ?? {};
  if (!context.facts.tls) {
    const tlsRequired =
      command.verb === 'AUTH' ? policy.tlsRequiredForAuth === true : policy.tlsRequiredForMail === true && TRANSACTION_VERBS.has(command.verb);
    if (tlsRequired) {
      const reply =
        command.verb === 'AUTH' && policy.authBeforeTlsReply === 538 ? Replies.encryptionRequiredForMechanism() : Replies.encryptionRequired();
      return { outcome: { emits: [emitReply(reply)], next: phase, delayMs: 0 } };
    }
  }
  // RFC 6409 §4.3 / RFC 4954 §6: submission servers take mail only from authenticated users.
  if (context.facts.authenticatedUser === undefined && policy.authRequiredForMail === true && TRANSACTION_VERBS.has(command.verb)) {
    return { outcome: { emits: [emitReply(Replies.authNeededToSend())], next: phase, delayMs: 0 } };
  }
  // STARTTLS and AUTH only when this session's EHLO offered them.
  if (spec.notOffered) {
    const notOffered = spec.notOffered(context, extensionsOf(context));
    if (notOffered !== undefined) return clientError(context, notOffered, phase);
  }
  return spec.handle(context, command as never, phase, helpers, line);
}

function decideEndOfData(context: ServerContext): Decision {
  const collected = context.data!.result();
  const envelope = context.envelope!;
  const ready = idlePhase(context);
  if (collected.tooBig) {
    // RFC 1870 §6.2: the message turned out bigger than the limit: 552 5.3.4, nothing kept.
    const limit = extensionsOf(context).size ?? 0;
    return transactionEnded(context.facts, { emits: [emitReply(Replies.messageTooBig(limit))], next: ready, delayMs: 0 });
  }
  if (collected.lineTooLong) {
    // RFC 5321 §4.5.3.1.6: text lines are at most 1000 octets with their CRLF.
    return transactionEnded(context.facts, { emits: [emitReply(Replies.textLineTooLong())], next: ready, delayMs: 0 });
  }
  const queueId = context.backend.newQueueId?.() ?? context.queueIds();
  // RFC 5321 §4.4: "When an SMTP server receives a message for delivery or further
  // processing, it MUST insert trace ("time stamp" or "Received") information at the beginning
  // of the message content". It travels beside the content; stores write it on top.
  const facts = context.facts;
  const tls = facts.tls ? [facts.tlsInfo?.protocol, facts.tlsInfo?.cipher].filter(Boolean).join(' ') || 'TLS' : undefined;
  const recipients: string[] = new Array(envelope.recipients.length);
  for (let i = 0; i < recipients.length; i++) recipients[i] = envelope.recipients[i]!.address;
  const trace = receivedField({
    heloName: facts.heloName,
    peerAddress: facts.peer.address,
    by: context.backend.hostname,
    protocol: withProtocol({ esmtp: facts.esmtp, tls: facts.tls, authenticated: facts.authenticatedUser !== undefined, utf8: envelope.smtpUtf8 }),
    queueId,
    recipients,
    tls,
    at: context.backend.now?.() ?? Date.now(),
  });
  const message: ReceivedMessage = { queueId, text: collected.message, octets: collected.sizeOctets, received: trace };
  const answer = toHookAnswer(context.backend.onData?.(message, envelope, facts));
  const reply = answer.reply ?? Replies.queued(queueId);
  const taken = !answer.silent && accepted(reply);
  const outcome = fromAnswer(answer, Replies.queued(queueId), ready, ready, [{ type: 'accepted', queueId, envelope, message }]);
  return transactionEnded(taken ? { ...facts, messagesAccepted: facts.messagesAccepted + 1 } : facts, outcome);
}

/** The end of DATA clears the envelope and the collector, whatever the reply (RFC 5321 §4.1.1.4). */
function transactionEnded(facts: SessionFacts, outcome: Outcome): Decision {
  return { data: undefined, envelope: undefined, refusedRecipients: 0, facts, outcome };
}

/** A line of the AUTH exchange (RFC 4954 §4). */
function decideAuthLine(context: ServerContext, line: LineEvent): Decision {
  const exchange = context.auth!;
  const back = idlePhase(context);
  const end = (reply: Reply): Decision => ({ auth: undefined, outcome: { emits: [emitReply(reply)], next: back, delayMs: 0 } });
  // RFC 4954 §4 lets a SASL response line reach 12288 octets, far beyond the framer's 1000-octet
  // text-line flag, so the length is judged here from the octet count, not from `tooLong`.
  if (lineOctets(line) + 2 > MAX_AUTH_LINE_OCTETS) return end(Replies.authLineTooLong());
  // RFC 4954 §4: "If the client wishes to cancel the authentication exchange, it issues a line
  // with a single '*'. If the server receives such a response, it MUST reject the AUTH command
  // by sending a 501 reply."
  if (isSaslCancel(line.text)) return end(Replies.authCancelled());
  return helpers.continueAuth(context, exchange, line.text.trim());
}

/** The tools the command handlers of commands.ts share with the rest of the machine. */
export interface HandlerHelpers {
  extensionsOf(context: ServerContext): Extensions;
  fromAnswer: typeof fromAnswer;
  clientError: typeof clientError;
  idlePhase: typeof idlePhase;
  emitReply: typeof emitReply;
  continueAuth(context: ServerContext, exchange: AuthExchange, response: string): Decision;
  finishAuth(context: ServerContext, mechanism: SaslMechanism, username: string, password: string): Decision;
}

function finishAuth(context: ServerContext, mechanism: SaslMechanism, username: string, password: string): Decision {
  const back = idlePhase(context);
  const verdict: AuthResult = context.backend.authenticate?.(mechanism, username, password, context.facts) ?? false;
  const acceptedNow = typeof verdict === 'boolean' ? verdict : verdict.accepted;
  const answer: HookAnswer =
    typeof verdict === 'boolean'
      ? {}
      : { ...(verdict.reply ? { reply: verdict.reply } : {}), ...(verdict.delayMs ? { delayMs: verdict.delayMs } : {}) };
  const outcome = fromAnswer(answer, acceptedNow ? Replies.authSucceeded() : Replies.authFailed(), back, back);
  return {
    auth: undefined,
    facts: acceptedNow ? { ...context.facts, authenticatedUser: username } : context.facts,
    outcome,
  };
}

const helpers: HandlerHelpers = {
  extensionsOf,
  fromAnswer,
  clientError,
  idlePhase,
  emitReply,
  finishAuth,
  continueAuth: (context, exchange, response) => {
    // The SASL steps live beside the AUTH command in the command table.
    return commandTable.AUTH.continueExchange!(context, exchange, response, helpers);
  },
};

// ─── Routing: one transition per input ───────────────────────────────────────────────────

/** The states that decide what an input leads to (each a source of routed transitions). */
type DecidingState = CommandPhase | 'greeting' | 'data' | 'auth';

/** Where a decision sends the session: the phase it names, or `holding` while its reply waits. */
type RouteTarget = Phase | 'holding';

/**
 * Targets in the order the guards try them: the common ones first. Every `Phase` is here, so
 * some route always matches a decision.
 */
const ROUTE_TARGETS = ['holding', 'ready', 'mail', 'rcpt', 'data', 'waitingForHelo', 'auth', 'tlsHandshake', 'closed'] as const satisfies readonly RouteTarget[];

/** The phases `deliver` can go on to once a delayed reply is out. */
const ROUTES = ['waitingForHelo', 'ready', 'mail', 'rcpt', 'data', 'auth', 'tlsHandshake', 'closed'] as const satisfies readonly Phase[];

const COMMAND_PHASES: ReadonlySet<Phase> = new Set<CommandPhase>(['waitingForHelo', 'ready', 'mail', 'rcpt']);

function isCommandPhase(phase: Phase): phase is CommandPhase {
  return COMMAND_PHASES.has(phase);
}

/** The reply waits (a tarpit, a slow banner): the session goes to `holding`, not to `next`. */
function isDelayed(outcome: Outcome): boolean {
  return outcome.delayMs > 0;
}

/** What one input (a line, or a batch of them) leads to, as the transition it takes applies it. */
interface Ruling {
  /** The context changes of every line decided; its outcome is the last line's. */
  decision: Decision;
  /**
   * What goes on the wire now, in order and in wire form: the replies to every line decided,
   * each shaped by the session its own line left, except a delayed last one (`deliver` writes it).
   */
  wire: readonly ServerEmitted[];
  /** Lines of the batch after the last one decided: they go in again, in order, after it. */
  unread: readonly LineEvent[];
}

const NO_LINES: readonly LineEvent[] = [];

/** The lines after the first `count`. */
function after(lines: readonly LineEvent[], count: number): readonly LineEvent[] {
  return count < lines.length ? lines.slice(count) : NO_LINES;
}

/** The ruling for one more decision made in `context`, after the lines whose replies are in `wire`. */
function ruling(context: ServerContext, decision: Decision, unread: readonly LineEvent[] = NO_LINES, wire: ServerEmitted[] = []): Ruling {
  const outcome = decision.outcome;
  if (!isDelayed(outcome)) toWire(context.backend, decision.facts ?? context.facts, outcome.emits, wire);
  return { decision, wire, unread };
}

/** Lines to go in again: a lone line as a `line` event, several as one batch. */
function linesEvent(lines: readonly LineEvent[]): LineEvent | LinesEvent {
  return lines.length === 1 ? lines[0]! : { type: 'lines', lines };
}

/**
 * A pipelined group of commands, decided in one transition. RFC 2920 §3.1 lets a client send
 * commands "without waiting for a response to each individual command", and §3 wants the
 * replies in the order of the commands: each line is decided in the phase and the context the
 * previous one left, exactly as if it had come alone, so every hook runs once per line, in
 * order, and every reply keeps its place. The fold goes on while the session stays in a command
 * phase with nothing to wait for. The first line that changes how the next ones are read ends
 * it — RFC 2920 §3.1 puts such commands last in a group, "since their success or failure
 * produces a change of state which the client SMTP must accommodate": after a 354 the lines are
 * message text, after a 334 a SASL response, after the 220 to STARTTLS plaintext to drop (RFC
 * 3207 §4.2), and behind a delayed reply they wait. Those lines are the ruling's `unread`.
 */
function decideCommandLines(context: ServerContext, lines: readonly LineEvent[], phase: CommandPhase): Ruling {
  const wire: ServerEmitted[] = [];
  let current = context;
  for (let index = 0; ; index++) {
    const decision = decideCommandLine(current, lines[index]!, phase);
    const outcome = decision.outcome;
    if (index + 1 === lines.length || isDelayed(outcome) || !isCommandPhase(outcome.next)) {
      // The last line decided: its changes go on top of what the lines before it changed.
      return ruling(current, current === context ? decision : { ...current, ...decision }, after(lines, index + 1), wire);
    }
    current = { ...current, ...decision };
    toWire(current.backend, current.facts, outcome.emits, wire);
    phase = outcome.next;
  }
}

/** A "." line: the only line that can end the data (RFC 5321 §4.1.1.4). */
function hasDotLine(lines: readonly LineEvent[]): boolean {
  for (let i = 0; i < lines.length; i++) if (lines[i]!.text === '.') return true;
  return false;
}

/**
 * A batch in `data` that holds a "." line: the message lines before the end go into the
 * collector, and the end of data is decided with them, in one transition; the lines after it
 * (commands pipelined behind the message) are the ruling's `unread`. Filling the collector is
 * the one effect of a decision besides the backend's hooks, and like them it happens once: a
 * ruling is made once and always applied (see `rulingFor`). A batch without a "." line cannot
 * end the data: no ruling, and `collectDataLines` takes it whole.
 */
function decideDataLines(context: ServerContext, lines: readonly LineEvent[]): Ruling | undefined {
  if (!hasDotLine(lines)) return undefined;
  const data = context.data!;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    if (data.isEndOfData(line)) return ruling(context, decideEndOfData(context), after(lines, index + 1));
    data.pushLine(line.text, line.ending, lineOctets(line), line.tooLong === true);
  }
  // Every "." was content (it followed a bare LF): the message goes on, nothing to answer.
  return { decision: { outcome: { emits: [], next: 'data', delayMs: 0 } }, wire: [], unread: NO_LINES };
}

/** What `event` leads to in state `from`, or undefined when it is not something `from` decides. */
function decide(context: ServerContext, event: ServerEvent, from: DecidingState): Ruling | undefined {
  if (from === 'greeting') return ruling(context, decideGreeting(context));
  if (event.type === 'line') {
    if (from === 'auth') return ruling(context, decideAuthLine(context, event));
    if (from === 'data') return context.data!.isEndOfData(event) ? ruling(context, decideEndOfData(context)) : undefined;
    return ruling(context, decideCommandLine(context, event, from));
  }
  if (event.type !== 'lines' || event.lines.length === 0) return undefined;
  const lines = event.lines;
  // A SASL response is one line (RFC 4954 §4); whatever follows it is read in the phase it leaves.
  if (from === 'auth') return ruling(context, decideAuthLine(context, lines[0]!), after(lines, 1));
  if (from === 'data') return decideDataLines(context, lines);
  return decideCommandLines(context, lines, from);
}

/**
 * The ruling for one input, made once. A command's target state depends on its outcome (250
 * stays in `ready`, 354 goes to `data`, 421 closes), and an XState transition's target is fixed,
 * so each state offers one guarded transition per target and the guards ask which one the
 * ruling names. The ruling calls the backend's hooks (once per line, even for a batch), which
 * may keep state (a greylist remembers who tried), so it must be made exactly once per input:
 * the last one made is kept here with the context it was made from (every applied ruling makes
 * a new context) and the input event, and the chosen transition's `applyRuling` takes it from
 * here. Between the guard that makes it and that action only XState and the other guards run,
 * so no other session (not even one a hook drives) can take the slot in between. An input thus
 * costs one transition instead of two (one into a pass-through "respond" state, one out of it).
 */
let lastRuling: { context: ServerContext; event: ServerEvent; ruling: Ruling | undefined } | undefined;

function rulingFor(context: ServerContext, event: ServerEvent, from: DecidingState): Ruling | undefined {
  if (lastRuling !== undefined && lastRuling.context === context && lastRuling.event === event) return lastRuling.ruling;
  const made = decide(context, event, from);
  lastRuling = { context, event, ruling: made };
  return made;
}

/** The transitions out of a deciding state: to where its ruling says, applying it. */
function routedTransitions(from: DecidingState) {
  return ROUTE_TARGETS.map((to) => ({
    guard: { type: 'decidedFor' as const, params: { from, to } },
    target: `#server.${to}` as const,
    actions: { type: 'applyRuling' as const, params: { from } },
  }));
}

/** A command phase: a line, or a batch of them (see `decideCommandLines`), is one transition. */
function commandPhase(phase: CommandPhase) {
  return { on: { line: routedTransitions(phase), lines: routedTransitions(phase) } };
}

// ─── The machine ──────────────────────────────────────────────────────────────────────────

export const serverMachine = setup({
  types: {
    context: {} as ServerContext,
    events: {} as ServerEvent,
    input: {} as ServerInput,
    emitted: {} as ServerEmitted,
  },
  guards: {
    /** RFC 5321 §4.1.1.4: the data ends with "<CRLF>.<CRLF>", nothing else (unless lenient). */
    notEndOfData: ({ context, event }) => !context.data!.isEndOfData(asLine(event)),
    /** The ruling for this input (made once, see `rulingFor`) leads to `to`. */
    decidedFor: ({ context, event }, params: { from: DecidingState; to: RouteTarget }) => {
      const made = rulingFor(context, event, params.from);
      if (made === undefined) return false;
      const outcome = made.decision.outcome;
      return (isDelayed(outcome) ? 'holding' : outcome.next) === params.to;
    },
    nextIs: ({ context }, params: { phase: Phase }) => context.outcome.next === params.phase,
  },
  actions: {
    /**
     * Apply the ruling the guards made: write its replies, take its context changes, and send
     * its unread lines in again behind it, or hold them while its reply waits (RFC 2920 §3: the
     * replies keep the order of the commands).
     */
    applyRuling: enqueueActions(({ context, event, enqueue }, params: { from: DecidingState }) => {
      const { decision, wire, unread } = rulingFor(context, event, params.from)!;
      // Taken: the slot no longer needs to hold on to this session's context.
      lastRuling = undefined;
      for (const item of wire) enqueue.emit(item);
      if (isDelayed(decision.outcome)) {
        // The delayed reply itself is written by `deliver` when the delay is over, not now.
        enqueue.assign(unread.length === 0 ? () => decision : () => ({ ...decision, heldLines: [...context.heldLines, ...unread] }));
        return;
      }
      enqueue.assign(() => decision);
      // A closed session reads nothing more.
      if (unread.length > 0 && decision.outcome.next !== 'closed') enqueue.raise(linesEvent(unread));
    }),
    collectDataLine: ({ context, event }) => {
      const line = asLine(event);
      context.data!.pushLine(line.text, line.ending, lineOctets(line), line.tooLong === true);
    },
    /**
     * Message lines of a batch without its end (see `decideDataLines`) go straight into the
     * collector, the one mutable part of the context, without a transition each.
     */
    collectDataLines: ({ context, event }) => {
      const data = context.data!;
      for (const line of asLines(event)) data.pushLine(line.text, line.ending, lineOctets(line), line.tooLong === true);
    },
    holdLine: assign(({ context, event }) => ({ heldLines: [...context.heldLines, asLine(event)] })),
    holdLines: assign(({ context, event }) => ({ heldLines: [...context.heldLines, ...asLines(event)] })),
    /** Write the outcome `deliver` was entered with: a delayed reply once its delay is over, or a failed handshake's close. */
    emitOutcome: enqueueActions(({ context, enqueue }) => {
      const wire: ServerEmitted[] = [];
      toWire(context.backend, context.facts, context.outcome.emits, wire);
      for (const item of wire) enqueue.emit(item);
    }),
    /** Lines held during a delay go back in, in arrival order and as one batch, ahead of anything new. */
    releaseHeldLines: enqueueActions(({ context, enqueue }) => {
      if (context.heldLines.length === 0) return;
      enqueue.raise(linesEvent(context.heldLines));
      enqueue.assign({ heldLines: [] });
    }),
    /** RFC 3207 §4.2: after the handshake the session starts over; nothing from before counts. */
    startTlsSession: assign(({ context, event }) => {
      const info = event.type === 'tls.established' ? event.info : undefined;
      return {
        facts: freshFacts(context.facts.peer, true, info, context.facts.messagesAccepted),
        envelope: undefined,
        auth: undefined,
        refusedRecipients: 0,
        heldLines: [],
      };
    }),
    tlsFailed: assign({
      outcome: () => ({ emits: [{ type: 'close', reason: 'tls-failed' } as ServerEmitted], next: 'closed' as Phase, delayMs: 0 }),
    }),
    notifyDisconnect: ({ context }) => context.backend.onDisconnect?.(context.facts),
  },
  delays: {
    heldReplyDelay: ({ context }) => context.outcome.delayMs,
  },
}).createMachine({
  id: 'server',
  context: ({ input }) => {
    const tls = input.implicitTls !== undefined && input.implicitTls !== false;
    const tlsInfo = typeof input.implicitTls === 'object' ? input.implicitTls : undefined;
    return {
      backend: input.backend,
      maxBadCommands: input.maxBadCommands ?? 10,
      maxRecipients: input.maxRecipients ?? MIN_RECIPIENTS_BUFFER,
      queueIds: input.queueIds ?? createQueueIdSource(),
      facts: freshFacts(input.peer, tls, tlsInfo, 0),
      refusedRecipients: 0,
      badCommands: 0,
      outcome: { emits: [], next: 'waitingForHelo', delayMs: 0 },
      heldLines: [],
    };
  },
  initial: 'greeting',
  on: {
    disconnect: { target: '.closed' },
  },
  states: {
    /** RFC 5321 §3.1: the server speaks first, 220 (or 421/554 and close). */
    greeting: {
      always: routedTransitions('greeting'),
    },
    waitingForHelo: commandPhase('waitingForHelo'),
    ready: commandPhase('ready'),
    /** MAIL accepted, no recipient yet. */
    mail: commandPhase('mail'),
    /** At least one recipient accepted. */
    rcpt: commandPhase('rcpt'),
    /** After 354: every line is message content until <CRLF>.<CRLF>. */
    data: {
      on: {
        line: [{ guard: 'notEndOfData', actions: 'collectDataLine' }, ...routedTransitions('data')],
        lines: [...routedTransitions('data'), { actions: 'collectDataLines' }],
      },
    },
    /** After a 334: the next line is the client's SASL response. */
    auth: {
      on: { line: routedTransitions('auth'), lines: routedTransitions('auth') },
    },
    /**
     * After "220 Ready to start TLS": the transport runs the handshake. Plaintext lines that
     * arrive now were pipelined behind STARTTLS; they are dropped unread (RFC 3207 §4.2, and
     * the command-injection flaw of CVE-2011-0411).
     */
    tlsHandshake: {
      on: {
        line: {},
        lines: {},
        'tls.established': { target: 'waitingForHelo', actions: 'startTlsSession' },
        'tls.failed': { target: 'deliver', actions: 'tlsFailed' },
      },
    },
    /** A reply is pending (tarpit, slow banner): lines are held, in order, until it is out. */
    holding: {
      after: { heldReplyDelay: 'deliver' },
      on: { line: { actions: 'holdLine' }, lines: { actions: 'holdLines' } },
    },
    /** Transient: write the outcome, go where it says, then replay any held lines. */
    deliver: {
      entry: 'emitOutcome',
      always: ROUTES.map((phase) => ({
        guard: { type: 'nextIs' as const, params: { phase } },
        target: phase,
        actions: 'releaseHeldLines' as const,
      })),
    },
    closed: {
      type: 'final',
      entry: 'notifyDisconnect',
    },
  },
});

export type ServerMachine = typeof serverMachine;

/** The resting state names, for tests and the UI's state view. */
export const SERVER_STATES = ['waitingForHelo', 'ready', 'mail', 'rcpt', 'data', 'auth', 'tlsHandshake', 'holding', 'closed'] as const;

export type { Decision };
