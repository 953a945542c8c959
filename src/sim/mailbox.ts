/**
 * Mailboxes of the simulated world and a small RFC 5322 header reader for showing messages.
 */

export interface Header {
  /** The field name as written. */
  name: string;
  /** The unfolded value (RFC 5322 §2.2.3), leading white space removed. */
  value: string;
}

export interface ParsedMessage {
  headers: Header[];
  body: string;
  /** Lines that were neither a field nor a continuation; kept so nothing is lost. */
  malformed: string[];
}

export interface Envelope {
  /** MAIL FROM path without brackets; '' for the null reverse path `<>` (RFC 5321 §4.5.5). */
  mailFrom: string;
  rcptTo: string[];
}

export interface StoredMessage {
  /** Unique within the world, in delivery order. */
  id: string;
  /** The mailbox this copy was delivered to. */
  recipient: string;
  envelope: Envelope;
  /** The message as received after DATA, dot-unstuffed, CRLF or LF line ends. */
  raw: string;
  headers: Header[];
  body: string;
  /** Virtual time of delivery (ms since 1970). */
  deliveredAt: number;
  /** The host that accepted it. */
  deliveredBy: string;
  /** True for a delivery status notification (RFC 3464). */
  isDsn: boolean;
}

/**
 * Split a message into header fields and body. The header ends at the first empty line
 * (RFC 5322 §2.1); a line starting with white space continues the previous field (§2.2.3).
 */
export function parseMessage(raw: string): ParsedMessage {
  const text = raw.replace(/\r\n/g, '\n');
  // A text that starts with an empty line has no header at all (a MIME part may omit them, RFC 2046 §5.1.1).
  const separator = text.startsWith('\n') ? -1 : text.indexOf('\n\n');
  let headerText = text;
  let body = '';
  if (text.startsWith('\n')) {
    headerText = '';
    body = text.slice(1);
  } else if (separator >= 0) {
    headerText = text.slice(0, separator);
    body = text.slice(separator + 2);
  }
  const headers: Header[] = [];
  const malformed: string[] = [];
  for (const line of headerText.split('\n')) {
    if (line === '') continue;
    if (/^[ \t]/.test(line)) {
      const last = headers.at(-1);
      if (last) last.value = `${last.value} ${line.trim()}`.trim();
      else malformed.push(line);
      continue;
    }
    // RFC 5322 §2.2: field name is printable US-ASCII except ":".
    const match = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:(.*)$/.exec(line);
    if (match) headers.push({ name: match[1]!, value: match[2]!.trim() });
    else malformed.push(line);
  }
  return { headers, body, malformed };
}

/** The first value of a header field (names are case-insensitive), or undefined. */
export function headerValue(headers: readonly Header[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find((h) => h.name.toLowerCase() === lower)?.value;
}

/** All values of a header field, in order (Received: appears many times). */
export function headerValues(headers: readonly Header[], name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter((h) => h.name.toLowerCase() === lower).map((h) => h.value);
}

/** A DSN is a multipart/report with report-type=delivery-status (RFC 3464 §2, RFC 6522). */
export function looksLikeDsn(headers: readonly Header[]): boolean {
  const type = headerValue(headers, 'Content-Type') ?? '';
  return /^multipart\/report\s*;/i.test(type) && /report-type\s*=\s*"?delivery-status"?/i.test(type);
}

/**
 * Mailbox keys: RFC 5321 §2.4 lets the local part be case-sensitive but says the domain is not,
 * so only the domain is lower-cased.
 */
export function mailboxKey(address: string): string {
  const trimmed = address.trim().replace(/^<(.*)>$/, '$1');
  const at = trimmed.lastIndexOf('@');
  if (at < 0) return trimmed;
  return `${trimmed.slice(0, at)}@${trimmed.slice(at + 1).toLowerCase()}`;
}

export interface DeliveryInput {
  envelope: Envelope;
  raw: string;
  deliveredAt: number;
  deliveredBy: string;
}

export type MailboxListener = (message: StoredMessage) => void;

/**
 * A stored copy whose header and body are split from `raw` when first read: a five-day run
 * delivers thousands of messages that nobody opens. The fields are own enumerable getters, so
 * spreading or serialising a message shows them like plain data.
 */
function storedMessage(id: string, recipient: string, input: DeliveryInput): StoredMessage {
  let parsed: ParsedMessage | undefined;
  let isDsn: boolean | undefined;
  const parse = () => (parsed ??= parseMessage(input.raw));
  return {
    id,
    recipient,
    envelope: { mailFrom: input.envelope.mailFrom, rcptTo: [...input.envelope.rcptTo] },
    raw: input.raw,
    get headers() {
      return parse().headers;
    },
    get body() {
      return parse().body;
    },
    deliveredAt: input.deliveredAt,
    deliveredBy: input.deliveredBy,
    get isDsn() {
      return (isDsn ??= looksLikeDsn(parse().headers));
    },
  };
}

/** Every mailbox of the world: address -> messages, in delivery order. */
export class Mailboxes {
  private boxes = new Map<string, StoredMessage[]>();
  private listeners = new Set<MailboxListener>();
  private counter = 0;

  /** Put one copy of a message into `recipient`'s mailbox. */
  deliver(recipient: string, input: DeliveryInput): StoredMessage {
    const key = mailboxKey(recipient);
    this.counter += 1;
    const message = storedMessage(`m${this.counter}`, key, input);
    let box = this.boxes.get(key);
    if (!box) this.boxes.set(key, (box = []));
    box.push(message);
    for (const listener of this.listeners) listener(message);
    return message;
  }

  /** Messages in a mailbox, oldest first (empty for a mailbox that has none). */
  list(address: string): readonly StoredMessage[] {
    return this.boxes.get(mailboxKey(address)) ?? [];
  }

  /** Addresses that have received mail. */
  addresses(): string[] {
    return [...this.boxes.keys()].sort();
  }

  /** Every stored message, in delivery order. */
  all(): StoredMessage[] {
    return [...this.boxes.values()].flat().sort((x, y) => Number(x.id.slice(1)) - Number(y.id.slice(1)));
  }

  count(): number {
    return this.counter;
  }

  /** Called for each delivered message; returns the unsubscribe function. */
  subscribe(listener: MailboxListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
}
