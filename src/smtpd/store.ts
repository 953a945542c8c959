// Where smtpd puts accepted messages. RFC 5321 §4.1.1.4: a 250 after DATA means the server
// has taken responsibility for the message, so storing finishes (fsync included) before that
// 250 is written; a store that fails turns the 250 into a temporary failure instead.
import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname as osHostname } from 'node:os';

/** An accepted message as the transport hands it to a store. */
export interface StoredMessage {
  queueId: string;
  /** Reverse path without angle brackets; '' for the null path `<>`. */
  from: string;
  recipients: string[];
  /** The message exactly as received, dot-stuffing removed, CRLF line endings. */
  content: Uint8Array;
  /** Connection the message came on, e.g. `127.0.0.1:50312`. */
  client: string;
  /** EHLO/HELO name the client gave. */
  heloName?: string;
  tls?: string;
  authenticatedAs?: string;
  receivedAt: Date;
}

export interface MessageStore {
  /** Resolves once the message is durable; the returned text names where it went. */
  store(message: StoredMessage): Promise<string>;
}

/**
 * A maildir (tmp/ → new/, the delivery protocol of the maildir format): the file is written and
 * fsynced in tmp/, renamed into new/, and the directory fsynced, so a reader never sees half a
 * message and a crash never loses one that was acknowledged.
 *
 * The envelope is prepended as `X-Smtp-Lab-Envelope-*` header fields, the way an MTA prepends
 * Return-Path and Delivered-To; everything after them is the message byte for byte.
 */
export class MaildirStore implements MessageStore {
  private sequence = 0;
  private ready: Promise<void> | undefined;

  constructor(readonly directory: string) {}

  /** Creates tmp/, new/ and cur/ (a mail reader expects all three). */
  prepare(): Promise<void> {
    this.ready ??= Promise.all(['tmp', 'new', 'cur'].map((sub) => mkdir(join(this.directory, sub), { recursive: true }))).then(() => undefined);
    return this.ready;
  }

  async store(message: StoredMessage): Promise<string> {
    await this.prepare();
    const name = `${message.receivedAt.getTime()}.P${process.pid}Q${++this.sequence}_${message.queueId.replace(/[^A-Za-z0-9]/g, '')}.${safeHostname()}`;
    const temporary = join(this.directory, 'tmp', name);
    const final = join(this.directory, 'new', name);
    const header = Buffer.from(envelopeHeader(message), 'utf8');
    const file = await open(temporary, 'wx', 0o600);
    try {
      await file.writev([header, message.content]);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, final);
    await syncDirectory(join(this.directory, 'new'));
    return final;
  }
}

/** No maildir: one summary line per message on stdout (the message itself is not kept). */
export class SummaryStore implements MessageStore {
  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(line + '\n')) {}

  async store(message: StoredMessage): Promise<string> {
    const subject = headerField(message.content, 'subject');
    this.write(
      `smtpd: accepted ${message.queueId} from <${message.from}> to ${message.recipients.map((r) => `<${r}>`).join(', ')}` +
        ` (${message.content.length} octets${subject === undefined ? '' : `, subject ${JSON.stringify(subject)}`})`,
    );
    return 'stdout';
  }
}

/** The prepended envelope fields; values are folded onto one line each and never contain CR/LF. */
export function envelopeHeader(message: StoredMessage): string {
  const clean = (value: string) => value.replace(/[\r\n]+/g, ' ');
  const fields = [
    `X-Smtp-Lab-Envelope-From: <${clean(message.from)}>`,
    ...message.recipients.map((r) => `X-Smtp-Lab-Envelope-To: <${clean(r)}>`),
    `X-Smtp-Lab-Envelope-Queue-Id: ${clean(message.queueId)}`,
    `X-Smtp-Lab-Envelope-Client: ${clean(message.client)}${message.heloName ? ` (helo ${clean(message.heloName)})` : ''}`,
    ...(message.tls ? [`X-Smtp-Lab-Envelope-Tls: ${clean(message.tls)}`] : []),
    ...(message.authenticatedAs ? [`X-Smtp-Lab-Envelope-Auth: ${clean(message.authenticatedAs)}`] : []),
    `X-Smtp-Lab-Envelope-Received: ${message.receivedAt.toUTCString()}`,
  ];
  return fields.map((f) => f + '\r\n').join('');
}

/** Splits a stored maildir file back into its envelope fields and the message as received. */
export function readStoredMessage(file: Uint8Array): { envelope: Record<string, string[]>; received: string; content: Uint8Array } {
  const envelope: Record<string, string[]> = {};
  let offset = 0;
  const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const prefix = 'X-Smtp-Lab-Envelope-';
  while (bytes.subarray(offset, offset + prefix.length).toString('latin1') === prefix) {
    const end = bytes.indexOf('\r\n', offset, 'latin1');
    if (end < 0) break;
    const line = bytes.subarray(offset + prefix.length, end).toString('utf8');
    const colon = line.indexOf(':');
    const key = line.slice(0, colon).toLowerCase();
    (envelope[key] ??= []).push(line.slice(colon + 1).trim());
    offset = end + 2;
  }
  // The Received field smtpd wrote on top (RFC 5321 §4.4): its first line and the folded
  // lines after it. What follows is the content exactly as the client sent it.
  const traceStart = offset;
  if (bytes.subarray(offset, offset + 10).toString('latin1') === 'Received: ') {
    do {
      const end = bytes.indexOf('\r\n', offset, 'latin1');
      if (end < 0) break;
      offset = end + 2;
    } while (bytes[offset] === 0x09 || bytes[offset] === 0x20);
  }
  return { envelope, received: bytes.subarray(traceStart, offset).toString('utf8'), content: bytes.subarray(offset) };
}

function headerField(content: Uint8Array, name: string): string | undefined {
  const text = Buffer.from(content.buffer, content.byteOffset, Math.min(content.byteLength, 16_384)).toString('utf8');
  const headerEnd = text.search(/\r?\n\r?\n/);
  const header = headerEnd < 0 ? text : text.slice(0, headerEnd);
  const match = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(header);
  return match?.[1]?.replace(/\r?\n[ \t]+/g, ' ').trim();
}

function safeHostname(): string {
  // The maildir format escapes '/' and ':' in the host part of a file name.
  return osHostname().replace(/\//g, '\\057').replace(/:/g, '\\072');
}

async function syncDirectory(path: string): Promise<void> {
  // The rename is durable only once the directory entry is; some file systems refuse fsync on
  // a directory, and then the rename is as durable as that system makes it.
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } catch {
    // not supported here
  } finally {
    await handle.close();
  }
}
