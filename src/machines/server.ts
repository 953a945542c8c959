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
 *     (or several at once: session.send({ type: 'lines', lines: [...] }), handled line by line)
 *   after the handshake: session.send({ type: 'tls.established', info });  (or 'tls.failed')
 *   socket closed by the peer: session.send({ type: 'disconnect' });
 *
 * Emitted events are synchronous, in wire order: write each `reply` as it comes. Every framed
 * line goes in as one `line` event, whether it is a command, a DATA line or a SASL response;
 * the machine knows which. Lines sent while a delayed reply is pending (a tarpit, a slow
 * banner) are queued and handled in order once the reply is out (RFC 2920 §3: replies in the
 * order of the commands). Delays are XState `after` delays: pass the world's clock (or
 * XState's `SimulatedClock`) as `clock` and they run in virtual time.
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
 * as if each had come as its own `line` event, in order; in `data` it feeds the collector
 * directly, without a transition per line (a message can have a hundred thousand lines).
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
  /** Lines that arrived while a delayed reply was pending, oldest first. */
  heldLines: LineEvent[];
}

// ─── Helpers ──────────────────────────────────────────────────────────────────────────────

function emitReply(reply: Reply): ServerEmitted {
  return { type: 'reply', reply };
}

function freshFacts(peer: PeerAddress, tls: boolean, tlsInfo: TlsInfo | undefined, messagesAccepted: number): SessionFacts {
  return { peer, tls, ...(tlsInfo ? { tlsInfo } : {}), esmtp: false, messagesAccepted };
}

function extensionsOf(context: ServerContext): Extensions {
  const offered = context.backend.extensions(context.facts);
  // RFC 3207 §4.2: STARTTLS "MUST NOT" be advertised once TLS is up.
  return context.facts.tls ? { ...offered, starttls: false } : offered;
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

/** The one line an input carries: a `line`, or a batch of exactly one; undefined otherwise. */
function singleLine(event: ServerEvent): LineEvent | undefined {
  if (event.type === 'line') return event;
  if (event.type === 'lines' && event.lines.length === 1) return event.lines[0];
  return undefined;
}

/** What `event` leads to in state `from`, or undefined when it is not something `from` decides. */
function decide(context: ServerContext, event: ServerEvent, from: DecidingState): Decision | undefined {
  if (from === 'greeting') return decideGreeting(context);
  const line = singleLine(event);
  if (line === undefined) return undefined;
  if (from === 'auth') return decideAuthLine(context, line);
  if (from === 'data') return context.data!.isEndOfData(line) ? decideEndOfData(context) : undefined;
  return decideCommandLine(context, line, from);
}

/**
 * The decision for one input, made once. A command's target state depends on its outcome (250
 * stays in `ready`, 354 goes to `data`, 421 closes), and an XState transition's target is fixed,
 * so each state offers one guarded transition per target and the guards ask which one the
 * decision names. The decision calls the backend's hooks, which may keep state (a greylist
 * remembers who tried), so it must run exactly once per input: the last one made is kept here
 * with the context it was made from (every applied decision makes a new context) and the input
 * event, and the chosen transition's `applyDecision` takes it from here. Between the guard that
 * makes it and that action only XState and the other guards run, so no other session (not even
 * one a hook drives) can take the slot in between. A command thus costs one transition instead
 * of two (one into a pass-through "respond" state, one out of it).
 */
let lastDecision: { context: ServerContext; event: ServerEvent; decision: Decision | undefined } | undefined;

function decisionFor(context: ServerContext, event: ServerEvent, from: DecidingState): Decision | undefined {
  if (lastDecision !== undefined && lastDecision.context === context && lastDecision.event === event) return lastDecision.decision;
  const decision = decide(context, event, from);
  lastDecision = { context, event, decision };
  return decision;
}

/** The transitions out of a deciding state: to where its decision says, writing the outcome. */
function routedTransitions(from: DecidingState) {
  return ROUTE_TARGETS.map((to) => ({
    guard: { type: 'decidedFor' as const, params: { from, to } },
    target: `#server.${to}` as const,
    // A delayed reply is written by `deliver` when the delay is over, not now.
    actions:
      to === 'holding'
        ? [{ type: 'applyDecision' as const, params: { from } }]
        : [{ type: 'applyDecision' as const, params: { from } }, { type: 'emitOutcome' as const }],
  }));
}

/**
 * A command phase: a line (or a batch of one line) is one transition; a batch of several is
 * its lines one by one, in order, each deciding in the state the previous one left.
 */
function commandPhase(phase: CommandPhase) {
  return { on: { line: routedTransitions(phase), lines: [...routedTransitions(phase), { actions: 'replayLines' as const }] } };
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
    /** The decision for this input (made once, see `decisionFor`) leads to `to`. */
    decidedFor: ({ context, event }, params: { from: DecidingState; to: RouteTarget }) => {
      const decision = decisionFor(context, event, params.from);
      if (decision === undefined) return false;
      const outcome = decision.outcome;
      return (outcome.delayMs > 0 ? 'holding' : outcome.next) === params.to;
    },
    nextIs: ({ context }, params: { phase: Phase }) => context.outcome.next === params.phase,
  },
  actions: {
    applyDecision: assign(({ context, event }, params: { from: DecidingState }) => {
      const decision = decisionFor(context, event, params.from)!;
      // Taken: the slot no longer needs to hold on to this session's context.
      lastDecision = undefined;
      return decision;
    }),
    collectDataLine: ({ context, event }) => {
      const line = asLine(event);
      context.data!.pushLine(line.text, line.ending, lineOctets(line), line.tooLong === true);
    },
    /**
     * Message lines of a batch go straight into the collector (the one mutable part of the
     * context); the end-of-data line and whatever follows it go back in as `line` events, so the
     * end of data and any pipelined commands behind it take the same path as single lines.
     */
    collectDataLines: enqueueActions(({ context, event, enqueue }) => {
      const lines = asLines(event);
      const data = context.data!;
      let next = 0;
      for (; next < lines.length; next++) {
        const line = lines[next]!;
        if (data.isEndOfData(line)) break;
        data.pushLine(line.text, line.ending, lineOctets(line), line.tooLong === true);
      }
      for (; next < lines.length; next++) enqueue.raise(lines[next]!);
    }),
    /** Outside `data`, a batch is its lines one by one, in order. */
    replayLines: enqueueActions(({ event, enqueue }) => {
      for (const line of asLines(event)) enqueue.raise(line);
    }),
    holdLine: assign(({ context, event }) => ({ heldLines: [...context.heldLines, asLine(event)] })),
    /** Write what the outcome says, in order. */
    emitOutcome: enqueueActions(({ context, enqueue }) => {
      // Asked of the backend only when a reply has an enhanced code to keep or drop.
      let enhanced: boolean | undefined;
      for (const item of context.outcome.emits) {
        if (item.type === 'reply' && item.reply.enhanced !== undefined && !(enhanced ??= extensionsOf(context).enhancedStatusCodes === true)) {
          // RFC 2034: enhanced codes belong to servers that advertise ENHANCEDSTATUSCODES.
          const { enhanced: _dropped, ...plain } = item.reply;
          enqueue.emit({ type: 'reply', reply: plain });
        } else {
          enqueue.emit(item);
        }
      }
    }),
    /** Lines held during a delay go back in, in arrival order, ahead of anything new. */
    releaseHeldLines: enqueueActions(({ context, enqueue }) => {
      if (context.heldLines.length === 0) return;
      for (const line of context.heldLines) enqueue.raise(line);
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
    lines: { actions: 'replayLines' },
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
        lines: { actions: 'collectDataLines' },
      },
    },
    /** After a 334: the next line is the client's SASL response. */
    auth: {
      on: { line: routedTransitions('auth'), lines: [...routedTransitions('auth'), { actions: 'replayLines' as const }] },
    },
    /**
     * After "220 Ready to start TLS": the transport runs the handshake. Plaintext lines that
     * arrive now were pipelined behind STARTTLS; they are dropped unread (RFC 3207 §4.2, and
     * the command-injection flaw of CVE-2011-0411).
     */
    tlsHandshake: {
      on: {
        line: {},
        'tls.established': { target: 'waitingForHelo', actions: 'startTlsSession' },
        'tls.failed': { target: 'deliver', actions: 'tlsFailed' },
      },
    },
    /** A reply is pending (tarpit, slow banner): lines are held, in order, until it is out. */
    holding: {
      after: { heldReplyDelay: 'deliver' },
      on: { line: { actions: 'holdLine' } },
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
