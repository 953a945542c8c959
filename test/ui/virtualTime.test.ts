// The panels' virtual times read as the terminal beside them writes them.
import { describe, expect, it } from 'vitest';
import { formatVirtualTime } from '../../src/ui/types';
import { formatElapsed } from '../../src/sim/clock';

const HOUR = 3_600_000;

describe('formatVirtualTime', () => {
  it('is the clock alone within the first day', () => {
    expect(formatVirtualTime(0)).toBe('00:00:00');
    expect(formatVirtualTime(4 * HOUR + 35 * 60_000)).toBe('04:35:00');
  });

  it('past a day, writes the day count as the terminal and the sim CLI do (+5d, not d5)', () => {
    for (const ms of [24 * HOUR, 4 * 24 * HOUR + 21 * HOUR + 55 * 60_000, 5 * 24 * HOUR]) {
      expect(formatVirtualTime(ms)).toBe(formatElapsed(ms));
    }
    expect(formatVirtualTime(5 * 24 * HOUR)).toBe('+5d 00:00:00');
  });
});
