/**
 * Retry rounds that say the same thing again. A message to a destination that never answers is
 * tried about every 67 minutes for five days (RFC 5321 §4.5.4.1 asks for "at least 4-5 days";
 * the world backs off like Postfix, up to 4000 s): a hundred rounds with the same answer. They
 * read better as what they are, one failure repeated at the longest backoff. So a run of rounds
 * with the same answers, each the same wait after the one before it, is shown as its first
 * round, the ones between folded into one item, and its last round. The rounds while the backoff
 * still grows (5, 10, 20, 40 minutes) differ in their waits and stay in view: they are the lesson.
 *
 * One rule for every place that shows retries: the Delivery panel, the lab's terminal after
 * `clock`, and the `sim` CLI. Each brings its own rounds, what a round said, and the wait
 * between two rounds.
 */

/** Fewer identical rounds than this in a row are shown as they are. */
export const FOLD_AT = 4;

export type FoldedRounds<R> =
  | { kind: 'round'; round: R }
  /** The rounds between the first and the last of a run: the same as `same`, again. */
  | { kind: 'repeats'; rounds: readonly R[]; same: R };

export interface RoundReading<R> {
  /** What a round said, without its times and numbers: rounds with the same are the same failure again. */
  sameAs(round: R): string;
  /** The wait between two rounds that follow each other. */
  waitBetween(before: R, after: R): number;
}

export function foldRepeatedRounds<R>(rounds: readonly R[], reading: RoundReading<R>): FoldedRounds<R>[] {
  const out: FoldedRounds<R>[] = [];
  const keys = rounds.map((round) => reading.sameAs(round));
  const waitBefore = (k: number) => reading.waitBetween(rounds[k - 1]!, rounds[k]!);
  for (let r = 0; r < rounds.length; ) {
    // The run of rounds with this one's answers, each the same wait after the one before it.
    let end = r + 1;
    while (end < rounds.length && keys[end] === keys[r] && (end === r + 1 || waitBefore(end) === waitBefore(r + 1))) end += 1;
    if (end - r < FOLD_AT) {
      for (let k = r; k < end; k++) out.push({ kind: 'round', round: rounds[k]! });
    } else {
      out.push({ kind: 'round', round: rounds[r]! });
      out.push({ kind: 'repeats', rounds: rounds.slice(r + 1, end - 1), same: rounds[r]! });
      out.push({ kind: 'round', round: rounds[end - 1]! });
    }
    r = end;
  }
  return out;
}
