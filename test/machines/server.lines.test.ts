// A `lines` event (several framed lines at once, as a transport reads them) must be handled
// exactly as the same lines sent one `line` event at a time: same replies, same messages, same
// state, whatever the state the batch arrives in and wherever the end of data falls in it.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SimulatedClock } from 'xstate';
import type { Extensions, ServerBackend, SessionFacts } from '../../src/machines/backend';
import type { LineEvent, ServerInput } from '../../src/machines/server';
import { encodePlain } from '../../src/protocol/sasl';
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

// ─── Batches that stop part-way ───────────────────────────────────────────────────────────
//
// A pipelined group is decided in one transition until a line changes how the next ones are
// read (354, 334, the 220 to STARTTLS), delays its reply, or ends the session; the lines after
// it go in again. Every way of cutting a script into batches must give what line by line gives:
// the same wire, the same state, and the same backend hooks, each called once per line, in order.

/** A backend whose hooks write down each call before answering. */
type MakeBackend = (calls: string[]) => ServerBackend;

function noting(overrides: Partial<ServerBackend> = {}): MakeBackend {
  return (calls) => {
    const base = backend(overrides);
    return {
      ...base,
      onEhlo: (domain, facts) => (calls.push(`ehlo ${domain}`), base.onEhlo?.(domain, facts)),
      onMail: (from, params, facts) => (calls.push(`mail ${from}`), base.onMail?.(from, params, facts)),
      onRcpt: (to, params, envelope, facts) => (calls.push(`rcpt ${to}`), base.onRcpt?.(to, params, envelope, facts)),
      onDataStart: (envelope, facts) => (calls.push('data start'), base.onDataStart?.(envelope, facts)),
      onData: (message, envelope, facts) => (calls.push(`data ${message.text.length} octets`), base.onData?.(message, envelope, facts)),
      authenticate: (mechanism, user, password, facts) => (calls.push(`auth ${mechanism} ${user}`), base.authenticate?.(mechanism, user, password, facts) ?? false),
    };
  };
}

/** Runs `items` line by line (no `groups`) or as these batches; then lets every delayed reply out. */
function drive(make: MakeBackend, items: Item[], groups: Item[][] | undefined, extra: Partial<ServerInput>) {
  const calls: string[] = [];
  const clock = new SimulatedClock();
  const session = startSession({ backend: make(calls), ...extra }, clock);
  // A closed session reads nothing more; what is sent after that is not sent at all.
  const open = () => session.actor.getSnapshot().status === 'active';
  if (groups === undefined) for (const item of items) { if (open()) session.actor.send(toLine(item)); }
  else for (const group of groups) { if (open()) session.actor.send({ type: 'lines', lines: group.map(toLine) }); }
  for (let i = 0; i < 50 && session.state() === 'holding'; i++) clock.increment(60_000);
  return { emitted: session.emitted, calls, state: session.state(), codes: codes(session.replies()) };
}

/** Every batch size, and every cut into two batches. */
function cutsOf(items: Item[]): Array<{ name: string; groups: Item[][] }> {
  const cuts: Array<{ name: string; groups: Item[][] }> = [];
  for (let size = 1; size <= items.length; size++) {
    const groups: Item[][] = [];
    for (let i = 0; i < items.length; i += size) groups.push(items.slice(i, i + size));
    cuts.push({ name: `batches of ${size}`, groups });
  }
  for (let at = 1; at < items.length; at++) cuts.push({ name: `cut after line ${at}`, groups: [items.slice(0, at), items.slice(at)] });
  return cuts;
}

interface Scenario {
  name: string;
  make: MakeBackend;
  extra?: Partial<ServerInput>;
  items: Item[];
  /** What line by line gives, so that the comparison is about something. */
  codes: string[];
  state: string;
  calls?: string[];
}

const USERS: Record<string, string> = { 'alice@example.com': 's3cr3t' };
const withAuth = (overrides: Partial<ServerBackend> = {}) =>
  noting({
    extensions: () => ({ ...FULL, auth: ['PLAIN', 'LOGIN'] }),
    authenticate: (_m, user, password) => USERS[user] === password,
    ...overrides,
  });
const slowFor = (address: string) => (to: string) => (to === address ? { delayMs: 20_000 } : undefined);
const ENVELOPE: Item[] = ['EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.net>'];

const scenarios: Scenario[] = [
  {
    name: 'STARTTLS in the middle: the 220, then everything behind it dropped unread (RFC 3207 §4.2)',
    make: noting(),
    items: ['EHLO c.example', 'NOOP', 'STARTTLS', 'MAIL FROM:<injected@example.com>', 'RCPT TO:<b@example.net>', 'DATA', 'x', '.'],
    codes: ['220', '250', '250 2.0.0', '220 2.0.0'],
    state: 'tlsHandshake',
    calls: ['ehlo c.example'],
  },
  {
    name: 'AUTH with 334 challenges, a cancel, then a transaction',
    make: withAuth(),
    items: ['EHLO c.example', 'AUTH PLAIN', '*', 'AUTH LOGIN', btoa('alice@example.com'), btoa('s3cr3t'), 'MAIL FROM:<alice@example.com>', 'RCPT TO:<b@example.net>', 'DATA', 'hi', '.', 'QUIT'],
    codes: ['220', '250', '334', '501 5.0.0', '334', '334', '235 2.7.0', '250 2.1.0', '250 2.1.5', '354', '250 2.0.0', '221 2.0.0'],
    state: 'closed',
    calls: ['ehlo c.example', 'auth LOGIN alice@example.com', 'mail alice@example.com', 'rcpt b@example.net', 'data start', 'data 4 octets'],
  },
  {
    name: 'a tarpit on one RCPT: the replies before it go out, the lines behind it wait',
    make: noting({ onRcpt: slowFor('slow@example.net') }),
    items: ['EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.net>', 'RCPT TO:<slow@example.net>', 'RCPT TO:<c@example.net>', 'DATA', 'hi', '.', 'NOOP'],
    codes: ['220', '250', '250 2.1.0', '250 2.1.5', '250 2.1.5', '250 2.1.5', '354', '250 2.0.0', '250 2.0.0'],
    state: 'ready',
  },
  {
    name: 'a slow end of data with the next transaction pipelined behind it',
    make: noting({ onData: () => ({ delayMs: 15_000 }) }),
    items: [...ENVELOPE, 'DATA', 'one', 'two', '.', 'MAIL FROM:<c@example.com>', 'RCPT TO:<d@example.net>', 'DATA', 'three', '.', 'QUIT'],
    codes: ['220', '250', '250 2.1.0', '250 2.1.5', '354', '250 2.0.0', '250 2.1.0', '250 2.1.5', '354', '250 2.0.0', '221 2.0.0'],
    state: 'closed',
  },
  {
    name: 'a slow banner: everything sent before it waits for it',
    make: noting({ onConnect: () => ({ delayMs: 30_000 }) }),
    items: [...ENVELOPE, 'DATA', 'x', '.', 'QUIT'],
    codes: ['220', '250', '250 2.1.0', '250 2.1.5', '354', '250 2.0.0', '221 2.0.0'],
    state: 'closed',
  },
  {
    name: 'a 421 in the middle closes the session: nothing after it is read',
    make: noting({ onRcpt: (to) => (to === 'down@example.net' ? { code: 421, enhanced: '4.3.2', lines: ['going down'] } : undefined) }),
    items: [...ENVELOPE, 'RCPT TO:<down@example.net>', 'RCPT TO:<c@example.net>', 'DATA', 'x', '.', 'QUIT'],
    codes: ['220', '250', '250 2.1.0', '250 2.1.5', '421 4.3.2'],
    state: 'closed',
    calls: ['ehlo c.example', 'mail a@example.com', 'rcpt b@example.net', 'rcpt down@example.net'],
  },
  {
    name: 'the error limit reached in the middle: 421 4.7.0 instead of the last error, then nothing',
    make: noting(),
    extra: { maxBadCommands: 3 },
    items: ['EHLO c.example', 'FOO', 'MAIL FROM:<a@example.com>', 'BAR', 'RCPT TO:<b@example.net>', 'BAZ', 'DATA', 'QUIT'],
    codes: ['220', '250', '500 5.5.2', '250 2.1.0', '500 5.5.2', '250 2.1.5', '421 4.7.0'],
    state: 'closed',
  },
  {
    name: 'a backend that drops the connection without a word in the middle',
    make: noting({ onRcpt: (to) => (to === 'drop@example.net' ? { silent: true, close: true } : undefined) }),
    items: [...ENVELOPE, 'RCPT TO:<drop@example.net>', 'DATA', 'x', '.'],
    codes: ['220', '250', '250 2.1.0', '250 2.1.5'],
    state: 'closed',
  },
  {
    name: 'a greylist remembers each try: RSET and the retry in one group see the first try once',
    make: (calls) => {
      const tried = new Set<string>();
      return noting({ onRcpt: (to) => (tried.has(to) ? undefined : (tried.add(to), { code: 451, enhanced: '4.7.1', lines: ['greylisted'] })) })(calls);
    },
    items: [...ENVELOPE, 'RSET', 'MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.net>', 'DATA', 'x', '.', 'QUIT'],
    codes: ['220', '250', '250 2.1.0', '451 4.7.1', '250 2.0.0', '250 2.1.0', '250 2.1.5', '354', '250 2.0.0', '221 2.0.0'],
    state: 'closed',
    calls: ['ehlo c.example', 'mail a@example.com', 'rcpt b@example.net', 'mail a@example.com', 'rcpt b@example.net', 'data start', 'data 3 octets'],
  },
  {
    name: 'enhanced codes follow what each line left the session offering (RFC 2034)',
    // ENHANCEDSTATUSCODES only after EHLO: a HELO in the group takes it away for the lines after it.
    make: noting({ extensions: (facts) => ({ pipelining: true, enhancedStatusCodes: facts.esmtp }) }),
    items: ['NOOP', 'EHLO c.example', 'NOOP', 'MAIL FROM:<a@example.com>', 'HELO c.example', 'NOOP', 'EHLO c.example', 'QUIT'],
    codes: ['220', '250', '250', '250 2.0.0', '250 2.1.0', '250', '250', '250', '221 2.0.0'],
    state: 'closed',
  },
  {
    name: 'a reply is shaped by the session its own line leaves: the 235 of an AUTH that turns enhanced codes on has one',
    make: withAuth({ extensions: (facts) => ({ pipelining: true, auth: ['PLAIN'], enhancedStatusCodes: facts.authenticatedUser !== undefined }) }),
    items: ['EHLO c.example', 'NOOP', `AUTH PLAIN ${encodePlain('alice@example.com', 's3cr3t')}`, 'NOOP', 'QUIT'],
    codes: ['220', '250', '250', '235 2.7.0', '250 2.0.0', '221 2.0.0'],
    state: 'closed',
  },
];

describe('a batch that stops part-way gives what its lines give one by one', () => {
  for (const scenario of scenarios) {
    it(scenario.name, () => {
      const extra = scenario.extra ?? {};
      const single = drive(scenario.make, scenario.items, undefined, extra);
      expect(single.codes).toEqual(scenario.codes);
      expect(single.state).toBe(scenario.state);
      if (scenario.calls) expect(single.calls).toEqual(scenario.calls);
      for (const cut of cutsOf(scenario.items)) {
        const batched = drive(scenario.make, scenario.items, cut.groups, extra);
        expect(batched.emitted, cut.name).toEqual(single.emitted);
        expect(batched.calls, cut.name).toEqual(single.calls);
        expect(batched.state, cut.name).toBe(single.state);
      }
    });
  }
});

describe('random scripts cut into random batches', () => {
  // What a pipelining client (or a confused one) sends, with addresses that make the backend
  // below delay, refuse with 421, or drop the connection, so that batches stop in every way.
  const sender = fc.constantFrom('a@example.com', 'a@example.com', 'slow@example.com');
  const recipient = fc.constantFrom('b@example.net', 'b@example.net', 'slow@example.net', 'down@example.net', 'drop@example.net', 'grey@example.net');
  const bodyLine = fc.constantFrom<Item>('Subject: fold', '', 'text', '..dot', '.x', line('bare', 'lf'), line('.', 'lf'), 'MAIL FROM:<in@example.com>');
  const anyLine = fc.constantFrom<Item>(
    'EHLO c.example',
    'HELO c.example',
    'MAIL FROM:<a@example.com>',
    'RCPT TO:<b@example.net>',
    'DATA',
    '.',
    'RSET',
    'NOOP',
    'FOO',
    line('NOOP', 'lf'),
    line('NOOP ' + 'x'.repeat(60), 'crlf', { tooLong: true }),
    'AUTH LOGIN',
    'AUTH PLAIN',
    `AUTH PLAIN ${encodePlain('alice@example.com', 's3cr3t')}`,
    btoa('alice@example.com'),
    btoa('s3cr3t'),
    '*',
    'STARTTLS',
    'QUIT',
  );
  const transaction = fc
    .tuple(sender, fc.array(recipient, { minLength: 1, maxLength: 3 }), fc.array(bodyLine, { maxLength: 4 }), fc.boolean())
    .map(([from, to, body, ends]): Item[] => [`MAIL FROM:<${from}>`, ...to.map((r) => `RCPT TO:<${r}>`), 'DATA', ...body, ...(ends ? ['.'] : [])]);
  const login: Item[] = ['AUTH LOGIN', btoa('alice@example.com'), btoa('s3cr3t')];
  const script = fc
    .array(fc.oneof({ weight: 4, arbitrary: anyLine.map((item) => [item]) }, { weight: 3, arbitrary: transaction }, { weight: 1, arbitrary: fc.constant(login) }), { minLength: 1, maxLength: 14 })
    .map((parts) => ['EHLO c.example' as Item, ...parts.flat()]);

  const make = (calls: string[]) => {
    const tried = new Set<string>();
    return withAuth({
      // Enhanced codes after EHLO, or once authenticated: a group's replies differ by what each line left.
      extensions: (facts) => ({ ...FULL, auth: ['PLAIN', 'LOGIN'], enhancedStatusCodes: facts.esmtp || facts.authenticatedUser !== undefined }),
      onMail: (from) => (from === 'slow@example.com' ? { delayMs: 7_000 } : undefined),
      onRcpt: (to) => {
        if (to === 'slow@example.net') return { delayMs: 11_000 };
        if (to === 'down@example.net') return { code: 421, enhanced: '4.3.2', lines: ['going down'] };
        if (to === 'drop@example.net') return { silent: true, close: true };
        if (to === 'grey@example.net' && !tried.has(to)) return (tried.add(to), { code: 451, enhanced: '4.7.1', lines: ['greylisted'] });
        return undefined;
      },
      onData: (message) => (message.text.includes('fold') ? { delayMs: 3_000 } : undefined),
    })(calls);
  };

  it('give the same wire, state and hook calls as the same lines one by one', () => {
    let compared = 0;
    let accepted = 0;
    fc.assert(
      fc.property(script, fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1 }), (items, sizes) => {
        const groups: Item[][] = [];
        for (let at = 0, i = 0; at < items.length; i++) {
          const size = sizes[i % sizes.length]!;
          groups.push(items.slice(at, at + size));
          at += size;
        }
        const extra = { maxBadCommands: 4 };
        const single = drive(make, items, undefined, extra);
        const batched = drive(make, items, groups, extra);
        expect(batched.emitted).toEqual(single.emitted);
        expect(batched.calls).toEqual(single.calls);
        expect(batched.state).toBe(single.state);
        compared++;
        accepted += single.emitted.filter((e) => e.type === 'accepted').length;
      }),
      { numRuns: 400, seed: 2920 },
    );
    expect(compared).toBe(400);
    // The scripts do reach the end of data, not only errors.
    expect(accepted).toBeGreaterThan(50);
  });
});
