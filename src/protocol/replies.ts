/**
 * The named reply catalogue. Every reply a server in this project sends, and every reply a test
 * expects, is built here, so the wording and the codes live in one place.
 *
 * Each constructor returns a fresh Reply (callers may change it freely). Enhanced codes follow
 * RFC 3463 and its registry; RFC 2034 §3 leaves them off the greeting and the HELO/EHLO reply,
 * and 3yz replies carry none, because the class digit must be 2, 4 or 5.
 *
 * `listReplies()` enumerates the catalogue (name -> example reply) for tests and the UI.
 */
import type { Reply } from './reply';

function reply(code: number, enhanced: string | undefined, ...lines: string[]): Reply {
  return enhanced === undefined ? { code, lines } : { code, enhanced, lines };
}

/** Text with an optional detail appended after ": ". */
function withDetail(text: string, detail?: string): string {
  return detail ? `${text}: ${detail}` : text;
}

export const Replies = {
  // ── Connection opening and closing (RFC 5321 §3.1, §4.2.3) ─────────────────────────────
  /** 220 banner. No enhanced code: RFC 2034 §3 exempts the greeting. */
  greeting: (host: string, text = 'ESMTP ready') => reply(220, undefined, `${host} ${text}`),
  /** 421 at the banner or at any time: the server is closing the channel (RFC 5321 §3.8). */
  serviceNotAvailable: (host: string, detail?: string) =>
    reply(421, '4.3.2', withDetail(`${host} Service not available, closing transmission channel`, detail)),
  /** 521/554 at the banner: this host never accepts mail (RFC 7504). */
  doesNotAcceptMail: (host: string) => reply(521, '5.3.2', `${host} does not accept mail`),
  /** 221 after QUIT. */
  bye: (host: string) => reply(221, '2.0.0', `${host} Bye`),
  /** 421 when the peer kept sending bad commands. */
  tooManyErrors: (host = 'Server') => reply(421, '4.7.0', `${host} Too many errors, closing connection`),
  /**
   * Rate limits: 421 4.7.0 closes the connection; 451 4.7.1 defers this one transaction.
   */
  rateLimited: (code: 421 | 451 = 421, host = 'Server') =>
    code === 421
      ? reply(421, '4.7.0', `${host} Too many connections or messages, try again later`)
      : reply(451, '4.7.1', 'Rate limit exceeded, try again later'),
  /** 421 4.4.2 when the peer went quiet for longer than the timeout (RFC 5321 §4.5.3.2). */
  timeout: (host = 'Server') => reply(421, '4.4.2', `${host} Timeout exceeded, closing connection`),
  /**
   * Not sent by a server: what a client records when the connection closes mid-transaction.
   * RFC 5321 §3.8 tells the client to treat that as if a 451 reply had been received.
   */
  connectionDropped: () => reply(451, '4.4.2', 'Connection dropped before a reply was received'),

  // ── Greeting exchange (RFC 5321 §4.1.1.1) ────────────────────────────────────────────────
  /** 250 reply to EHLO: first line greets, then one line per extension keyword. */
  ehlo: (host: string, clientName: string, extensions: string[]) =>
    reply(250, undefined, `${host} Hello ${clientName}`, ...extensions),
  /** 250 reply to HELO: one line, no extensions. */
  helo: (host: string, clientName: string) => reply(250, undefined, `${host} Hello ${clientName}`),

  // ── Transaction (RFC 5321 §3.3) ─────────────────────────────────────────────────────────
  senderOk: () => reply(250, '2.1.0', 'Sender OK'),
  recipientOk: () => reply(250, '2.1.5', 'Recipient OK'),
  /** 251: accepted, the server will forward (RFC 5321 §3.4). */
  willForward: (forwardPath: string) => reply(251, '2.1.5', `User not local; will forward to ${forwardPath}`),
  /** 354 after DATA. No enhanced code on 3yz replies. */
  startMailInput: () => reply(354, undefined, 'Start mail input; end with <CRLF>.<CRLF>'),
  queued: (queueId: string) => reply(250, '2.0.0', `OK: queued as ${queueId}`),
  /** 554 to DATA when no recipient was accepted (RFC 5321 §3.3 allows 503 or 554). */
  noValidRecipients: () => reply(554, '5.5.1', 'No valid recipients'),
  /** 250 2.0.0 for NOOP, RSET and anything else that simply succeeded. */
  ok: (text = 'OK') => reply(250, '2.0.0', text),
  /** 250 to VRFY for a known mailbox. */
  verified: (mailbox: string) => reply(250, '2.1.5', mailbox),
  /** 252 to VRFY: the server will not say, but will accept mail (RFC 5321 §3.5.3). */
  cannotVerify: () => reply(252, '2.5.0', 'Cannot VRFY user, but will accept message and attempt delivery'),
  /** 214 help text, one line per entry. */
  help: (lines: string[]) => reply(214, '2.0.0', ...(lines.length ? lines : ['See RFC 5321'])),

  // ── STARTTLS (RFC 3207) ─────────────────────────────────────────────────────────────────
  readyToStartTls: () => reply(220, '2.0.0', 'Ready to start TLS'),
  tlsNotAvailable: () => reply(454, '4.7.0', 'TLS not available due to temporary reason'),
  tlsAlreadyActive: () => reply(503, '5.5.1', 'TLS already active'),
  /** 530 5.7.0: RFC 3207 §4 wording for commands refused before STARTTLS. */
  encryptionRequired: () => reply(530, '5.7.0', 'Must issue a STARTTLS command first'),

  // ── AUTH (RFC 4954) ─────────────────────────────────────────────────────────────────────
  authSucceeded: () => reply(235, '2.7.0', 'Authentication successful'),
  /** 334 with a base64 challenge (may be empty). No enhanced code on 3yz replies. */
  authChallenge: (base64: string) => reply(334, undefined, base64),
  authFailed: () => reply(535, '5.7.8', 'Authentication credentials invalid'),
  authRequired: () => reply(530, '5.7.0', 'Authentication required'),
  /** 501 after the client sent "*" (RFC 4954 §4). */
  authCancelled: () => reply(501, '5.0.0', 'Authentication cancelled'),
  badBase64: () => reply(501, '5.5.2', 'Cannot decode base64 response'),
  unknownMechanism: () => reply(504, '5.5.4', 'Unrecognized authentication type'),
  alreadyAuthenticated: () => reply(503, '5.5.1', 'Already authenticated'),
  /** 538 5.7.11: the mechanism needs an encrypted channel (RFC 4954 §6). */
  encryptionRequiredForMechanism: () => reply(538, '5.7.11', 'Encryption required for requested authentication mechanism'),
  authTemporaryFailure: () => reply(454, '4.7.0', 'Temporary authentication failure'),
  /** 500 5.5.6: an AUTH exchange line over the limit (RFC 4954 §4). */
  authLineTooLong: () => reply(500, '5.5.6', 'Authentication exchange line is too long'),
  /** 530 5.7.0 to MAIL on a submission port before AUTH (RFC 4954 §6, RFC 6409 §4.3). */
  authNeededToSend: () => reply(530, '5.7.0', 'Authentication required to send mail'),

  // ── Command syntax and sequence (RFC 5321 §4.2.2, §4.3.2) ───────────────────────────────
  /** 500 5.5.2: unrecognised command. */
  syntaxError: (detail?: string) => reply(500, '5.5.2', withDetail('Syntax error, command unrecognized', detail)),
  /** 501 5.5.4: the command is known, its arguments are not right. */
  syntaxErrorInParameters: (detail?: string) => reply(501, '5.5.4', withDetail('Syntax error in parameters or arguments', detail)),
  /** 502 5.5.1: a command this server knows of but does not implement. */
  notImplemented: (verb?: string) => reply(502, '5.5.1', withDetail('Command not implemented', verb)),
  /** 503 5.5.1: a command in the wrong place, e.g. RCPT before MAIL. */
  badSequence: (reason: string) => reply(503, '5.5.1', `Bad sequence of commands: ${reason}`),
  /**
   * 555 5.5.4: a MAIL or RCPT parameter that is unknown or was not advertised.
   * RFC 5321 §4.1.1.11 names 555 for exactly this case (504 is for other commands).
   */
  paramNotImplemented: (param: string) => reply(555, '5.5.4', `MAIL FROM/RCPT TO parameter not recognized or not implemented: ${param}`),
  /** 504 5.5.4: a parameter of a command other than MAIL/RCPT that is not implemented. */
  commandParamNotImplemented: (detail: string) => reply(504, '5.5.4', withDetail('Command parameter not implemented', detail)),
  /** 500 5.5.6: command line over 512 octets (RFC 5321 §4.5.3.1.4, §4.5.3.1.10). */
  lineTooLong: () => reply(500, '5.5.6', 'Line too long'),
  /** 501: path over 256 octets, local part over 64, domain over 255 (RFC 5321 §4.5.3.1.10). */
  pathTooLong: (detail?: string) => reply(501, '5.5.4', withDetail('Path too long', detail)),
  /** 550 5.5.2 (Postfix's wording for the same check): bare LF in the input. */
  bareLineFeed: () => reply(550, '5.5.2', 'Bare <LF> received; lines must end in <CRLF>'),
  /** 500 5.5.6: a line of message text over 1000 octets (RFC 5321 §4.5.3.1.6). */
  textLineTooLong: () => reply(500, '5.5.6', 'Message text line too long'),

  // ── Addresses (RFC 5321 §4.1.2, RFC 3463 X.1.x) ─────────────────────────────────────────
  badSenderSyntax: (detail?: string) => reply(501, '5.1.7', withDetail('Bad sender address syntax', detail)),
  badRecipientSyntax: (detail?: string) => reply(501, '5.1.3', withDetail('Bad recipient address syntax', detail)),
  /** 553 5.1.3: the mailbox name is not allowed (RFC 5321 §4.2.3). */
  badAddressSyntax: (detail?: string) => reply(553, '5.1.3', withDetail('Mailbox name not allowed', detail)),
  userUnknown: (mailbox?: string) => reply(550, '5.1.1', mailbox ? `${mailbox}: Recipient address rejected: User unknown` : 'User unknown'),
  /** 550 5.2.1: the mailbox exists but is disabled. */
  mailboxDisabled: (mailbox?: string) => reply(550, '5.2.1', withDetail('Mailbox disabled, not accepting messages', mailbox)),
  mailboxFull: (mailbox?: string) => reply(452, '4.2.2', withDetail('Mailbox full, try again later', mailbox)),
  mailboxFullPermanent: (mailbox?: string) => reply(552, '5.2.2', withDetail('Mailbox full', mailbox)),
  /** 553 5.1.8: the sender's domain does not exist or cannot receive replies. */
  senderDomainInvalid: (domain: string) => reply(553, '5.1.8', `Sender address rejected: Domain ${domain} not found`),
  /** 556 5.1.10: the recipient domain publishes a Null MX (RFC 7505 §4.1). */
  nullMx: (domain: string) => reply(556, '5.1.10', `Recipient address rejected: Domain ${domain} does not accept mail (Null MX)`),
  /** 550 5.7.27: the sender domain publishes a Null MX (RFC 7505 §4.2). */
  senderNullMx: (domain: string) => reply(550, '5.7.27', `Sender address rejected: Domain ${domain} does not accept mail (Null MX)`),
  /** 553 5.6.7: non-ASCII address without SMTPUTF8 (RFC 6531 §3.5). */
  smtputf8Required: () => reply(553, '5.6.7', 'Non-ASCII addresses require the SMTPUTF8 parameter'),
  /** 554 5.6.8: SMTPUTF8 mail to a server that cannot take it (RFC 6531 §3.5). */
  smtputf8NotSupported: () => reply(554, '5.6.8', 'SMTPUTF8 is not supported for this recipient'),
  /** 452 4.5.3 (RFC 5321 §4.5.3.1.10): the client should send the rest in another transaction. */
  tooManyRecipients: () => reply(452, '4.5.3', 'Too many recipients'),

  // ── Policy and content (RFC 3463 X.7.x, RFC 7372) ───────────────────────────────────────
  relayDenied: (domain?: string) => reply(554, '5.7.1', withDetail('Relay access denied', domain)),
  contentRejected: (reason?: string) => reply(554, '5.7.1', withDetail('Message content rejected', reason)),
  /** 550 5.7.26 (RFC 7372): several authentication checks (SPF, DKIM, DMARC) failed. */
  policyRejected: (reason?: string) => reply(550, '5.7.26', withDetail('Message rejected by policy: authentication checks failed', reason)),
  /** 550 5.7.23 (RFC 7372): SPF validation failed. */
  spfFailed: (domain?: string) => reply(550, '5.7.23', withDetail('SPF validation failed', domain)),
  /** 550 5.7.20 (RFC 7372): no passing DKIM signature. */
  dkimFailed: () => reply(550, '5.7.20', 'No passing DKIM signature found'),
  /** 450/451 4.7.1: greylisting; a retry after a delay will be accepted. */
  greylisted: (code: 450 | 451 = 451) => reply(code, '4.7.1', 'Greylisted, please try again later'),
  /** 550 5.7.1: refused by local policy (sender blocked and the like). */
  accessDenied: (reason?: string) => reply(550, '5.7.1', withDetail('Access denied', reason)),
  /** 550 5.7.0: refused for a security reason not covered by a more specific code. */
  securityPolicy: (reason?: string) => reply(550, '5.7.0', withDetail('Rejected by security policy', reason)),

  // ── Size and resources (RFC 1870, RFC 5321 §4.2.3) ──────────────────────────────────────
  /** 552 5.3.4: message larger than the fixed maximum (RFC 1870 §6). */
  messageTooBig: (maxOctets?: number) =>
    reply(552, '5.3.4', maxOctets === undefined ? 'Message size exceeds fixed maximum message size' : `Message size exceeds fixed maximum message size of ${maxOctets} octets`),
  /** 452 4.3.1: not enough room now (RFC 1870 §6 for SIZE, RFC 5321 §4.2.3). */
  insufficientStorage: () => reply(452, '4.3.1', 'Insufficient system storage'),
  /** 451 4.3.0: the server failed while processing. */
  localError: (detail?: string) => reply(451, '4.3.0', withDetail('Requested action aborted: local error in processing', detail)),
  /** 554 5.0.0: a transaction that failed for a reason not listed elsewhere. */
  transactionFailed: (detail?: string) => reply(554, '5.0.0', withDetail('Transaction failed', detail)),
} satisfies Record<string, (...args: never[]) => Reply>;

export type ReplyName = keyof typeof Replies;

/** Example arguments for every constructor, so the catalogue can be listed. */
const exampleArguments: { [K in ReplyName]: Parameters<(typeof Replies)[K]> } = {
  greeting: ['mx1.example.com'],
  serviceNotAvailable: ['mx1.example.com'],
  doesNotAcceptMail: ['mx1.example.com'],
  bye: ['mx1.example.com'],
  tooManyErrors: ['mx1.example.com'],
  rateLimited: [421, 'mx1.example.com'],
  timeout: ['mx1.example.com'],
  connectionDropped: [],
  ehlo: ['mx1.example.com', 'client.example', ['PIPELINING', 'SIZE 10485760', 'STARTTLS', 'ENHANCEDSTATUSCODES', '8BITMIME']],
  helo: ['mx1.example.com', 'client.example'],
  senderOk: [],
  recipientOk: [],
  willForward: ['<bob@example.net>'],
  startMailInput: [],
  queued: ['4F3A21C8'],
  noValidRecipients: [],
  ok: [],
  verified: ['Bob <bob@example.net>'],
  cannotVerify: [],
  help: [['Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT']],
  readyToStartTls: [],
  tlsNotAvailable: [],
  tlsAlreadyActive: [],
  encryptionRequired: [],
  authSucceeded: [],
  authChallenge: ['VXNlcm5hbWU6'],
  authFailed: [],
  authRequired: [],
  authCancelled: [],
  badBase64: [],
  unknownMechanism: [],
  alreadyAuthenticated: [],
  encryptionRequiredForMechanism: [],
  authTemporaryFailure: [],
  authLineTooLong: [],
  authNeededToSend: [],
  syntaxError: [],
  syntaxErrorInParameters: [],
  notImplemented: ['EXPN'],
  badSequence: ['need MAIL before RCPT'],
  paramNotImplemented: ['FOO=BAR'],
  commandParamNotImplemented: ['HELP FOO'],
  lineTooLong: [],
  pathTooLong: [],
  bareLineFeed: [],
  textLineTooLong: [],
  badSenderSyntax: [],
  badRecipientSyntax: [],
  badAddressSyntax: [],
  userUnknown: ['<nobody@example.net>'],
  mailboxDisabled: [],
  mailboxFull: [],
  mailboxFullPermanent: [],
  senderDomainInvalid: ['nowhere.test'],
  nullMx: ['example.test'],
  senderNullMx: ['example.test'],
  smtputf8Required: [],
  smtputf8NotSupported: [],
  tooManyRecipients: [],
  relayDenied: [],
  contentRejected: [],
  policyRejected: ['DMARC policy of example.com is reject'],
  spfFailed: ['example.com'],
  dkimFailed: [],
  greylisted: [451],
  accessDenied: [],
  securityPolicy: [],
  messageTooBig: [10485760],
  insufficientStorage: [],
  localError: [],
  transactionFailed: [],
};

export interface CatalogueEntry {
  name: ReplyName;
  reply: Reply;
}

/** Every named reply with an example, in catalogue order. */
export function listReplies(): CatalogueEntry[] {
  return (Object.keys(Replies) as ReplyName[]).map((name) => {
    const make = Replies[name] as (...args: unknown[]) => Reply;
    return { name, reply: make(...(exampleArguments[name] as unknown[])) };
  });
}
