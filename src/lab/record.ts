/**
 * The session record: everything a learner did and saw in one lab session, as plain data.
 * Lesson goals are predicates over this record (src/course), the UI's panels are views of it,
 * and a share link replays the typed lines that produced it. Times are virtual milliseconds
 * since the world's epoch.
 */
import type { Reply } from '../protocol/reply';

/** Where a typed line went: the shell, an SMTP session, the body of a message, an AUTH dialogue. */
export type InputContext = 'shell' | 'smtp' | 'data' | 'auth';

export interface TypedLine {
  readonly at: number;
  readonly text: string;
  readonly context: InputContext;
}

/** A shell command that parsed and ran (`dig`, `telnet`, `send`, `clock`, ...). */
export interface ShellRun {
  readonly at: number;
  readonly name: string;
  /** The line as typed. */
  readonly line: string;
  /** False when the command ran but failed (unknown host, refused connection, ...). */
  readonly ok: boolean;
  /** The verdict a checking command reached, in one word: `spf` gives its SPF result, `dmarc` pass or fail. */
  readonly outcome?: string;
}

/** swaks-style direction marks: `->`/`<-` in the clear, `~>`/`<~` inside TLS. */
export type WireDirection = '->' | '<-' | '~>' | '<~';

export interface WireLine {
  readonly at: number;
  readonly connection: number;
  readonly host: string;
  readonly dir: WireDirection;
  readonly text: string;
}

/**
 * One server reply and what it answered: a command verb (`EHLO`, `MAIL`, `RCPT`, `AUTH`, ...),
 * `BANNER` for the greeting, `DATA-END` for the reply after the terminating dot.
 */
export interface ReplyRecord {
  readonly at: number;
  readonly connection: number;
  readonly host: string;
  readonly to: string;
  readonly reply: Reply;
  /** Who sent the command: the learner typing, or the autopilot. */
  readonly by: 'learner' | 'autopilot';
}

export interface ConnectionRecord {
  readonly id: number;
  readonly host: string;
  readonly port: number;
  readonly openedAt: number;
  readonly by: 'learner' | 'autopilot';
  /** How it ended: refused, timed out, closed by either side. Absent while open. */
  readonly closed?: { readonly at: number; readonly by: 'client' | 'server' | 'network'; readonly reason: string };
  readonly tls?: {
    readonly at: number;
    readonly ok: boolean;
    readonly protocol?: string;
    readonly authorized?: boolean;
    readonly error?: string;
  };
}

export interface DnsLookup {
  readonly at: number;
  readonly name: string;
  readonly type: string;
  readonly status: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL';
  /** Answer data as dig's +short prints it (`10 mx1.example.net.`). */
  readonly answers: readonly string[];
}

/** The outcome for one recipient of one message, as the sending MTA saw it. */
export interface DeliveryOutcome {
  readonly at: number;
  readonly from: string;
  readonly recipient: string;
  readonly outcome: 'delivered' | 'bounced' | 'deferred';
  /** The enhanced status (`5.1.1`) or, lacking one, the reply code as text. */
  readonly status?: string;
  readonly host?: string;
}

/** A message in a mailbox of the world, including bounces (DSNs) back to a sender. */
export interface MailboxMessage {
  readonly at: number;
  readonly address: string;
  readonly subject: string;
  readonly isDsn: boolean;
  /** For a DSN: the per-recipient Action and Status fields (RFC 3464). */
  readonly dsn?: readonly { readonly recipient: string; readonly action: string; readonly status: string }[];
  /** For a DSN: its Original-Envelope-Id field, the ENVID the sender gave (RFC 3464 §2.2.1, RFC 3461 §4.4). */
  readonly originalEnvelopeId?: string;
  /**
   * For a DSN: what it returns of the original message: the header only, the whole message
   * (what RET=FULL asks for in a failure report, RFC 3461 §4.3), or nothing.
   */
  readonly returnedContent?: 'headers' | 'full' | 'none';
  readonly raw: string;
}

export interface MachineState {
  readonly at: number;
  readonly machine: 'server' | 'client' | 'delivery';
  /** The state value, flattened with dots (`session.mail`). */
  readonly state: string;
}

export interface SessionRecord {
  readonly typed: readonly TypedLine[];
  readonly shell: readonly ShellRun[];
  readonly wire: readonly WireLine[];
  readonly replies: readonly ReplyRecord[];
  readonly connections: readonly ConnectionRecord[];
  readonly dns: readonly DnsLookup[];
  readonly deliveries: readonly DeliveryOutcome[];
  readonly mailbox: readonly MailboxMessage[];
  readonly states: readonly MachineState[];
  /** The virtual clock now. */
  readonly clock: number;
}

export function emptyRecord(clock = 0): SessionRecord {
  return { typed: [], shell: [], wire: [], replies: [], connections: [], dns: [], deliveries: [], mailbox: [], states: [], clock };
}
