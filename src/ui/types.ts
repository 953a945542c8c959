/**
 * The shapes of the data the side panels show. The panels take these as props and know nothing
 * of where they come from: labState.svelte.ts builds them from the lab's session record and the
 * simulated world (or the bridge, in real-network mode).
 */
import type { LineTone } from './terminalRenderer';

/**
 * Direction marks as swaks prints them: `->` client to server, `<-` server to client, `~>` and
 * `<~` the same inside TLS, `**` a note from the tool itself (connecting, TLS handshake, ...).
 */
export type Direction = '->' | '<-' | '~>' | '<~' | '**';

export interface TranscriptEntry {
  readonly dir: Direction;
  readonly text: string;
  /** Virtual time in milliseconds since the session's clock started. */
  readonly time: number;
  /** What the line means, in words: shown on hover, focus or click. */
  readonly explanation?: string;
  /** How the line is coloured: the reply's class for server lines (RFC 5321 §4.2.1). */
  readonly tone: LineTone;
  /** The connection's number in the session (1, 2, ...). */
  readonly connection?: number;
  /** The server's host name. */
  readonly host?: string;
  /** Who spoke as the client: the learner typing, or the sending MTA (the autopilot). */
  readonly by?: 'learner' | 'autopilot';
}

export type Lane = 'client' | 'server' | 'dns';

export type SequenceItem =
  | {
      readonly kind: 'arrow';
      readonly from: Lane;
      readonly to: Lane;
      readonly label: string;
      readonly tone: LineTone;
      /** Inside the TLS tunnel: drawn on a shaded band. */
      readonly tls: boolean;
    }
  /** A heading row: a new connection begins, or something happened that is no message (TLS failed). */
  | { readonly kind: 'note'; readonly label: string; readonly tone: LineTone };

export interface NextStep {
  readonly verb: string;
  readonly why: string;
}

export interface MachineViewData {
  readonly mode: 'sim' | 'real';
  /** The learner's open connection, if any. */
  readonly connection?: {
    readonly host: string;
    readonly port: number;
    readonly tool: string;
    readonly secure: boolean;
    /** The simulated server behind the host. */
    readonly persona?: { readonly id: string; readonly title: string; readonly description: string };
  };
  /** The client machine shadowing the learner: its phase and what may be typed now, with why. */
  readonly client?: { readonly phase: string; readonly next: readonly NextStep[] };
  /** What the server said last, and to which command; the server machine's state when simulated. */
  readonly server?: { readonly lastReply: string; readonly answered: string; readonly tone: LineTone; readonly state?: string };
  /** The sending MTA's queue (the autopilot's messages). */
  readonly queue: readonly {
    readonly id: string;
    readonly to: string;
    readonly status: string;
    readonly tone: LineTone;
    /** What the message is when the learner did not write it: a DSN the sending MTA sent back. */
    readonly about?: string;
  }[];
}

export interface DnsLookupView {
  readonly time: number;
  readonly name: string;
  readonly type: string;
  readonly status: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL';
  /** Answer data as dig +short prints it. */
  readonly answers: readonly string[];
  /** For MX answers: the hosts a sender tries, in order of preference (RFC 5321 §5.1). */
  readonly chosen?: readonly { readonly host: string; readonly preference: number }[];
}

export type AttemptOutcome = 'delivered' | 'deferred' | 'bounced' | 'failed';

export interface DeliveryAttempt {
  readonly attempt: number;
  readonly time: number;
  readonly host?: string;
  readonly outcome: AttemptOutcome;
  /** One line: what happened there. */
  readonly summary: string;
  /**
   * On the last attempt of a round that ended later than it began: when the sending MTA gave up
   * on the round and scheduled the retry (a silent host is waited for 30 s; a tarpit longer).
   * The backoff runs from here.
   */
  readonly roundEndedAt?: number;
}

export interface RecipientOutcome {
  readonly address: string;
  readonly status: 'delivered' | 'deferred' | 'bounced' | 'pending';
  readonly detail?: string;
  /** Delivered, then bounced by the host that had accepted it (virtual time since the epoch). */
  readonly laterBounce?: { readonly host: string; readonly time: number; readonly status: string; readonly reportSent: boolean };
}

export interface DeliveryTimelineData {
  readonly id: string;
  readonly from: string;
  readonly to: readonly string[];
  readonly queuedAt: number;
  readonly attempts: readonly DeliveryAttempt[];
  /** When the next attempt is due, while the message waits. */
  readonly nextAttemptAt?: number;
  readonly recipients: readonly RecipientOutcome[];
}

/**
 * Virtual time as `HH:MM:SS`, with a day count once the clock passes a day (`+2d 03:00:00`,
 * written as the terminal and the sim CLI write it, so the panels and the terminal beside them
 * read the same).
 */
export function formatVirtualTime(ms: number): string {
  const safe = Math.max(0, ms);
  const day = Math.floor(safe / 86_400_000);
  const clock = new Date(safe - day * 86_400_000).toISOString().slice(11, 19);
  return day > 0 ? `+${day}d ${clock}` : clock;
}

/** A gap between attempts, for the timeline: `5m`, `1h 30m`, `2d 4h`. */
export function formatGap(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return `${Math.round(ms / 1000)}s`;
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : ''].filter(Boolean).slice(0, 2).join(' ');
}
