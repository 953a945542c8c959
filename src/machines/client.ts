/**
 * The sending side of one SMTP connection (RFC 5321) as an XState v5 machine.
 *
 * It runs in two modes, chosen by `input.mode`:
 *
 * - **driving** (the autopilot, and the world's sending MTA): it writes the commands itself.
 *   It emits `{type:'send', text}` (wire text with CRLFs; a PIPELINING batch or the whole
 *   dot-stuffed message at once), `{type:'starttls'}` when the transport must run the TLS
 *   handshake, and `{type:'close', reason}` when it hangs up. The transport feeds back
 *   `{type:'reply', reply}`, `{type:'tls.established', report}` / `{type:'tls.failed'}` and
 *   `{type:'closed'}`. The final state's output (`ClientReport`) has the per-recipient results.
 *
 *     banner -> EHLO (HELO on 5xx) -> STARTTLS when offered -> EHLO -> AUTH PLAIN (when given
 *     credentials) -> MAIL -> RCPT per recipient -> DATA if one was accepted -> message ->
 *     next message on the same connection, or QUIT
 *
 * - **shadowing**: a learner types the client side. The machine is fed the learner's lines
 *   (`{type:'client.line', text}`) and the replies the server gave, works out where the
 *   session is from the wire alone, and `allowedNext()` / `explainReply()` say what may be sent
 *   next and why a reply came.
 *
 * Delays (reply timeouts of RFC 5321 §4.5.3.2) are XState `after` delays, so a virtual clock
 * passed to `createActor(clientMachine, { clock })` runs them in virtual time.
 */
import { assign, emit, enqueueActions, setup } from 'xstate';
import type { Reply } from '../protocol/reply';
import { Replies } from '../protocol/replies';
import { Timeouts } from '../protocol/limits';
import { dotStuff } from '../protocol/dotstuff';
import { encodePlain } from '../protocol/sasl';
import { parseCommand } from '../protocol/command';
import { explainCode, explainEnhanced } from '../protocol/codes';

// ─── Types ────────────────────────────────────────────────────────────────────────────────

/**
 * What the sender demands of TLS on this connection.
 * - `none`: never try STARTTLS.
 * - `opportunistic` (RFC 7435, the default of MTAs): use STARTTLS when offered, accept any
 *   certificate, and carry on in plaintext if STARTTLS is refused; the downgrade is recorded.
 * - `enforce` (MTA-STS mode enforce, RFC 8461 §5; DANE, RFC 7672 §2.2): without TLS and a
 *   certificate that verifies, do not deliver: QUIT and report a TLS failure.
 */
export type TlsPolicy = 'none' | 'opportunistic' | 'enforce';

/** What the transport learnt from the handshake (a subset of net's `TlsReport`). */
export interface TlsOutcome {
  protocol?: string;
  cipher?: string;
  /** The certificate chain verified and matched the host name. */
  authorized: boolean;
  authorizationError?: string;
}

export interface OutgoingMessage {
  /** Reverse-path without brackets; "" for the null path of a DSN. */
  from: string;
  recipients: string[];
  /** The RFC 5322 message (headers and body), any line endings; it is dot-stuffed on the way out. */
  content: string;
}

export type RecipientStatus = 'pending' | 'accepted' | 'delivered' | 'deferred' | 'failed';

export interface RecipientResult {
  address: string;
  status: RecipientStatus;
  /** The reply that decided the status (RCPT's, or the end of DATA's for accepted recipients). */
  reply?: Reply;
  /** Where the deciding reply came: 'rcpt', 'data', 'mail', 'session'. */
  stage?: 'session' | 'mail' | 'rcpt' | 'data';
}

export interface MessageResult {
  from: string;
  recipients: RecipientResult[];
  mailReply?: Reply;
  dataReply?: Reply;
}

export type TlsState = 'none' | 'established' | 'refused' | 'handshake-failed';

export interface ClientReport {
  messages: MessageResult[];
  /** The banner, or the reply that ended the session early (421, a 554 banner). */
  banner?: Reply;
  esmtp: boolean;
  /** EHLO keywords in upper case, e.g. ["PIPELINING", "SIZE 10485760", "STARTTLS"]. */
  extensions: string[];
  tls: TlsState;
  tlsReport?: TlsOutcome;
  /** Opportunistic TLS failed and the session went on (or should be retried) in plaintext. */
  downgraded: boolean;
  /** Set when TLS was required (policy `enforce`) and could not be had: why. */
  tlsFailure?: string;
  authenticated: boolean;
  pipelined: boolean;
  /** Why the session ended, when it did not end with QUIT: 'timeout', 'closed', 'tls-handshake'. */
  endedBy: 'quit' | 'timeout' | 'closed' | 'tls-handshake' | 'server';
}

export interface ClientTimeouts {
  greetingMs: number;
  commandMs: number;
  dataInitiationMs: number;
  dataTerminationMs: number;
}

export interface ClientInput {
  mode?: 'driving' | 'shadowing';
  /** The name given with EHLO/HELO (RFC 5321 §4.1.1.1: the client's own FQDN). */
  clientName?: string;
  tls?: TlsPolicy;
  /** For submission (RFC 6409): AUTH PLAIN with these when the server offers AUTH. */
  credentials?: { username: string; password: string };
  messages?: OutgoingMessage[];
  /** Use PIPELINING when offered (default true). */
  pipelining?: boolean;
  timeouts?: Partial<ClientTimeouts>;
}

export type ClientEvent =
  | { type: 'reply'; reply: Reply }
  | { type: 'tls.established'; report?: TlsOutcome }
  | { type: 'tls.failed'; reason: string }
  | { type: 'closed'; reason?: string }
  /** Shadowing: one line the learner sent, without its line ending. */
  | { type: 'client.line'; text: string };

export type ClientEmitted = { type: 'send'; text: string } | { type: 'starttls' } | { type: 'close'; reason: string };

/** Shadowing: where the learner's session is. */
export type ShadowPhase = 'banner' | 'greet' | 'ready' | 'mail' | 'rcpt' | 'data' | 'auth' | 'tls' | 'closed';

/** A command (or data end / SASL line) the learner sent whose reply has not come yet. */
export interface PendingCommand {
  verb: string;
  /** The argument as typed (address, domain...). */
  argument?: string;
}

export interface ShadowState {
  phase: ShadowPhase;
  pending: PendingCommand[];
  tls: boolean;
  esmtp: boolean;
  extensions: string[];
  authenticated: boolean;
  /** In the current transaction. */
  acceptedRecipients: number;
  refusedRecipients: number;
  dataLines: number;
  /** The explanation of the last reply. */
  lastExplanation?: string;
}

/** What the session was asked to do: fixed from the input for the session's whole life. */
export interface ClientSettings {
  mode: 'driving' | 'shadowing';
  clientName: string;
  policy: TlsPolicy;
  credentials?: { username: string; password: string };
  usePipelining: boolean;
  timeouts: ClientTimeouts;
  messages: OutgoingMessage[];
}

export interface ClientContext {
  /**
   * The fixed part, kept in one field so the context has few top-level fields: XState copies
   * the context into a fresh object on every `assign`, and V8 turns an object built up past
   * about nineteen properties into a slow dictionary, which makes every later copy and read
   * of it many times dearer.
   */
  settings: ClientSettings;
  results: MessageResult[];
  /** Index of the message in progress. */
  current: number;
  /** Index of the recipient whose RCPT reply comes next. */
  rcptIndex: number;
  /** The current transaction was sent as one PIPELINING batch (MAIL, RCPTs, DATA). */
  batched: boolean;
  /** Replies still to be read and ignored (a pipelined batch after a refused MAIL). */
  drain: number;
  banner?: Reply;
  esmtp: boolean;
  extensions: string[];
  tls: TlsState;
  tlsReport?: TlsOutcome;
  downgraded: boolean;
  tlsFailure?: string;
  authenticated: boolean;
  pipelined: boolean;
  endedBy: ClientReport['endedBy'];
  shadow: ShadowState;
}

// ─── Pure helpers ─────────────────────────────────────────────────────────────────────────

const CRLF = '\r\n';

function positive(reply: Reply): boolean {
  return reply.code >= 200 && reply.code < 300;
}

function offers(context: Pick<ClientContext, 'extensions'>, keyword: string): boolean {
  return context.extensions.some((line) => line === keyword || line.startsWith(`${keyword} `));
}

function authMechanisms(context: Pick<ClientContext, 'extensions'>): string[] {
  const line = context.extensions.find((l) => l.startsWith('AUTH '));
  return line ? line.slice(5).split(/\s+/) : [];
}

/** EHLO reply lines after the first are keywords (RFC 5321 §4.1.1.1); case-insensitive. */
export function extensionsFromEhlo(reply: Reply): string[] {
  return reply.lines.slice(1).map((line) => {
    const [keyword = '', ...rest] = line.trim().split(/\s+/);
    return [keyword.toUpperCase(), ...rest].join(' ');
  });
}

function currentMessage(context: ClientContext): OutgoingMessage | undefined {
  return context.settings.messages[context.current];
}

function mailCommand(message: OutgoingMessage): string {
  return `MAIL FROM:<${message.from}>`;
}

function rcptCommand(address: string): string {
  return `RCPT TO:<${address}>`;
}

function acceptedCount(result: MessageResult | undefined): number {
  return result?.recipients.filter((r) => r.status === 'accepted').length ?? 0;
}

/** 2xx accepts, 5xx refuses for good; anything else (4xx, or a reply that makes no sense here) is temporary. */
function statusOf(reply: Reply): RecipientStatus {
  return positive(reply) ? 'accepted' : reply.code >= 500 ? 'failed' : 'deferred';
}

/** Mark every still-undecided recipient (of this and later messages) with `reply`. */
function settlePending(results: MessageResult[], reply: Reply, stage: RecipientResult['stage'], from = 0): MessageResult[] {
  const status: RecipientStatus = reply.code >= 500 ? 'failed' : 'deferred';
  return results.map((message, index) =>
    index < from
      ? message
      : {
          ...message,
          recipients: message.recipients.map((r) =>
            r.status === 'pending' || r.status === 'accepted' ? { ...r, status, reply, stage } : r,
          ),
        },
  );
}

function updateMessage(results: MessageResult[], index: number, change: (m: MessageResult) => MessageResult): MessageResult[] {
  return results.map((m, i) => (i === index ? change(m) : m));
}

/** Where a shadowed session starts: before the banner, nothing known. */
export function freshShadow(): ShadowState {
  return {
    phase: 'banner',
    pending: [],
    tls: false,
    esmtp: false,
    extensions: [],
    authenticated: false,
    acceptedRecipients: 0,
    refusedRecipients: 0,
    dataLines: 0,
  };
}

// ─── The machine ──────────────────────────────────────────────────────────────────────────

/** The reply-waiting states of the driving side (used for timeouts and the state view). */
export const DRIVING_STATES = [
  'greeting',
  'ehlo',
  'helo',
  'starttls',
  'tlsHandshake',
  'auth',
  'mailFrom',
  'rcptTo',
  'data',
  'message',
  'reset',
  'draining',
  'quit',
  'done',
] as const;

type Ctx = { context: ClientContext };
type CtxEvent = { context: ClientContext; event: ClientEvent };

function replyOf(event: ClientEvent): Reply {
  if (event.type !== 'reply') throw new Error(`expected a reply event, got ${event.type}`);
  return event.reply;
}

export const clientMachine = setup({
  types: {
    context: {} as ClientContext,
    events: {} as ClientEvent,
    input: {} as ClientInput,
    emitted: {} as ClientEmitted,
    output: {} as ClientReport,
  },
  guards: {
    shadowing: ({ context }: Ctx) => context.settings.mode === 'shadowing',
    positive: ({ event }: CtxEvent) => positive(replyOf(event)),
    permanent: ({ event }: CtxEvent) => replyOf(event).code >= 500,
    is354: ({ event }: CtxEvent) => replyOf(event).code === 354,
    /** RFC 5321 §3.8: 421 means the server is closing the channel, whatever it answers. */
    closing: ({ event }: CtxEvent) => event.type === 'reply' && event.reply.code === 421,
    enforceTls: ({ context }: Ctx) => context.settings.policy === 'enforce',
    wantStartTls: ({ context }: Ctx) => context.settings.policy !== 'none' && context.tls === 'none' && offers(context, 'STARTTLS'),
    /** Policy `enforce` and no TLS now: refuse to go on. */
    tlsMissing: ({ context }: Ctx) => context.settings.policy === 'enforce' && context.tls !== 'established',
    /** RFC 7672 §2.2 / RFC 8461 §4.2: a certificate that does not verify is no TLS at all to a strict sender. */
    untrustedUnderEnforce: ({ context, event }: CtxEvent) =>
      context.settings.policy === 'enforce' && event.type === 'tls.established' && event.report?.authorized === false,
    wantAuth: ({ context }: Ctx) => context.settings.credentials !== undefined && !context.authenticated && authMechanisms(context).includes('PLAIN'),
    moreRecipients: ({ context }: Ctx) => context.rcptIndex < (currentMessage(context)?.recipients.length ?? 0),
    anyAccepted: ({ context }: Ctx) => acceptedCount(context.results[context.current]) > 0,
    batched: ({ context }: Ctx) => context.batched,
    drained: ({ context }: Ctx) => context.drain === 0,
    moreMessages: ({ context }: Ctx) => context.current < context.settings.messages.length,
    /** Another message waits for this connection after the current one. */
    laterMessages: ({ context }: Ctx) => context.current + 1 < context.settings.messages.length,
  },
  actions: {
    sendEhlo: emit(({ context }: Ctx) => ({ type: 'send' as const, text: `EHLO ${context.settings.clientName}${CRLF}` })),
    sendHelo: emit(({ context }: Ctx) => ({ type: 'send' as const, text: `HELO ${context.settings.clientName}${CRLF}` })),
    sendStartTls: emit({ type: 'send' as const, text: `STARTTLS${CRLF}` }),
    requestHandshake: emit({ type: 'starttls' as const }),
    sendAuth: emit(({ context }: Ctx) => ({
      type: 'send' as const,
      text: `AUTH PLAIN ${encodePlain(context.settings.credentials!.username, context.settings.credentials!.password)}${CRLF}`,
    })),
    sendQuit: emit({ type: 'send' as const, text: `QUIT${CRLF}` }),
    sendRset: emit({ type: 'send' as const, text: `RSET${CRLF}` }),
    hangUp: emit((_: Ctx, params: { reason: string }) => ({ type: 'close' as const, reason: params.reason })),
    recordBanner: assign({ banner: ({ event }: CtxEvent) => replyOf(event) }),
    recordEhlo: assign(({ event }: CtxEvent) => ({ esmtp: true, extensions: extensionsFromEhlo(replyOf(event)) })),
    recordHelo: assign({ esmtp: false, extensions: [] as string[] }),
    recordTls: assign(({ event }: CtxEvent) => ({
      tls: 'established' as TlsState,
      ...(event.type === 'tls.established' && event.report ? { tlsReport: event.report } : {}),
      // RFC 3207 §4.2: everything learnt before TLS is forgotten; EHLO again.
      extensions: [] as string[],
    })),
    recordStartTlsRefused: assign(({ context, event }: CtxEvent) => ({
      tls: 'refused' as TlsState,
      downgraded: context.settings.policy === 'opportunistic',
      ...(context.settings.policy === 'enforce' ? { tlsFailure: `STARTTLS refused: ${formatShort(replyOf(event))}` } : {}),
    })),
    recordNoStartTls: assign({ tlsFailure: () => 'the server does not offer STARTTLS, and the policy requires TLS' }),
    recordUntrusted: assign(({ event }: CtxEvent) => ({
      tls: 'established' as TlsState,
      ...(event.type === 'tls.established' && event.report ? { tlsReport: event.report } : {}),
      tlsFailure: `the certificate did not verify${event.type === 'tls.established' && event.report?.authorizationError ? ` (${event.report.authorizationError})` : ''}`,
    })),
    recordHandshakeFailed: assign(({ context, event }: CtxEvent) => ({
      tls: 'handshake-failed' as TlsState,
      endedBy: 'tls-handshake' as const,
      downgraded: context.settings.policy === 'opportunistic',
      ...(context.settings.policy === 'enforce' ? { tlsFailure: `TLS handshake failed: ${event.type === 'tls.failed' ? event.reason : ''}` } : {}),
    })),
    /** The policy refused to send: every recipient waits for another attempt (4.7.5 like Postfix). */
    deferForTls: assign(({ context }: Ctx) => ({
      results: settlePending(context.results, { ...Replies.tlsNotAvailable(), lines: [`TLS required: ${context.tlsFailure ?? 'not available'}`] }, 'session'),
    })),
    recordAuth: assign({ authenticated: true }),
    failForAuth: assign(({ context, event }: CtxEvent) => ({ results: settlePending(context.results, replyOf(event), 'session') })),
    failSession: assign(({ context, event }: CtxEvent) => ({ results: settlePending(context.results, replyOf(event), 'session') })),
    serverClosed: assign(({ context, event }: CtxEvent) => ({
      results: settlePending(context.results, event.type === 'reply' ? event.reply : Replies.connectionDropped(), 'session'),
      endedBy: (event.type === 'reply' ? 'server' : 'closed') as ClientReport['endedBy'],
    })),
    timedOut: assign(({ context }: Ctx) => ({ results: settlePending(context.results, Replies.timeout('Client'), 'session'), endedBy: 'timeout' as const })),
    /** MAIL FROM, or with PIPELINING the whole envelope and DATA in one write (RFC 2920 §3.1). */
    startTransaction: enqueueActions(({ context, enqueue }) => {
      const message = currentMessage(context)!;
      const batched = context.settings.usePipelining && offers(context, 'PIPELINING');
      if (batched) {
        const lines = [mailCommand(message), ...message.recipients.map(rcptCommand), 'DATA'];
        enqueue.emit({ type: 'send', text: lines.map((l) => `${l}${CRLF}`).join('') });
      } else {
        enqueue.emit({ type: 'send', text: `${mailCommand(message)}${CRLF}` });
      }
      enqueue.assign({ batched, rcptIndex: 0, pipelined: context.pipelined || batched });
    }),
    recordMail: assign(({ context, event }: CtxEvent) => ({
      results: updateMessage(context.results, context.current, (m) => ({ ...m, mailReply: replyOf(event) })),
    })),
    /** MAIL refused: every recipient of this message shares its fate; a batch leaves replies to read. */
    failMail: assign(({ context, event }: CtxEvent) => ({
      results: updateMessage(context.results, context.current, (m) => ({
        ...m,
        mailReply: replyOf(event),
        recipients: m.recipients.map((r) => ({ ...r, status: statusOf(replyOf(event)), reply: replyOf(event), stage: 'mail' as const })),
      })),
      drain: context.batched ? (currentMessage(context)?.recipients.length ?? 0) + 1 : 0,
    })),
    sendNextRcptUnlessBatched: enqueueActions(({ context, enqueue }) => {
      if (context.batched) return;
      enqueue.emit({ type: 'send', text: `${rcptCommand(currentMessage(context)!.recipients[context.rcptIndex]!)}${CRLF}` });
    }),
    sendDataUnlessBatched: enqueueActions(({ context, enqueue }) => {
      if (!context.batched) enqueue.emit({ type: 'send', text: `DATA${CRLF}` });
    }),
    /** The message, dot-stuffed; after a pipelined 354 with no accepted recipient only "." (RFC 2920 §3.1). */
    sendMessageContent: enqueueActions(({ context, enqueue }) => {
      const text = acceptedCount(context.results[context.current]) > 0 ? dotStuff(currentMessage(context)!.content) : `.${CRLF}`;
      enqueue.emit({ type: 'send', text });
    }),
    recordRcpt: assign(({ context, event }: CtxEvent) => ({
      results: updateMessage(context.results, context.current, (m) => ({
        ...m,
        recipients: m.recipients.map((r, i) => (i === context.rcptIndex ? { ...r, status: statusOf(replyOf(event)), reply: replyOf(event), stage: 'rcpt' as const } : r)),
      })),
      rcptIndex: context.rcptIndex + 1,
    })),
    /** The reply after the message: it decides for every recipient accepted at RCPT. */
    recordDataReply: assign(({ context, event }: CtxEvent) => {
      const reply = replyOf(event);
      const status: RecipientStatus = positive(reply) ? 'delivered' : statusOf(reply);
      return {
        results: updateMessage(context.results, context.current, (m) => ({
          ...m,
          dataReply: reply,
          recipients: m.recipients.map((r) => (r.status === 'accepted' ? { ...r, status, reply, stage: 'data' as const } : r)),
        })),
      };
    }),
    drainOne: assign({ drain: ({ context }: Ctx) => Math.max(0, context.drain - 1) }),
    nextMessage: assign({ current: ({ context }: Ctx) => context.current + 1, batched: false, drain: 0 }),
    endByQuit: assign({ endedBy: 'quit' as const }),

    // ── shadowing ─────────────────────────────────────────────────────────────────────────
    shadowLine: assign({ shadow: ({ context, event }: CtxEvent) => (event.type === 'client.line' ? shadowAfterLine(context.shadow, event.text) : context.shadow) }),
    shadowReply: assign({ shadow: ({ context, event }: CtxEvent) => (event.type === 'reply' ? shadowAfterReply(context.shadow, event.reply) : context.shadow) }),
    shadowTls: assign({
      shadow: ({ context, event }: CtxEvent) => ({
        ...context.shadow,
        phase: event.type === 'tls.established' ? ('greet' as const) : ('closed' as const),
        tls: event.type === 'tls.established',
        esmtp: false,
        extensions: [],
        authenticated: false,
        lastExplanation:
          event.type === 'tls.established'
            ? 'TLS is up. RFC 3207 §4.2: the server forgot everything from before, so greet it again with EHLO.'
            : 'The TLS handshake failed; the connection cannot be used any more.',
      }),
    }),
    shadowClosed: assign({ shadow: ({ context }: Ctx) => ({ ...context.shadow, phase: 'closed' as const, pending: [] }) }),
  },
  delays: {
    greetingTimeout: ({ context }: Ctx) => context.settings.timeouts.greetingMs,
    commandTimeout: ({ context }: Ctx) => context.settings.timeouts.commandMs,
    dataInitiationTimeout: ({ context }: Ctx) => context.settings.timeouts.dataInitiationMs,
    dataTerminationTimeout: ({ context }: Ctx) => context.settings.timeouts.dataTerminationMs,
  },
}).createMachine({
  id: 'client',
  context: ({ input }) => {
    const messages = input.messages ?? [];
    return {
      settings: {
        mode: input.mode ?? 'driving',
        clientName: input.clientName ?? 'client.example',
        policy: input.tls ?? 'opportunistic',
        ...(input.credentials ? { credentials: input.credentials } : {}),
        usePipelining: input.pipelining ?? true,
        timeouts: {
          greetingMs: input.timeouts?.greetingMs ?? Timeouts.initialGreetingMs,
          commandMs: input.timeouts?.commandMs ?? Timeouts.mailMs,
          dataInitiationMs: input.timeouts?.dataInitiationMs ?? Timeouts.dataInitiationMs,
          dataTerminationMs: input.timeouts?.dataTerminationMs ?? Timeouts.dataTerminationMs,
        },
        messages,
      },
      results: messages.map((m) => ({ from: m.from, recipients: m.recipients.map((address) => ({ address, status: 'pending' as const })) })),
      current: 0,
      rcptIndex: 0,
      batched: false,
      drain: 0,
      esmtp: false,
      extensions: [],
      tls: 'none',
      downgraded: false,
      authenticated: false,
      pipelined: false,
      endedBy: 'quit',
      shadow: freshShadow(),
    };
  },
  initial: 'start',
  states: {
    start: {
      always: [{ guard: 'shadowing', target: 'shadow' }, { target: 'greeting' }],
    },
    /** RFC 5321 §3.1: wait for the server's 220 (5 minutes, §4.5.3.2.1). */
    greeting: {
      on: {
        reply: [
          { guard: 'positive', target: 'ehlo', actions: 'recordBanner' },
          // A 421 banner: the server closes at once. A 554 banner: say QUIT (RFC 5321 §3.1).
          { guard: 'closing', target: 'done', actions: ['recordBanner', 'serverClosed'] },
          { target: 'quit', actions: ['recordBanner', 'failSession'] },
        ],
        closed: { target: 'done', actions: 'serverClosed' },
      },
      after: { greetingTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no banner in time' } }] } },
    },
    /** EHLO; a 5xx means an RFC 821 server: fall back to HELO (RFC 5321 §3.2). */
    ehlo: {
      entry: 'sendEhlo',
      on: {
        reply: [
          { guard: 'positive', target: 'greeted', actions: 'recordEhlo' },
          { guard: 'closing', target: 'done', actions: 'serverClosed' },
          { guard: 'permanent', target: 'helo' },
          { target: 'quit', actions: 'failSession' },
        ],
        closed: { target: 'done', actions: 'serverClosed' },
      },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to EHLO in time' } }] } },
    },
    helo: {
      entry: 'sendHelo',
      on: {
        reply: [
          { guard: 'positive', target: 'greeted', actions: 'recordHelo' },
          { guard: 'closing', target: 'done', actions: 'serverClosed' },
          { target: 'quit', actions: 'failSession' },
        ],
        closed: { target: 'done', actions: 'serverClosed' },
      },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to HELO in time' } }] } },
    },
    /** Transient: after a greeting, decide STARTTLS, TLS refusal, AUTH or the transaction. */
    greeted: {
      always: [
        { guard: 'wantStartTls', target: 'starttls' },
        { guard: 'tlsMissing', target: 'quit', actions: ['recordNoStartTls', 'deferForTls'] },
        { guard: 'wantAuth', target: 'auth' },
        { target: 'transaction' },
      ],
    },
    starttls: {
      entry: 'sendStartTls',
      on: {
        reply: [
          { guard: 'positive', target: 'tlsHandshake' },
          { guard: 'closing', target: 'done', actions: 'serverClosed' },
          // RFC 3207 §4: after a refusal the session goes on in plaintext, unless policy forbids it.
          { guard: 'enforceTls', target: 'quit', actions: ['recordStartTlsRefused', 'deferForTls'] },
          { target: 'afterTls', actions: 'recordStartTlsRefused' },
        ],
        closed: { target: 'done', actions: 'serverClosed' },
      },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to STARTTLS in time' } }] } },
    },
    /** The transport runs the handshake; nothing is written meanwhile. */
    tlsHandshake: {
      entry: 'requestHandshake',
      on: {
        'tls.established': [
          { guard: 'untrustedUnderEnforce', target: 'quit', actions: ['recordUntrusted', 'deferForTls'] },
          { target: 'ehlo', actions: 'recordTls' },
        ],
        // A failed handshake leaves a dead connection (the socket is torn down).
        'tls.failed': { target: 'done', actions: ['recordHandshakeFailed', 'deferForTls', { type: 'hangUp', params: { reason: 'TLS handshake failed' } }] },
        closed: { target: 'done', actions: 'serverClosed' },
      },
    },
    /** Transient: STARTTLS was refused under opportunistic policy: go on in plaintext. */
    afterTls: {
      always: [{ guard: 'wantAuth', target: 'auth' }, { target: 'transaction' }],
    },
    auth: {
      entry: 'sendAuth',
      on: {
        reply: [
          { guard: 'positive', target: 'transaction', actions: 'recordAuth' },
          { guard: 'closing', target: 'done', actions: 'serverClosed' },
          { target: 'quit', actions: 'failForAuth' },
        ],
        closed: { target: 'done', actions: 'serverClosed' },
      },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to AUTH in time' } }] } },
    },
    /** Transient: another message on this connection, or QUIT. */
    transaction: {
      always: [{ guard: 'moreMessages', target: 'mailFrom' }, { target: 'quit' }],
    },
    mailFrom: {
      entry: 'startTransaction',
      on: {
        reply: [
          { guard: 'positive', target: 'rcptTo', actions: 'recordMail' },
          { guard: 'closing', target: 'done', actions: 'serverClosed' },
          { target: 'draining', actions: 'failMail' },
        ],
        closed: { target: 'done', actions: 'serverClosed' },
      },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to MAIL in time' } }] } },
    },
    /** One RCPT reply per recipient, in order (RFC 5321 §3.3; RFC 2920 §3.1 when batched). */
    rcptTo: {
      entry: 'sendNextRcptUnlessBatched',
      on: {
        reply: [
          { guard: 'closing', target: 'done', actions: ['recordRcpt', 'serverClosed'] },
          { target: 'afterRcpt', actions: 'recordRcpt' },
        ],
        closed: { target: 'done', actions: 'serverClosed' },
      },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to RCPT in time' } }] } },
    },
    afterRcpt: {
      always: [
        { guard: 'moreRecipients', target: 'rcptTo' },
        { guard: 'batched', target: 'data' },
        { guard: 'anyAccepted', target: 'data' },
        // RFC 5321 §3.3: no recipient accepted, so no DATA: end the transaction with RSET.
        { target: 'reset' },
      ],
    },
    data: {
      entry: 'sendDataUnlessBatched',
      on: {
        reply: [
          { guard: 'closing', target: 'done', actions: 'serverClosed' },
          { guard: 'is354', target: 'message' },
          // DATA refused: the accepted recipients share the refusal (or, batched with none accepted,
          // it was expected). The server may still hold the sender: before another transaction on
          // this connection, RSET clears it (RFC 5321 §4.1.1.5), or the next MAIL is "nested".
          { guard: 'laterMessages', target: 'reset', actions: 'recordDataReply' },
          { target: 'nextMessage', actions: 'recordDataReply' },
        ],
        closed: { target: 'done', actions: 'serverClosed' },
      },
      after: { dataInitiationTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no 354 in time' } }] } },
    },
    /** The dot-stuffed message went out (RFC 5321 §4.5.2); the reply to "." decides. */
    message: {
      entry: 'sendMessageContent',
      on: {
        reply: [
          { guard: 'closing', target: 'done', actions: ['recordDataReply', 'serverClosed'] },
          { target: 'nextMessage', actions: 'recordDataReply' },
        ],
        // RFC 5321 §3.8: a connection lost after the data is treated as a temporary failure.
        closed: { target: 'done', actions: 'serverClosed' },
      },
      after: { dataTerminationTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to the end of data in time' } }] } },
    },
    reset: {
      entry: 'sendRset',
      on: {
        reply: [{ guard: 'closing', target: 'done', actions: 'serverClosed' }, { target: 'nextMessage' }],
        closed: { target: 'done', actions: 'serverClosed' },
      },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to RSET in time' } }] } },
    },
    /** Replies to a pipelined batch whose MAIL was refused: read and ignore them. */
    draining: {
      always: { guard: 'drained', target: 'nextMessage' },
      on: {
        reply: [
          { guard: 'closing', target: 'done', actions: 'serverClosed' },
          { actions: 'drainOne', target: 'draining', reenter: true },
        ],
        closed: { target: 'done', actions: 'serverClosed' },
      },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply in time' } }] } },
    },
    nextMessage: {
      entry: 'nextMessage',
      always: 'transaction',
    },
    quit: {
      entry: 'sendQuit',
      on: {
        reply: { target: 'done', actions: ['endByQuit', { type: 'hangUp', params: { reason: 'quit' } }] },
        closed: { target: 'done' },
      },
      after: { commandTimeout: { target: 'done', actions: { type: 'hangUp', params: { reason: 'no reply to QUIT in time' } } } },
    },
    done: { type: 'final' },

    /** Shadowing a learner: one state; the phase lives in `context.shadow`. */
    shadow: {
      on: {
        'client.line': { actions: 'shadowLine' },
        reply: { actions: 'shadowReply' },
        'tls.established': { actions: 'shadowTls' },
        'tls.failed': { actions: 'shadowTls' },
        closed: { target: 'shadowClosed', actions: 'shadowClosed' },
      },
    },
    shadowClosed: { type: 'final' },
  },
  output: ({ context }) => reportOf(context),
});

export type ClientMachine = typeof clientMachine;

function formatShort(reply: Reply): string {
  return `${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ''} ${reply.lines.join(' ')}`.trim();
}

/** The report of a (finished or running) driving session. */
export function reportOf(context: ClientContext): ClientReport {
  return {
    messages: context.results,
    ...(context.banner ? { banner: context.banner } : {}),
    esmtp: context.esmtp,
    extensions: context.extensions,
    tls: context.tls,
    ...(context.tlsReport ? { tlsReport: context.tlsReport } : {}),
    downgraded: context.downgraded,
    ...(context.tlsFailure ? { tlsFailure: context.tlsFailure } : {}),
    authenticated: context.authenticated,
    pipelined: context.pipelined,
    endedBy: context.endedBy,
  };
}

// ─── Shadowing ────────────────────────────────────────────────────────────────────────────

/** The learner sent a line: note it as waiting for its reply (or count it as message text). */
export function shadowAfterLine(shadow: ShadowState, text: string): ShadowState {
  if (shadow.phase === 'data') {
    // RFC 5321 §4.1.1.4: the data ends with a line holding only ".".
    if (text === '.') return { ...shadow, phase: 'ready', pending: [...shadow.pending, { verb: '.' }] };
    return { ...shadow, dataLines: shadow.dataLines + 1 };
  }
  if (shadow.phase === 'auth') {
    return { ...shadow, pending: [...shadow.pending, { verb: 'AUTH-RESPONSE' }] };
  }
  const parsed = parseCommand(text);
  if (!parsed.ok) {
    const verb = text.trim().split(/\s+/, 1)[0]?.toUpperCase() || '(empty line)';
    return { ...shadow, pending: [...shadow.pending, { verb, argument: text.trim().slice(verb.length).trim() }] };
  }
  const command = parsed.command;
  const argument =
    command.verb === 'EHLO' || command.verb === 'HELO'
      ? command.domain
      : command.verb === 'MAIL'
        ? text.slice(text.indexOf(':') + 1).trim()
        : command.verb === 'RCPT'
          ? text.slice(text.indexOf(':') + 1).trim()
          : undefined;
  const pending: PendingCommand = argument === undefined ? { verb: command.verb } : { verb: command.verb, argument };
  return { ...shadow, pending: [...shadow.pending, pending] };
}

/** A reply came: it answers the oldest pending command (RFC 2920 §3: replies keep command order). */
export function shadowAfterReply(shadow: ShadowState, reply: Reply): ShadowState {
  const [answered, ...rest] = shadow.pending;
  const explanation = explainFor(shadow, answered, reply);
  const base = { ...shadow, pending: rest, lastExplanation: explanation };
  if (reply.code === 421) return { ...base, phase: 'closed', pending: [] };
  const ok = positive(reply);
  if (!answered) {
    if (shadow.phase === 'banner') return { ...base, phase: ok ? 'greet' : 'closed' };
    return base;
  }
  switch (answered.verb) {
    case 'EHLO':
      return ok ? { ...base, phase: 'ready', esmtp: true, extensions: extensionsFromEhlo(reply), acceptedRecipients: 0, refusedRecipients: 0 } : base;
    case 'HELO':
      return ok ? { ...base, phase: 'ready', esmtp: false, extensions: [], acceptedRecipients: 0, refusedRecipients: 0 } : base;
    case 'STARTTLS':
      return reply.code === 220 ? { ...base, phase: 'tls' } : base;
    case 'AUTH':
    case 'AUTH-RESPONSE':
      if (reply.code === 334) return { ...base, phase: 'auth' };
      return { ...base, phase: shadow.phase === 'auth' ? 'ready' : shadow.phase, authenticated: shadow.authenticated || reply.code === 235 };
    case 'MAIL':
      return ok ? { ...base, phase: 'mail', acceptedRecipients: 0, refusedRecipients: 0 } : base;
    case 'RCPT':
      if (ok) return { ...base, phase: 'rcpt', acceptedRecipients: shadow.acceptedRecipients + 1 };
      return { ...base, refusedRecipients: shadow.refusedRecipients + 1 };
    case 'DATA':
      return reply.code === 354 ? { ...base, phase: 'data', dataLines: 0 } : base;
    case '.':
      // RFC 5321 §4.1.1.4: accepted or not, the transaction is over.
      return { ...base, phase: 'ready', acceptedRecipients: 0, refusedRecipients: 0, dataLines: 0 };
    case 'RSET':
      return { ...base, phase: shadow.phase === 'greet' || shadow.phase === 'banner' ? shadow.phase : 'ready', acceptedRecipients: 0, refusedRecipients: 0 };
    case 'QUIT':
      return { ...base, phase: 'closed' };
    default:
      return base;
  }
}

export interface NextStep {
  /** The command (or "message text", "." ...) the learner may send now. */
  verb: string;
  why: string;
}

/** A snapshot of the client machine (or anything holding its context). */
export interface ClientSnapshotLike {
  context: ClientContext;
}

/** What the learner may send now, and why, from where the shadowed session is. */
export function allowedNext(snapshot: ClientSnapshotLike): NextStep[] {
  const s = snapshot.context.shadow;
  const has = (keyword: string) => s.extensions.some((e) => e === keyword || e.startsWith(`${keyword} `));
  const quit: NextStep = { verb: 'QUIT', why: 'end the session politely; the server answers 221 and closes' };
  const rset: NextStep = { verb: 'RSET', why: 'abandon this transaction (sender and recipients) but keep the connection' };
  if (s.pending.length > 0 && s.phase !== 'data') {
    // Without PIPELINING a client waits for each reply (RFC 5321 §4.3); with it, it may go on.
    if (!has('PIPELINING')) return [{ verb: '(wait)', why: `wait for the reply to ${s.pending[0]!.verb} before sending anything else` }];
  }
  switch (s.phase) {
    case 'banner':
      return [{ verb: '(wait)', why: 'the server speaks first: wait for its 220 greeting (RFC 5321 §3.1)' }];
    case 'greet':
      return [
        { verb: 'EHLO', why: 'introduce yourself and ask which extensions the server offers (RFC 5321 §4.1.1.1)' },
        { verb: 'HELO', why: 'the old greeting, for servers that do not speak ESMTP; no extensions' },
        quit,
      ];
    case 'ready': {
      const steps: NextStep[] = [];
      if (has('STARTTLS') && !s.tls) steps.push({ verb: 'STARTTLS', why: 'the server offers encryption: upgrade before sending anything private (RFC 3207)' });
      if (has('AUTH') && !s.authenticated) steps.push({ verb: 'AUTH', why: 'log in (e.g. AUTH PLAIN) when submitting mail as a user (RFC 4954)' });
      steps.push({ verb: 'MAIL FROM', why: 'start a transaction: give the return address for bounces (RFC 5321 §3.3)' });
      steps.push({ verb: 'EHLO', why: 'greet again (resets the session state)' }, { verb: 'NOOP', why: 'check the connection is alive' }, quit);
      return steps;
    }
    case 'mail':
      return [{ verb: 'RCPT TO', why: 'name a recipient; DATA needs at least one accepted recipient' }, rset, quit];
    case 'rcpt':
      return [
        { verb: 'RCPT TO', why: 'add another recipient; each gets its own reply' },
        { verb: 'DATA', why: `${s.acceptedRecipients} recipient${s.acceptedRecipients === 1 ? ' was' : 's were'} accepted, so the message may follow` },
        rset,
        quit,
      ];
    case 'data':
      return [
        { verb: '(message text)', why: 'header lines, an empty line, then the body; a line starting with "." is sent as ".." (dot-stuffing)' },
        { verb: '.', why: 'a line with only "." ends the message (RFC 5321 §4.1.1.4)' },
      ];
    case 'auth':
      return [
        { verb: '(base64 response)', why: 'answer the 334 challenge with base64 text' },
        { verb: '*', why: 'cancel the authentication (the server answers 501)' },
      ];
    case 'tls':
      return [{ verb: '(TLS handshake)', why: 'after 220 the TLS handshake starts; commands continue inside TLS, starting with EHLO' }];
    case 'closed':
      return [];
  }
}

/**
 * Why `reply` came, in one sentence, for the shadowed session *before* the reply is fed in
 * (so the command it answers is still the oldest pending one).
 */
export function explainReply(snapshot: ClientSnapshotLike, reply: Reply): string {
  const s = snapshot.context.shadow;
  return explainFor(s, s.pending[0], reply);
}

function explainFor(s: ShadowState, answered: PendingCommand | undefined, reply: Reply): string {
  const ok = positive(reply);
  const temp = reply.code >= 400 && reply.code < 500;
  const head = `${reply.code}${answered ? ` to ${answered.verb}` : ''}`;
  const detail = reply.enhanced ? ` (${reply.enhanced}: ${explainEnhanced(reply.enhanced).replace(/\.$/, '')})` : '';
  const retry = temp ? '; this is temporary, so a sending server keeps the message and tries again later' : '';
  if (reply.code === 421) return `${head}: the server is closing the connection (RFC 5321 §3.8)${detail}; try again later, another MX host may help`;
  if (!answered) {
    if (s.phase === 'banner') {
      return ok ? `${head}: the greeting; the server is ready, so introduce yourself with EHLO` : `${head}: the server refuses this session${detail}; send QUIT and try another host or later`;
    }
    return `${head}: a reply nothing was waiting for: ${explainCode(reply.code)}`;
  }
  switch (answered.verb) {
    case 'EHLO':
      if (ok) return `${head}: hello accepted; the lines after the first are the extensions this server offers`;
      return `${head}: this server does not speak ESMTP${detail}; fall back to HELO`;
    case 'HELO':
      return ok ? `${head}: hello accepted (no extensions with HELO); you may start with MAIL FROM` : `${head}: the greeting was refused${detail}`;
    case 'STARTTLS':
      if (reply.code === 220) return `${head}: start the TLS handshake now; afterwards greet again with EHLO (RFC 3207 §4.2)`;
      return `${head}: TLS is not available${detail}; an opportunistic sender goes on in plaintext, a strict one (MTA-STS enforce, DANE) gives up`;
    case 'AUTH':
    case 'AUTH-RESPONSE':
      if (reply.code === 334) return `${head}: the server wants more: answer the challenge with base64`;
      if (reply.code === 235) return `${head}: logged in; now MAIL FROM`;
      return `${head}: authentication failed${detail}${retry}`;
    case 'MAIL':
      if (ok) return `${head}: sender accepted; now name recipients with RCPT TO`;
      return `${head}: the sender is refused${detail}${retry}; no transaction was started`;
    case 'RCPT': {
      const accepted = s.acceptedRecipients;
      if (ok) return `${head}: this recipient is accepted; you may send another RCPT or DATA`;
      const next = accepted > 0 ? 'you may send another RCPT, or DATA since one was accepted' : 'you may send another RCPT; DATA needs one accepted recipient first';
      return `${head}: this recipient is refused${detail}${temp ? ' for now' : ''}; others may still be accepted; ${next}`;
    }
    case 'DATA':
      if (reply.code === 354) return `${head}: go ahead: send the message, then a line with only "."`;
      return `${head}: no message now${detail}; usually because no recipient was accepted`;
    case '.':
      if (ok) return `${head}: the message is accepted for every accepted recipient: the server now has responsibility for it`;
      return `${head}: the whole message was refused at the end of DATA${detail}${retry}${temp ? '' : '; the sender gets a bounce'}`;
    case 'RSET':
      return `${head}: the transaction is cleared; start again with MAIL FROM`;
    case 'QUIT':
      return `${head}: goodbye; the server closes the connection`;
    case 'NOOP':
      return `${head}: nothing done, the connection is alive`;
    default:
      return `${head}: ${explainCode(reply.code)}${detail}`;
  }
}
