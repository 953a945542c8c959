/**
 * The rows of one message's delivery timeline, as the Delivery panel draws them. A message to a
 * destination that never answers is tried about every hour for five days (RFC 5321 §4.5.4.1
 * asks for "at least 4-5 days"; the world backs off like Postfix, up to 4000 s): a hundred
 * rounds with the same answer. Those read better as what they are, one failure repeated at the
 * longest backoff, so a run of rounds with the same answers, the same wait apart, is folded
 * into one row between its first and its last round (the rule of `sim/repeats.ts`). The folded
 * attempts stay in the row, for a learner who opens it.
 */
import { foldRepeatedRounds, type RoundReading } from '../sim/repeats';
import type { DeliveryAttempt } from './types';

export { FOLD_AT } from '../sim/repeats';

export type TimelineRow =
  | {
      kind: 'attempt';
      attempt: DeliveryAttempt;
      /** Virtual time since the previous attempt ended (or since the message was queued). */
      waitedMs: number;
      /** Not the first attempt: the wait was the retry backoff. */
      retry: boolean;
    }
  | {
      kind: 'repeats';
      /** Every attempt of the folded rounds, in order. */
      attempts: readonly DeliveryAttempt[];
      firstAttempt: number;
      lastAttempt: number;
      rounds: number;
      /** The waits before each folded round (from the round before it). */
      shortestWaitMs: number;
      longestWaitMs: number;
    };

/** The attempts of one retry round: consecutive attempts with the same number (one per host tried). */
function roundsOf(attempts: readonly DeliveryAttempt[]): DeliveryAttempt[][] {
  const rounds: DeliveryAttempt[][] = [];
  for (const attempt of attempts) {
    const current = rounds.at(-1);
    if (current && current[0]!.attempt === attempt.attempt) current.push(attempt);
    else rounds.push([attempt]);
  }
  return rounds;
}

/** When a round was over: when the MTA gave up on it, or its last attempt. */
function endOf(round: readonly DeliveryAttempt[]): number {
  const last = round.at(-1)!;
  return last.roundEndedAt ?? last.time;
}

/** What a round found, host by host, and the wait from the end of one round to the next. */
const ATTEMPT_ROUNDS: RoundReading<readonly DeliveryAttempt[]> = {
  sameAs: (round) => round.map((a) => `${a.host ?? ''}\u0000${a.outcome}\u0000${a.summary}`).join('\u0001'),
  waitBetween: (before, after) => after[0]!.time - endOf(before),
};

export function timelineRows(queuedAt: number, attempts: readonly DeliveryAttempt[]): TimelineRow[] {
  const rows: TimelineRow[] = [];
  let previousTime = queuedAt;
  let index = 0;
  const pushRound = (round: readonly DeliveryAttempt[]) => {
    for (const attempt of round) {
      rows.push({ kind: 'attempt', attempt, waitedMs: attempt.time - previousTime, retry: index > 0 });
      previousTime = attempt.roundEndedAt ?? attempt.time;
      index += 1;
    }
  };
  for (const item of foldRepeatedRounds(roundsOf(attempts), ATTEMPT_ROUNDS)) {
    if (item.kind === 'round') {
      pushRound(item.round);
      continue;
    }
    const folded = item.rounds;
    let shortest = Infinity;
    let longest = 0;
    for (const round of folded) {
      const wait = round[0]!.time - previousTime;
      shortest = Math.min(shortest, wait);
      longest = Math.max(longest, wait);
      previousTime = endOf(round);
      index += round.length;
    }
    rows.push({
      kind: 'repeats',
      attempts: folded.flat(),
      firstAttempt: folded[0]![0]!.attempt,
      lastAttempt: folded.at(-1)![0]!.attempt,
      rounds: folded.length,
      shortestWaitMs: shortest,
      longestWaitMs: longest,
    });
  }
  return rows;
}
