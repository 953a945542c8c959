/**
 * The sending side of one SMTP connection (RFC 5321) as an XState v5 machine.
 *
 * It runs in two modes, chosen by `input.mode`:
 *
 * - **driving** (the autopilot, and the world's sending MTA): it writes the commands itself.
 *   It emits `{type:'send', text}` (wire text with CRLFs; a PIPELINING batch or the whole
 *   dot-stuffed message at once), `{type:'starttls'}` when the transport must run the TLS
 *   handshake, and `{type:'close', reason}` when it hangs up. The transport feeds back
 *   `{type:'reply', reply}` per reply, or `{type:'replies', replies}` for the replies that came
 *   back together (the answers to one write, in wire order: one transition reads them all, as
 *   if each had come alone), `{type:'tls.established', report}` / `{type:'tls.failed'}` and
 *   `{type:'closed'}`. The final state's output (`ClientReport`) has the per-recipient results.
 *
 *     banner -> EHLO (HELO on 5xx) -> STARTTLS when offered -> EHLO -> AUTH PLAIN (when given
 *     credentials) -> MAIL -> RCPT per recipient -> DATA if one was accepted -> message ->
 *     next message on the same connection, or QUIT
 *
 *   A message's DSN requests (RFC 3461: RET, ENVID, NOTIFY, ORCPT) go on its MAIL and RCPT only
 *   when the last EHLO reply listed DSN (§5.2.1); otherwise the lines are plain (§5.2.2).
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
import { mailFromLine, rcptToLine, type MailDsnRequest, type RcptDsnRequest } from '../protocol/params';
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
  /**
   * The sender's DSN requests (RFC 3461), to pass on with MAIL and RCPT when the server lists
   * DSN in its EHLO reply (§5.2.1), and to leave off when it does not (§5.2.2).
   */
  dsn?: OutgoingDsn;
}

/** RET and ENVID for MAIL, and NOTIFY and ORCPT for the RCPT of each recipient that gave them. */
export interface OutgoingDsn extends MailDsnRequest {
  /** Per recipient, by the address in lower case. */
  recipients: ReadonlyMap<string, RcptDsnRequest>;
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
  /**
   * The replies that came back together (the answers to one write, e.g. a PIPELINING group),
   * in wire order: read in one transition exactly as one `reply` event each would be.
   */
  | { type: 'replies'; replies: readonly Reply[] }
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

/**
 * A list that only ever grows at its head, newest first. Growing it costs one small object
 * whatever its length, where copying an array would cost one slot per element on every reply
 * (a 50-message session would pay for 50 messages 200 times). A snapshot that holds it keeps
 * seeing the list it had: XState snapshots are values (xstate/graph walks on from old ones), so
 * an array pushed to in place would change under them.
 */
export interface NewestFirst<T> {
  readonly latest: T;
  readonly earlier: NewestFirst<T> | undefined;
}

/** The message being carried now, and what its replies have decided so far. */
export interface Transaction {
  /** Its index in `settings.messages` (their count once every message is done). */
  index: number;
  mailReply: Reply | undefined;
  /**
   * The recipients whose RCPT reply came. Replies come in the order of the commands (RFC 5321
   * §3.3; RFC 2920 §3.1 when pipelined), so the list only grows and the rest are still pending.
   */
  answered: NewestFirst<RecipientResult> | undefined;
  /** How many RCPT replies came: the index of the recipient the next one answers. */
  rcptIndex: number;
  /** How many of those accepted: DATA needs one (RFC 5321 §3.3). */
  accepted: number;
}

export interface ClientContext {
  /**
   * The fixed part, kept in one field so the context has few top-level fields: XState copies
   * the context into a fresh object on every `assign`, and V8 turns an object built up past
   * about nineteen properties into a slow dictionary, which makes every later copy and read
   * of it many times dearer.
   */
  settings: ClientSettings;
  /**
   * The messages this session is done with. Messages are finished in order, so this plus
   * `transaction` plus the untouched rest of `settings.messages` is every result, and one reply
   * changes only the transaction (or adds one finished message): its cost does not grow with
   * the number of messages.
   */
  finished: NewestFirst<MessageResult> | undefined;
  transaction: Transaction;
  /**
   * The last EHLO offered PIPELINING and the settings allow it: every transaction goes as one
   * batch (RFC 2920 §3.1). Decided when the EHLO reply is read, not for every transaction.
   */
  pipelining: boolean;
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

function offers(extensions: string[], keyword: string): boolean {
  return extensions.some((line) => line === keyword || line.startsWith(`${keyword} `));
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

function currentMessage(context: ClientContext): OutgoingMessage {
  return context.settings.messages[context.transaction.index]!;
}

/**
 * The DSN requests to write with the current message, or undefined for none. RFC 3461 §5.2.1:
 * to a server that lists DSN they go on with MAIL and RCPT, and the report on success becomes
 * its business. §5.2.2: to one that does not, they are left off (it would refuse them with
 * 555 5.5.4, RFC 5321 §4.1.1.11) and the sender's own MTA reports "relayed" instead. A message
 * without requests does not even look at the extensions.
 */
function dsnToWrite(context: ClientContext, message: OutgoingMessage): OutgoingDsn | undefined {
  return message.dsn !== undefined && offers(context.extensions, 'DSN') ? message.dsn : undefined;
}

function mailCommand(message: OutgoingMessage, dsn: OutgoingDsn | undefined): string {
  return `${mailFromLine(message.from, dsn)}${CRLF}`;
}

function rcptCommand(address: string, dsn: OutgoingDsn | undefined): string {
  return `${rcptToLine(address, dsn?.recipients.get(address.toLowerCase()))}${CRLF}`;
}

/** 2xx accepts, 5xx refuses for good; anything else (4xx, or a reply that makes no sense here) is temporary. */
function statusOf(reply: Reply): RecipientStatus {
  return positive(reply) ? 'accepted' : reply.code >= 500 ? 'failed' : 'deferred';
}

function transactionFor(index: number): Transaction {
  return { index, mailReply: undefined, answered: undefined, rcptIndex: 0, accepted: 0 };
}

function oldestFirst<T>(list: NewestFirst<T> | undefined): T[] {
  const items: T[] = [];
  for (let link = list; link; link = link.earlier) items.push(link.latest);
  return items.reverse();
}

/** A message no command has been sent for: every recipient pending. */
function untouchedResult(message: OutgoingMessage): MessageResult {
  return { from: message.from, recipients: message.recipients.map((address) => ({ address, status: 'pending' as const })) };
}

/** The message in progress as far as its replies have decided it. */
function resultSoFar(message: OutgoingMessage, transaction: Transaction): MessageResult {
  const recipients = oldestFirst(transaction.answered);
  for (let i = recipients.length; i < message.recipients.length; i++) recipients.push({ address: message.recipients[i]!, status: 'pending' });
  return transaction.mailReply ? { from: message.from, recipients, mailReply: transaction.mailReply } : { from: message.from, recipients };
}

/**
 * The session ends early: every recipient still undecided (pending, or accepted and waiting for
 * the data) of the message in progress and of every later one gets `reply`, and those messages
 * join the finished ones. Messages already finished have every recipient decided, so they are
 * left as they are. Runs once per session, at its end.
 */
function settleRemaining(context: ClientContext, reply: Reply, stage: RecipientResult['stage']): Pick<ClientContext, 'finished' | 'transaction'> {
  const status: RecipientStatus = reply.code >= 500 ? 'failed' : 'deferred';
  const decided = (address: string): RecipientResult => ({ address, status, reply, stage });
  const { messages } = context.settings;
  const { transaction } = context;
  let finished = context.finished;
  for (let i = transaction.index; i < messages.length; i++) {
    const message = messages[i]!;
    let result: MessageResult;
    if (i === transaction.index) {
      const soFar = resultSoFar(message, transaction);
      result = { ...soFar, recipients: soFar.recipients.map((r) => (r.status === 'pending' || r.status === 'accepted' ? decided(r.address) : r)) };
    } else {
      result = { from: message.from, recipients: message.recipients.map(decided) };
    }
    finished = { latest: result, earlier: finished };
  }
  return { finished, transaction: transactionFor(messages.length) };
}

/** Every message's result, in the order of `settings.messages`. */
function messageResults(context: ClientContext): MessageResult[] {
  const results = oldestFirst(context.finished);
  const { messages } = context.settings;
  const { index } = context.transaction;
  for (let i = index; i < messages.length; i++) results.push(i === index ? resultSoFar(messages[i]!, context.transaction) : untouchedResult(messages[i]!));
  return results;
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

// ─── Reading replies ──────────────────────────────────────────────────────────────────────

/** The states of the driving side that wait for a reply. */
type ReadingState = 'greeting' | 'ehlo' | 'helo' | 'starttls' | 'auth' | 'mailFrom' | 'rcptTo' | 'data' | 'message' | 'reset' | 'draining' | 'quit';

/** Where reading a reply can lead: a state that waits for the next one, the handshake, or the end. */
type Landing = ReadingState | 'tlsHandshake' | 'done';


/** One reply read: the state it leads to and the context it leaves. */
interface Reading {
  to: Landing;
  context: ClientContext;
}

function sendText(out: ClientEmitted[], text: string): void {
  out.push({ type: 'send', text });
}

/** MAIL FROM, or with PIPELINING the whole envelope and DATA in one write (RFC 2920 §3.1). */
function transactionText(context: ClientContext): string {
  const message = currentMessage(context);
  const dsn = dsnToWrite(context, message);
  if (!context.pipelining) return mailCommand(message, dsn);
  return `${mailCommand(message, dsn)}${message.recipients.map((address) => rcptCommand(address, dsn)).join('')}DATA${CRLF}`;
}

/** Without PIPELINING: the RCPT for the recipient whose reply comes next. */
function nextRcptText(context: ClientContext): string {
  const message = currentMessage(context);
  return rcptCommand(message.recipients[context.transaction.rcptIndex]!, dsnToWrite(context, message));
}

/** The message, dot-stuffed; after a pipelined 354 with no accepted recipient only "." (RFC 2920 §3.1). */
function messageText(context: ClientContext): string {
  return context.transaction.accepted > 0 ? dotStuff(currentMessage(context).content) : `.${CRLF}`;
}

function authText(context: ClientContext): string {
  const { username, password } = context.settings.credentials!;
  return `AUTH PLAIN ${encodePlain(username, password)}${CRLF}`;
}

/**
 * Go to `to`, writing what going there writes: the command whose reply that state waits for
 * (every state that waits for a reply was entered by writing its command).
 */
function enter(to: Landing, context: ClientContext, out: ClientEmitted[]): Reading {
  switch (to) {
    case 'ehlo':
      sendText(out, `EHLO ${context.settings.clientName}${CRLF}`);
      break;
    case 'helo':
      sendText(out, `HELO ${context.settings.clientName}${CRLF}`);
      break;
    case 'starttls':
      sendText(out, `STARTTLS${CRLF}`);
      break;
    case 'tlsHandshake':
      out.push({ type: 'starttls' });
      break;
    case 'auth':
      sendText(out, authText(context));
      break;
    case 'mailFrom':
      sendText(out, transactionText(context));
      break;
    case 'message':
      sendText(out, messageText(context));
      break;
    case 'reset':
      sendText(out, `RSET${CRLF}`);
      break;
    case 'quit':
      sendText(out, `QUIT${CRLF}`);
      break;
    default:
      break;
  }
  return { to, context };
}

/** The session ends early on `reply`: everything undecided gets it. */
function settledBy(context: ClientContext, reply: Reply): ClientContext {
  return { ...context, ...settleRemaining(context, reply, 'session') };
}

/** RFC 5321 §3.8: a 421 closes the channel, whatever command it answers. */
function closedByServer(context: ClientContext, reply: Reply): Reading {
  return { to: 'done', context: { ...settledBy(context, reply), endedBy: 'server' } };
}

/** The policy refused to send: every recipient waits for another attempt (4.7.5 like Postfix). */
function deferredForTls(context: ClientContext): ClientContext {
  return settledBy(context, { ...Replies.tlsNotAvailable(), lines: [`TLS required: ${context.tlsFailure ?? 'not available'}`] });
}

function wantsAuth(context: ClientContext): boolean {
  return context.settings.credentials !== undefined && !context.authenticated && authMechanisms(context).includes('PLAIN');
}

/** A message waits whose transaction has not started: the current one is finished. */
function moreMessages(context: ClientContext): boolean {
  return context.transaction.index < context.settings.messages.length;
}

/** Another message waits for this connection after the current one. */
function laterMessages(context: ClientContext): boolean {
  return context.transaction.index + 1 < context.settings.messages.length;
}

/** The first transaction starts: say whether transactions are pipelined. */
function beginTransactions(context: ClientContext, out: ClientEmitted[]): Reading {
  return enter('mailFrom', { ...context, pipelined: context.pipelining }, out);
}

/** With TLS settled (or not wanted): AUTH when due, then the first transaction, or QUIT. */
function afterTls(context: ClientContext, out: ClientEmitted[]): Reading {
  if (wantsAuth(context)) return enter('auth', context, out);
  if (moreMessages(context)) return beginTransactions(context, out);
  return enter('quit', context, out);
}

/** EHLO or HELO accepted: STARTTLS when offered and wanted; a strict policy without it gives up. */
function greeted(context: ClientContext, out: ClientEmitted[]): Reading {
  if (context.settings.policy !== 'none' && context.tls === 'none' && offers(context.extensions, 'STARTTLS')) return enter('starttls', context, out);
  if (context.settings.policy === 'enforce' && context.tls !== 'established') {
    return enter('quit', deferredForTls({ ...context, tlsFailure: 'the server does not offer STARTTLS, and the policy requires TLS' }), out);
  }
  return afterTls(context, out);
}

/** MAIL refused: every recipient of this message shares its fate; a batch leaves replies to read. */
function mailRefused(context: ClientContext, reply: Reply): ClientContext {
  const status = statusOf(reply);
  const message = currentMessage(context);
  const result: MessageResult = {
    from: message.from,
    recipients: message.recipients.map((address) => ({ address, status, reply, stage: 'mail' as const })),
    mailReply: reply,
  };
  return {
    ...context,
    finished: { latest: result, earlier: context.finished },
    transaction: transactionFor(context.transaction.index + 1),
    drain: context.pipelining ? message.recipients.length + 1 : 0,
  };
}

/** The RCPT reply for the next recipient in order. */
function rcptAnswered(context: ClientContext, reply: Reply): ClientContext {
  const status = statusOf(reply);
  const { transaction } = context;
  const address = currentMessage(context).recipients[transaction.rcptIndex]!;
  return {
    ...context,
    transaction: {
      ...transaction,
      answered: { latest: { address, status, reply, stage: 'rcpt' as const }, earlier: transaction.answered },
      rcptIndex: transaction.rcptIndex + 1,
      accepted: status === 'accepted' ? transaction.accepted + 1 : transaction.accepted,
    },
  };
}

/** No recipient accepted: the message is decided without DATA. */
function finishedWithoutData(context: ClientContext): ClientContext {
  return {
    ...context,
    finished: { latest: resultSoFar(currentMessage(context), context.transaction), earlier: context.finished },
    transaction: transactionFor(context.transaction.index + 1),
  };
}

/** The reply to the end of data (or a refused DATA): it decides for every recipient accepted at RCPT. */
function finishedWithDataReply(context: ClientContext, reply: Reply): ClientContext {
  const status: RecipientStatus = positive(reply) ? 'delivered' : statusOf(reply);
  const soFar = resultSoFar(currentMessage(context), context.transaction);
  const result: MessageResult = {
    ...soFar,
    recipients: soFar.recipients.map((r) => (r.status === 'accepted' ? { address: r.address, status, reply, stage: 'data' as const } : r)),
    dataReply: reply,
  };
  return { ...context, finished: { latest: result, earlier: context.finished }, transaction: transactionFor(context.transaction.index + 1) };
}

/**
 * What one reply does in the state `from` that waits for it: the state it leads to, the context
 * it leaves, and what the client writes in answer (appended to `out`, in wire order). Every
 * decision reads the reply and the context as they are before it, so a reply goes straight to the
 * state that waits for the next one, with no pass-through state between.
 */
function readReply(from: ReadingState, context: ClientContext, reply: Reply, out: ClientEmitted[]): Reading {
  const ok = positive(reply);
  const closing = reply.code === 421;
  switch (from) {
    // RFC 5321 §3.1: the server's 220. A 421 banner: the server closes at once. A 554 banner: QUIT.
    case 'greeting': {
      const withBanner: ClientContext = { ...context, banner: reply };
      if (ok) return enter('ehlo', withBanner, out);
      if (closing) return closedByServer(withBanner, reply);
      return enter('quit', settledBy(withBanner, reply), out);
    }
    // A 5xx to EHLO means an RFC 821 server: fall back to HELO (RFC 5321 §3.2).
    case 'ehlo': {
      if (ok) {
        const extensions = extensionsFromEhlo(reply);
        return greeted({ ...context, esmtp: true, extensions, pipelining: context.settings.usePipelining && offers(extensions, 'PIPELINING') }, out);
      }
      if (closing) return closedByServer(context, reply);
      if (reply.code >= 500) return enter('helo', context, out);
      return enter('quit', settledBy(context, reply), out);
    }
    case 'helo':
      if (ok) return greeted({ ...context, esmtp: false, extensions: [], pipelining: false }, out);
      if (closing) return closedByServer(context, reply);
      return enter('quit', settledBy(context, reply), out);
    // RFC 3207 §4: after a refusal the session goes on in plaintext, unless policy forbids it.
    case 'starttls': {
      if (ok) return enter('tlsHandshake', context, out);
      if (closing) return closedByServer(context, reply);
      const { policy } = context.settings;
      const refused: ClientContext = {
        ...context,
        tls: 'refused',
        downgraded: policy === 'opportunistic',
        ...(policy === 'enforce' ? { tlsFailure: `STARTTLS refused: ${formatShort(reply)}` } : {}),
      };
      if (policy === 'enforce') return enter('quit', deferredForTls(refused), out);
      return afterTls(refused, out);
    }
    case 'auth':
      if (ok && moreMessages(context)) return beginTransactions({ ...context, authenticated: true }, out);
      if (ok) return enter('quit', { ...context, authenticated: true }, out);
      if (closing) return closedByServer(context, reply);
      return enter('quit', settledBy(context, reply), out);
    // MAIL was written (with PIPELINING, the RCPTs and DATA too); its reply comes first.
    case 'mailFrom': {
      if (ok) {
        const withMail: ClientContext = { ...context, transaction: { ...context.transaction, mailReply: reply } };
        if (!context.pipelining) sendText(out, nextRcptText(withMail));
        return { to: 'rcptTo', context: withMail };
      }
      if (closing) return closedByServer(context, reply);
      // MAIL refused: the batch's RCPT and DATA replies still come and are ignored; without a
      // batch the next message starts at once (no transaction began, so no RSET is due).
      if (context.pipelining) return { to: 'draining', context: mailRefused(context, reply) };
      if (laterMessages(context)) return enter('mailFrom', mailRefused(context, reply), out);
      return enter('quit', mailRefused(context, reply), out);
    }
    // One RCPT reply per recipient, in order (RFC 5321 §3.3; RFC 2920 §3.1 when batched).
    case 'rcptTo': {
      const answered = rcptAnswered(context, reply);
      if (closing) return closedByServer(answered, reply);
      if (context.transaction.rcptIndex + 1 < currentMessage(context).recipients.length) {
        if (!context.pipelining) sendText(out, nextRcptText(answered));
        return { to: 'rcptTo', context: answered };
      }
      // Batched, DATA went with the RCPTs: its reply comes next whatever they got.
      if (context.pipelining) return { to: 'data', context: answered };
      if (context.transaction.accepted > 0 || ok) {
        sendText(out, `DATA${CRLF}`);
        return { to: 'data', context: answered };
      }
      // RFC 5321 §3.3: no recipient accepted, so no DATA: end the transaction with RSET.
      return enter('reset', finishedWithoutData(answered), out);
    }
    case 'data':
      if (closing) return closedByServer(context, reply);
      if (reply.code === 354) return enter('message', context, out);
      // DATA refused: the accepted recipients share the refusal (or, batched with none accepted,
      // it was expected). The server may still hold the sender: before another transaction on
      // this connection, RSET clears it (RFC 5321 §4.1.1.5), or the next MAIL is "nested".
      if (laterMessages(context)) return enter('reset', finishedWithDataReply(context, reply), out);
      return enter('quit', finishedWithDataReply(context, reply), out);
    // The reply to "." decides the message (RFC 5321 §4.1.1.4).
    case 'message': {
      const finished = finishedWithDataReply(context, reply);
      if (closing) return closedByServer(finished, reply);
      if (laterMessages(context)) return enter('mailFrom', finished, out);
      return enter('quit', finished, out);
    }
    case 'reset':
      if (closing) return closedByServer(context, reply);
      if (moreMessages(context)) return enter('mailFrom', context, out);
      return enter('quit', context, out);
    // The replies to a pipelined batch whose MAIL was refused: read and ignore them, then go on.
    case 'draining': {
      if (closing) return closedByServer(context, reply);
      const drained: ClientContext = { ...context, drain: Math.max(0, context.drain - 1) };
      if (context.drain > 1) return { to: 'draining', context: drained };
      if (moreMessages(context)) return enter('mailFrom', drained, out);
      return enter('quit', drained, out);
    }
    case 'quit':
      out.push({ type: 'close', reason: 'quit' });
      return { to: 'done', context: { ...context, endedBy: 'quit' } };
  }
}

/**
 * Where a fold of replies stops, so that what follows waits: after a 354 the message must be
 * written before the reply to its end is read (RFC 5321 §4.1.1.4); after the 220 to STARTTLS
 * the handshake comes first, and nothing sent before it counts (RFC 3207 §4.2); a closed
 * session reads nothing more.
 */
function stopsTheFold(to: Landing): boolean {
  return to === 'message' || to === 'tlsHandshake' || to === 'done';
}

/** What one `reply` or `replies` event leads to, as the transition it takes applies it. */
interface Ruling extends Reading {
  /** What the client writes, in wire order: every answer of every reply read. */
  emits: readonly ClientEmitted[];
  /** Replies after the one the fold stopped at: they go in again, in order, after it. */
  unread: readonly Reply[];
}

const NO_REPLIES: readonly Reply[] = [];

/**
 * The replies that answer one write, read in one transition. RFC 2920 §3.1 lets a client send
 * a group of commands without waiting, and the server's replies come back together and in the
 * order of the commands: each is read in the state and the context the one before it left,
 * exactly as if it had come alone, and the writes they call for keep their order. The fold
 * stops where the rest must wait (`stopsTheFold`); those replies are the ruling's `unread`.
 */
function foldReplies(from: ReadingState, context: ClientContext, replies: readonly Reply[]): Ruling | undefined {
  if (replies.length === 0) return undefined;
  const emits: ClientEmitted[] = [];
  // The ruling is built field by field: spreading the small `Reading` objects (made at many
  // places) sends V8's object-clone cache down a slow path that costs more than the fold.
  let to: Landing = from;
  let current = context;
  for (let index = 0; index < replies.length; index++) {
    const reading = readReply(to as ReadingState, current, replies[index]!, emits);
    to = reading.to;
    current = reading.context;
    if (index + 1 < replies.length && stopsTheFold(to)) return { to, context: current, emits, unread: replies.slice(index + 1) };
  }
  return { to, context: current, emits, unread: NO_REPLIES };
}

function repliesOf(event: ClientEvent): readonly Reply[] {
  if (event.type === 'reply') return [event.reply];
  if (event.type === 'replies') return event.replies;
  return NO_REPLIES;
}

/**
 * How a transition applies its ruling. Almost every ruling writes at most one thing and leaves
 * nothing unread, and those are applied by fixed actions (`takeRuling`, `emitRuling`): an
 * `enqueueActions` action makes new action objects on every call, which costs more than the
 * rest of the transition, so it is kept for the rare ruling that writes several things or puts
 * replies back (`applyRuling`).
 */
type Shape = 'silent' | 'one' | 'general';

function shapeOf(ruling: Ruling): Shape {
  if (ruling.unread.length > 0 && ruling.to !== 'done') return 'general';
  return ruling.emits.length === 0 ? 'silent' : ruling.emits.length === 1 ? 'one' : 'general';
}

/**
 * The ruling for one event, made once. The state a reply leads to depends on the reply, and an
 * XState transition's target is fixed, so each reading state offers guarded transitions per
 * landing (and shape) and the guards ask which one the ruling names; the last ruling made is
 * kept here with the state, context and event it was made from, and the chosen transition's
 * actions take it. Reading is pure, so a ruling made again (xstate/graph walks old snapshots)
 * is the same ruling.
 */
let lastRuling: { from: ReadingState; context: ClientContext; event: ClientEvent; ruling: Ruling | undefined } | undefined;

/** The ruling `takeRuling` took, for the `emitRuling` that follows it in the same transition. */
let taken: Ruling | undefined;

function rulingFor(context: ClientContext, event: ClientEvent, from: ReadingState): Ruling | undefined {
  if (lastRuling !== undefined && lastRuling.context === context && lastRuling.event === event && lastRuling.from === from) return lastRuling.ruling;
  const made = foldReplies(from, context, repliesOf(event));
  lastRuling = { from, context, event, ruling: made };
  return made;
}

/**
 * The transitions that read replies in `from`: one per landing and `Shape`, the likely landings
 * first (guards are tried in order). Every one enters its target afresh, even the state it
 * leaves, so the reply the session waits for next has its own timeout (RFC 5321 §4.5.3.2).
 */
function readingTransitions(from: ReadingState, likely: readonly Landing[]) {
  const landings = from === 'quit' ? (['done'] as const) : [...likely, ...(DRIVING_STATES as readonly Landing[]).filter((to) => !likely.includes(to))];
  const transitions = landings.flatMap((to) =>
    (['one', 'silent', 'general'] as const).map((shape) => ({
      guard: { type: 'readsTo' as const, params: { from, to, shape } },
      target: `#client.${to}` as const,
      reenter: true,
      actions:
        shape === 'general'
          ? [{ type: 'applyRuling' as const, params: { from } }]
          : shape === 'one'
            ? [{ type: 'takeRuling' as const, params: { from } }, { type: 'emitRuling' as const }]
            : [{ type: 'takeRuling' as const, params: { from } }],
    })),
  );
  return { reply: transitions, replies: transitions };
}

// ─── The machine ──────────────────────────────────────────────────────────────────────────

/** The reply-waiting states of the driving side, and where reading a reply can lead (timeouts, routing, the state view). */
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

/*
 * What one transaction costs. The replies that answer one write come as one `replies` event
 * (or one `reply` each, from a transport that reads them one by one), and one transition reads
 * them all and goes straight to the state that waits for the next reply, writing on the way
 * whatever they call for (see `foldReplies`). A pipelined transaction is two transitions
 * whatever its number of recipients: the MAIL, RCPT and DATA replies, which come back
 * together, and the reply to the end of data. Without PIPELINING every command is written
 * alone, so every reply is one transition.
 *
 * Each transition arms the timer of the reply the session waits for next, because RFC 5321
 * §4.5.3.2 times each command's reply on its own (MAIL 5 min, RCPT 5 min each, DATA initiation
 * 2 min, data termination 10 min): replies that arrive together end their waits together, and
 * one that arrives alone restarts the wait for the next.
 */
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
    /** The ruling for this event (made once, see `rulingFor`) leads to `to` and is applied as `shape` says. */
    readsTo: ({ context, event }: CtxEvent, params: { from: ReadingState; to: Landing; shape: Shape }) => {
      const made = rulingFor(context, event, params.from);
      return made !== undefined && made.to === params.to && shapeOf(made) === params.shape;
    },
    /** RFC 7672 §2.2 / RFC 8461 §4.2: a certificate that does not verify is no TLS at all to a strict sender. */
    untrustedUnderEnforce: ({ context, event }: CtxEvent) =>
      context.settings.policy === 'enforce' && event.type === 'tls.established' && event.report?.authorized === false,
  },
  actions: {
    /** Take the context of the ruling the guards made (and keep it for `emitRuling`). */
    takeRuling: assign(({ context, event }: CtxEvent, params: { from: ReadingState }) => {
      const made = rulingFor(context, event, params.from)!;
      // Taken: the slot no longer needs to hold on to this session's context.
      lastRuling = undefined;
      taken = made.emits.length > 0 ? made : undefined;
      return made.context;
    }),
    /** Write the one thing the ruling just taken writes. */
    emitRuling: emit(() => {
      const emitted = taken!.emits[0]!;
      taken = undefined;
      return emitted;
    }),
    /** Apply the ruling the guards made: take its context, write its answers, and send its unread replies in again behind it. */
    applyRuling: enqueueActions(({ context, event, enqueue }, params: { from: ReadingState }) => {
      const made = rulingFor(context, event, params.from)!;
      // Taken: the slot no longer needs to hold on to this session's context.
      lastRuling = undefined;
      enqueue.assign(() => made.context);
      for (const emitted of made.emits) enqueue.emit(emitted);
      // A closed session reads nothing more.
      if (made.unread.length > 0 && made.to !== 'done') enqueue.raise({ type: 'replies', replies: made.unread });
    }),
    sendEhlo: emit(({ context }: Ctx) => ({ type: 'send' as const, text: `EHLO ${context.settings.clientName}${CRLF}` })),
    sendQuit: emit({ type: 'send' as const, text: `QUIT${CRLF}` }),
    hangUp: emit((_: Ctx, params: { reason: string }) => ({ type: 'close' as const, reason: params.reason })),
    recordTls: assign(({ event }: CtxEvent) => ({
      tls: 'established' as TlsState,
      ...(event.type === 'tls.established' && event.report ? { tlsReport: event.report } : {}),
      // RFC 3207 §4.2: everything learnt before TLS is forgotten; EHLO again.
      extensions: [] as string[],
      pipelining: false,
    })),
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
    deferForTls: assign(({ context }: Ctx) => deferredForTls(context)),
    /** The connection was lost (RFC 5321 §3.8: a temporary failure for whatever is undecided). */
    connectionLost: assign(({ context }: Ctx) => ({ ...settleRemaining(context, Replies.connectionDropped(), 'session'), endedBy: 'closed' as const })),
    timedOut: assign(({ context }: Ctx) => ({ ...settleRemaining(context, Replies.timeout('Client'), 'session'), endedBy: 'timeout' as const })),

    // ── shadowing ─────────────────────────────────────────────────────────────────────────
    shadowLine: assign({ shadow: ({ context, event }: CtxEvent) => (event.type === 'client.line' ? shadowAfterLine(context.shadow, event.text) : context.shadow) }),
    shadowReply: assign({ shadow: ({ context, event }: CtxEvent) => repliesOf(event).reduce(shadowAfterReply, context.shadow) }),
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
      finished: undefined,
      transaction: transactionFor(0),
      pipelining: false,
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
  /*
   * The mode is fixed by the input and XState's initial state is not, so the machine starts
   * where a driving session starts, and a shadowing one leaves at once, in the same first step
   * (its greeting timer is cancelled before it could run). Driving sessions, by the thousand in
   * a long run of the world, thus take no pass-through step.
   */
  initial: 'greeting',
  states: {
    /** RFC 5321 §3.1: wait for the server's 220 (5 minutes, §4.5.3.2.1). */
    greeting: {
      always: { guard: 'shadowing', target: 'shadow' },
      on: { ...readingTransitions('greeting', ['ehlo', 'starttls', 'mailFrom']), closed: { target: 'done', actions: 'connectionLost' } },
      after: { greetingTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no banner in time' } }] } },
    },
    /** EHLO was written; a 5xx means an RFC 821 server: fall back to HELO (RFC 5321 §3.2). */
    ehlo: {
      on: { ...readingTransitions('ehlo', ['starttls', 'mailFrom', 'message', 'auth']), closed: { target: 'done', actions: 'connectionLost' } },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to EHLO in time' } }] } },
    },
    helo: {
      on: { ...readingTransitions('helo', ['mailFrom', 'quit']), closed: { target: 'done', actions: 'connectionLost' } },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to HELO in time' } }] } },
    },
    starttls: {
      on: { ...readingTransitions('starttls', ['tlsHandshake', 'mailFrom', 'quit']), closed: { target: 'done', actions: 'connectionLost' } },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to STARTTLS in time' } }] } },
    },
    /** The transport runs the handshake; nothing is written meanwhile, and replies are not read. */
    tlsHandshake: {
      on: {
        'tls.established': [
          { guard: 'untrustedUnderEnforce', target: 'quit', actions: ['recordUntrusted', 'deferForTls', 'sendQuit'] },
          { target: 'ehlo', actions: ['recordTls', 'sendEhlo'] },
        ],
        // A failed handshake leaves a dead connection (the socket is torn down).
        'tls.failed': { target: 'done', actions: ['recordHandshakeFailed', 'deferForTls', { type: 'hangUp', params: { reason: 'TLS handshake failed' } }] },
        closed: { target: 'done', actions: 'connectionLost' },
      },
    },
    auth: {
      on: { ...readingTransitions('auth', ['mailFrom', 'quit']), closed: { target: 'done', actions: 'connectionLost' } },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to AUTH in time' } }] } },
    },
    /** MAIL was written (with PIPELINING, the RCPTs and DATA too); its reply comes first. */
    mailFrom: {
      on: { ...readingTransitions('mailFrom', ['message', 'rcptTo', 'mailFrom', 'quit', 'draining']), closed: { target: 'done', actions: 'connectionLost' } },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to MAIL in time' } }] } },
    },
    /** One RCPT reply per recipient, in order (RFC 5321 §3.3; RFC 2920 §3.1 when batched). */
    rcptTo: {
      on: { ...readingTransitions('rcptTo', ['message', 'rcptTo', 'data', 'reset']), closed: { target: 'done', actions: 'connectionLost' } },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to RCPT in time' } }] } },
    },
    data: {
      on: { ...readingTransitions('data', ['message', 'reset', 'quit']), closed: { target: 'done', actions: 'connectionLost' } },
      after: { dataInitiationTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no 354 in time' } }] } },
    },
    /** The dot-stuffed message went out (RFC 5321 §4.5.2); the reply to "." decides. */
    message: {
      on: {
        ...readingTransitions('message', ['mailFrom', 'quit', 'done']),
        // RFC 5321 §3.8: a connection lost after the data is treated as a temporary failure.
        closed: { target: 'done', actions: 'connectionLost' },
      },
      after: { dataTerminationTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to the end of data in time' } }] } },
    },
    /** The message is decided; RSET clears the transaction before the next one or QUIT. */
    reset: {
      on: { ...readingTransitions('reset', ['mailFrom', 'quit']), closed: { target: 'done', actions: 'connectionLost' } },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply to RSET in time' } }] } },
    },
    /** Replies to a pipelined batch whose MAIL was refused: read and ignore them, then go on. */
    draining: {
      on: { ...readingTransitions('draining', ['draining', 'mailFrom', 'message', 'quit']), closed: { target: 'done', actions: 'connectionLost' } },
      after: { commandTimeout: { target: 'done', actions: ['timedOut', { type: 'hangUp', params: { reason: 'no reply in time' } }] } },
    },
    quit: {
      on: { ...readingTransitions('quit', ['done']), closed: { target: 'done' } },
      after: { commandTimeout: { target: 'done', actions: { type: 'hangUp', params: { reason: 'no reply to QUIT in time' } } } },
    },
    done: { type: 'final' },

    /** Shadowing a learner: one state; the phase lives in `context.shadow`. */
    shadow: {
      on: {
        'client.line': { actions: 'shadowLine' },
        reply: { actions: 'shadowReply' },
        replies: { actions: 'shadowReply' },
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
    messages: messageResults(context),
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
