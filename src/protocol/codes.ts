/**
 * Plain-English explanations of reply codes, enhanced status codes and EHLO keywords, one line
 * each, for the transcript and the lessons.
 *
 * Basic codes: RFC 5321 §4.2.2-§4.2.3, plus 334 (RFC 4954), 521/556 (RFC 7504) and the AUTH
 * codes of RFC 4954. Enhanced codes: RFC 3463 and the IANA "Enumerated Status Codes" registry
 * (RFC 3886, 4468, 4865, 4954, 5248, 6531, 6710, 7293, 7372, 7505, 8689, ...).
 */

const BASIC: Record<number, string> = {
  211: 'System status, or a reply to a help request about the system.',
  214: 'Help message for a human reader.',
  220: 'The server is ready: the greeting, or "go ahead with TLS" after STARTTLS.',
  221: 'The server is closing the connection, as asked by QUIT.',
  235: 'Authentication succeeded.',
  250: 'The requested action was completed.',
  251: 'The recipient is not local; the server will forward the message.',
  252: 'The server cannot verify the user, but will accept the message and try to deliver it.',
  334: 'Authentication continues: the text is a base64 challenge; answer with a base64 line.',
  354: 'Go ahead and send the message; end it with a line holding only ".".',
  421: 'The service is not available and the server is closing the connection; try again later.',
  432: 'A password transition is needed before this mechanism can be used.',
  450: 'The mailbox is unavailable for now (busy, or blocked by policy such as greylisting); try later.',
  451: 'The server hit a local error and aborted the action; try again later.',
  452: 'Not enough storage right now, or too many recipients in this transaction; try again later.',
  454: 'TLS or authentication is temporarily unavailable; try later.',
  455: 'The server cannot accommodate these parameters right now.',
  500: 'Syntax error: the command was not recognised, or the line was too long.',
  501: 'Syntax error in the parameters or arguments of the command.',
  502: 'The command is not implemented by this server.',
  503: 'Bad sequence of commands: this command is not allowed at this point.',
  504: 'A parameter of the command is not implemented.',
  521: 'This host does not accept mail at all.',
  523: 'The message is larger than this recipient accepts.',
  530: 'Authentication (or STARTTLS first) is required for this command.',
  534: 'The authentication mechanism is too weak for this server.',
  535: 'Authentication failed: the credentials are not valid.',
  538: 'This authentication mechanism needs an encrypted connection.',
  550: 'The mailbox is unavailable (no such user, or refused by policy); do not retry.',
  551: 'The user is not local; the server gives the address to try instead.',
  552: 'The message exceeds the storage allocation (too big, or the mailbox is full).',
  553: 'The mailbox name is not allowed (for example, bad address syntax).',
  554: 'The transaction failed (at the greeting: no SMTP service here).',
  555: 'A MAIL FROM or RCPT TO parameter is not recognised or not implemented.',
  556: 'The recipient domain does not accept mail (it publishes a Null MX).',
};

const CLASS_TEXT: Record<string, string> = {
  '2': 'Success',
  '4': 'Temporary failure (retrying may work)',
  '5': 'Permanent failure (do not retry unchanged)',
};

const FIRST_DIGIT: Record<string, string> = {
  '1': 'Preliminary positive reply (not used by SMTP).',
  '2': 'Success.',
  '3': 'Intermediate reply: the server waits for more input.',
  '4': 'Temporary failure: the client may try again later.',
  '5': 'Permanent failure: the client should not repeat the same request.',
};

/** One line explaining a basic reply code; unknown codes are explained by their first digit. */
export function explainCode(code: number): string {
  const known = BASIC[code];
  if (known) return known;
  const first = FIRST_DIGIT[String(code)[0] ?? ''];
  if (!Number.isInteger(code) || code < 100 || code > 599 || !first) return `${code} is not a valid SMTP reply code.`;
  return `Unlisted code. ${first}`;
}

const SUBJECTS: Record<string, string> = {
  '0': 'Other or undefined status',
  '1': 'Addressing status',
  '2': 'Mailbox status',
  '3': 'Mail system status',
  '4': 'Network and routing status',
  '5': 'Mail delivery protocol status',
  '6': 'Message content or media status',
  '7': 'Security or policy status',
};

/** subject.detail -> explanation (the class digit is added separately). */
const DETAILS: Record<string, string> = {
  '0.0': 'Other undefined status',
  '1.0': 'Other address status',
  '1.1': 'Bad destination mailbox address: no such user here',
  '1.2': 'Bad destination system address: the domain does not exist or cannot take mail',
  '1.3': 'Bad destination mailbox address syntax',
  '1.4': 'Destination mailbox address is ambiguous',
  '1.5': 'Destination address valid',
  '1.6': 'Destination mailbox has moved, no forwarding address',
  '1.7': "Bad sender's mailbox address syntax",
  '1.8': "Bad sender's system address: the sender domain is not valid",
  '1.9': 'Message relayed to a non-compliant mailer',
  '1.10': 'Recipient address has a Null MX: the domain accepts no mail (RFC 7505)',
  '2.0': 'Other or undefined mailbox status',
  '2.1': 'Mailbox disabled, not accepting messages',
  '2.2': 'Mailbox full',
  '2.3': 'Message length exceeds the administrative limit',
  '2.4': 'Mailing list expansion problem',
  '3.0': 'Other or undefined mail system status',
  '3.1': 'Mail system full',
  '3.2': 'System not accepting network messages',
  '3.3': 'System not capable of selected features',
  '3.4': 'Message too big for the system',
  '3.5': 'System incorrectly configured',
  '3.6': 'Requested priority was changed (RFC 6710)',
  '4.0': 'Other or undefined network or routing status',
  '4.1': 'No answer from host',
  '4.2': 'Bad connection',
  '4.3': 'Directory server failure (for example, DNS)',
  '4.4': 'Unable to route',
  '4.5': 'Mail system congestion',
  '4.6': 'Routing loop detected',
  '4.7': 'Delivery time expired',
  '5.0': 'Other or undefined protocol status',
  '5.1': 'Invalid command',
  '5.2': 'Syntax error',
  '5.3': 'Too many recipients',
  '5.4': 'Invalid command arguments',
  '5.5': 'Wrong protocol version',
  '5.6': 'Authentication exchange line is too long (RFC 4954)',
  '6.0': 'Other or undefined media error',
  '6.1': 'Media not supported',
  '6.2': 'Conversion required and prohibited',
  '6.3': 'Conversion required but not supported',
  '6.4': 'Conversion with loss performed',
  '6.5': 'Conversion failed',
  '6.6': 'Message content not available (RFC 4468)',
  '6.7': 'Non-ASCII addresses not permitted for that sender or recipient (RFC 6531)',
  '6.8': 'UTF-8 string reply is required but not permitted by the client (RFC 6531)',
  '6.9': 'UTF-8 header message cannot be transferred to a non-UTF-8 recipient (RFC 6531)',
  '6.10': 'Same as 6.7 (historical duplicate, RFC 6531)',
  '7.0': 'Other or undefined security status',
  '7.1': 'Delivery not authorized, message refused (policy)',
  '7.2': 'Mailing list expansion prohibited',
  '7.3': 'Security conversion required but not possible',
  '7.4': 'Security features not supported',
  '7.5': 'Cryptographic failure',
  '7.6': 'Cryptographic algorithm not supported',
  '7.7': 'Message integrity failure',
  '7.8': 'Authentication credentials invalid (RFC 4954)',
  '7.9': 'Authentication mechanism is too weak (RFC 4954)',
  '7.10': 'Encryption needed (RFC 5248)',
  '7.11': 'Encryption required for the requested authentication mechanism (RFC 4954)',
  '7.12': 'A password transition is needed (RFC 4954)',
  '7.13': 'User account disabled (RFC 5248)',
  '7.14': 'Trust relationship required (RFC 5248)',
  '7.15': 'Priority level is too low (RFC 6710)',
  '7.16': 'Message is too big for the specified priority (RFC 6710)',
  '7.17': 'Mailbox owner has changed (RFC 7293)',
  '7.18': 'Domain owner has changed (RFC 7293)',
  '7.19': 'RRVS test cannot be completed (RFC 7293)',
  '7.20': 'No passing DKIM signature found (RFC 7372)',
  '7.21': 'No acceptable DKIM signature found (RFC 7372)',
  '7.22': 'No valid author-matched DKIM signature found (RFC 7372)',
  '7.23': 'SPF validation failed (RFC 7372)',
  '7.24': 'SPF validation error (RFC 7372)',
  '7.25': 'Reverse DNS validation failed (RFC 7372)',
  '7.26': 'Multiple authentication checks failed, e.g. DMARC (RFC 7372)',
  '7.27': 'Sender address has a Null MX (RFC 7505)',
  '7.28': 'Mail flood detected (IANA registry)',
  '7.29': 'ARC validation failure (RFC 8617)',
  '7.30': 'REQUIRETLS support required (RFC 8689)',
};

/** One line explaining an RFC 3463 enhanced status code such as "5.1.1". */
export function explainEnhanced(enhanced: string): string {
  const match = /^([245])\.(\d{1,3})\.(\d{1,3})$/.exec(enhanced.trim());
  if (!match) return `"${enhanced}" is not an enhanced status code (expected class.subject.detail, e.g. 5.1.1).`;
  const [, cls, subject, detail] = match as unknown as [string, string, string, string];
  const classText = CLASS_TEXT[cls]!;
  if (cls === '2' && subject === '0' && detail === '0') return 'Success: the action completed.';
  const known = DETAILS[`${subject}.${detail}`];
  if (known) return `${classText}: ${known}.`;
  const subjectText = SUBJECTS[subject];
  if (subjectText) return `${classText}: ${subjectText.toLowerCase()} (detail ${detail} is not a registered code).`;
  return `${classText}: unregistered subject ${subject}, detail ${detail}.`;
}

const EXTENSIONS: Record<string, string> = {
  SIZE: 'SIZE (RFC 1870): the largest message the server takes, in octets; MAIL FROM may declare SIZE=n.',
  '8BITMIME': '8BITMIME (RFC 6152): message bodies may contain 8-bit bytes (MAIL FROM ... BODY=8BITMIME).',
  STARTTLS: 'STARTTLS (RFC 3207): the client may upgrade this connection to TLS and greet again.',
  AUTH: 'AUTH (RFC 4954): the client may log in; the list names the SASL mechanisms (PLAIN, LOGIN, ...).',
  PIPELINING: 'PIPELINING (RFC 2920): the client may send several commands without waiting for each reply.',
  ENHANCEDSTATUSCODES: 'ENHANCEDSTATUSCODES (RFC 2034): replies carry codes like 5.1.1 that say what went wrong.',
  SMTPUTF8: 'SMTPUTF8 (RFC 6531): addresses and headers may be UTF-8 (MAIL FROM ... SMTPUTF8).',
  DSN: 'DSN (RFC 3461): the client may ask for delivery status notifications (NOTIFY, RET, ENVID, ORCPT).',
  CHUNKING: 'CHUNKING (RFC 3030): the message may be sent in sized chunks with BDAT instead of DATA.',
  BINARYMIME: 'BINARYMIME (RFC 3030): bodies may be raw binary (BODY=BINARYMIME, needs CHUNKING).',
  HELP: 'HELP: the server answers the HELP command.',
  VRFY: 'VRFY: the server answers VRFY (most servers give 252 to avoid revealing users).',
  EXPN: 'EXPN: the server expands mailing lists (rarely enabled).',
  ETRN: 'ETRN (RFC 1985): the client may ask the server to flush its queue for a domain.',
  DELIVERBY: 'DELIVERBY (RFC 2852): the client may ask for delivery within a time limit.',
  'MT-PRIORITY': 'MT-PRIORITY (RFC 6710): messages may carry a transfer priority.',
  REQUIRETLS: 'REQUIRETLS (RFC 8689): the message must only travel over TLS.',
  BURL: 'BURL (RFC 4468): message data may be fetched from an IMAP URL.',
  FUTURERELEASE: 'FUTURERELEASE (RFC 4865): the message may be held until a given time.',
  'NO-SOLICITING': 'NO-SOLICITING (RFC 3865): the server does not want solicitations of the given kinds.',
  LIMITS: 'LIMITS (RFC 9422): the server states its limits (recipients, transactions) up front.',
  XCLIENT: 'XCLIENT (Postfix, non-standard): a trusted proxy may override client attributes.',
  XFORWARD: 'XFORWARD (Postfix, non-standard): a trusted proxy may forward client attributes.',
};

/** One line explaining an EHLO keyword; the line may include arguments ("SIZE 10485760"). */
export function explainExtension(keyword: string): string {
  const word = (keyword.trim().split(/\s+/, 1)[0] ?? '').toUpperCase();
  const known = EXTENSIONS[word];
  if (known) return known;
  if (word.startsWith('X')) return `${word}: a private (non-standard) extension of this server.`;
  return `${word || keyword}: an extension this guide does not know.`;
}

/** The EHLO keywords `explainExtension` knows, for listing. */
export const knownExtensions: readonly string[] = Object.keys(EXTENSIONS);
