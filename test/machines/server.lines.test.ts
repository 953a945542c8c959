// A `lines` event (several framed lines at once, as a transport reads them) must be handled
// exactly as the same lines sent one `line` event at a time: same replies, same messages, same
// state, whatever the state the batch arrives in and wherever the end of data falls in it.
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { Extensions, ServerBackend, SessionFacts } from '../../src/machines/backend';
import type { LineEvent } from '../../src/machines/server';
import { codes, line, startSession } from './serverHarness';

const FULL: Extensions = { pipelining: true, size: 1000, starttls: true, enhancedStatusCodes: true, eightBitMime: true };

function backend(overrides: Partial<ServerBackend> = {}): ServerBackend {
  // A fixed clock: the Received field carries a date, and both runs must write the same one.
  return { hostname: 'mx.example.net', extensions: (_facts: SessionFacts) => FULL, now: () => Date.UTC(2026, 2, 10, 9), ...overrides };
}

type Item = string | LineEvent;
const toLine = (item: Item): LineEvent => (typeof item === 'string' ? line(item) : item);

/** Runs the same input twice: line by line, and cut into batches of `batchSize` lines. */
function bothWays(make: () => ServerBackend, items: Item[], batchSize: number, clock?: () => SimulatedClock) {
  const single = startSession({ backend: make() }, clock?.());
  for (const item of items) single.actor.send(toLine(item));
  const batched = startSession({ backend: make() }, clock?.());
  for (let i = 0; i < items.length; i += batchSize) {
    batched.actor.send({ type: 'lines', lines: items.slice(i, i + batchSize).map(toLine) });
  }
  return { single, batched };
}

const MESSAGE = ['Subject: batch', '', 'first line', '..a line that starts with a dot', 'last line'];

describe('a `lines` batch is its lines one by one', () => {
  const script: Item[] = [
    'EHLO client.example',
    'MAIL FROM:<alice@example.com>',
    'RCPT TO:<bob@example.net>',
    'DATA',
    ...MESSAGE,
    '.',
    'MAIL FROM:<carol@example.com>',
    'RCPT TO:<dave@example.net>',
    'RCPT TO:<erin@example.net>',
    'DATA',
    ...MESSAGE,
    '.',
    'NOOP',
    'QUIT',
    'NOOP',
  ];

  for (const batchSize of [1, 2, 3, 7, script.length]) {
    it(`gives the same replies, messages and state in batches of ${batchSize}`, () => {
      const { single, batched } = bothWays(backend, script, batchSize);
      expect(batched.emitted).toEqual(single.emitted);
      expect(batched.state()).toBe(single.state());
      const messages = batched.emitted.filter((e) => e.type === 'accepted');
      expect(messages).toHaveLength(2);
      expect(messages[0]!.type === 'accepted' && messages[0]!.message.text).toBe(
        'Subject: batch\r\n\r\nfirst line\r\n.a line that starts with a dot\r\nlast line\r\n',
      );
      expect(codes(batched.replies()).at(-1)).toBe('221 2.0.0');
      expect(batched.closed()).toBe(true);
    });
  }

  it('a "." after a bare LF is content in a batch too; the real end of data ends it', () => {
    const items: Item[] = ['EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.net>', 'DATA', line('one', 'lf'), '.', line('.', 'lf'), 'two', '.', 'RSET'];
    const { single, batched } = bothWays(backend, items, items.length);
    expect(batched.emitted).toEqual(single.emitted);
    const accepted = batched.emitted.find((e) => e.type === 'accepted');
    // Content lines of a single "." keep it: RFC 5321 §4.5.2 deletes a leading dot only when
    // other characters follow it on the line.
    expect(accepted?.type === 'accepted' && accepted.message.text).toBe('one\r\n.\r\n.\r\ntwo\r\n');
    expect(codes(batched.replies()).slice(-2)).toEqual(['250 2.0.0', '250 2.0.0']);
    expect(batched.state()).toBe('ready');
  });

  it('a lenient backend ends at <LF>.<LF> inside a batch, and the rest is read as commands', () => {
    const lenient = () => backend({ lenientEndOfData: true });
    const items: Item[] = ['EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.net>', 'DATA', line('one', 'lf'), line('.', 'lf'), line('MAIL FROM:<forged@example.com>', 'lf')];
    const { single, batched } = bothWays(lenient, items, items.length);
    expect(batched.emitted).toEqual(single.emitted);
    expect(codes(batched.replies()).slice(-2)).toEqual(['250 2.0.0', '250 2.1.0']);
    expect(batched.state()).toBe('mail');
  });

  it('lines behind STARTTLS in the same batch are dropped, as single lines are (RFC 3207 §4.2)', () => {
    const items: Item[] = ['EHLO c.example', 'STARTTLS', 'MAIL FROM:<injected@example.com>', 'RCPT TO:<b@example.net>'];
    const { single, batched } = bothWays(backend, items, items.length);
    expect(batched.emitted).toEqual(single.emitted);
    expect(batched.state()).toBe('tlsHandshake');
    expect(codes(batched.replies())).toEqual(['220', '250', '220 2.0.0']);
  });

  it('a message over the size limit is refused the same way', () => {
    const items: Item[] = ['EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.net>', 'DATA', ...Array.from({ length: 20 }, () => 'x'.repeat(70)), '.'];
    const { single, batched } = bothWays(backend, items, 6);
    expect(batched.emitted).toEqual(single.emitted);
    expect(codes(batched.replies()).at(-1)).toBe('552 5.3.4');
  });

  it('lines of a batch that arrives during a tarpit delay are held and answered in order after it', () => {
    const slow = () => backend({ onMail: () => ({ delayMs: 10_000 }) });
    const clocks: SimulatedClock[] = [];
    const clock = () => {
      const c = new SimulatedClock();
      clocks.push(c);
      return c;
    };
    const items: Item[] = ['EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.net>', 'DATA', 'hello', '.', 'NOOP'];
    const { single, batched } = bothWays(slow, items, items.length, clock);
    expect(codes(batched.replies())).toEqual(['220', '250']);
    expect(batched.state()).toBe('holding');
    for (const c of clocks) c.increment(10_000);
    expect(batched.emitted).toEqual(single.emitted);
    expect(codes(batched.replies())).toEqual(['220', '250', '250 2.1.0', '250 2.1.5', '354', '250 2.0.0', '250 2.0.0']);
    expect(batched.state()).toBe('ready');
  });
});
