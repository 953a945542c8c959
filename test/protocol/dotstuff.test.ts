import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dotStuff, dotUnstuff, normaliseLineEndings } from '../../src/protocol/dotstuff';
import { collectData, LineFramer } from '../../src/protocol/framing';

describe('dotStuff (RFC 5321 §4.5.2)', () => {
  it.each([
    ['', '.\r\n'],
    ['Hello\r\n', 'Hello\r\n.\r\n'],
    ['Hello', 'Hello\r\n.\r\n'],
    ['.\r\n', '..\r\n.\r\n'],
    ['a\n.b\n..c\n', 'a\r\n..b\r\n...c\r\n.\r\n'],
    ['a\r.\rb', 'a\r\n..\r\nb\r\n.\r\n'],
    ['x.y\r\n', 'x.y\r\n.\r\n'],
  ])('%j -> %j', (message, wire) => {
    expect(dotStuff(message)).toBe(wire);
  });

  it('dotUnstuff removes one leading dot per line', () => {
    expect(dotUnstuff(['..b', '...c', 'd.', ''])).toBe('.b\r\n..c\r\nd.\r\n\r\n');
  });

  it('round-trips through the wire: stuff, frame, collect (property)', () => {
    const unit = fc.constantFrom('a', 'b', '.', ' ', '\r\n', '\n', '\r', 'ü');
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 80 }), (message) => {
        const wire = dotStuff(message);
        const lines = new LineFramer().push(wire);
        const { result, consumed } = collectData(lines);
        expect(result.done).toBe(true);
        expect(consumed).toBe(lines.length);
        const expected = message === '' ? '' : normaliseLineEndings(message).replace(/(?<!\r\n)$/, '\r\n');
        expect(result.message).toBe(expected);
        expect(dotUnstuff(wire.split('\r\n').slice(0, -2))).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
