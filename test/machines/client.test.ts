// The client session machine: along xstate/graph paths, as a bare actor fed replies by hand,
// and shadowing a learner.
import { describe, expect, it } from 'vitest';
import { createActor, type SnapshotFrom } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { allowedNext, clientMachine, explainReply, reportOf, type ClientEvent, type ClientInput } from '../../src/machines/client';
import { Replies } from '../../src/protocol/replies';
import type { Reply } from '../../src/protocol/reply';
import { VirtualClock } from '../../src/sim/clock';

type Snapshot = SnapshotFrom<typeof clientMachine>;

const ehloWith = (...keywords: string[]): Reply => Replies.ehlo('mx.example.net', 'client.example', keywords);
const reply = (r: Reply): ClientEvent => ({ type: 'reply', reply: r });

/** Replies a server may give at any point, and the transport's TLS and close events. */
const EVENTS: ClientEvent[] = [
  reply(Replies.greeting('mx.example.net')),
  reply(ehloWith('STARTTLS')),
  reply(ehloWith()),
  reply(Replies.notImplemented()),
  reply(Replies.readyToStartTls()),
  reply(Replies.tlsNotAvailable()),
  reply(Replies.senderOk()),
  reply(Replies.recipientOk()),
  reply(Replies.userUnknown('<x@example.net>')),
  reply(Replies.greylisted()),
  reply(Replies.startMailInput()),
  reply(Replies.queued('ABC123')),
  reply(Replies.bye('mx.example.net')),
  reply(Replies.serviceNotAvailable('mx.example.net')),
  { type: 'tls.established', report: { authorized: true } },
  { type: 'tls.established', report: { authorized: false, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' } },
  { type: 'tls.failed', reason: 'handshake failure' },
  { type: 'closed' },
];

const MESSAGE = { from: 'alice@example.com', recipients: ['bob@example.net', 'carol@example.net'], content: 'Subject: hi\r\n\r\n.leading dot\r\n' };

function serialize(state: Snapshot): string {
  const c = state.context;
  const statuses = reportOf(c).messages.map((m) => m.recipients.map((r) => r.status).join(',')).join(';');
  return `${JSON.stringify(state.value)}|${c.tls}|${c.esmtp}|${c.transaction.rcptIndex}|${c.transaction.index}|${statuses}|${c.tlsFailure ? 'tf' : ''}`;
}

/** Replay a path on a fresh actor and return what the client wrote. */
function replay(input: ClientInput, events: ClientEvent[]): { sends: string[]; actor: ReturnType<typeof createActor<typeof clientMachine>> } {
  const actor = createActor(clientMachine, { input, clock: new VirtualClock() });
  const sends: string[] = [];
  actor.on('send', (e) => sends.push(e.text));
  actor.start();
  for (const event of events) actor.send(event);
  return { sends, actor };
}

function pathsFor(input: ClientInput) {
  return getShortestPaths(clientMachine, { input, events: EVENTS, serializeState: (s) => serialize(s as Snapshot) });
}

describe('client machine along xstate/graph paths', () => {
  const opportunistic: ClientInput = { messages: [MESSAGE], tls: 'opportunistic', pipelining: false };
  const paths = pathsFor(opportunistic);

  it('reaches the states a session goes through', () => {
    const reached = new Set(paths.map((p) => JSON.stringify(p.state.value)));
    for (const state of ['ehlo', 'helo', 'starttls', 'tlsHandshake', 'mailFrom', 'rcptTo', 'data', 'message', 'reset', 'quit', 'done']) {
      expect(reached, state).toContain(JSON.stringify(state));
    }
    expect(paths.length).toBeGreaterThan(40);
  });

  it('on every path that ends the session, every recipient has a decided outcome', () => {
    const ended = paths.filter((p) => p.state.status === 'done');
    expect(ended.length).toBeGreaterThan(10);
    for (const path of ended) {
      const output = path.state.output!;
      for (const r of output.messages.flatMap((m) => m.recipients)) {
        expect(['delivered', 'deferred', 'failed'], `${r.address} after ${path.steps.map((s) => s.event.type).join(',')}`).toContain(r.status);
      }
    }
  });

  it('never sends DATA unless a RCPT was accepted, and never the message before 354', () => {
    for (const path of paths) {
      const { sends } = replay(opportunistic, path.steps.map((s) => s.event as ClientEvent).slice(1));
      const dataAt = sends.indexOf('DATA\r\n');
      if (dataAt >= 0) {
        const accepted = path.steps.some((s) => reportOf(s.state.context).messages[0]!.recipients.some((r) => r.status === 'accepted' || r.status === 'delivered'));
        expect(accepted).toBe(true);
      }
      const contentAt = sends.findIndex((t) => t.startsWith('Subject: hi'));
      if (contentAt >= 0) expect(dataAt).toBeGreaterThanOrEqual(0);
      if (contentAt >= 0) expect(sends[contentAt]).toContain('\r\n..leading dot\r\n.\r\n');
    }
  });

  it('under enforce, MAIL is never sent without verified TLS', () => {
    const enforce: ClientInput = { messages: [MESSAGE], tls: 'enforce', pipelining: false };
    const enforcePaths = pathsFor(enforce);
    let refusals = 0;
    for (const path of enforcePaths) {
      const events = path.steps.map((s) => s.event as ClientEvent).slice(1);
      const { sends, actor } = replay(enforce, events);
      const snapshot = actor.getSnapshot();
      if (sends.some((t) => t.startsWith('MAIL'))) {
        expect(snapshot.context.tls).toBe('established');
        expect(snapshot.context.tlsReport?.authorized).toBe(true);
      }
      if (snapshot.context.tlsFailure) refusals += 1;
    }
    expect(refusals).toBeGreaterThan(0);
  });

  it('opportunistic TLS goes on in plaintext after 454 and records the downgrade', () => {
    const { sends, actor } = replay(opportunistic, [
      reply(Replies.greeting('mx')),
      reply(ehloWith('STARTTLS')),
      reply(Replies.tlsNotAvailable()),
    ]);
    expect(sends).toEqual(['EHLO client.example\r\n', 'STARTTLS\r\n', 'MAIL FROM:<alice@example.com>\r\n']);
    expect(actor.getSnapshot().context.downgraded).toBe(true);
  });
});

describe('client machine as a bare actor', () => {
  it('falls back to HELO when EHLO gets a 5xx', () => {
    const { sends } = replay({ messages: [MESSAGE] }, [reply(Replies.greeting('mx')), reply(Replies.notImplemented())]);
    expect(sends).toEqual(['EHLO client.example\r\n', 'HELO client.example\r\n']);
  });

  it('pipelines MAIL, RCPTs and DATA in one write and matches the replies in order', () => {
    const { sends, actor } = replay({ messages: [MESSAGE], tls: 'none' }, [
      reply(Replies.greeting('mx')),
      reply(ehloWith('PIPELINING')),
      reply(Replies.senderOk()),
      reply(Replies.userUnknown('<bob@example.net>')),
      reply(Replies.recipientOk()),
      reply(Replies.startMailInput()),
      reply(Replies.queued('Q1')),
      reply(Replies.bye('mx')),
    ]);
    expect(sends[1]).toBe('MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\nDATA\r\n');
    const output = actor.getSnapshot().output!;
    expect(output.pipelined).toBe(true);
    expect(output.messages[0]!.recipients.map((r) => [r.address, r.status, r.reply?.code])).toEqual([
      ['bob@example.net', 'failed', 550],
      ['carol@example.net', 'delivered', 250],
    ]);
    expect(output.endedBy).toBe('quit');
  });

  it('sends RSET instead of DATA when every recipient is refused', () => {
    const { sends, actor } = replay({ messages: [MESSAGE], tls: 'none', pipelining: false }, [
      reply(Replies.greeting('mx')),
      reply(ehloWith()),
      reply(Replies.senderOk()),
      reply(Replies.userUnknown()),
      reply(Replies.greylisted()),
      reply(Replies.ok()),
      reply(Replies.bye('mx')),
    ]);
    expect(sends.slice(2)).toEqual(['RCPT TO:<bob@example.net>\r\n', 'RCPT TO:<carol@example.net>\r\n', 'RSET\r\n', 'QUIT\r\n']);
    expect(actor.getSnapshot().output!.messages[0]!.recipients.map((r) => r.status)).toEqual(['failed', 'deferred']);
  });

  it('delivers a second message on the same connection before QUIT', () => {
    const second = { from: 'alice@example.com', recipients: ['dave@example.net'], content: 'Subject: two\r\n\r\nsecond\r\n' };
    const { sends, actor } = replay({ messages: [{ ...MESSAGE, recipients: ['bob@example.net'] }, second], tls: 'none', pipelining: false }, [
      reply(Replies.greeting('mx')),
      reply(ehloWith()),
      reply(Replies.senderOk()),
      reply(Replies.recipientOk()),
      reply(Replies.startMailInput()),
      reply(Replies.queued('Q1')),
      reply(Replies.senderOk()),
      reply(Replies.recipientOk()),
      reply(Replies.startMailInput()),
      reply(Replies.queued('Q2')),
      reply(Replies.bye('mx')),
    ]);
    expect(sends.filter((t) => t.startsWith('MAIL'))).toHaveLength(2);
    expect(sends.at(-1)).toBe('QUIT\r\n');
    expect(actor.getSnapshot().output!.messages.map((m) => m.recipients[0]!.status)).toEqual(['delivered', 'delivered']);
  });

  it('AUTH PLAIN after TLS when it has credentials and the server offers AUTH', () => {
    const { sends } = replay({ messages: [MESSAGE], credentials: { username: 'alice', password: 'pw' } }, [
      reply(Replies.greeting('smtp')),
      reply(ehloWith('STARTTLS')),
      reply(Replies.readyToStartTls()),
      { type: 'tls.established', report: { authorized: true } },
      reply(ehloWith('AUTH PLAIN LOGIN')),
    ]);
    expect(sends.at(-1)).toBe(`AUTH PLAIN ${Buffer.from('\0alice\0pw').toString('base64')}\r\n`);
  });

  it('421 at any point defers everything still undecided', () => {
    const { actor } = replay({ messages: [MESSAGE], tls: 'none' }, [reply(Replies.greeting('mx')), reply(ehloWith()), reply(Replies.serviceNotAvailable('mx'))]);
    const output = actor.getSnapshot().output!;
    expect(output.endedBy).toBe('server');
    expect(output.messages[0]!.recipients.every((r) => r.status === 'deferred' && r.reply?.code === 421)).toBe(true);
  });

  it('keeps its context to a few top-level fields through a whole session', () => {
    // XState copies the context into a fresh object on every assign; V8 makes an object built up
    // past about nineteen fields a slow dictionary, and the world runs thousands of sessions.
    const actor = createActor(clientMachine, { input: { messages: [MESSAGE], tls: 'enforce', credentials: { username: 'alice', password: 'pw' } }, clock: new VirtualClock() });
    const widths: number[] = [];
    actor.subscribe((snapshot) => widths.push(Object.keys(snapshot.context).length));
    actor.start();
    for (const event of [
      reply(Replies.greeting('mx')),
      reply(ehloWith('STARTTLS', 'AUTH PLAIN')),
      reply(Replies.readyToStartTls()),
      { type: 'tls.established', report: { authorized: false, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' } },
      reply(Replies.bye('mx')),
    ] satisfies ClientEvent[]) {
      actor.send(event);
    }
    const output = actor.getSnapshot().output!;
    expect(output.tlsFailure).toMatch(/did not verify/);
    expect(output.banner?.code).toBe(220);
    expect(widths.length).toBeGreaterThan(4);
    expect(Math.max(...widths)).toBeLessThanOrEqual(17);
  });

  it('gives up after the RFC 5321 greeting timeout, in virtual time', () => {
    const clock = new VirtualClock();
    const actor = createActor(clientMachine, { input: { messages: [MESSAGE] }, clock });
    const closes: string[] = [];
    actor.on('close', (e) => closes.push(e.reason));
    actor.start();
    clock.advance(4 * 60_000);
    expect(actor.getSnapshot().status).toBe('active');
    clock.advance(60_000);
    expect(actor.getSnapshot().output?.endedBy).toBe('timeout');
    expect(closes).toEqual(['no banner in time']);
  });
});


/** The banner and an EHLO that offers PIPELINING. */
function greetedWithPipelining(): ClientEvent[] {
  return [reply(Replies.greeting('mx')), reply(ehloWith('PIPELINING'))];
}

/** The replies to one pipelined transaction for two recipients, both accepted and delivered. */
function deliveredToTwo(queueId: string): ClientEvent[] {
  return [reply(Replies.senderOk()), reply(Replies.recipientOk()), reply(Replies.recipientOk()), reply(Replies.startMailInput()), reply(Replies.queued(queueId))];
}
describe('client machine cost per transaction', () => {
  const messages = (count: number, recipients: number) =>
    Array.from({ length: count }, (_, i) => ({
      from: 'alice@example.com',
      recipients: Array.from({ length: recipients }, (_, k) => `user${k}@example.net`),
      content: `Subject: ${i}\r\n\r\nhello\r\n`,
    }));

  /**
   * Microsteps (XState's unit of work: one transition, or one eventless hop) the client takes
   * for the middle one of three pipelined transactions, fed reply by reply, or `together` as a
   * transport hands them on (the replies to one write in one `replies` event).
   */
  function microstepsForOneTransaction(recipients: number, pipelining = true, together = false): number {
    let microsteps = 0;
    const actor = createActor(clientMachine, {
      input: { messages: messages(3, recipients), tls: 'none', pipelining },
      clock: new VirtualClock(),
      inspect: (event) => {
        if (event.type === '@xstate.microstep') microsteps += 1;
      },
    });
    const sends: string[] = [];
    actor.on('send', (e) => sends.push(e.text));
    actor.start();
    actor.send(reply(Replies.greeting('mx')));
    actor.send(reply(ehloWith('PIPELINING')));
    const transaction = () => {
      const envelope = [Replies.senderOk(), ...Array.from({ length: recipients }, () => Replies.recipientOk()), Replies.startMailInput()];
      if (together) actor.send({ type: 'replies', replies: envelope });
      else for (const r of envelope) actor.send(reply(r));
      actor.send(reply(Replies.queued('Q')));
    };
    transaction();
    microsteps = 0;
    transaction();
    const counted = microsteps;
    transaction();
    actor.send(reply(Replies.bye('mx')));
    // The counted transactions did their whole job: every message written and delivered.
    expect(sends.filter((t) => t.startsWith('MAIL FROM:'))).toHaveLength(3);
    expect(sends.filter((t) => t.startsWith('Subject:'))).toHaveLength(3);
    expect(actor.getSnapshot().output!.messages.flatMap((m) => m.recipients.map((r) => r.status))).toEqual(Array(3 * recipients).fill('delivered'));
    return counted;
  }

  it('a pipelined transaction fed reply by reply costs one microstep per reply: MAIL, each RCPT, 354, end of data', () => {
    expect(microstepsForOneTransaction(1)).toBe(4);
    expect(microstepsForOneTransaction(3)).toBe(6);
  });

  it('with its envelope replies together it costs two, whatever the number of recipients', () => {
    expect(microstepsForOneTransaction(1, true, true)).toBe(2);
    expect(microstepsForOneTransaction(3, true, true)).toBe(2);
  });

  it('so does one without PIPELINING, each command written by the transition that read the reply before it', () => {
    expect(microstepsForOneTransaction(1, false)).toBe(4);
    expect(microstepsForOneTransaction(3, false)).toBe(6);
  });

  it('reports every message of a pipelined session, refused MAIL and refused DATA included', () => {
    const [first, second, third] = messages(3, 2);
    const { sends, actor } = replay({ messages: [first!, second!, third!], tls: 'none' }, [
      ...greetedWithPipelining(),
      // first: delivered to both
      ...deliveredToTwo('Q1'),
      // second: MAIL refused; the RCPT and DATA replies of its batch are read and ignored
      reply(Replies.senderDomainInvalid('example.com')),
      reply(Replies.badSequence('need MAIL')),
      reply(Replies.badSequence('need MAIL')),
      reply(Replies.badSequence('need MAIL')),
      // third: both recipients refused, so DATA is refused too
      reply(Replies.senderOk()),
      reply(Replies.userUnknown()),
      reply(Replies.greylisted()),
      reply(Replies.noValidRecipients()),
      reply(Replies.bye('mx')),
    ]);
    expect(sends.filter((t) => t.startsWith('MAIL FROM:'))).toHaveLength(3);
    expect(sends.filter((t) => t === '.\r\n' || t.startsWith('Subject:'))).toHaveLength(1);
    expect(sends.at(-1)).toBe('QUIT\r\n');
    const output = actor.getSnapshot().output!;
    expect(output.endedBy).toBe('quit');
    expect(output.messages).toStrictEqual([
      {
        from: 'alice@example.com',
        recipients: [
          { address: 'user0@example.net', status: 'delivered', reply: Replies.queued('Q1'), stage: 'data' },
          { address: 'user1@example.net', status: 'delivered', reply: Replies.queued('Q1'), stage: 'data' },
        ],
        mailReply: Replies.senderOk(),
        dataReply: Replies.queued('Q1'),
      },
      {
        from: 'alice@example.com',
        recipients: [
          { address: 'user0@example.net', status: 'failed', reply: Replies.senderDomainInvalid('example.com'), stage: 'mail' },
          { address: 'user1@example.net', status: 'failed', reply: Replies.senderDomainInvalid('example.com'), stage: 'mail' },
        ],
        mailReply: Replies.senderDomainInvalid('example.com'),
      },
      {
        from: 'alice@example.com',
        recipients: [
          { address: 'user0@example.net', status: 'failed', reply: Replies.userUnknown(), stage: 'rcpt' },
          { address: 'user1@example.net', status: 'deferred', reply: Replies.greylisted(), stage: 'rcpt' },
        ],
        mailReply: Replies.senderOk(),
        dataReply: Replies.noValidRecipients(),
      },
    ]);
  });

  it('a report taken mid-session shows the finished, the current and the untouched messages', () => {
    const { actor } = replay({ messages: messages(3, 2), tls: 'none' }, [
      ...greetedWithPipelining(),
      ...deliveredToTwo('Q1'),
      reply(Replies.senderOk()),
      reply(Replies.recipientOk()),
    ]);
    const report = reportOf(actor.getSnapshot().context);
    expect(report.messages.map((m) => m.recipients.map((r) => r.status))).toEqual([
      ['delivered', 'delivered'],
      ['accepted', 'pending'],
      ['pending', 'pending'],
    ]);
    expect(report.messages.map((m) => [m.mailReply?.code, m.dataReply?.code])).toEqual([
      [250, 250],
      [250, undefined],
      [undefined, undefined],
    ]);
  });

  it('each pipelined reply restarts the wait for the next one (RFC 5321 §4.5.3.2: a timeout per command)', () => {
    const clock = new VirtualClock();
    const actor = createActor(clientMachine, { input: { messages: messages(1, 2), tls: 'none' }, clock });
    const closes: string[] = [];
    actor.on('close', (e) => closes.push(e.reason));
    actor.start();
    actor.send(reply(Replies.greeting('mx')));
    actor.send(reply(ehloWith('PIPELINING')));
    actor.send(reply(Replies.senderOk()));
    clock.advance(4 * 60_000);
    actor.send(reply(Replies.recipientOk()));
    // 8 minutes after the batch went out, but only 4 after the last reply: still waiting.
    clock.advance(4 * 60_000);
    expect(actor.getSnapshot().status).toBe('active');
    clock.advance(60_000);
    expect(closes).toEqual(['no reply to RCPT in time']);
    const output = actor.getSnapshot().output!;
    expect(output.endedBy).toBe('timeout');
    expect(output.messages[0]!.recipients.map((r) => [r.status, r.stage])).toEqual([
      ['deferred', 'session'],
      ['deferred', 'session'],
    ]);
  });
});

describe('client machine shadowing a learner', () => {
  function shadow() {
    const actor = createActor(clientMachine, { input: { mode: 'shadowing' } });
    actor.start();
    return actor;
  }
  const verbs = (actor: ReturnType<typeof shadow>) => allowedNext(actor.getSnapshot()).map((s) => s.verb);

  it('starts in shadow with no banner timeout armed: a learner may take their time', () => {
    const clock = new VirtualClock();
    const actor = createActor(clientMachine, { input: { mode: 'shadowing' }, clock });
    actor.start();
    expect(actor.getSnapshot().value).toBe('shadow');
    // The machine starts where a driving session does (`greeting`, which arms RFC 5321's
    // 5-minute banner wait) and leaves it in the same step: that wait must not survive.
    expect(clock.pending()).toBe(0);
    clock.advance(3_600_000);
    expect(actor.getSnapshot().value).toBe('shadow');
    actor.send(reply(Replies.greeting('mx1.example.net')));
    expect(verbs(actor)).toContain('EHLO');
  });

  it('a driving session starts waiting for the banner, its timeout armed', () => {
    const clock = new VirtualClock();
    const actor = createActor(clientMachine, { input: { mode: 'driving', messages: [] }, clock });
    actor.start();
    expect(actor.getSnapshot().value).toBe('greeting');
    expect(clock.pending()).toBe(1);
  });

  it('follows the session from the wire and says what may come next', () => {
    const actor = shadow();
    expect(verbs(actor)).toEqual(['(wait)']);
    actor.send(reply(Replies.greeting('mx1.example.net')));
    expect(verbs(actor)).toContain('EHLO');
    actor.send({ type: 'client.line', text: 'EHLO learner.example' });
    actor.send(reply(ehloWith('PIPELINING', 'STARTTLS')));
    expect(verbs(actor)).toEqual(expect.arrayContaining(['STARTTLS', 'MAIL FROM']));
    actor.send({ type: 'client.line', text: 'MAIL FROM:<alice@example.com>' });
    actor.send(reply(Replies.senderOk()));
    expect(verbs(actor)).toContain('RCPT TO');
    expect(verbs(actor)).not.toContain('DATA');
    actor.send({ type: 'client.line', text: 'RCPT TO:<nobody@example.net>' });
    const refusal = Replies.userUnknown('<nobody@example.net>');
    expect(explainReply(actor.getSnapshot(), refusal)).toMatch(/^550 to RCPT: this recipient is refused.*others may still be accepted.*another RCPT/);
    actor.send(reply(refusal));
    expect(verbs(actor)).not.toContain('DATA');
    actor.send({ type: 'client.line', text: 'RCPT TO:<bob@example.net>' });
    actor.send(reply(Replies.recipientOk()));
    expect(verbs(actor)).toContain('DATA');
    actor.send({ type: 'client.line', text: 'DATA' });
    actor.send(reply(Replies.startMailInput()));
    expect(verbs(actor)).toEqual(['(message text)', '.']);
    actor.send({ type: 'client.line', text: 'Subject: test' });
    actor.send({ type: 'client.line', text: '.' });
    expect(explainReply(actor.getSnapshot(), Replies.queued('Q1'))).toMatch(/^250 to \.: the message is accepted/);
    actor.send(reply(Replies.queued('Q1')));
    expect(verbs(actor)).toContain('MAIL FROM');
    actor.send({ type: 'client.line', text: 'QUIT' });
    actor.send(reply(Replies.bye('mx1.example.net')));
    expect(verbs(actor)).toEqual([]);
  });

  it('pairs pipelined replies with the commands in the order they were sent', () => {
    const actor = shadow();
    actor.send(reply(Replies.greeting('mx')));
    actor.send({ type: 'client.line', text: 'EHLO l.example' });
    actor.send(reply(ehloWith('PIPELINING')));
    for (const line of ['MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.net>', 'DATA']) actor.send({ type: 'client.line', text: line });
    expect(explainReply(actor.getSnapshot(), Replies.senderOk())).toMatch(/^250 to MAIL/);
    actor.send(reply(Replies.senderOk()));
    expect(explainReply(actor.getSnapshot(), Replies.greylisted())).toMatch(/^451 to RCPT: this recipient is refused.* for now/);
    actor.send(reply(Replies.greylisted()));
    actor.send(reply(Replies.noValidRecipients()));
    expect(actor.getSnapshot().context.shadow.phase).toBe('mail');
  });

  it('after STARTTLS and the handshake it asks for EHLO again', () => {
    const actor = shadow();
    actor.send(reply(Replies.greeting('mx')));
    actor.send({ type: 'client.line', text: 'EHLO l.example' });
    actor.send(reply(ehloWith('STARTTLS')));
    actor.send({ type: 'client.line', text: 'STARTTLS' });
    actor.send(reply(Replies.readyToStartTls()));
    actor.send({ type: 'tls.established', report: { authorized: true } });
    expect(verbs(actor)).toEqual(['EHLO', 'HELO', 'QUIT']);
    expect(actor.getSnapshot().context.shadow.lastExplanation).toMatch(/EHLO/);
  });
});

