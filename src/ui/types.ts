/**
 * The shapes of the data the side panels show. The panels take these as props and know nothing
 * of where they come from, so the simulated world (or the bridge) can feed them later.
 */
import { toneOfReplyLine, type LineTone } from './terminalRenderer';

/**
 * Direction marks as swaks prints them: `->` client to server, `<-` server to client, `~>` and
 * `<~` the same inside TLS, `**` a note from the tool itself (connecting, TLS handshake, ...).
 */
export type Direction = '->' | '<-' | '~>' | '<~' | '**';

export interface TranscriptEntry {
  readonly dir: Direction;
  readonly text: string;
  /** Virtual time in milliseconds since the world's clock started. */
  readonly time: number;
  /** What the line means, in words: shown on hover, focus or click. */
  readonly explanation?: string;
}

export type Lane = 'client' | 'server' | 'dns';

export interface SequenceArrow {
  readonly from: Lane;
  readonly to: Lane;
  readonly label: string;
  readonly tone: LineTone;
  /** Inside the TLS tunnel: drawn on a shaded band. */
  readonly tls: boolean;
}

/** The sequence diagram's arrows for a transcript (DNS arrows come from the world directly). */
export function arrowsFromTranscript(entries: readonly TranscriptEntry[]): SequenceArrow[] {
  const arrows: SequenceArrow[] = [];
  for (const entry of entries) {
    if (entry.dir === '**') continue;
    const fromClient = entry.dir === '->' || entry.dir === '~>';
    arrows.push({
      from: fromClient ? 'client' : 'server',
      to: fromClient ? 'server' : 'client',
      label: entry.text,
      tone: fromClient ? 'client' : toneOfReplyLine(entry.text),
      tls: entry.dir === '~>' || entry.dir === '<~',
    });
  }
  return arrows;
}

export interface MachineSnapshot {
  readonly server?: { readonly state: string; readonly detail?: string };
  /** The client machine in shadow mode: where the learner is and what they may send next. */
  readonly client?: { readonly state: string; readonly validNext: readonly string[] };
}

export interface DnsRecord {
  readonly name: string;
  readonly type: string;
  readonly ttl: number;
  readonly value: string;
  /** MX preference: lower is tried first (RFC 5321 §5.1). */
  readonly preference?: number;
}

export interface DnsAnswer {
  readonly query: { readonly name: string; readonly type: string };
  readonly status: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL';
  readonly records: readonly DnsRecord[];
  /** The hosts a sender would try, in order. */
  readonly chosen?: readonly string[];
}

export type AttemptOutcome = 'delivered' | 'deferred' | 'bounced' | 'failed';

export interface DeliveryAttempt {
  readonly time: number;
  readonly host: string;
  readonly outcome: AttemptOutcome;
  readonly reply?: string;
}

export interface DeliveryTimelineData {
  readonly messageId?: string;
  readonly attempts: readonly DeliveryAttempt[];
  readonly final?: 'delivered' | 'bounced' | 'pending';
}

/** Virtual time as `HH:MM:SS`, with a day count once the clock passes a day (`d2 03:00:00`). */
export function formatVirtualTime(ms: number): string {
  const day = Math.floor(ms / 86_400_000);
  const clock = new Date(ms - day * 86_400_000).toISOString().slice(11, 19);
  return day > 0 ? `d${day} ${clock}` : clock;
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
