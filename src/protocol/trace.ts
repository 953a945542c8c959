/**
 * Trace fields (RFC 5321 §4.4): every SMTP server that accepts a message adds a Received field
 * at the top; the server that finally delivers it adds Return-Path with the envelope sender.
 * Reading them bottom-up tells the route a message took, which is how people debug mail.
 */

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** RFC 5322 §3.3 date-time in UTC, e.g. "Tue, 10 Mar 2026 09:00:00 +0000". */
export function formatRfc5322Date(at: number): string {
  const d = new Date(at);
  return (
    `${WEEKDAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`
  );
}

export interface ReceivedInput {
  /** The name the client gave in EHLO/HELO. */
  heloName?: string;
  /** The client's IP address as the server saw it. */
  peerAddress: string;
  /** The receiving server's name. */
  by: string;
  /** RFC 3848 "with" keyword: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA (UTF8 variants per RFC 6531). */
  protocol: string;
  queueId: string;
  /** Named only when there is a single recipient: listing several would disclose Bcc recipients. */
  recipients: readonly string[];
  /** TLS details, as a comment. */
  tls?: string;
  at: number;
}

/** The "with" keyword of RFC 3848 (and RFC 6531 §3.7.3 for SMTPUTF8). */
export function withProtocol(options: { esmtp: boolean; tls: boolean; authenticated: boolean; utf8?: boolean }): string {
  if (!options.esmtp) return options.utf8 ? 'UTF8SMTP' : 'SMTP';
  const base = `ESMTP${options.tls ? 'S' : ''}${options.authenticated ? 'A' : ''}`;
  return options.utf8 ? `UTF8SMTP${base.slice(5)}` : base;
}

/** A Received field (RFC 5321 §4.4), folded over lines, ending in CRLF. */
export function receivedField(input: ReceivedInput): string {
  const from = `from ${input.heloName ?? 'unknown'} ([${input.peerAddress}])`;
  const parts = [`Received: ${from}`, `\tby ${input.by} (smtp-lab) with ${input.protocol} id ${input.queueId}`];
  if (input.tls) parts.push(`\t(${input.tls})`);
  const rcpt = input.recipients.length === 1 ? `for <${input.recipients[0]}>; ` : '; ';
  parts.push(`\t${rcpt}${formatRfc5322Date(input.at)}`);
  return parts.join('\r\n') + '\r\n';
}

/** Return-Path (RFC 5321 §4.4): added at final delivery, the envelope sender in brackets. */
export function returnPathField(reversePath: string): string {
  return `Return-Path: <${reversePath}>\r\n`;
}
