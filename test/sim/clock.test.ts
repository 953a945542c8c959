import { describe, expect, it } from 'vitest';
import { assign, createActor, setup } from 'xstate';
import {
  VirtualClock,
  WORLD_EPOCH,
  formatDuration,
  formatElapsed,
  formatRfc5322Date,
  parseDuration,
  parseRfc5322Date,
  type XStateClock,
} from '../../src/sim/clock';

const MINUTE = 60_000;

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['30m', 30 * MINUTE],
    ['5d', 5 * 24 * 60 * MINUTE],
    ['1h30m', 90 * MINUTE],
    ['2d 4h', (48 + 4) * 60 * MINUTE],
    ['250ms', 250],
    ['1.5h', 90 * MINUTE],
    ['1w', 7 * 24 * 60 * MINUTE],
    [' 10M ', 10 * MINUTE],
    ['45', 45_000],
  ])('%s = %i ms', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });

  it.each(['', '   ', 'soon', '5x', '1h-30m', 'm5', '-5m'])('%j is an error that says what to type', (text) => {
    const result = parseDuration(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(/30m/);
  });

  it('round-trips through formatDuration', () => {
    for (const text of ['90s', '30m', '5d', '1h30m', '2d4h5m6s']) {
      const parsed = parseDuration(text);
      expect(parsed.ok).toBe(true);
      if (parsed.ok) expect(parseDuration(formatDuration(parsed.ms))).toEqual(parsed);
    }
    expect(formatDuration(90 * MINUTE)).toBe('1h30m');
    expect(formatDuration(0)).toBe('0s');
  });
});

describe('formatting', () => {
  it.each([
    [0, '+0d 00:00:00'],
    [(2 * 24 * 60 + 3 * 60 + 15) * MINUTE, '+2d 03:15:00'],
    [59_999, '+0d 00:00:59'],
    [-MINUTE, '-0d 00:01:00'],
  ])('elapsed %i -> %s', (ms, text) => {
    expect(formatElapsed(ms)).toBe(text);
  });

  it('stamps the world start in ISO form and RFC 5322 form', () => {
    const clock = new VirtualClock();
    expect(clock.timestamp()).toBe('2026-03-10T09:00:00Z');
    expect(formatRfc5322Date(clock.now())).toBe('Tue, 10 Mar 2026 09:00:00 +0000');
  });

  it.each([
    ['Tue, 10 Mar 2026 09:00:00 +0000', WORLD_EPOCH],
    ['10 Mar 2026 11:00:00 +0200', WORLD_EPOCH],
    ['Tue, 10 Mar 2026 04:00 -0500', WORLD_EPOCH],
    ['Tue, 10 Mar 2026 09:00:00 GMT', WORLD_EPOCH],
  ])('parses %s', (text, ms) => {
    expect(parseRfc5322Date(text)).toBe(ms);
  });

  it('rejects dates it cannot read', () => {
    expect(parseRfc5322Date('yesterday')).toBeUndefined();
    expect(parseRfc5322Date('10 Foo 2026 09:00:00 +0000')).toBeUndefined();
  });
});

describe('VirtualClock', () => {
  it('starts at the world epoch and only moves when told', () => {
    const clock = new VirtualClock();
    expect(clock.now()).toBe(WORLD_EPOCH);
    clock.advance(parseDurationMs('2d3h15m'));
    expect(clock.format()).toBe('+2d 03:15:00');
    expect(clock.elapsed()).toBe(parseDurationMs('2d3h15m'));
  });

  it('fires timers in due order, each seeing its own due time', () => {
    const clock = new VirtualClock();
    const seen: Array<[string, string]> = [];
    clock.schedule(clock.now() + 10 * MINUTE, () => seen.push(['b', clock.format()]));
    clock.schedule(clock.now() + 5 * MINUTE, () => seen.push(['a', clock.format()]));
    clock.schedule(clock.now() + 10 * MINUTE, () => seen.push(['c', clock.format()]));
    const late = clock.schedule(clock.now() + 60 * MINUTE, () => seen.push(['late', clock.format()]));
    clock.advance(30 * MINUTE);
    expect(seen).toEqual([
      ['a', '+0d 00:05:00'],
      ['b', '+0d 00:10:00'],
      ['c', '+0d 00:10:00'],
    ]);
    expect(clock.format()).toBe('+0d 00:30:00');
    expect(clock.pending()).toBe(1);
    expect(clock.cancel(late)).toBe(true);
    clock.advance(60 * MINUTE);
    expect(seen).toHaveLength(3);
  });

  it('fires a timer scheduled by a timer when it falls inside the same jump', () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    clock.setTimeout(() => {
      fired.push(clock.format());
      clock.setTimeout(() => fired.push(clock.format()), 5 * MINUTE);
    }, 5 * MINUTE);
    clock.advance(12 * MINUTE);
    expect(fired).toEqual(['+0d 00:05:00', '+0d 00:10:00']);
  });

  it('jumps to the next timer on request', () => {
    const clock = new VirtualClock();
    expect(clock.advanceToNext()).toBe(false);
    let fired = false;
    clock.setTimeout(() => (fired = true), 4 * 60 * MINUTE);
    expect(clock.nextDueAt()).toBe(WORLD_EPOCH + 4 * 60 * MINUTE);
    expect(clock.advanceToNext()).toBe(true);
    expect(fired).toBe(true);
    expect(clock.format()).toBe('+0d 04:00:00');
  });

  it('refuses to go backwards or advance by nonsense', () => {
    const clock = new VirtualClock();
    clock.advance(MINUTE);
    expect(() => clock.advanceTo(WORLD_EPOCH)).toThrow(/backwards/);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.advance(Number.NaN)).toThrow(RangeError);
  });

  it('drives XState delays: a machine waiting 5 minutes moves when the world clock does', () => {
    const clock = new VirtualClock();
    const xstateClock: XStateClock = clock;
    const machine = setup({
      types: { context: {} as { retriedAt?: number } },
    }).createMachine({
      initial: 'deferred',
      context: {},
      states: {
        deferred: { after: { [5 * MINUTE]: { target: 'retrying', actions: assign({ retriedAt: () => clock.now() }) } } },
        retrying: {},
      },
    });
    const actor = createActor(machine, { clock: xstateClock }).start();
    clock.advance(5 * MINUTE - 1);
    expect(actor.getSnapshot().value).toBe('deferred');
    clock.advance(1);
    expect(actor.getSnapshot().value).toBe('retrying');
    expect(actor.getSnapshot().context.retriedAt).toBe(WORLD_EPOCH + 5 * MINUTE);
    actor.stop();
  });

  it('cancels XState delays when the state is left early', () => {
    const clock = new VirtualClock();
    const machine = setup({}).createMachine({
      initial: 'waiting',
      states: { waiting: { after: { 60_000: 'timedOut' }, on: { REPLY: 'answered' } }, answered: {}, timedOut: {} },
    });
    const actor = createActor(machine, { clock }).start();
    expect(clock.pending()).toBe(1);
    actor.send({ type: 'REPLY' });
    expect(clock.pending()).toBe(0);
    clock.advance(2 * 60_000);
    expect(actor.getSnapshot().value).toBe('answered');
    actor.stop();
  });
});

describe('VirtualClock with many timers', () => {
  // A seeded random source (mulberry32), so a failure replays the same way.
  function randomSource(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it('fires thousands of timers by due time, ties in scheduling order, skipping cancelled ones', () => {
    const clock = new VirtualClock();
    const random = randomSource(7);
    const scheduled: Array<{ order: number; at: number; cancelled: boolean; id: number }> = [];
    const fired: number[] = [];
    for (let order = 0; order < 5000; order++) {
      // Few distinct due times, so many timers share one.
      const at = clock.now() + Math.floor(random() * 50) * MINUTE;
      const id = clock.schedule(at, () => fired.push(order));
      scheduled.push({ order, at, cancelled: false, id });
    }
    for (const timer of scheduled) {
      if (random() < 0.4) {
        expect(clock.cancel(timer.id)).toBe(true);
        expect(clock.cancel(timer.id)).toBe(false);
        timer.cancelled = true;
      }
    }
    const live = scheduled.filter((t) => !t.cancelled);
    expect(clock.pending()).toBe(live.length);
    expect(clock.nextDueAt()).toBe(Math.min(...live.map((t) => t.at)));
    clock.advance(25 * MINUTE);
    clock.advance(25 * MINUTE);
    const expected = [...live].sort((a, b) => a.at - b.at || a.order - b.order).map((t) => t.order);
    expect(fired).toEqual(expected);
    expect(clock.pending()).toBe(0);
    expect(clock.nextDueAt()).toBeUndefined();
  });

  it('keeps order when timers set and clear others while firing', () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    const victim = clock.schedule(clock.now() + 3 * MINUTE, () => fired.push('victim'));
    clock.schedule(clock.now() + MINUTE, () => {
      fired.push('first');
      expect(clock.cancel(victim)).toBe(true);
      // Due at the same moment as "second", but scheduled later: it fires after it.
      clock.schedule(clock.now() + MINUTE, () => fired.push('late tie'));
      // Already past: fires next, at the current moment.
      clock.schedule(clock.now() - MINUTE, () => fired.push(`past at ${clock.format()}`));
    });
    clock.schedule(clock.now() + 2 * MINUTE, () => fired.push('second'));
    const own = clock.schedule(clock.now() + 4 * MINUTE, () => fired.push(`own cancel ${clock.cancel(own)}`));
    clock.advance(10 * MINUTE);
    expect(fired).toEqual(['first', 'past at +0d 00:01:00', 'second', 'late tie', 'own cancel false']);
  });
});

function parseDurationMs(text: string): number {
  const result = parseDuration(text);
  if (!result.ok) throw new Error(result.error);
  return result.ms;
}
