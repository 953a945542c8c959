/**
 * A message's delivery timeline (the world's `TimelineEntry` list) as the Delivery panel's
 * attempts: one per host tried, with the virtual time it began. A round that took time (a host
 * that never answers is waited for 30 s, Postfix's smtp_connect_timeout; a tarpit longer) ends
 * where the world scheduled the retry, and that is where the backoff starts: the panel's "waited
 * 5m (backoff)" is then the backoff itself, not the backoff plus the round.
 */
import type { TimelineEntry } from '../machines/delivery';
import type { AttemptOutcome, DeliveryAttempt } from './types';

const ATTEMPT_OUTCOME: Readonly<Record<string, AttemptOutcome>> = {
  delivered: 'delivered',
  partial: 'deferred',
  deferred: 'deferred',
  failed: 'bounced',
  expired: 'bounced',
  refused: 'failed',
  timeout: 'failed',
  'tls-failed': 'failed',
  'no-route': 'failed',
  // The destination was resting after failing: deferred without a connection.
  suspended: 'deferred',
  skipped: 'failed',
};

/** The attempts of `timeline`, times relative to `epoch`. */
export function deliveryAttempts(timeline: readonly TimelineEntry[], epoch: number): DeliveryAttempt[] {
  const attempts: DeliveryAttempt[] = [];
  for (const entry of timeline) {
    if (entry.outcome === 'retry-scheduled') {
      // The round is over: the retry's backoff counts from here, not from when the round began.
      const last = attempts.at(-1);
      const endedAt = entry.at - epoch;
      if (last && last.attempt === entry.attempt && endedAt > last.time) attempts[attempts.length - 1] = { ...last, roundEndedAt: endedAt };
      continue;
    }
    attempts.push({
      attempt: entry.attempt,
      time: entry.at - epoch,
      ...(entry.host ? { host: entry.host } : {}),
      outcome: ATTEMPT_OUTCOME[entry.outcome] ?? 'failed',
      summary: entry.summary,
    });
  }
  return attempts;
}
