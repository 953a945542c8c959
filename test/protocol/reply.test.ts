import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatReply, replyClass, ReplyParser, type Reply } from '../../src/protocol/reply';

describe('formatReply', () => {
  const cases: Array<[string, Reply, string]> = [
    ['single line', { code: 250, lines: ['OK'] }, '250 OK\r\n'],
    ['enhanced single line', { code: 250, enhanced: '2.1.0', lines: ['Sender OK'] }, '250 2.1.0 Sender OK\r\n'],
    [
      'multiline EHLO',
      { code: 250, lines: ['mx1.example.com Hello sender.example', 'SIZE 52428800', 'PIPELINING'] },
      '250-mx1.example.com Hello sender.example\r\n250-SIZE 52428800\r\n250 PIPELINING\r\n',
    ],
    ['enhanced code on every line', { code: 550, enhanced: '5.1.1', lines: ['No such user', 'here'] }, '550-5.1.1 No such user\r\n550 5.1.1 here\r\n'],
    ['no lines', { code: 250, lines: [] }, '250\r\n'],
    ['no lines, enhanced', { code: 250, enhanced: '2.0.0', lines: [] }, '250 2.0.0\r\n'],
    ['empty challenge', { code: 334, lines: [''] }, '334 \r\n'],
    ['embedded newline cannot inject a line', { code: 250, lines: ['a\r\n250 fake', 'b'] }, '250-a\r\n250-250 fake\r\n250 b\r\n'],
  ];
  it.each(cases)('%s', (_name, reply, wire) => {
    expect(formatReply(reply)).toBe(wire);
  });
});

describe('replyClass', () => {
  it.each([
    [220, 'positive'],
    [250, 'positive'],
    [354, 'intermediate'],
    [334, 'intermediate'],
    [421, 'transient'],
    [451, 'transient'],
    [550, 'permanent'],
    [555, 'permanent'],
  ] as const)('%i is %s', (code, cls) => {
    expect(replyClass(code)).toBe(cls);
  });
});

describe('ReplyParser', () => {
  it('reads the EHLO reply from the sample session and the enhanced codes after it', () => {
    const parser = new ReplyParser();
    const wire =
      '220 mx1.example.com ESMTP ready\r\n' +
      '250-mx1.example.com Hello sender.example\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-STARTTLS\r\n' +
      '250-AUTH PLAIN LOGIN\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n' +
      '250 2.1.0 OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n250 2.0.0 OK: queued as 4F3A21C8\r\n';
    const replies = parser.push(wire);
    expect(replies).toEqual([
      { code: 220, lines: ['mx1.example.com ESMTP ready'] },
      {
        code: 250,
        lines: ['mx1.example.com Hello sender.example', 'SIZE 52428800', '8BITMIME', 'STARTTLS', 'AUTH PLAIN LOGIN', 'PIPELINING', 'ENHANCEDSTATUSCODES', 'SMTPUTF8'],
      },
      { code: 250, enhanced: '2.1.0', lines: ['OK'] },
      { code: 354, lines: ['Start mail input; end with <CRLF>.<CRLF>'] },
      { code: 250, enhanced: '2.0.0', lines: ['OK: queued as 4F3A21C8'] },
    ]);
    expect(parser.pending).toBe(false);
    expect(parser.errors).toEqual([]);
  });

  it('is pending while a line or a multiline reply is incomplete', () => {
    const parser = new ReplyParser();
    expect(parser.push('250-first\r\n250 sec')).toEqual([]);
    expect(parser.pending).toBe(true);
    expect(parser.push('ond\n')).toEqual([{ code: 250, lines: ['first', 'second'] }]);
    expect(parser.pending).toBe(false);
  });

  it('does not take an enhanced code whose class differs from the reply code', () => {
    expect(new ReplyParser().push('550 2.1.0 odd\r\n')).toEqual([{ code: 550, lines: ['2.1.0 odd'] }]);
  });

  it('takes an enhanced code that is the whole text', () => {
    expect(new ReplyParser().push('250 2.0.0\r\n')).toEqual([{ code: 250, enhanced: '2.0.0', lines: [''] }]);
  });

  it('reads a bare code as a one-line reply with empty text', () => {
    expect(new ReplyParser().push('250\r\n')).toEqual([{ code: 250, lines: [''] }]);
  });

  it('records malformed lines instead of throwing and keeps reading', () => {
    const parser = new ReplyParser();
    const replies = parser.push('hello there\r\n25 short\r\n250xOK\r\n699 bad\r\n221 2.0.0 Bye\r\n');
    expect(replies).toEqual([{ code: 221, enhanced: '2.0.0', lines: ['Bye'] }]);
    expect(parser.errors.map((e) => e.line)).toEqual(['hello there', '25 short', '250xOK', '699 bad']);
  });

  it('completes a multiline reply whose codes disagree, with the last code, and records it', () => {
    const parser = new ReplyParser();
    expect(parser.push('250-one\r\n251 two\r\n')).toEqual([{ code: 251, lines: ['one', 'two'] }]);
    expect(parser.errors).toHaveLength(1);
    expect(parser.errors[0]!.reason).toMatch(/differs/);
  });

  it('round-trips formatReply under random chunking (property)', () => {
    const text = fc.string({ unit: fc.constantFrom(...'abcXYZ -.:;<>@=/'.split('')), maxLength: 30 }).filter((t) => !/^\d/.test(t));
    const reply = fc.record(
      {
        code: fc.integer({ min: 2, max: 5 }).chain((first) => fc.integer({ min: 0, max: 59 }).map((rest) => first * 100 + rest)),
        withEnhanced: fc.boolean(),
        subject: fc.integer({ min: 0, max: 7 }),
        detail: fc.integer({ min: 0, max: 30 }),
        lines: fc.array(text, { minLength: 1, maxLength: 6 }),
      },
    );
    fc.assert(
      fc.property(fc.array(reply, { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 40 }), (specs, cuts) => {
        const replies: Reply[] = specs.map((spec) => {
          const cls = Math.floor(spec.code / 100);
          const withEnhanced = spec.withEnhanced && cls !== 3;
          return withEnhanced ? { code: spec.code, enhanced: `${cls}.${spec.subject}.${spec.detail}`, lines: spec.lines } : { code: spec.code, lines: spec.lines };
        });
        const wire = replies.map(formatReply).join('');
        const parser = new ReplyParser();
        const out: Reply[] = [];
        let at = 0;
        let i = 0;
        while (at < wire.length) {
          const size = cuts[i++ % cuts.length]!;
          out.push(...parser.push(wire.slice(at, at + size)));
          at += size;
        }
        expect(out).toEqual(replies);
        expect(parser.pending).toBe(false);
        expect(parser.errors).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });
});

describe('reply line length (RFC 5321 §4.5.3.1.5)', () => {
  it('cuts a line that quotes a long client input to 512 octets with its CRLF, multi-byte text included', () => {
    for (const filler of ['x', 'é', '😀']) {
      const wire = formatReply({ code: 501, enhanced: '5.1.3', lines: [`Bad address: ${filler.repeat(700)}`, 'second line'] });
      const lines = wire.split('\r\n').slice(0, -1);
      expect(lines).toHaveLength(2);
      for (const line of lines) expect(Buffer.byteLength(`${line}\r\n`)).toBeLessThanOrEqual(512);
      expect(lines[0]).toMatch(/^501-5\.1\.3 Bad address: .*\.\.\.$/);
      expect(lines[0]).not.toMatch(/\uFFFD/);
      expect(new ReplyParser().push(wire)).toHaveLength(1);
    }
  });

  it('leaves a line that fits alone', () => {
    expect(formatReply({ code: 250, lines: ['a'.repeat(506)] })).toBe(`250 ${'a'.repeat(506)}\r\n`);
  });
});
