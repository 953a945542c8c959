import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { collectData, DataCollector, LineFramer, type FramedLine } from '../../src/protocol/framing';
import { parseCommand } from '../../src/protocol/command';

/** A pipelined client stream from the sample session (reserved names). */
const SAMPLE_STREAM =
  'MAIL FROM:<alice@example.com> SIZE=1024\r\n' +
  'RCPT TO:<bob@example.net>\r\n' +
  'DATA\r\n' +
  'From: alice@example.com\r\n' +
  'To: bob@example.net\r\n' +
  'Subject: Hello\r\n' +
  '\r\n' +
  '..a line that starts with a dot\n' +
  '.\n' +
  'MAIL FROM:<smuggled@example.com>\r\n' +
  '.\r\n' +
  'QUIT\r\n';

function frameAll(stream: string, cuts: number[]): FramedLine[] {
  const framer = new LineFramer();
  const bytes = new TextEncoder().encode(stream);
  const lines: FramedLine[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut <= at) continue;
    lines.push(...framer.push(bytes.subarray(at, Math.min(cut, bytes.length))));
    at = Math.min(cut, bytes.length);
  }
  expect(framer.pendingOctets).toBe(0);
  return lines;
}

/** Splits the stream's lines into commands and data the way a server does. */
function runServer(lines: FramedLine[], endOfData: 'crlf-only' | 'any-line-ending' = 'crlf-only') {
  const commands: string[] = [];
  let message: string | undefined;
  let index = 0;
  while (index < lines.length) {
    const line = lines[index++]!;
    const parsed = parseCommand(line.text);
    commands.push(parsed.ok ? parsed.command.verb : `error ${parsed.reply.code}`);
    if (parsed.ok && parsed.command.verb === 'DATA') {
      const { result, consumed } = collectData(lines.slice(index), { endOfData, previousEnding: line.ending });
      message = result.message;
      index += consumed;
      expect(result.done).toBe(true);
    }
  }
  return { commands, message };
}

const EXPECTED_MESSAGE =
  'From: alice@example.com\r\nTo: bob@example.net\r\nSubject: Hello\r\n\r\n' +
  '.a line that starts with a dot\r\n' +
  '.\r\n' + // the "." of "<LF>.<LF>" is not the end: it is content, and keeps its dot (§4.5.2)
  'MAIL FROM:<smuggled@example.com>\r\n';

describe('LineFramer', () => {
  it('reports the ending of each line and keeps bare CR as text', () => {
    const lines = new LineFramer().push('EHLO a.example\r\nNOOP\nx\ry\r\n\r\n');
    expect(lines).toEqual([
      { text: 'EHLO a.example', ending: 'crlf', tooLong: false, octets: 14 },
      { text: 'NOOP', ending: 'lf', tooLong: false, octets: 4 },
      { text: 'x\ry', ending: 'crlf', tooLong: false, octets: 3 },
      { text: '', ending: 'crlf', tooLong: false, octets: 0 },
    ]);
  });

  it('gives the same lines for every single split of the sample stream', () => {
    const whole = frameAll(SAMPLE_STREAM, []);
    expect(whole).toHaveLength(12);
    const length = new TextEncoder().encode(SAMPLE_STREAM).length;
    for (let cut = 1; cut < length; cut++) expect(frameAll(SAMPLE_STREAM, [cut])).toEqual(whole);
  });

  it('gives the same lines for every pair of splits and byte-at-a-time (CR and LF apart)', () => {
    const whole = frameAll(SAMPLE_STREAM, []);
    const length = SAMPLE_STREAM.length;
    for (let a = 1; a < length; a += 3) for (let b = a + 1; b < length; b += 5) expect(frameAll(SAMPLE_STREAM, [a, b])).toEqual(whole);
    expect(frameAll(SAMPLE_STREAM, Array.from({ length }, (_, i) => i + 1))).toEqual(whole);
  });

  it('decodes UTF-8 split across chunks and counts octets', () => {
    const framer = new LineFramer();
    const bytes = new TextEncoder().encode('Grüße 用\r\n');
    const lines = [...framer.push(bytes.subarray(0, 3)), ...framer.push(bytes.subarray(3, 9)), ...framer.push(bytes.subarray(9))];
    expect(lines).toEqual([{ text: 'Grüße 用', ending: 'crlf', tooLong: false, octets: 11 }]);
  });

  it('flags lines over the limit (counted with CRLF) and truncates what it keeps', () => {
    const framer = new LineFramer({ maxLineOctets: 10, maxBufferedLineOctets: 5 });
    const [fits, over] = framer.push('12345678\r\n123456789\n');
    expect(fits).toMatchObject({ tooLong: false, octets: 8, text: '12345', truncated: true });
    expect(over).toMatchObject({ tooLong: true, octets: 9, ending: 'lf' });
    expect(new LineFramer().push('x'.repeat(998) + '\r\n' + 'y'.repeat(999) + '\r\n').map((l) => l.tooLong)).toEqual([false, true]);
  });

  it('hands back an unterminated line on flush', () => {
    const framer = new LineFramer();
    expect(framer.push('QUIT')).toEqual([]);
    expect(framer.pendingOctets).toBe(4);
    expect(framer.flush()).toBe('QUIT');
    expect(framer.flush()).toBeUndefined();
  });
});

describe('end of data (RFC 5321 §4.1.1.4, SMTP smuggling)', () => {
  it('ends data only at <CRLF>.<CRLF>: "<LF>.<LF>" stays in the message', () => {
    const { commands, message } = runServer(frameAll(SAMPLE_STREAM, []));
    expect(commands).toEqual(['MAIL', 'RCPT', 'DATA', 'QUIT']);
    expect(message).toBe(EXPECTED_MESSAGE);
  });

  it('a vulnerable server that accepts <LF>.<LF> runs the smuggled command', () => {
    const { commands, message } = runServer(frameAll(SAMPLE_STREAM, []), 'any-line-ending');
    expect(commands).toEqual(['MAIL', 'RCPT', 'DATA', 'MAIL', 'error 500', 'QUIT']);
    expect(message).toBe('From: alice@example.com\r\nTo: bob@example.net\r\nSubject: Hello\r\n\r\n.a line that starts with a dot\r\n');
  });

  it.each([
    ['\r\n.\r\n', true],
    ['\n.\n', false],
    ['\r\n.\n', false],
    ['\n.\r\n', false],
    ['\r.\r\n', false],
    ['\r\n.\r\r\n', false],
  ])('body "x%j" ends data: %s', (tail, ends) => {
    const lines = new LineFramer().push(`x${tail}`);
    const collector = new DataCollector();
    const done = lines.map((line) => collector.push(line));
    expect(done.includes(true)).toBe(ends);
  });

  it('reports bare LF, bare CR, long lines and size', () => {
    const lines = new LineFramer().push(`a\nb\rc\r\n${'z'.repeat(999)}\r\n..\r\n.\r\n`);
    const { result, consumed } = collectData(lines);
    expect(consumed).toBe(5);
    expect(result).toMatchObject({ done: true, bareLfSeen: true, bareCrSeen: true, lineTooLong: true, tooBig: false, lineCount: 4 });
    expect(result.message).toBe(`a\r\nb\rc\r\n${'z'.repeat(999)}\r\n.\r\n`);
    expect(result.sizeOctets).toBe(new TextEncoder().encode(result.message).length);
  });

  it('stops keeping text past maxMessageOctets but still finds the end', () => {
    const lines = new LineFramer().push('0123456789\r\n0123456789\r\n.\r\nQUIT\r\n');
    const { result, consumed } = collectData(lines, { maxMessageOctets: 15 });
    expect(consumed).toBe(3);
    expect(result).toMatchObject({ done: true, tooBig: true, message: '', sizeOctets: 24 });
  });

  it('after DATA ended in a bare LF, an immediate ".\\r\\n" is not the end', () => {
    const collector = new DataCollector({ previousEnding: 'lf' });
    expect(collector.push({ text: '.', ending: 'crlf', tooLong: false, octets: 1 })).toBe(false);
    expect(collector.push({ text: '.', ending: 'crlf', tooLong: false, octets: 1 })).toBe(true);
    // The first "." is content; a lone dot keeps it (§4.5.2 deletes a leading dot only when
    // other characters follow).
    expect(collector.result().message).toBe('.\r\n');
    expect(collector.push({ text: 'late', ending: 'crlf', tooLong: false, octets: 4 })).toBe(false);
  });

  it('every random chunking of random data gives the same lines (property)', () => {
    const unit = fc.constantFrom('a', '.', '\r', '\n', 'é', ' ');
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 60 }), fc.array(fc.integer({ min: 1, max: 80 }), { maxLength: 8 }), (stream, cuts) => {
        const sorted = [...cuts].sort((x, y) => x - y);
        const framer = new LineFramer();
        const lines = framer.push(stream);
        expect(frameAll(stream + '\n', sorted).slice(0, lines.length)).toEqual(lines);
      }),
      { numRuns: 1000 },
    );
  });
});
