/**
 * Small statistics for the benchmark: a figure is always a median over several runs beside
 * its spread, because one run on a shared machine says little.
 */

/** A measured figure: the median of the repetitions and how far they spread. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** First and third quartiles (25th and 75th percentiles, linear interpolation). */
  q1: number;
  q3: number;
  samples: number[];
}

function sortedCopy(values: readonly number[]): number[] {
  if (values.length === 0) throw new RangeError('statistics of an empty list are undefined');
  for (const value of values) {
    if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  }
  return [...values].sort((a, b) => a - b);
}

/**
 * The p-th percentile (0..100) by linear interpolation between closest ranks
 * (the "R-7" definition that spreadsheets and NumPy use by default).
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const sorted = sortedCopy(values);
  return percentileOfSorted(sorted, p);
}

function percentileOfSorted(sorted: readonly number[], p: number): number {
  const rank = (p / 100) * (sorted.length - 1);
  const below = Math.floor(rank);
  const above = Math.ceil(rank);
  const fraction = rank - below;
  return sorted[below]! + (sorted[above]! - sorted[below]!) * fraction;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Interquartile range: q3 - q1. */
export function iqr(values: readonly number[]): number {
  const sorted = sortedCopy(values);
  return percentileOfSorted(sorted, 75) - percentileOfSorted(sorted, 25);
}

export function summarize(values: readonly number[]): Summary {
  const sorted = sortedCopy(values);
  return {
    median: percentileOfSorted(sorted, 50),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    q1: percentileOfSorted(sorted, 25),
    q3: percentileOfSorted(sorted, 75),
    samples: [...values],
  };
}

export interface RepeatOptions {
  /** Runs whose result is thrown away: JIT compilation, caches, socket pools settle first. */
  warmup: number;
  /** Runs that count. */
  repetitions: number;
}

/**
 * Runs `measure` warm-up + repetitions times, one after another (never concurrently, so runs
 * do not compete for the CPU), and summarizes the repetitions' results.
 */
export async function repeat(
  measure: (run: number) => Promise<number> | number,
  options: RepeatOptions,
): Promise<Summary> {
  if (!Number.isInteger(options.warmup) || options.warmup < 0) {
    throw new RangeError(`warmup must be a whole number >= 0, got ${options.warmup}`);
  }
  if (!Number.isInteger(options.repetitions) || options.repetitions < 1) {
    throw new RangeError(`repetitions must be a whole number >= 1, got ${options.repetitions}`);
  }
  for (let run = 0; run < options.warmup; run++) await measure(-1 - run);
  const results: number[] = [];
  for (let run = 0; run < options.repetitions; run++) results.push(await measure(run));
  return summarize(results);
}

/** The spread as "min–max", rounded like the median beside it. */
export function formatSpread(summary: Summary, digits: number): string {
  return `${summary.min.toFixed(digits)}–${summary.max.toFixed(digits)}`;
}
