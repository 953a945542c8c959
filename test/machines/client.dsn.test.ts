// The client machine passing DSN requests on (RFC 3461 §5.2): RET/ENVID on MAIL and NOTIFY/ORCPT
// on each RCPT, written only when the last EHLO reply listed DSN, alone or in a pipelined batch.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { clientMachine, type ClientEvent, type ClientInput, type OutgoingMessage } from '../../src/machines/client';
import { parseMailParams, parseRcptParams } from '../../src/protocol/params';
import { Replies } from '../../src/protocol/replies';
import type { Reply } from '../../src/protocol/reply';
import { VirtualClock } from '../../src/sim/clock';

const ehloWith = (...keywords: string[]): Reply => Replies.ehlo('mx.example.net', 'client.example', keywords);
const reply = (r: Reply): ClientEvent => ({ type: 'reply', reply: r });

/** Three recipients: bob asks for SUCCESS,FAILURE with an ORCPT, carol for NEVER, dave gave nothing. */
const WITH_DSN: OutgoingMessage = {
  from: 'alice@example.com',
  recipients: ['Bob@Example.net', 'carol@example.net', 'dave@example.net'],
  content: 'Subject: hi\r\n\r\nhello\r\n',
  dsn: {
    ret: 'FULL',
    envid: 'QQ 314=159',
    recipients: new Map([
      ['bob@example.net', { notify: ['SUCCESS', 'FAILURE'] as const, orcpt: { addressType: 'rfc822', address: 'bob+old@example.org' } }],
      ['carol@example.net', { notify: 'NEVER' as const }],
    ]),
  },
};

const PLAIN_LINES = ['MAIL FROM:<alice@example.com>', 'RCPT TO:<Bob@Example.net>', 'RCPT TO:<carol@example.net>', 'RCPT TO:<dave@example.net>'];
const DSN_LINES = [
  'MAIL FROM:<alice@example.com> RET=FULL ENVID=QQ+20314+3D159',
  'RCPT TO:<Bob@Example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+2Bold@example.org',
  'RCPT TO:<carol@example.net> NOTIFY=NEVER',
  'RCPT TO:<dave@example.net>',
];

/** Run a session fed these replies; every write the client made, split into lines. */
function linesWritten(input: ClientInput, events: ClientEvent[]): string[] {
  const actor = createActor(clientMachine, { input, clock: new VirtualClock() });
  const writes: string[] = [];
  actor.on('send', (e) => writes.push(e.text));
  actor.start();
  for (const event of events) actor.send(event);
  return writes.flatMap((text) => text.split('\r\n').filter((line) => line !== ''));
}

/** The replies of a server without PIPELINING to one transaction of three recipients, all accepted. */
const ONE_BY_ONE: ClientEvent[] = [
  reply(Replies.senderOk()),
  reply(Replies.recipientOk()),
  reply(Replies.recipientOk()),
  reply(Replies.recipientOk()),
  reply(Replies.startMailInput()),
  reply(Replies.queued('Q1')),
  reply(Replies.bye('mx')),
];

const envelopeLines = (lines: string[]) => lines.filter((line) => /^(MAIL|RCPT) /.test(line));

describe('DSN parameters on MAIL and RCPT (RFC 3461 §5.2)', () => {
  it('after an EHLO that lists DSN: RET and ENVID on MAIL, each recipient\'s own NOTIFY and ORCPT on its RCPT, in xtext', () => {
    const lines = linesWritten({ messages: [WITH_DSN], tls: 'none', pipelining: false }, [reply(Replies.greeting('mx')), reply(ehloWith('DSN')), ...ONE_BY_ONE]);
    expect(envelopeLines(lines)).toEqual(DSN_LINES);
    // What a DSN server reads back is what the sender asked for (xtext decoded).
    const mail = parseMailParams(DSN_LINES[0]!.slice('MAIL FROM:<alice@example.com> '.length));
    expect(mail.ok && [mail.params.ret, mail.params.envid]).toEqual(['FULL', 'QQ 314=159']);
    const bob = parseRcptParams(DSN_LINES[1]!.slice('RCPT TO:<Bob@Example.net> '.length));
    expect(bob.ok && [bob.params.notify, bob.params.orcpt]).toEqual([['SUCCESS', 'FAILURE'], { addressType: 'rfc822', address: 'bob+old@example.org' }]);
  });

  it('after an EHLO without DSN, or a HELO, the same message goes with plain MAIL and RCPT (§5.2.2)', () => {
    const withoutDsn = linesWritten({ messages: [WITH_DSN], tls: 'none', pipelining: false }, [reply(Replies.greeting('mx')), reply(ehloWith('SIZE 10485760', '8BITMIME')), ...ONE_BY_ONE]);
    expect(envelopeLines(withoutDsn)).toEqual(PLAIN_LINES);
    const afterHelo = linesWritten({ messages: [WITH_DSN], tls: 'none' }, [reply(Replies.greeting('mx')), reply(Replies.notImplemented()), reply(Replies.helo('mx', 'client.example')), ...ONE_BY_ONE]);
    expect(afterHelo).toContain('HELO client.example');
    expect(envelopeLines(afterHelo)).toEqual(PLAIN_LINES);
  });

  it('in the pipelined batch: MAIL, every RCPT and DATA in one write, the parameters on their lines', () => {
    const actor = createActor(clientMachine, { input: { messages: [WITH_DSN], tls: 'none' }, clock: new VirtualClock() });
    const writes: string[] = [];
    actor.on('send', (e) => writes.push(e.text));
    actor.start();
    for (const event of [reply(Replies.greeting('mx')), reply(ehloWith('PIPELINING', 'DSN')), ...ONE_BY_ONE]) actor.send(event);
    expect(writes[1]).toBe(`${DSN_LINES.join('\r\n')}\r\nDATA\r\n`);
    const output = actor.getSnapshot().output!;
    expect(output.pipelined).toBe(true);
    expect(output.messages[0]!.recipients.map((r) => r.status)).toEqual(['delivered', 'delivered', 'delivered']);
  });

  it('a pipelined batch to a server without DSN is plain', () => {
    const lines = linesWritten({ messages: [WITH_DSN], tls: 'none' }, [reply(Replies.greeting('mx')), reply(ehloWith('PIPELINING')), ...ONE_BY_ONE]);
    expect(envelopeLines(lines)).toEqual(PLAIN_LINES);
  });

  it('only the EHLO after STARTTLS counts: DSN listed before TLS and not after gives plain lines, and the other way round', () => {
    const session = (before: string[], after: string[]) =>
      envelopeLines(
        linesWritten({ messages: [WITH_DSN], tls: 'opportunistic', pipelining: false }, [
          reply(Replies.greeting('mx')),
          reply(ehloWith('STARTTLS', ...before)),
          reply(Replies.readyToStartTls()),
          { type: 'tls.established', report: { authorized: true } },
          reply(ehloWith(...after)),
          ...ONE_BY_ONE,
        ]),
      );
    // RFC 3207 §4.2: what the first EHLO said is forgotten once TLS is up.
    expect(session(['DSN'], [])).toEqual(PLAIN_LINES);
    expect(session([], ['DSN'])).toEqual(DSN_LINES);
  });

  it('on one connection, a message without requests is plain beside one with them', () => {
    const plain: OutgoingMessage = { from: 'alice@example.com', recipients: ['erin@example.net'], content: 'Subject: two\r\n\r\nsecond\r\n' };
    const lines = linesWritten({ messages: [WITH_DSN, plain], tls: 'none' }, [
      reply(Replies.greeting('mx')),
      reply(ehloWith('PIPELINING', 'DSN')),
      ...ONE_BY_ONE.slice(0, -1),
      reply(Replies.senderOk()),
      reply(Replies.recipientOk()),
      reply(Replies.startMailInput()),
      reply(Replies.queued('Q2')),
      reply(Replies.bye('mx')),
    ]);
    expect(envelopeLines(lines)).toEqual([...DSN_LINES, 'MAIL FROM:<alice@example.com>', 'RCPT TO:<erin@example.net>']);
  });
});
