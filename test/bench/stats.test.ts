import { describe, expect, it } from 'vitest';
import { iqr, median, percentile, repeat, summarize } from './stats';

describe('percentile (linear interpolation between closest ranks)', () => {
  it('gives the middle value, or the mean of the two middle values', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('interpolates between ranks as NumPy does by default', () => {
    const values = [10, 20, 30, 40, 50];
    expect(percentile(values, 0)).toBe(10);
    expect(percentile(values, 100)).toBe(50);
    expect(percentile(values, 25)).toBe(20);
    expect(percentile(values, 90)).toBeCloseTo(46);
    expect(percentile([1, 2], 95)).toBeCloseTo(1.95);
  });

  it('does not reorder the caller\'s list', () => {
    const values = [3, 1, 2];
    percentile(values, 50);
    expect(values).toEqual([3, 1, 2]);
  });

  it('refuses empty lists, non-numbers and percentiles outside 0..100', () => {
    expect(() => median([])).toThrow(/empty/);
    expect(() => median([1, Number.NaN])).toThrow(/finite/);
    expect(() => percentile([1], 101)).toThrow(/0\.\.100/);
    expect(() => percentile([1], -1)).toThrow(/0\.\.100/);
  });
});

describe('summarize and iqr', () => {
  it('reports the median beside min, max and quartiles', () => {
    const summary = summarize([7, 1, 5, 3, 9]);
    expect(summary).toMatchObject({ median: 5, min: 1, max: 9, q1: 3, q3: 7 });
    expect(summary.samples).toEqual([7, 1, 5, 3, 9]);
    expect(iqr([7, 1, 5, 3, 9])).toBe(4);
  });
});

describe('repeat', () => {
  it('runs the warm-up first, keeps only the repetitions, one run at a time', async () => {
    const calls: number[] = [];
    let running = 0;
    let overlapped = false;
    const summary = await repeat(
      async (run) => {
        running++;
        if (running > 1) overlapped = true;
        calls.push(run);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
        return run < 0 ? 1000 : run + 1;
      },
      { warmup: 2, repetitions: 3 },
    );
    expect(calls).toEqual([-1, -2, 0, 1, 2]);
    expect(overlapped).toBe(false);
    expect(summary.samples).toEqual([1, 2, 3]);
    expect(summary.median).toBe(2);
  });

  it('refuses a count that is not a whole number', async () => {
    await expect(repeat(() => 1, { warmup: 0, repetitions: 0 })).rejects.toThrow(/repetitions/);
    await expect(repeat(() => 1, { warmup: -1, repetitions: 1 })).rejects.toThrow(/warmup/);
  });
});
