// A `replies` event (the replies that came back together, as a transport reads them) must do
// exactly what the same replies do sent one `reply` event at a time: the same writes in the
// same order, the same state and context after every batch, the same report, and the same
// reply timeout armed afterwards, wherever the batches are cut.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor } from 'xstate';
import { clientMachine, reportOf, type ClientEmitted, type ClientEvent, type ClientInput, type OutgoingMessage } from '../../src/machines/client';
import { Replies } from '../../src/protocol/replies';
import type { Reply } from '../../src/protocol/reply';
import { VirtualClock } from '../../src/sim/clock';

/** A script: the replies the server gives, and between them what the transport reports. */
type Item = Reply | Exclude<ClientEvent, { type: 'reply' } | { type: 'replies' } | { type: 'client.line' }>;

const isReply = (item: Item): item is Reply => 'code' in item;

const ehloWith = (...keywords: string[]): Reply => Replies.ehlo('mx.example.net', 'client.example', keywords);
const banner = Replies.greeting('mx.example.net');
const bye = Replies.bye('mx.example.net');
const trusted: Item = { type: 'tls.established', report: { protocol: 'TLSv1.3', authorized: true } };

function messages(count: number, recipients: number): OutgoingMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    from: `sender${i}@example.com`,
    recipients: Array.from({ length: recipients }, (_, k) => `user${k}@example.net`),
    content: `Subject: ${i}\r\n\r\n.dot line\r\n`,
  }));
}

/** What a run looked like after each script item (indexed by how many items were fed). */
interface Seen {
  value: unknown;
  status: string;
  context: unknown;
  report: unknown;
  emitted: number;
}

interface Run {
  emitted: ClientEmitted[];
  /** After each group of items fed (key: the number of items fed so far). */
  seen: Map<number, Seen>;
  /** After the script: what the session's pending reply timeout does, minute by minute. */
  timeout: { minute: number; closes: string[]; endedBy?: string } | undefined;
}

/**
 * Feed `items` to a fresh client: reply by reply (no `breaks`), or the replies as `replies`
 * batches that end where `breaks` says (and always before a transport event).
 */
function run(input: ClientInput, items: Item[], breaks?: (index: number, groupSize: number) => boolean): Run {
  const clock = new VirtualClock();
  const actor = createActor(clientMachine, { input, clock });
  const emitted: ClientEmitted[] = [];
  actor.on('*', (event) => emitted.push(event as ClientEmitted));
  actor.start();
  const seen = new Map<number, Seen>();
  const look = (fed: number) => {
    const snapshot = actor.getSnapshot();
    seen.set(fed, { value: snapshot.value, status: snapshot.status, context: snapshot.context, report: reportOf(snapshot.context), emitted: emitted.length });
  };
  look(0);
  // A finished session reads nothing more; what comes after that is not sent at all.
  const open = () => actor.getSnapshot().status === 'active';
  let group: Reply[] = [];
  const flush = (fed: number) => {
    if (group.length === 0) return;
    if (open()) actor.send({ type: 'replies', replies: group });
    group = [];
    look(fed);
  };
  items.forEach((item, index) => {
    if (breaks === undefined) {
      if (open()) actor.send(isReply(item) ? { type: 'reply', reply: item } : item);
      look(index + 1);
      return;
    }
    if (!isReply(item)) {
      flush(index);
      if (open()) actor.send(item);
      look(index + 1);
      return;
    }
    if (group.length > 0 && breaks(index, group.length)) flush(index);
    group.push(item);
  });
  if (breaks !== undefined) flush(items.length);
  let timeout: Run['timeout'];
  if (actor.getSnapshot().status === 'active') {
    const before = emitted.length;
    for (let minute = 1; minute <= 12 && actor.getSnapshot().status === 'active'; minute++) {
      clock.advance(60_000);
      if (actor.getSnapshot().status !== 'active') {
        const closes = emitted.slice(before).flatMap((e) => (e.type === 'close' ? [e.reason] : []));
        timeout = { minute, closes, endedBy: actor.getSnapshot().output?.endedBy };
      }
    }
  }
  return { emitted, seen, timeout };
}

/** Every batch size, and every cut into two at a reply. */
function cutsOf(items: Item[]): Array<{ name: string; breaks: (index: number, groupSize: number) => boolean }> {
  const cuts: Array<{ name: string; breaks: (index: number, groupSize: number) => boolean }> = [];
  const replies = items.filter(isReply).length;
  for (let size = 1; size <= replies; size++) cuts.push({ name: `batches of ${size}`, breaks: (_index, groupSize) => groupSize >= size });
  for (let at = 1; at < items.length; at++) if (isReply(items[at]!)) cuts.push({ name: `cut before item ${at}`, breaks: (index) => index === at });
  return cuts;
}

/** The batched run saw, at every batch's end, what the reply-by-reply run saw after the same items. */
function expectSame(single: Run, batched: Run, name: string): void {
  expect(batched.emitted, name).toEqual(single.emitted);
  for (const [fed, seen] of batched.seen) expect(seen, `${name}, after ${fed} items`).toEqual(single.seen.get(fed));
  expect(batched.timeout, name).toEqual(single.timeout);
}

const sends = (r: Run) => r.emitted.flatMap((e) => (e.type === 'send' ? [e.text] : []));
const finalReport = (r: Run) => [...r.seen.values()].at(-1)!.report as ReturnType<typeof reportOf>;

interface Scenario {
  name: string;
  input: ClientInput;
  items: Item[];
  /** What reply by reply gives, so the comparison is about something. */
  check: (single: Run) => void;
}

const pipelined = [banner, ehloWith('PIPELINING')];
const scenarios: Scenario[] = [
  {
    name: 'a pipelined transaction for two recipients',
    input: { messages: messages(1, 2), tls: 'none' },
    items: [...pipelined, Replies.senderOk(), Replies.recipientOk(), Replies.userUnknown(), Replies.startMailInput(), Replies.queued('Q1'), bye],
    check: (single) => {
      expect(sends(single)[1]).toBe('MAIL FROM:<sender0@example.com>\r\nRCPT TO:<user0@example.net>\r\nRCPT TO:<user1@example.net>\r\nDATA\r\n');
      expect(finalReport(single).messages[0]!.recipients.map((r) => r.status)).toEqual(['delivered', 'failed']);
      expect(finalReport(single).endedBy).toBe('quit');
    },
  },
  {
    name: 'several messages on one connection, the replies to a message and the next batch together',
    input: { messages: messages(3, 1), tls: 'none' },
    items: [
      ...pipelined,
      ...[1, 2, 3].flatMap((n) => [Replies.senderOk(), Replies.recipientOk(), Replies.startMailInput(), Replies.queued(`Q${n}`)]),
      bye,
    ],
    check: (single) => {
      expect(sends(single).filter((t) => t.startsWith('MAIL FROM:'))).toHaveLength(3);
      expect(finalReport(single).messages.map((m) => m.recipients[0]!.status)).toEqual(['delivered', 'delivered', 'delivered']);
    },
  },
  {
    name: 'MAIL refused in a batch: the rest of its replies are drained, then the next message',
    input: { messages: messages(2, 2), tls: 'none' },
    items: [
      ...pipelined,
      Replies.senderDomainInvalid('example.com'),
      Replies.badSequence('need MAIL'),
      Replies.badSequence('need MAIL'),
      Replies.badSequence('need MAIL'),
      Replies.senderOk(),
      Replies.recipientOk(),
      Replies.recipientOk(),
      Replies.startMailInput(),
      Replies.queued('Q2'),
      bye,
    ],
    check: (single) => {
      expect(finalReport(single).messages.map((m) => m.recipients.map((r) => r.status))).toEqual([
        ['failed', 'failed'],
        ['delivered', 'delivered'],
      ]);
      // No transaction began, so no RSET before the next MAIL.
      expect(sends(single)).not.toContain('RSET\r\n');
    },
  },
  {
    name: 'every RCPT refused: DATA refused, RSET, then the next message (RFC 5321 §4.1.1.5)',
    input: { messages: messages(2, 2), tls: 'none' },
    items: [
      ...pipelined,
      Replies.senderOk(),
      Replies.userUnknown(),
      Replies.greylisted(),
      Replies.noValidRecipients(),
      Replies.ok(),
      Replies.senderOk(),
      Replies.recipientOk(),
      Replies.recipientOk(),
      Replies.startMailInput(),
      Replies.queued('Q2'),
      bye,
    ],
    check: (single) => {
      expect(sends(single).slice(2, 4)).toEqual(['RSET\r\n', 'MAIL FROM:<sender1@example.com>\r\nRCPT TO:<user0@example.net>\r\nRCPT TO:<user1@example.net>\r\nDATA\r\n']);
      expect(finalReport(single).messages.map((m) => m.recipients.map((r) => r.status))).toEqual([
        ['failed', 'deferred'],
        ['delivered', 'delivered'],
      ]);
    },
  },
  {
    name: 'DATA refused with recipients accepted: they share the refusal',
    input: { messages: messages(1, 2), tls: 'none' },
    items: [...pipelined, Replies.senderOk(), Replies.recipientOk(), Replies.recipientOk(), Replies.transactionFailed(), bye],
    check: (single) => {
      expect(finalReport(single).messages[0]!.recipients.map((r) => [r.status, r.stage])).toEqual([
        ['failed', 'data'],
        ['failed', 'data'],
      ]);
      expect(sends(single).at(-1)).toBe('QUIT\r\n');
    },
  },
  {
    name: '421 in the middle of a batch closes the session; what follows is never read',
    input: { messages: messages(2, 3), tls: 'none' },
    items: [...pipelined, Replies.senderOk(), Replies.recipientOk(), Replies.serviceNotAvailable('mx.example.net'), Replies.recipientOk(), Replies.startMailInput()],
    check: (single) => {
      const report = finalReport(single);
      expect(report.endedBy).toBe('server');
      expect(report.messages.map((m) => m.recipients.map((r) => r.status))).toEqual([
        ['deferred', 'deferred', 'deferred'],
        ['deferred', 'deferred', 'deferred'],
      ]);
      expect(report.messages[0]!.recipients.map((r) => r.stage)).toEqual(['session', 'rcpt', 'session']);
    },
  },
  {
    name: 'without PIPELINING every command waits for the reply before it',
    input: { messages: messages(2, 2), tls: 'none' },
    items: [
      banner,
      ehloWith('SIZE 1000'),
      Replies.senderOk(),
      Replies.userUnknown(),
      Replies.recipientOk(),
      Replies.startMailInput(),
      Replies.queued('Q1'),
      Replies.senderOk(),
      Replies.userUnknown(),
      Replies.userUnknown(),
      Replies.ok(),
      bye,
    ],
    check: (single) => {
      expect(sends(single).slice(1, 6)).toEqual([
        'MAIL FROM:<sender0@example.com>\r\n',
        'RCPT TO:<user0@example.net>\r\n',
        'RCPT TO:<user1@example.net>\r\n',
        'DATA\r\n',
        'Subject: 0\r\n\r\n..dot line\r\n.\r\n',
      ]);
      expect(sends(single).slice(-2)).toEqual(['RSET\r\n', 'QUIT\r\n']);
      expect(finalReport(single).pipelined).toBe(false);
    },
  },
  {
    name: 'STARTTLS, the handshake, EHLO again, then the transaction; a stray reply during the handshake is not read',
    input: { messages: messages(1, 1), tls: 'opportunistic' },
    items: [banner, ehloWith('PIPELINING', 'STARTTLS'), Replies.readyToStartTls(), Replies.ok('stray'), trusted, ehloWith('PIPELINING'), Replies.senderOk(), Replies.recipientOk(), Replies.startMailInput(), Replies.queued('Q1'), bye],
    check: (single) => {
      expect(single.emitted.filter((e) => e.type === 'starttls')).toHaveLength(1);
      expect(sends(single).filter((t) => t.startsWith('EHLO'))).toHaveLength(2);
      expect(finalReport(single).tls).toBe('established');
      expect(finalReport(single).messages[0]!.recipients[0]!.status).toBe('delivered');
    },
  },
  {
    name: 'STARTTLS refused under opportunistic policy: on in plaintext, downgrade recorded',
    input: { messages: messages(1, 1), tls: 'opportunistic' },
    items: [banner, ehloWith('PIPELINING', 'STARTTLS'), Replies.tlsNotAvailable(), Replies.senderOk(), Replies.recipientOk(), Replies.startMailInput(), Replies.queued('Q1'), bye],
    check: (single) => {
      expect(finalReport(single).downgraded).toBe(true);
      expect(finalReport(single).tls).toBe('refused');
      expect(finalReport(single).messages[0]!.recipients[0]!.status).toBe('delivered');
    },
  },
  {
    name: 'STARTTLS refused under enforce: QUIT, every recipient deferred for TLS',
    input: { messages: messages(2, 1), tls: 'enforce' },
    items: [banner, ehloWith('PIPELINING', 'STARTTLS'), Replies.tlsNotAvailable(), bye],
    check: (single) => {
      expect(sends(single).at(-1)).toBe('QUIT\r\n');
      expect(sends(single).some((t) => t.startsWith('MAIL'))).toBe(false);
      expect(finalReport(single).tlsFailure).toMatch(/^STARTTLS refused: 454/);
      expect(finalReport(single).messages.map((m) => m.recipients[0]!.status)).toEqual(['deferred', 'deferred']);
    },
  },
  {
    name: 'no STARTTLS offered under enforce: QUIT without a transaction',
    input: { messages: messages(1, 1), tls: 'enforce' },
    items: [banner, ehloWith('PIPELINING'), bye],
    check: (single) => {
      expect(sends(single)).toEqual(['EHLO client.example\r\n', 'QUIT\r\n']);
      expect(finalReport(single).tlsFailure).toMatch(/does not offer STARTTLS/);
    },
  },
  {
    name: 'a failed handshake ends the session',
    input: { messages: messages(1, 1), tls: 'opportunistic' },
    items: [banner, ehloWith('STARTTLS'), Replies.readyToStartTls(), { type: 'tls.failed', reason: 'handshake failure' }],
    check: (single) => {
      expect(finalReport(single).endedBy).toBe('tls-handshake');
      expect(single.emitted.at(-1)).toEqual({ type: 'close', reason: 'TLS handshake failed' });
    },
  },
  {
    name: 'an untrusted certificate under enforce',
    input: { messages: messages(1, 1), tls: 'enforce' },
    items: [banner, ehloWith('STARTTLS'), Replies.readyToStartTls(), { type: 'tls.established', report: { authorized: false, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' } }, bye],
    check: (single) => {
      expect(finalReport(single).tlsFailure).toMatch(/did not verify/);
      expect(sends(single).at(-1)).toBe('QUIT\r\n');
    },
  },
  {
    name: 'HELO after EHLO is refused, then AUTH is not tried (no extensions)',
    input: { messages: messages(1, 1), tls: 'opportunistic', credentials: { username: 'alice', password: 'pw' } },
    items: [banner, Replies.notImplemented(), Replies.helo('mx.example.net', 'client.example'), Replies.senderOk(), Replies.recipientOk(), Replies.startMailInput(), Replies.queued('Q1'), bye],
    check: (single) => {
      expect(sends(single).slice(0, 3)).toEqual(['EHLO client.example\r\n', 'HELO client.example\r\n', 'MAIL FROM:<sender0@example.com>\r\n']);
      expect(finalReport(single).esmtp).toBe(false);
    },
  },
  {
    name: 'AUTH PLAIN, then a pipelined transaction',
    input: { messages: messages(1, 1), tls: 'none', credentials: { username: 'alice', password: 'pw' } },
    items: [banner, ehloWith('PIPELINING', 'AUTH PLAIN LOGIN'), Replies.authSucceeded(), Replies.senderOk(), Replies.recipientOk(), Replies.startMailInput(), Replies.queued('Q1'), bye],
    check: (single) => {
      expect(sends(single)[1]).toMatch(/^AUTH PLAIN /);
      expect(finalReport(single).authenticated).toBe(true);
      expect(finalReport(single).messages[0]!.recipients[0]!.status).toBe('delivered');
    },
  },
  {
    name: 'a 554 banner: QUIT, everything failed',
    input: { messages: messages(1, 2), tls: 'none' },
    items: [Replies.transactionFailed('no service'), bye],
    check: (single) => {
      expect(sends(single)).toEqual(['QUIT\r\n']);
      expect(finalReport(single).messages[0]!.recipients.map((r) => r.status)).toEqual(['failed', 'failed']);
    },
  },
  {
    name: 'the connection drops after the batch went out, before its replies',
    input: { messages: messages(1, 1), tls: 'none' },
    items: [...pipelined, Replies.senderOk(), { type: 'closed' }],
    check: (single) => {
      expect(finalReport(single).endedBy).toBe('closed');
    },
  },
  {
    name: 'the replies to a batch stop part-way: the reply timeout runs for the next one',
    input: { messages: messages(1, 3), tls: 'none' },
    items: [...pipelined, Replies.senderOk(), Replies.recipientOk()],
    check: (single) => {
      expect(single.timeout).toEqual({ minute: 5, closes: ['no reply to RCPT in time'], endedBy: 'timeout' });
    },
  },
];

describe('a `replies` batch is its replies one by one', () => {
  for (const scenario of scenarios) {
    it(scenario.name, () => {
      const single = run(scenario.input, scenario.items);
      scenario.check(single);
      for (const cut of cutsOf(scenario.items)) expectSame(single, run(scenario.input, scenario.items, cut.breaks), cut.name);
    });
  }

  it('a batch of one is a `reply`', () => {
    for (const scenario of scenarios) {
      const single = run(scenario.input, scenario.items);
      expectSame(single, run(scenario.input, scenario.items, () => true), scenario.name);
    }
  });

  it('an empty batch changes nothing', () => {
    const actor = createActor(clientMachine, { input: { messages: messages(1, 1), tls: 'none' }, clock: new VirtualClock() });
    actor.start();
    actor.send({ type: 'reply', reply: banner });
    const before = actor.getSnapshot();
    actor.send({ type: 'replies', replies: [] });
    expect(actor.getSnapshot().value).toBe(before.value);
    expect(actor.getSnapshot().context).toBe(before.context);
  });
});

describe('random reply scripts cut into random batches', () => {
  // Replies a server may give, weighted towards a plausible session, with refusals, 421s and
  // transport events mixed in so that batches stop in every way.
  const anyReply = fc.constantFrom<Item>(
    banner,
    ehloWith('PIPELINING', 'STARTTLS'),
    ehloWith('PIPELINING'),
    ehloWith(),
    ehloWith('PIPELINING', 'AUTH PLAIN'),
    Replies.notImplemented(),
    Replies.readyToStartTls(),
    Replies.tlsNotAvailable(),
    Replies.authSucceeded(),
    Replies.authFailed(),
    Replies.senderOk(),
    Replies.senderDomainInvalid('example.com'),
    Replies.recipientOk(),
    Replies.userUnknown(),
    Replies.greylisted(),
    Replies.startMailInput(),
    Replies.noValidRecipients(),
    Replies.queued('Q'),
    Replies.contentRejected(),
    Replies.ok(),
    Replies.serviceNotAvailable('mx.example.net'),
    Replies.badSequence('need MAIL'),
    bye,
  );
  const transportEvent = fc.constantFrom<Item>(trusted, { type: 'tls.established', report: { authorized: false } }, { type: 'tls.failed', reason: 'alert' }, { type: 'closed' });
  const transaction = fc
    .tuple(
      fc.constantFrom(Replies.senderOk(), Replies.senderOk(), Replies.senderDomainInvalid('example.com')),
      fc.array(fc.constantFrom(Replies.recipientOk(), Replies.recipientOk(), Replies.userUnknown(), Replies.greylisted()), { minLength: 1, maxLength: 3 }),
      fc.constantFrom(Replies.startMailInput(), Replies.startMailInput(), Replies.noValidRecipients()),
      fc.constantFrom(Replies.queued('Q'), Replies.queued('Q'), Replies.contentRejected(), Replies.ok()),
    )
    .map(([mail, rcpts, data, end]): Item[] => [mail, ...rcpts, data, end]);
  const script = fc
    .array(
      fc.oneof(
        { weight: 5, arbitrary: transaction },
        { weight: 3, arbitrary: anyReply.map((item) => [item]) },
        { weight: 1, arbitrary: transportEvent.map((item) => [item]) },
      ),
      { maxLength: 8 },
    )
    .chain((parts) => fc.constantFrom<Item[]>([banner, ehloWith('PIPELINING')], [banner, ehloWith()], [banner, ehloWith('PIPELINING', 'STARTTLS')], [banner]).map((start) => [...start, ...parts.flat()]));
  const input = fc.record({
    messages: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })).map(([count, recipients]) => messages(count, recipients)),
    tls: fc.constantFrom<ClientInput['tls']>('none', 'opportunistic', 'enforce'),
    pipelining: fc.boolean(),
    credentials: fc.option(fc.constant({ username: 'alice', password: 'pw' }), { nil: undefined }),
  });

  it('give the same writes, states, contexts, reports and timeouts as the same replies one by one', () => {
    let compared = 0;
    let delivered = 0;
    fc.assert(
      fc.property(input, script, fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 6 }), (clientInput, items, sizes) => {
        const single = run(clientInput, items);
        let batch = 0;
        const batched = run(clientInput, items, (_index, groupSize) => {
          if (groupSize < sizes[batch % sizes.length]!) return false;
          batch++;
          return true;
        });
        expectSame(single, batched, 'random cut');
        compared++;
        delivered += finalReport(single).messages.flatMap((m) => m.recipients).filter((r) => r.status === 'delivered').length;
      }),
      { numRuns: 400, seed: 2920 },
    );
    expect(compared).toBe(400);
    // The scripts do get messages delivered, not only refusals.
    expect(delivered).toBeGreaterThan(50);
  }, 60_000);
});

describe('what a transaction costs when its replies come together', () => {
  /** Microsteps (one transition, or one eventless hop) the client takes for each event sent. */
  function microstepsPer(input: ClientInput, events: ClientEvent[]): number[] {
    let microsteps = 0;
    const actor = createActor(clientMachine, {
      input,
      clock: new VirtualClock(),
      inspect: (event) => {
        if (event.type === '@xstate.microstep') microsteps += 1;
      },
    });
    actor.start();
    const counts: number[] = [];
    for (const event of events) {
      microsteps = 0;
      actor.send(event);
      counts.push(microsteps);
    }
    expect(actor.getSnapshot().output?.endedBy).toBe('quit');
    return counts;
  }

  const batch = (...replies: Reply[]): ClientEvent => ({ type: 'replies', replies });
  const reply = (r: Reply): ClientEvent => ({ type: 'reply', reply: r });

  it('a pipelined transaction is two transitions, whatever its number of recipients', () => {
    for (const recipients of [1, 3, 10]) {
      const envelope = batch(Replies.senderOk(), ...Array.from({ length: recipients }, () => Replies.recipientOk()), Replies.startMailInput());
      const counts = microstepsPer({ messages: messages(2, recipients), tls: 'none' }, [
        reply(banner),
        reply(ehloWith('PIPELINING')),
        envelope,
        reply(Replies.queued('Q1')),
        envelope,
        reply(Replies.queued('Q2')),
        reply(bye),
      ]);
      // Every reply read goes straight to the state that waits for the next one.
      expect(counts).toEqual([1, 1, 1, 1, 1, 1, 1]);
    }
  });

  it('a session with STARTTLS has no pass-through steps: one transition per event', () => {
    const counts = microstepsPer({ messages: messages(1, 1), tls: 'opportunistic' }, [
      reply(banner),
      reply(ehloWith('PIPELINING', 'STARTTLS')),
      reply(Replies.readyToStartTls()),
      trusted as ClientEvent,
      reply(ehloWith('PIPELINING')),
      batch(Replies.senderOk(), Replies.recipientOk(), Replies.startMailInput()),
      reply(Replies.queued('Q1')),
      reply(bye),
    ]);
    expect(counts).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
  });

  it('a batch that must stop part-way costs one more transition for the replies put back', () => {
    // After 354 the message goes out before the reply to its end is read: the 250 and the 221
    // go in again as one batch, read in one more transition.
    const counts = microstepsPer({ messages: messages(1, 1), tls: 'none' }, [
      reply(banner),
      reply(ehloWith('PIPELINING')),
      batch(Replies.senderOk(), Replies.recipientOk(), Replies.startMailInput(), Replies.queued('Q1'), bye),
    ]);
    expect(counts).toEqual([1, 1, 2]);
  });

  it('a batch arms the timeout of the reply it leaves the session waiting for (RFC 5321 §4.5.3.2)', () => {
    const clock = new VirtualClock();
    const actor = createActor(clientMachine, { input: { messages: messages(1, 3), tls: 'none' }, clock });
    const closes: string[] = [];
    actor.on('close', (e) => closes.push(e.reason));
    actor.start();
    actor.send(reply(banner));
    actor.send(reply(ehloWith('PIPELINING')));
    actor.send(batch(Replies.senderOk(), Replies.recipientOk()));
    clock.advance(4 * 60_000);
    // Still waiting for the second RCPT's reply: this batch restarts its five minutes.
    actor.send(batch(Replies.recipientOk()));
    clock.advance(4 * 60_000);
    expect(actor.getSnapshot().status).toBe('active');
    // The last RCPT's reply and DATA's 354 are due; a batch with the RCPT only leaves DATA's two minutes.
    actor.send(batch(Replies.recipientOk()));
    clock.advance(60_000);
    expect(actor.getSnapshot().status).toBe('active');
    clock.advance(60_000);
    expect(closes).toEqual(['no 354 in time']);
    expect(actor.getSnapshot().output?.endedBy).toBe('timeout');
  });
});
