/**
 * The world's virtual clock.
 *
 * Mail delivery is slow on purpose: greylisting asks for minutes, retry queues run for days
 * (RFC 5321 §4.5.4.1 suggests giving up "after at least 4-5 days"). The simulator replays that
 * time instantly, so every delay in the world — persona timers, retry schedules and XState
 * `after` delays — must hang off one clock that only moves when told to.
 *
 * `VirtualClock` implements XState's `Clock` interface (`setTimeout` / `clearTimeout`), so it is
 * passed straight to `createActor(machine, { clock })`: machine delays and the world clock then
 * advance together. Unlike XState's `SimulatedClock`, `advance()` fires timers one at a time in
 * due order with `now()` set to each timer's due time, so a callback that reads the clock sees
 * the moment it was scheduled for, not the end of the jump.
 */
import type { ActorOptions, AnyActorLogic } from 'xstate';

/** The clock XState accepts in `createActor(machine, { clock })`. */
export type XStateClock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

/** The fixed start of every world, so transcripts and timestamps are the same on every run. */
export const WORLD_EPOCH = Date.UTC(2026, 2, 10, 9, 0, 0); // 2026-03-10T09:00:00Z

export type TimerId = number;

interface Timer {
  id: TimerId;
  at: number;
  fn: () => void;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Timer a before timer b: earlier due time first, then the order they were scheduled in. */
function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.id < b.id);
}

export class VirtualClock implements XStateClock {
  readonly epoch: number;
  private current: number;
  private nextId = 1;
  /**
   * Waiting timers as a binary min-heap ordered by (due time, id): the next timer is found in
   * O(log n) however long the queue is (a world holds a timer per queued message, and thousands
   * of timers fire in a five-day run). Ids grow with every schedule, so equal due times keep
   * their scheduling order.
   */
  private heap: Timer[] = [];
  /** The timers still waiting, by id. A cancelled timer leaves the heap lazily, when it surfaces. */
  private live = new Map<TimerId, Timer>();

  constructor(epoch: number = WORLD_EPOCH) {
    this.epoch = epoch;
    this.current = epoch;
    // XState calls these as methods of the clock, but callers may pass them around detached.
    this.setTimeout = this.setTimeout.bind(this);
    this.clearTimeout = this.clearTimeout.bind(this);
  }

  /** Virtual wall-clock time in milliseconds since 1970 (like `Date.now()`). */
  now(): number {
    return this.current;
  }

  /** Milliseconds since the world started. */
  elapsed(): number {
    return this.current - this.epoch;
  }

  /** Run `fn` when the clock reaches `at` (absolute virtual ms). A past `at` fires on the next advance. */
  schedule(at: number, fn: () => void): TimerId {
    const id = this.nextId++;
    const timer: Timer = { id, at, fn };
    this.live.set(id, timer);
    this.push(timer);
    return id;
  }

  cancel(id: TimerId): boolean {
    if (!this.live.delete(id)) return false;
    // Cancelled timers stay in the heap until they surface; rebuild when they outnumber the
    // live ones, so a machine that sets and clears many timeouts does not grow the heap.
    if (this.heap.length > 64 && this.heap.length > 2 * this.live.size) this.rebuild();
    return true;
  }

  /** XState `Clock`: run `fn` after `delay` virtual ms. */
  setTimeout(fn: (...args: unknown[]) => void, delay: number): TimerId {
    return this.schedule(this.current + Math.max(0, delay), fn as () => void);
  }

  /** XState `Clock`. */
  clearTimeout(id: TimerId): void {
    this.cancel(id);
  }

  /** Number of timers still waiting. */
  pending(): number {
    return this.live.size;
  }

  /** When the next timer is due, or undefined when none is waiting. */
  nextDueAt(): number | undefined {
    return this.earliest()?.at;
  }

  /**
   * Move time forward by `ms`, firing every timer that falls due on the way, in due order
   * (ties in the order they were scheduled). Timers scheduled by a firing callback are fired
   * too if they fall inside the jump.
   */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`advance() needs a finite, non-negative number of ms, got ${ms}`);
    }
    this.advanceTo(this.current + ms);
  }

  /** Move time forward to the absolute virtual time `at` (never backwards). */
  advanceTo(at: number): void {
    if (at < this.current) {
      throw new RangeError('the virtual clock cannot go backwards');
    }
    for (;;) {
      const next = this.earliest();
      if (!next || next.at > at) break;
      this.pop();
      this.live.delete(next.id);
      if (next.at > this.current) this.current = next.at;
      // Called bare, as XState's clock does: the callback gets no arguments.
      const fn = next.fn;
      fn();
    }
    this.current = at;
  }

  /** Jump straight to the next timer and fire it (and any due at the same moment). False when idle. */
  advanceToNext(): boolean {
    const next = this.nextDueAt();
    if (next === undefined) return false;
    this.advanceTo(Math.max(next, this.current));
    return true;
  }

  /** Elapsed time since the world started, e.g. "+0d 00:00:00", "+2d 03:15:00". */
  format(at: number = this.current): string {
    return formatElapsed(at - this.epoch);
  }

  /** ISO-like virtual timestamp, e.g. "2026-03-10T09:00:00Z". */
  timestamp(at: number = this.current): string {
    return formatTimestamp(at);
  }

  /** The next live timer (cancelled ones at the top are dropped on the way). */
  private earliest(): Timer | undefined {
    const heap = this.heap;
    while (heap.length > 0) {
      const top = heap[0]!;
      if (this.live.get(top.id) === top) return top;
      this.pop();
    }
    return undefined;
  }

  private push(timer: Timer): void {
    const heap = this.heap;
    let index = heap.length;
    heap.push(timer);
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = heap[parent]!;
      if (!before(timer, above)) break;
      heap[index] = above;
      index = parent;
    }
    heap[index] = timer;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let index = 0;
    const size = heap.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= size) break;
      const right = left + 1;
      const child = right < size && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, last)) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = last;
  }

  private rebuild(): void {
    const timers = [...this.live.values()];
    this.heap = [];
    for (const timer of timers) this.push(timer);
  }
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** "+2d 03:15:00" for an elapsed duration (negative durations get a "-"). */
export function formatElapsed(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  let rest = Math.floor(Math.abs(ms) / SECOND);
  const days = Math.floor(rest / 86400);
  rest -= days * 86400;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const seconds = rest - minutes * 60;
  return `${sign}${days}d ${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}`;
}

/** "2026-03-10T09:00:00Z": ISO 8601 without milliseconds. */
export function formatTimestamp(at: number): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 §3.3 date-time in UTC (Date:, Arrival-Date:): the protocol's formatter, one for all. */
export { formatRfc5322Date } from '../protocol/trace';

/**
 * Read an RFC 5322 date-time back to ms since 1970. Accepts an optional day name, numeric zone
 * (+hhmm / -hhmm) and the obsolete "UT"/"GMT" zones (RFC 5322 §4.3). Undefined when unreadable.
 */
export function parseRfc5322Date(text: string): number | undefined {
  const match =
    /^\s*(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{2}):(\d{2})(?::(\d{2}))?\s+([+-]\d{4}|UT|GMT|Z)\s*(?:\(.*\))?\s*$/.exec(
      text,
    );
  if (!match) return undefined;
  const [, day, monthName, year, hh, mm, ss, zone] = match;
  const month = MONTHS.findIndex((m) => m.toLowerCase() === monthName!.toLowerCase());
  if (month < 0) return undefined;
  let offsetMinutes = 0;
  if (zone!.startsWith('+') || zone!.startsWith('-')) {
    const sign = zone!.startsWith('-') ? -1 : 1;
    offsetMinutes = sign * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(3, 5)));
  }
  const utc = Date.UTC(Number(year), month, Number(day), Number(hh), Number(mm), Number(ss ?? '0'));
  return utc - offsetMinutes * MINUTE;
}

export type DurationResult = { ok: true; ms: number } | { ok: false; error: string };

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: SECOND,
  m: MINUTE,
  h: HOUR,
  d: DAY,
  w: 7 * DAY,
};

/**
 * Parse a duration the way people type it at the terminal: "90s", "30m", "1h30m", "5d",
 * "2d 4h", "250ms". A bare number is read as seconds, like `sleep`.
 */
export function parseDuration(text: string): DurationResult {
  const input = text.trim().toLowerCase();
  if (input === '') return { ok: false, error: 'empty duration: try 90s, 30m, 1h30m or 5d' };
  if (/^\d+(\.\d+)?$/.test(input)) return { ok: true, ms: Math.round(Number(input) * SECOND) };
  const part = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*/y;
  let total = 0;
  let position = 0;
  while (position < input.length) {
    part.lastIndex = position;
    const match = part.exec(input);
    if (!match) {
      return {
        ok: false,
        error: `cannot read duration "${text.trim()}": use a number and a unit (ms, s, m, h, d, w), e.g. 90s, 30m, 1h30m, 5d`,
      };
    }
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    position = part.lastIndex;
  }
  return { ok: true, ms: Math.round(total) };
}

/** Compact duration for people: 90000 -> "1m30s", 5 days -> "5d", 0 -> "0s". */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  let rest = Math.round(ms);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', DAY],
    ['h', HOUR],
    ['m', MINUTE],
    ['s', SECOND],
  ] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join('');
}
