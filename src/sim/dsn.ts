/**
 * Delivery status notifications (RFC 3464) as real MIME text, and a reader for them.
 *
 * A DSN is a multipart/report (RFC 6522) with three parts: words for people, a
 * message/delivery-status part for programs, and the original message's headers
 * (text/rfc822-headers). It is sent from MAILER-DAEMON with the null reverse path `<>`
 * (RFC 5321 §4.5.5), so that a DSN about a DSN can never loop.
 */
import { formatRfc5322Date, parseRfc5322Date } from './clock';
import { headerValue, parseMessage, type Envelope, type Header } from './mailbox';

export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

export interface DsnRecipient {
  /** The address the reporting MTA tried (RFC 3464 §2.3.2 Final-Recipient). */
  finalRecipient: string;
  /** The address as the sender gave it, when known (§2.3.1): the ORCPT of RFC 3461 §4.2. */
  originalRecipient?: string;
  /** The address type of `originalRecipient` (ORCPT's addr-type); "rfc822" when not given. */
  originalRecipientType?: string;
  action: DsnAction;
  /** RFC 3463 enhanced status, e.g. "5.1.1". */
  status: string;
  /** The host that gave the reply (§2.3.5); none when no host answered (a connection that failed). */
  remoteMta?: string;
  /** The SMTP reply text, e.g. "550 5.1.1 <bob@example.net>: no such user" (§2.3.6). */
  diagnosticCode?: string;
  /**
   * What kind of text `diagnosticCode` is (§2.3.6): "smtp" (the default) for a reply a server
   * gave, `LOCAL_DIAGNOSTIC` for one the reporting MTA wrote itself.
   */
  diagnosticType?: string;
  /** Virtual ms (§2.3.7). */
  lastAttemptDate?: number;
  /** For `delayed`: until when the MTA keeps trying (§2.3.9). */
  willRetryUntil?: number;
}

export interface DsnInput {
  /** The MTA that writes the report, e.g. "smtp.example.com". */
  reportingMta: string;
  /** The original sender: the DSN goes to this address. */
  originalSender: string;
  /** When the original message entered the reporting MTA. */
  arrivalDate: number;
  /** When the DSN is written (Date: header). */
  date: number;
  recipients: DsnRecipient[];
  /** The original message (its headers are quoted back; the body only with `returnContent: 'full'`). */
  originalMessage: string;
  /**
   * What of the original message the report carries: 'headers' (text/rfc822-headers, RFC 6522
   * §4; the default) or 'full' (the whole message as message/rfc822, RFC 3464 §2: what RET=FULL
   * asks for in a failure report, RFC 3461 §4.3).
   */
  returnContent?: 'headers' | 'full';
  /** ENVID from MAIL FROM, when the sender gave one (RFC 3461 §4.4). */
  originalEnvelopeId?: string;
  /** Override the MIME boundary / Message-ID (otherwise derived deterministically). */
  boundary?: string;
  messageId?: string;
}

export interface BuiltDsn {
  /** Send with MAIL FROM:<> to the original sender. */
  envelope: Envelope;
  /** The full message text, CRLF line ends. */
  text: string;
}

const CRLF = '\r\n';

function hash(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

function stripBrackets(address: string): string {
  return address.trim().replace(/^<(.*)>$/, '$1');
}

function subjectFor(recipients: DsnRecipient[]): string {
  const actions = new Set(recipients.map((r) => r.action));
  if (actions.size === 1 && actions.has('failed')) return 'Undelivered Mail Returned to Sender';
  if (actions.size === 1 && actions.has('delayed')) return 'Delayed Mail (still being retried)';
  if ([...actions].every((a) => a === 'delivered' || a === 'relayed')) return 'Successful Mail Delivery Report';
  return 'Delivery Status Notification';
}

function humanLine(r: DsnRecipient, input: DsnInput): string {
  const who = `<${stripBrackets(r.finalRecipient)}>`;
  const why = r.diagnosticCode ? `: ${r.remoteMta ? `${r.remoteMta} said: ` : ''}${r.diagnosticCode}` : '';
  switch (r.action) {
    case 'failed':
      return `${who} could not be delivered (status ${r.status})${why}`;
    case 'delayed':
      return `${who} has not been delivered yet (status ${r.status})${why}; ${input.reportingMta} will keep trying${r.willRetryUntil !== undefined ? ` until ${formatRfc5322Date(r.willRetryUntil)}` : ''}`;
    case 'delivered':
      return `${who} was delivered${r.remoteMta ? ` to ${r.remoteMta}` : ''}`;
    case 'relayed':
      return `${who} was relayed to a system that does not send DSNs`;
    case 'expanded':
      return `${who} was expanded to further recipients`;
  }
}

/** Text of the RFC 3464 §2.1 "type; value" form. */
/**
 * The diagnostic-type of a Diagnostic-Code that is not an SMTP reply: the reporting MTA's own
 * words ("connect to …: Connection timed out", "delivery time expired …"). RFC 3464 §2.3.6 keeps
 * "smtp" for SMTP replies; other types are registered or begin with "X-" (Postfix writes
 * X-Postfix), so a reader knows no server said it.
 */
export const LOCAL_DIAGNOSTIC = 'X-smtp-lab';

function typed(kind: string, value: string): string {
  return `${kind}; ${value}`;
}

/** One header line, never longer than a DSN field needs: CR/LF in values would forge fields. */
function field(name: string, value: string): string {
  return `${name}: ${value.replace(/[\r\n]+/g, ' ')}`;
}

/** Build a complete DSN message and the envelope to send it with. */
export function buildDsn(input: DsnInput): BuiltDsn {
  if (input.recipients.length === 0) throw new RangeError('a DSN reports on at least one recipient (RFC 3464 §2.3)');
  const original = parseMessage(input.originalMessage);
  const sender = stripBrackets(input.originalSender);
  const id = hash(`${input.reportingMta} ${input.arrivalDate} ${input.date} ${input.recipients.map((r) => r.finalRecipient).join(',')}`);
  const boundary = input.boundary ?? `dsn-${id}/${input.reportingMta}`;
  const full = input.returnContent === 'full';
  const succeeded = input.recipients.every((r) => r.action === 'delivered' || r.action === 'relayed');
  const messageId = input.messageId ?? `<dsn.${input.date.toString(36)}.${id}@${input.reportingMta}>`;

  const human = [
    `This is the mail system at host ${input.reportingMta}.`,
    '',
    ...input.recipients.map((r) => humanLine(r, input)),
    '',
    ...(input.recipients.some((r) => r.action === 'failed')
      ? [`The message was not delivered to the addresses marked "could not be delivered". ${full ? 'It is attached below.' : 'Its headers are attached below.'}`]
      : []),
    ...(input.recipients.some((r) => r.action === 'delayed') ? ['No action is needed for delayed addresses yet; another report follows if delivery finally fails.'] : []),
  ];

  const perMessage = [
    field('Reporting-MTA', typed('dns', input.reportingMta)),
    ...(input.originalEnvelopeId ? [field('Original-Envelope-Id', input.originalEnvelopeId)] : []),
    field('Arrival-Date', formatRfc5322Date(input.arrivalDate)),
  ];
  const perRecipient = input.recipients.map((r) => [
    ...(r.originalRecipient ? [field('Original-Recipient', typed(r.originalRecipientType ?? 'rfc822', stripBrackets(r.originalRecipient)))] : []),
    field('Final-Recipient', typed('rfc822', stripBrackets(r.finalRecipient))),
    field('Action', r.action),
    field('Status', r.status),
    ...(r.remoteMta ? [field('Remote-MTA', typed('dns', r.remoteMta))] : []),
    ...(r.diagnosticCode ? [field('Diagnostic-Code', typed(r.diagnosticType ?? 'smtp', r.diagnosticCode))] : []),
    ...(r.lastAttemptDate !== undefined ? [field('Last-Attempt-Date', formatRfc5322Date(r.lastAttemptDate))] : []),
    ...(r.willRetryUntil !== undefined ? [field('Will-Retry-Until', formatRfc5322Date(r.willRetryUntil))] : []),
  ]);

  const originalHeaders = original.headers.map((h) => `${h.name}: ${h.value}`);
  // RFC 6522 §4: the third part is the original message (message/rfc822) or its header alone.
  const returned = full
    ? ['Content-Description: Undelivered Message', 'Content-Type: message/rfc822', '', ...input.originalMessage.replace(/\r\n|\r|\n/g, '\n').replace(/\n$/, '').split('\n')]
    : [`Content-Description: ${succeeded ? 'Message Headers' : 'Undelivered Message Headers'}`, 'Content-Type: text/rfc822-headers', '', ...originalHeaders];

  const lines = [
    field('From', `Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`),
    field('To', `<${sender}>`),
    field('Subject', subjectFor(input.recipients)),
    field('Date', formatRfc5322Date(input.date)),
    field('Message-ID', messageId),
    // RFC 3834 §5: automatic responses say so, so that vacation responders stay quiet.
    field('Auto-Submitted', 'auto-replied'),
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;${CRLF}\tboundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=utf-8',
    '',
    ...human,
    '',
    `--${boundary}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    ...perMessage,
    ...perRecipient.flatMap((group) => ['', ...group]),
    '',
    `--${boundary}`,
    ...returned,
    '',
    `--${boundary}--`,
    '',
  ];
  return { envelope: { mailFrom: '', rcptTo: [sender] }, text: lines.join(CRLF) };
}

// ---------------------------------------------------------------------------------------------

export interface ParsedDsnRecipient {
  finalRecipient: string;
  originalRecipient?: string;
  action: string;
  status: string;
  remoteMta?: string;
  diagnosticCode?: string;
  lastAttemptDate?: number;
  willRetryUntil?: number;
  /** Every field of the group, as written (names as in the message). */
  fields: Header[];
}

export interface ParsedDsn {
  from?: string;
  to?: string;
  subject?: string;
  reportingMta?: string;
  arrivalDate?: number;
  originalEnvelopeId?: string;
  recipients: ParsedDsnRecipient[];
  humanReadable: string;
  originalHeaders: Header[];
  /** What came back of the original message: its header only, the whole message, or nothing. */
  returnedContent: 'headers' | 'full' | 'none';
  /** The original body, when the whole message came back (message/rfc822). */
  returnedBody?: string;
}

export type ParseDsnResult = { ok: true; dsn: ParsedDsn } | { ok: false; error: string };

/** RFC 2045 §5.1 parameter value, quoted or not. */
function parameter(contentType: string, name: string): string | undefined {
  const re = new RegExp(`(?:^|;)\\s*${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]+))`, 'i');
  const match = re.exec(contentType);
  if (!match) return undefined;
  return match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2];
}

/** Split a multipart body at its boundary (RFC 2046 §5.1.1); the preamble and epilogue are dropped. */
function splitParts(body: string, boundary: string): string[] | undefined {
  const lines = body.split('\n');
  const parts: string[] = [];
  let current: string[] | undefined;
  let closed = false;
  for (const line of lines) {
    const trimmed = line.replace(/[ \t]+$/, '');
    if (trimmed === `--${boundary}--`) {
      if (current) parts.push(current.join('\n'));
      closed = true;
      break;
    }
    if (trimmed === `--${boundary}`) {
      if (current) parts.push(current.join('\n'));
      current = [];
      continue;
    }
    current?.push(line);
  }
  if (!closed && current) parts.push(current.join('\n'));
  return parts.length > 0 ? parts : undefined;
}

/** Groups of fields separated by blank lines (RFC 3464 §2.1). */
function fieldGroups(text: string): Header[][] {
  const groups: Header[][] = [];
  for (const block of text.split(/\n[ \t]*\n/)) {
    if (block.trim() === '') continue;
    const { headers } = parseMessage(`${block.trim()}\n\n`);
    if (headers.length > 0) groups.push(headers);
  }
  return groups;
}

/** "rfc822; bob@example.net" -> "bob@example.net". */
function typedValue(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const semi = value.indexOf(';');
  return (semi < 0 ? value : value.slice(semi + 1)).trim();
}

function dateOf(value: string | undefined): number | undefined {
  return value === undefined ? undefined : parseRfc5322Date(value);
}

/** Read a DSN back. Returns a clear error for anything that is not a delivery-status report. */
export function parseDsn(text: string): ParseDsnResult {
  const message = parseMessage(text.replace(/\r\n/g, '\n'));
  const contentType = headerValue(message.headers, 'Content-Type');
  if (!contentType || !/^multipart\/report\b/i.test(contentType)) {
    return { ok: false, error: `not a DSN: Content-Type is ${contentType ?? 'missing'}, expected multipart/report` };
  }
  const reportType = parameter(contentType, 'report-type');
  if (reportType?.toLowerCase() !== 'delivery-status') {
    return { ok: false, error: `not a DSN: report-type is ${reportType ?? 'missing'}, expected delivery-status` };
  }
  const boundary = parameter(contentType, 'boundary');
  if (!boundary) return { ok: false, error: 'not a DSN: the multipart/report has no boundary parameter' };
  const parts = splitParts(message.body, boundary);
  if (!parts) return { ok: false, error: `not a DSN: no part starts with --${boundary}` };

  let humanReadable = '';
  let statusPart: string | undefined;
  let originalHeaders: Header[] = [];
  let returnedContent: ParsedDsn['returnedContent'] = 'none';
  let returnedBody: string | undefined;
  for (const part of parts) {
    const parsed = parseMessage(part);
    const type = (headerValue(parsed.headers, 'Content-Type') ?? 'text/plain').toLowerCase();
    if (type.startsWith('message/delivery-status') || type.startsWith('message/global-delivery-status')) statusPart = parsed.body;
    else if (type.startsWith('text/rfc822-headers')) {
      originalHeaders = parseMessage(parsed.body.replace(/\n*$/, '\n\n')).headers;
      returnedContent = 'headers';
    } else if (type.startsWith('message/rfc822')) {
      const returned = parseMessage(parsed.body);
      originalHeaders = returned.headers;
      returnedBody = returned.body;
      returnedContent = 'full';
    }
    else if (humanReadable === '' && type.startsWith('text/')) humanReadable = parsed.body.replace(/\n+$/, '');
  }
  if (statusPart === undefined) return { ok: false, error: 'not a DSN: there is no message/delivery-status part' };

  const [perMessage, ...perRecipient] = fieldGroups(statusPart);
  if (!perMessage) return { ok: false, error: 'the delivery-status part is empty' };
  const recipients: ParsedDsnRecipient[] = [];
  for (const group of perRecipient) {
    const finalRecipient = typedValue(headerValue(group, 'Final-Recipient'));
    const action = headerValue(group, 'Action');
    const status = headerValue(group, 'Status');
    // RFC 3464 §2.3: Final-Recipient, Action and Status are required in every recipient group.
    if (!finalRecipient || !action || !status) {
      return { ok: false, error: `a recipient group lacks ${!finalRecipient ? 'Final-Recipient' : !action ? 'Action' : 'Status'} (RFC 3464 §2.3)` };
    }
    const originalRecipient = typedValue(headerValue(group, 'Original-Recipient'));
    const remoteMta = typedValue(headerValue(group, 'Remote-MTA'));
    const diagnosticCode = typedValue(headerValue(group, 'Diagnostic-Code'));
    const lastAttemptDate = dateOf(headerValue(group, 'Last-Attempt-Date'));
    const willRetryUntil = dateOf(headerValue(group, 'Will-Retry-Until'));
    recipients.push({
      finalRecipient,
      action: action.toLowerCase(),
      status,
      fields: group,
      ...(originalRecipient !== undefined ? { originalRecipient } : {}),
      ...(remoteMta !== undefined ? { remoteMta } : {}),
      ...(diagnosticCode !== undefined ? { diagnosticCode } : {}),
      ...(lastAttemptDate !== undefined ? { lastAttemptDate } : {}),
      ...(willRetryUntil !== undefined ? { willRetryUntil } : {}),
    });
  }
  if (recipients.length === 0) return { ok: false, error: 'the delivery-status part reports on no recipient' };

  const optional = <K extends string, V>(key: K, value: V | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));
  return {
    ok: true,
    dsn: {
      ...optional('from', headerValue(message.headers, 'From')),
      ...optional('to', headerValue(message.headers, 'To')),
      ...optional('subject', headerValue(message.headers, 'Subject')),
      ...optional('reportingMta', typedValue(headerValue(perMessage, 'Reporting-MTA'))),
      ...optional('arrivalDate', dateOf(headerValue(perMessage, 'Arrival-Date'))),
      ...optional('originalEnvelopeId', headerValue(perMessage, 'Original-Envelope-Id')),
      recipients,
      humanReadable,
      originalHeaders,
      returnedContent,
      ...optional('returnedBody', returnedBody),
    },
  };
}
