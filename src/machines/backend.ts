/**
 * The contract between the server session machine (`server.ts`) and whoever decides what a
 * server answers: a persona of the simulated world, or the real `smtpd`.
 *
 * The machine owns the protocol (sequence, syntax, pipelining, counters); the backend owns
 * policy (which mailboxes exist, which senders are greylisted, when to give up). At each hook
 * the machine asks the backend and the backend returns one of:
 *   - `undefined`: "do the default" (the reply a plain, well-behaved server gives);
 *   - a `Reply`: answer this instead;
 *   - a `HookAnswer`: a reply (or the default) possibly after a delay, possibly closing.
 *
 * Hooks are synchronous on purpose: the machine runs in XState transitions, and time in this
 * project is virtual (a delay is an XState `after` delay, so a simulated clock drives it).
 */
import type { Reply } from '../protocol/reply';
import type { BodyType, MailParameters, RcptParameters } from '../protocol/params';

export type { BodyType, MailParameters, RcptParameters };

/** Where the client connects from (the world's simulated address, or the real socket's). */
export interface PeerAddress {
  readonly address: string;
  readonly port: number;
}

/** What the transport learnt from the TLS handshake (Node's `TLSSocket` or the simulation). */
export interface TlsInfo {
  /** e.g. "TLSv1.3" */
  readonly protocol?: string;
  /** e.g. "TLS_AES_256_GCM_SHA384" */
  readonly cipher?: string;
  /** The name the client asked for in SNI, if any. */
  readonly serverName?: string;
  /** Whether the client presented a certificate the server trusts. */
  readonly clientCertificateTrusted?: boolean;
}

/**
 * Facts about the connection, kept apart from the mail transaction (aiosmtpd splits `Session`
 * and `Envelope` the same way). RSET and the end of DATA clear only the envelope; STARTTLS
 * clears both, because RFC 3207 §4.2 makes the server "discard any knowledge obtained from the
 * client, such as the argument to the EHLO command", and RFC 4954 §4 lets AUTH happen once per
 * session (which STARTTLS starts anew).
 */
export interface SessionFacts {
  readonly peer: PeerAddress;
  /** True once TLS is up, by STARTTLS (RFC 3207) or from the first byte (implicit TLS, RFC 8314). */
  readonly tls: boolean;
  readonly tlsInfo?: TlsInfo;
  /** The argument of the last accepted EHLO/HELO; undefined until the client greets. */
  readonly heloName?: string;
  /** True after EHLO (extended SMTP), false after HELO or before any greeting. */
  readonly esmtp: boolean;
  /** The SASL authorization identity once AUTH succeeded (RFC 4954 §4). */
  readonly authenticatedUser?: string;
  /** Messages accepted on this connection so far (rate limits count them). */
  readonly messagesAccepted: number;
}

export interface EnvelopeRecipient {
  /** The forward-path without angle brackets, e.g. "bob@example.net". */
  readonly address: string;
  /** RCPT parameters (RFC 3461 NOTIFY/ORCPT when DSN is offered). */
  readonly params: RcptParameters;
}

/** One mail transaction (RFC 5321 §3.3): started by MAIL, ended by the end of DATA or RSET. */
export interface Envelope {
  /** The reverse-path without angle brackets; "" is the null reverse-path `<>` of bounces. */
  readonly reversePath: string;
  /** MAIL parameters as parsed (SIZE, BODY, SMTPUTF8, AUTH, RET, ENVID). */
  readonly mailParams: MailParameters;
  readonly recipients: readonly EnvelopeRecipient[];
  /** BODY= of MAIL (RFC 6152); 7BIT when none was given. */
  readonly bodyType: BodyType;
  /** SMTPUTF8 was given on MAIL (RFC 6531 §3.4). */
  readonly smtpUtf8: boolean;
  /** The SIZE= the client declared on MAIL (RFC 1870 §5), if any. */
  readonly declaredSize?: number;
}

/** A message received with DATA, dot-unstuffed (RFC 5321 §4.5.2). */
export interface ReceivedMessage {
  /** The queue id the final 250 names (and the logs, and the DSN of a later bounce). */
  readonly queueId: string;
  /** The content, dot-unstuffed, every line ending in CRLF (a bare LF is normalised). */
  readonly text: string;
  /** Octets of content received (after dot-unstuffing), as counted for SIZE (RFC 1870). */
  readonly octets: number;
  /**
   * The Received field this server adds (RFC 5321 §4.4), CRLF-terminated. Kept apart from
   * `text` so the client's content stays exactly as sent; whoever stores or relays the message
   * writes it on top.
   */
  readonly received: string;
}

/** A SASL mechanism the machine can run itself (RFC 4616 PLAIN; LOGIN, the common draft one). */
export type SaslMechanism = 'PLAIN' | 'LOGIN';

/**
 * The extensions a server offers to one session, as data the machine can check commands
 * against (not only as EHLO text). `extensionKeywords` turns it into EHLO lines.
 */
export interface Extensions {
  /** RFC 3207. Never offered once TLS is up (§4.2: "MUST NOT" be advertised after TLS). */
  readonly starttls?: boolean;
  /** RFC 2920. */
  readonly pipelining?: boolean;
  /** RFC 1870: the fixed message size limit in octets; 0 advertises SIZE with no fixed limit. */
  readonly size?: number;
  /** RFC 6152. */
  readonly eightBitMime?: boolean;
  /** RFC 2034: replies carry enhanced status codes (RFC 3463). */
  readonly enhancedStatusCodes?: boolean;
  /** RFC 6531. */
  readonly smtpUtf8?: boolean;
  /** RFC 4954: the SASL mechanisms offered; absent or empty means no AUTH keyword. */
  readonly auth?: readonly SaslMechanism[];
  /** Any further keyword lines, verbatim (e.g. "DSN", "CHUNKING"), advertised but not enforced. */
  readonly other?: readonly string[];
}

/** The EHLO keyword lines (RFC 5321 §4.1.1.1 `ehlo-line`) for an extension set, in a stable order. */
export function extensionKeywords(extensions: Extensions): string[] {
  const lines: string[] = [];
  if (extensions.pipelining) lines.push('PIPELINING');
  if (extensions.size !== undefined) lines.push(extensions.size > 0 ? `SIZE ${extensions.size}` : 'SIZE');
  if (extensions.starttls) lines.push('STARTTLS');
  if (extensions.auth && extensions.auth.length > 0) lines.push(`AUTH ${extensions.auth.join(' ')}`);
  if (extensions.enhancedStatusCodes) lines.push('ENHANCEDSTATUSCODES');
  if (extensions.eightBitMime) lines.push('8BITMIME');
  if (extensions.smtpUtf8) lines.push('SMTPUTF8');
  for (const line of extensions.other ?? []) lines.push(line);
  return lines;
}

/** A reply (or the default one) given late, and/or followed by closing the connection. */
export interface HookAnswer {
  /** The reply to give; undefined gives the machine's default reply for this hook. */
  readonly reply?: Reply;
  /** Wait this long (virtual ms) before the reply: tarpits and slow banners. */
  readonly delayMs?: number;
  /**
   * Close the connection after the reply. With `silent: true` no reply is written at all:
   * the connection just drops (a crash, a flaky link).
   */
  readonly close?: boolean;
  readonly silent?: boolean;
}

export type HookResult = Reply | HookAnswer | undefined;

/** How the TLS handshake after "220 Ready to start TLS" should go (the transport performs it). */
export type TlsHandshakePlan =
  | 'ok'
  /** The server breaks off the handshake (the client sees a handshake failure). */
  | 'fail'
  /** The handshake completes with a self-signed certificate. */
  | 'self-signed'
  /** The handshake completes with a certificate for another name. */
  | 'wrong-name';

/** The answer to STARTTLS: go ahead (default), go ahead with a plan, or refuse (e.g. 454 4.7.0). */
export type StartTlsResult =
  | undefined
  | { readonly handshake: TlsHandshakePlan; readonly delayMs?: number }
  | Reply
  | HookAnswer;

/** The verdict on credentials: true/false for the default 235/535 replies, or a full answer. */
export type AuthResult = boolean | { readonly accepted: boolean; readonly reply?: Reply; readonly delayMs?: number };

/**
 * When the server demands TLS or authentication before a command. Checked by the machine in a
 * fixed order (TLS first, then AUTH) before the hooks run.
 */
export interface AccessPolicy {
  /** AUTH only over TLS (RFC 4954 §4 lets a server refuse it with 538 5.7.11, or 530 5.7.0). */
  readonly tlsRequiredForAuth?: boolean;
  /** Which reply refuses AUTH before TLS: 530 5.7.0 (Postfix, default) or 538 5.7.11 (RFC 4954). */
  readonly authBeforeTlsReply?: 530 | 538;
  /** MAIL/RCPT/DATA only over TLS (RFC 3207 §4: "530 5.7.0 Must issue a STARTTLS command first"). */
  readonly tlsRequiredForMail?: boolean;
  /** MAIL/RCPT/DATA only after AUTH (submission, RFC 6409 §4.3; 530 5.7.0 "Authentication required"). */
  readonly authRequiredForMail?: boolean;
}

/**
 * A mail server's policy at each point of the SMTP dialogue. Every hook is optional: a backend
 * with only `hostname` and `extensions` is a server that accepts everything.
 */
export interface ServerBackend {
  /** The name the server gives in its banner and EHLO reply. */
  readonly hostname: string;
  /** What EHLO advertises to this session; may differ before and after TLS, and per client. */
  extensions(facts: SessionFacts): Extensions;
  readonly policy?: AccessPolicy;
  /**
   * Accept a "." line ending in a bare LF (or after a line ending in a bare LF) as the end of
   * DATA. RFC 5321 §4.1.1.4 allows only <CRLF>.<CRLF>; servers that are lenient here can be
   * tricked into seeing two messages where the sending server saw one ("SMTP smuggling").
   */
  readonly lenientEndOfData?: boolean;
  /** A fresh queue id for an accepted message (8-12 hex digits); the machine has a default. */
  newQueueId?(): string;
  /** The server's clock (ms since 1970), for trace fields; virtual in the simulated world. */
  now?(): number;

  /** Connection opened: default "220 <hostname> ESMTP" (RFC 5321 §4.2 / §3.1). A 554/421 closes. */
  onConnect?(facts: SessionFacts): HookResult;
  /** EHLO <domain>: default 250 with the keyword lines. A 5xx keeps the client un-greeted. */
  onEhlo?(domain: string, facts: SessionFacts): HookResult;
  /** HELO <domain>: default 250 <hostname>. */
  onHelo?(domain: string, facts: SessionFacts): HookResult;
  /** STARTTLS: default "220 2.0.0 Ready to start TLS" and a normal handshake. */
  onStartTls?(facts: SessionFacts): StartTlsResult;
  /** Check credentials (RFC 4954). Without this hook AUTH always fails with 535 5.7.8. */
  authenticate?(mechanism: SaslMechanism, username: string, password: string, facts: SessionFacts): AuthResult;
  /** MAIL FROM, after syntax, sequence and parameter checks: default 250 2.1.0. */
  onMail?(reversePath: string, params: MailParameters, facts: SessionFacts): HookResult;
  /** RCPT TO, per recipient (RFC 5321 §3.3): default 250 2.1.5. A non-2xx leaves it out. */
  onRcpt?(forwardPath: string, params: RcptParameters, envelope: Envelope, facts: SessionFacts): HookResult;
  /** DATA command, before 354: default 354. */
  onDataStart?(envelope: Envelope, facts: SessionFacts): HookResult;
  /** End of DATA: default "250 2.0.0 Ok: queued as <id>". Deliver the message here. */
  onData?(message: ReceivedMessage, envelope: Envelope, facts: SessionFacts): HookResult;
  /** The connection ended (QUIT, close by either side). */
  onDisconnect?(facts: SessionFacts): void;
}

/** Whether a hook result is a plain `Reply` (has a numeric code) rather than a `HookAnswer`. */
export function isReply(value: unknown): value is Reply {
  return typeof value === 'object' && value !== null && typeof (value as Reply).code === 'number' && Array.isArray((value as Reply).lines);
}

/** Normalise any hook result to a `HookAnswer` (undefined reply = the default). */
export function toHookAnswer(result: HookResult): HookAnswer {
  if (result === undefined) return {};
  if (isReply(result)) return { reply: result };
  return result;
}

/**
 * A deterministic queue-id source: 10 hex digits from a 32-bit xorshift generator seeded by
 * `seed`, so the same run gives the same ids (tests and transcripts stay stable).
 */
export function createQueueIdSource(seed = 0x5eed): () => string {
  let state = (seed >>> 0) || 0x5eed;
  let counter = 0;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    counter = (counter + 1) & 0xff;
    return state.toString(16).padStart(8, '0').toUpperCase() + counter.toString(16).padStart(2, '0').toUpperCase();
  };
}

/**
 * What the persona would do to a STARTTLS, asked up front so an implicit-TLS port (RFC 8314,
 * port 465) breaks TLS the same way: that port has no STARTTLS to refuse, so a refusal there
 * means no TLS at all ('refused').
 */
export function implicitTlsPlan(backend: ServerBackend): TlsHandshakePlan | 'refused' {
  const answer = backend.onStartTls?.({ peer: { address: '127.0.0.1', port: 0 }, tls: false, esmtp: true, messagesAccepted: 0 });
  if (answer === undefined) return 'ok';
  if (!isReply(answer) && 'handshake' in answer) return answer.handshake;
  const reply = toHookAnswer(answer).reply;
  return reply !== undefined && reply.code >= 400 ? 'refused' : 'ok';
}
