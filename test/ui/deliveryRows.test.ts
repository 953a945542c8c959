// The Delivery panel's rows: a hundred identical retries read as one failure repeated, and
// nothing else is folded.
import { describe, expect, it } from 'vitest';
import { FOLD_AT, timelineRows, type TimelineRow } from '../../src/ui/deliveryRows';
import type { DeliveryAttempt } from '../../src/ui/types';
import { deliveryAttempts } from '../../src/ui/deliveryAttempts';
import { createWorld } from '../../src/sim/world';

const MIN = 60_000;

function attempt(n: number, time: number, host: string | undefined, outcome: DeliveryAttempt['outcome'], summary: string): DeliveryAttempt {
  return { attempt: n, time, ...(host ? { host } : {}), outcome, summary };
}

function shape(rows: TimelineRow[]): string[] {
  return rows.map((row) => (row.kind === 'attempt' ? `${row.attempt.attempt}${row.attempt.host ? `@${row.attempt.host}` : ''}` : `fold ${row.firstAttempt}-${row.lastAttempt} x${row.rounds}`));
}

describe('delivery timeline rows', () => {
  it('keeps short histories as they are, with the wait before each attempt', () => {
    const rows = timelineRows(0, [attempt(1, 0, 'mx.grey.example', 'deferred', '451 4.7.1 Greylisted'), attempt(2, 5 * MIN, 'mx.grey.example', 'delivered', '250 OK')]);
    expect(shape(rows)).toEqual(['1@mx.grey.example', '2@mx.grey.example']);
    expect(rows.map((r) => (r.kind === 'attempt' ? [r.waitedMs, r.retry] : []))).toEqual([
      [0, false],
      [5 * MIN, true],
    ]);
  });

  it('does not fold fewer identical rounds than FOLD_AT', () => {
    const same = Array.from({ length: FOLD_AT - 1 }, (_, i) => attempt(i + 1, i * 10 * MIN, 'mx.dane.example', 'failed', 'TLS is required'));
    expect(timelineRows(0, same).every((r) => r.kind === 'attempt')).toBe(true);
  });

  it('folds the rounds that repeat at a steady wait, rounds of several hosts included, and keeps the growing backoff in view', () => {
    const attempts: DeliveryAttempt[] = [];
    let t = 0;
    for (let n = 1; n <= 8; n++) {
      // A round tries both MX hosts: the primary refuses, the secondary times out.
      attempts.push(attempt(n, t, 'mx1.down.example', 'failed', 'connection refused'));
      attempts.push(attempt(n, t + 30_000, 'mx2.down.example', 'failed', 'connection timed out'));
      t += n < 3 ? 10 * MIN : 4000_000;
    }
    attempts.push(attempt(9, t, 'mx1.down.example', 'delivered', '250 OK'));
    const rows = timelineRows(0, attempts);
    expect(shape(rows)).toEqual([
      ...[1, 2, 3].flatMap((n) => [`${n}@mx1.down.example`, `${n}@mx2.down.example`]),
      '4@mx1.down.example',
      '4@mx2.down.example',
      'fold 5-7 x3',
      '8@mx1.down.example',
      '8@mx2.down.example',
      '9@mx1.down.example',
    ]);
    const fold = rows.find((r) => r.kind === 'repeats') as Extract<TimelineRow, { kind: 'repeats' }>;
    // Nothing is lost: every folded attempt is in the row, in order.
    expect(fold.attempts.map((a) => `${a.attempt}@${a.host}`)).toEqual([5, 6, 7].flatMap((n) => [`${n}@mx1.down.example`, `${n}@mx2.down.example`]));
    // From the end of one round to the start of the next: the longest backoff, less the 30 s of the round.
    expect([fold.shortestWaitMs, fold.longestWaitMs]).toEqual([4000_000 - 30_000, 4000_000 - 30_000]);
    // After the fold, the wait is counted from the last folded attempt.
    const eighth = rows[rows.indexOf(fold) + 1] as Extract<TimelineRow, { kind: 'attempt' }>;
    expect(eighth.waitedMs).toBe(4000_000 - 30_000);
    expect(eighth.retry).toBe(true);
  });

  it('a different answer ends a run', () => {
    const attempts = [1, 2, 3, 4, 5].map((n) => attempt(n, n * MIN, 'mx.flaky.example', 'deferred', '421 busy'));
    attempts.splice(2, 1, attempt(3, 3 * MIN, 'mx.flaky.example', 'deferred', '451 try later'));
    expect(shape(timelineRows(0, attempts))).toEqual(['1@mx.flaky.example', '2@mx.flaky.example', '3@mx.flaky.example', '4@mx.flaky.example', '5@mx.flaky.example']);
  });

  it("five days to a DANE failure: the world's hundred rounds read as a handful of rows", () => {
    const world = createWorld({ seed: 1 });
    const [handle] = world.sendAll([{ from: 'alice@example.com', to: ['ann@dane.example'] }]);
    world.advance(5 * 86_400_000 + 3_600_000);
    const attempts = deliveryAttempts(handle!.timeline(), world.clock.epoch);
    expect(attempts.length).toBeGreaterThan(100);
    const rows = timelineRows(handle!.arrivalAt - world.clock.epoch, attempts);
    expect(rows.length).toBeLessThan(15);
    const fold = rows.find((r) => r.kind === 'repeats') as Extract<TimelineRow, { kind: 'repeats' }>;
    expect(fold.rounds).toBeGreaterThan(90);
    // Postfix's maximal_backoff_time: the folded rounds come 4000 s apart once the backoff stops growing.
    expect([fold.shortestWaitMs, fold.longestWaitMs]).toEqual([4000_000, 4000_000]);
    // The growing backoff before it stays in view: 5, 10, 20 and 40 minutes.
    const waits = rows.slice(0, rows.indexOf(fold)).flatMap((r) => (r.kind === 'attempt' && r.retry ? [r.waitedMs / MIN] : []));
    expect(waits.slice(0, 4)).toEqual([5, 10, 20, 40]);
    const shown = rows.flatMap((r) => (r.kind === 'attempt' ? [r.attempt] : r.attempts));
    expect(shown).toEqual(attempts);
  });

  it('a host that never answers: the backoff is counted from when the round gave up, 30 s after it began', () => {
    const world = createWorld({ seed: 1 });
    const [handle] = world.sendAll([{ from: 'alice@example.com', to: ['bob@down.example'] }]);
    world.advance(5 * 86_400_000 + 3_600_000);
    const attempts = deliveryAttempts(handle!.timeline(), world.clock.epoch);
    // Each round: mx1 refuses at once, mx2 is waited for until the connect timeout runs out.
    expect(attempts.slice(0, 2).map((a) => [a.host, a.time, a.roundEndedAt])).toEqual([
      ['mx1.down.example', 0, undefined],
      ['mx2.down.example', 0, 30_000],
    ]);
    const rows = timelineRows(handle!.arrivalAt - world.clock.epoch, attempts);
    const fold = rows.find((r) => r.kind === 'repeats') as Extract<TimelineRow, { kind: 'repeats' }>;
    // The learner reads Postfix's schedule as it is: 5, 10, 20, 40 minutes, then 4000 s.
    const waits = rows.slice(0, rows.indexOf(fold)).flatMap((r) => (r.kind === 'attempt' && r.retry && r.waitedMs > 0 ? [r.waitedMs / MIN] : []));
    expect(waits.slice(0, 4)).toEqual([5, 10, 20, 40]);
    expect([fold.shortestWaitMs, fold.longestWaitMs]).toEqual([4000_000, 4000_000]);
  });
});
