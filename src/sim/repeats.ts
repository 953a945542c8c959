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
  /** The wait between two rounds that follow each other (in the same stream). */
  waitBetween(before: R, after: R): number;
  /**
   * Whose retries a round is, when the rounds of several queue entries come interleaved (a
   * message waiting at two dead destinations is tried at each on its own schedule): runs are
   * found within each stream, and the folded item stands where its first folded round was.
   * One stream when absent.
   */
  streamOf?(round: R): string;
}

export function foldRepeatedRounds<R>(rounds: readonly R[], reading: RoundReading<R>): FoldedRounds<R>[] {
  // Each stream's rounds, by their place in `rounds`.
  const streams = new Map<string, number[]>();
  rounds.forEach((round, index) => {
    const stream = reading.streamOf?.(round) ?? '';
    const members = streams.get(stream);
    if (members) members.push(index);
    else streams.set(stream, [index]);
  });
  /** Per place in `rounds`: shown as it is (absent), folded into the item that starts there, or folded into an earlier one. */
  const folded = new Map<number, FoldedRounds<R> | 'inside'>();
  for (const places of streams.values()) {
    const own = places.map((place) => rounds[place]!);
    const keys = own.map((round) => reading.sameAs(round));
    const waitBefore = (k: number) => reading.waitBetween(own[k - 1]!, own[k]!);
    for (let r = 0; r < own.length; ) {
      // The run of rounds with this one's answers, each the same wait after the one before it.
      let end = r + 1;
      while (end < own.length && keys[end] === keys[r] && (end === r + 1 || waitBefore(end) === waitBefore(r + 1))) end += 1;
      if (end - r >= FOLD_AT) {
        // The first and the last round as they are; the ones between them in one item.
        folded.set(places[r + 1]!, { kind: 'repeats', rounds: own.slice(r + 1, end - 1), same: own[r]! });
        for (let k = r + 2; k < end - 1; k++) folded.set(places[k]!, 'inside');
      }
      r = end;
    }
  }
  const out: FoldedRounds<R>[] = [];
  rounds.forEach((round, place) => {
    const item = folded.get(place);
    if (item === undefined) out.push({ kind: 'round', round });
    else if (item !== 'inside') out.push(item);
  });
  return out;
}
