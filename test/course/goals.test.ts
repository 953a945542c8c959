import { describe, expect, it } from 'vitest';
import { cursorOf, describeGoal, evaluate, type Goal } from '../../src/course/goals';
import { RecordBuilder, ok250, r } from './records';

/** A learner's session: connect, EHLO, MAIL, two RCPTs (one refused), DATA, message. */
function envelopeSession(): RecordBuilder {
  return new RecordBuilder()
    .connect('mx1.example.net')
    .command('EHLO client.example.com', { code: 250, lines: ['mx1.example.net Hello', 'PIPELINING', 'STARTTLS'] })
    .command('MAIL FROM:<alice@example.com>', ok250('2.1.0', 'Sender OK'))
    .command('RCPT TO:<bob@example.net>', ok250('2.1.5', 'Recipient OK'))
    .command('RCPT TO:<dave@strict.example>', r(554, '5.7.1', 'Relay access denied'))
    .command('DATA', r(354, undefined, 'Start mail input'))
    .data(['Subject: Hi', '', 'QUIT is just a word here', 'MAIL FROM:<x@example.com>'], ok250('2.0.0', 'OK: queued as ABC123'));
}

describe('leaf goals', () => {
  const record = envelopeSession().record;

  it('reply matches on the command answered, the code, the class and the enhanced code', () => {
    expect(evaluate({ reply: { to: 'RCPT', code: 250 } }, record).met).toBe(true);
    expect(evaluate({ reply: { to: 'RCPT', code: 550 } }, record).met).toBe(false);
    expect(evaluate({ reply: { to: 'RCPT', class: 5, enhanced: '5.7' } }, record).met).toBe(true);
    expect(evaluate({ reply: { to: 'RCPT', enhanced: '5.7.2' } }, record).met).toBe(false);
    expect(evaluate({ reply: { to: 'rcpt', code: 250, count: 2 } }, record).met).toBe(false);
    expect(evaluate({ reply: { to: 'DATA-END', code: 250, by: 'learner' } }, record).met).toBe(true);
    expect(evaluate({ reply: { to: 'DATA-END', code: 250, by: 'autopilot' } }, record).met).toBe(false);
    expect(evaluate({ reply: { to: 'BANNER', code: 220, host: 'MX1.example.net.' } }, record).met).toBe(true);
  });

  it('sent sees commands, not message lines that look like commands', () => {
    expect(evaluate({ sent: { verb: 'MAIL', matches: 'alice@' } }, record).met).toBe(true);
    // "MAIL FROM:<x@...>" was a line of the message body, after 354 and before the dot.
    expect(evaluate({ sent: { verb: 'MAIL', matches: 'x@example' } }, record).met).toBe(false);
    expect(evaluate({ sent: { verb: 'QUIT' } }, record).met).toBe(false);
    expect(evaluate({ sent: { verb: 'RCPT', count: 2 } }, record).met).toBe(true);
    expect(evaluate({ sent: { verb: 'EHLO', tls: true } }, record).met).toBe(false);
  });

  it('typed matches by pattern and by context', () => {
    expect(evaluate({ typed: { pattern: '^$', context: 'data' } }, record).met).toBe(true);
    expect(evaluate({ typed: { pattern: '^$', context: 'smtp' } }, record).met).toBe(false);
    expect(evaluate({ typed: { pattern: '^subject:' } }, record).met).toBe(true);
  });

  it('deliveries, DSNs and mailboxes', () => {
    const b = new RecordBuilder()
      .delivery('nobody@strict.example', 'bounced', '5.1.1')
      .dsn('alice@example.com', 'nobody@strict.example', 'failed', '5.1.1')
      .delivery('carol@example.net', 'delivered', undefined, 'mx2.example.net')
      .mail('carol@example.net', 'Quarterly report');
    const rec = b.record;
    expect(evaluate({ bounced: { to: 'nobody@strict.example', status: '5.1.1' } }, rec).met).toBe(true);
    expect(evaluate({ bounced: { to: 'nobody@strict.example', status: '5.2' } }, rec).met).toBe(false);
    expect(evaluate({ dsn: { to: 'alice@example.com', status: '5.1.1', action: 'failed', recipient: 'nobody@strict.example' } }, rec).met).toBe(true);
    expect(evaluate({ dsn: { to: 'alice@example.com', action: 'delayed' } }, rec).met).toBe(false);
    expect(evaluate({ delivered: { to: '<Carol@Example.net>', host: 'mx2.example.net' } }, rec).met).toBe(true);
    expect(evaluate({ delivered: { to: 'carol@example.net', host: 'mx1.example.net' } }, rec).met).toBe(false);
    expect(evaluate({ mailbox: { address: 'carol@example.net', subject: 'Quarterly report' } }, rec).met).toBe(true);
    expect(evaluate({ mailbox: { address: 'carol@example.net', subject: 'Quarterly' } }, rec).met).toBe(false);
    expect(evaluate({ deferred: { to: 'carol@example.net' } }, rec).met).toBe(false);
  });

  it('dsn: the envelope id and what came back of the message are per report', () => {
    const b = new RecordBuilder()
      .dsn('alice@example.com', 'bob@example.net', 'relayed', '2.0.0', { originalEnvelopeId: 'QQ314159', returnedContent: 'headers' })
      .dsn('alice@example.com', 'nobody@strict.example', 'failed', '5.1.1', { returnedContent: 'full' });
    const rec = b.record;
    expect(evaluate({ dsn: { to: 'alice@example.com', action: 'relayed', envelopeId: 'QQ314159' } }, rec).met).toBe(true);
    // ENVID is the sender's opaque label: compared exactly, case included.
    expect(evaluate({ dsn: { to: 'alice@example.com', envelopeId: 'qq314159' } }, rec).met).toBe(false);
    // The failure report carries no envelope id, so the two fields must hold in the same report.
    expect(evaluate({ dsn: { to: 'alice@example.com', action: 'failed', envelopeId: 'QQ314159' } }, rec).met).toBe(false);
    expect(evaluate({ dsn: { to: 'alice@example.com', recipient: 'nobody@strict.example', returned: 'full' } }, rec).met).toBe(true);
    expect(evaluate({ dsn: { to: 'alice@example.com', recipient: 'bob@example.net', returned: 'full' } }, rec).met).toBe(false);
    expect(evaluate({ dsn: { to: 'alice@example.com', returned: 'none' } }, rec).met).toBe(false);
  });

  it('no DSN since the step started: not over a dsn leaf', () => {
    const b = new RecordBuilder().dsn('alice@example.com', 'nobody@strict.example', 'failed', '5.1.1');
    const start = cursorOf(b.record);
    const silent: Goal = {
      allOf: [{ bounced: { to: 'nobody@strict.example' } }, { not: { dsn: { to: 'alice@example.com', recipient: 'nobody@strict.example' } } }],
    };
    // The bounce report before the step started does not count against it.
    b.delivery('nobody@strict.example', 'bounced', '5.1.1');
    expect(evaluate(silent, b.record, start).met).toBe(true);
    b.dsn('alice@example.com', 'nobody@strict.example', 'failed', '5.1.1');
    expect(evaluate(silent, b.record, start).met).toBe(false);
  });

  it('clock: absolute and relative to the step start', () => {
    const b = new RecordBuilder();
    const start = cursorOf(b.record);
    expect(evaluate({ clock: { advancedBy: '5m' } }, b.record, start).met).toBe(false);
    b.tick(4 * 60_000);
    expect(evaluate({ clock: { advancedBy: '5m' } }, b.record, start).met).toBe(false);
    b.tick(60_000);
    expect(evaluate({ clock: { advancedBy: '5m' } }, b.record, start).met).toBe(true);
    expect(evaluate({ clock: { atLeast: '5d' } }, b.record, start).met).toBe(false);
    b.tick(5 * 86_400_000);
    expect(evaluate({ clock: { atLeast: '5d' } }, b.record, start).met).toBe(true);
  });

  it('pipelined counts client lines sent before any reply', () => {
    const b = new RecordBuilder().connect('mx1.example.net').command('EHLO a.example', ok250());
    expect(evaluate({ pipelined: { commands: 3 } }, b.record).met).toBe(false);
    b.command('MAIL FROM:<a@example.com>', ok250()).command('RCPT TO:<b@example.net>', ok250());
    expect(evaluate({ pipelined: { commands: 2 } }, b.record).met).toBe(false);
    b.pipeline(['MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.net>', 'DATA'], [ok250(), ok250(), r(354)]);
    expect(evaluate({ pipelined: { commands: 3 } }, b.record).met).toBe(true);
    expect(evaluate({ pipelined: { commands: 4 } }, b.record).met).toBe(false);
  });

  it('tls: a handshake on a connection opened before the step still counts once it happens', () => {
    const b = new RecordBuilder().connect('mx1.example.net');
    const start = cursorOf(b.record);
    expect(evaluate({ tls: { ok: true } }, b.record, start).met).toBe(false);
    b.tls(true, false);
    expect(evaluate({ tls: { ok: true } }, b.record, start).met).toBe(true);
    expect(evaluate({ tls: { authorized: false } }, b.record, start).met).toBe(true);
    expect(evaluate({ tls: { authorized: true } }, b.record, start).met).toBe(false);
    // A later step does not count a handshake that had already happened.
    expect(evaluate({ tls: { ok: true } }, b.record, cursorOf(b.record)).met).toBe(false);
  });
});

describe('ran: a shell command and its verdict', () => {
  it('outcome compares the whole verdict, without regard to case; fail is not softfail', () => {
    const b = new RecordBuilder()
      .shell('spf 203.0.113.99 newsletter.example', true, 'softfail')
      .shell('spf 203.0.113.99 example.com', true, 'fail')
      .shell('dig TXT example.com');
    const rec = b.record;
    expect(evaluate({ ran: { command: 'spf', outcome: 'softfail' } }, rec).met).toBe(true);
    expect(evaluate({ ran: { command: 'spf', outcome: 'FAIL', matches: 'newsletter' } }, rec).met).toBe(false);
    expect(evaluate({ ran: { command: 'spf', outcome: 'fail', matches: 'example\\.com$' } }, rec).met).toBe(true);
    expect(evaluate({ ran: { command: 'spf', outcome: 'pass' } }, rec).met).toBe(false);
    // A command that reports no verdict never meets an outcome.
    expect(evaluate({ ran: { command: 'dig', outcome: 'pass' } }, rec).met).toBe(false);
    expect(evaluate({ ran: { command: 'dig' } }, rec).met).toBe(true);
  });

  it('reads as a checklist line', () => {
    expect(describeGoal({ ran: { command: 'spf', outcome: 'softfail' } })).toBe('run spf and get the verdict "softfail"');
  });
});

describe('combinators', () => {
  it('inOrder needs each part after the previous one', () => {
    const b = new RecordBuilder()
      .connect('mx1.example.net')
      .command('EHLO client.example.com', ok250())
      .command('RCPT TO:<bob@example.net>', r(503, '5.5.1', 'Bad sequence of commands'))
      .command('MAIL FROM:<alice@example.com>', ok250('2.1.0'));
    const mailThenRcpt: Goal = { inOrder: [{ sent: { verb: 'MAIL' } }, { sent: { verb: 'RCPT' } }] };
    const rcptThenMail: Goal = { inOrder: [{ sent: { verb: 'RCPT' } }, { sent: { verb: 'MAIL' } }] };
    expect(evaluate(rcptThenMail, b.record).met).toBe(true);
    const before = evaluate(mailThenRcpt, b.record);
    expect(before.met).toBe(false);
    expect(before.progress).toEqual([
      { label: 'send MAIL', met: true },
      { label: 'send RCPT', met: false },
    ]);
    b.command('RCPT TO:<bob@example.net>', ok250('2.1.5'));
    expect(evaluate(mailThenRcpt, b.record).met).toBe(true);
  });

  it('inOrder across lists uses the virtual time', () => {
    const b = new RecordBuilder().shell('send --from alice@example.com --to bob@grey.example').delivery('bob@grey.example', 'deferred', '4.7.1');
    const goal: Goal = { inOrder: [{ clock: { advancedBy: '5m' } }, { delivered: { to: 'bob@grey.example' } }] };
    b.delivery('bob@grey.example', 'delivered'); // delivered at once: not after the wait
    expect(evaluate(goal, b.record).met).toBe(false);
    b.tick(10 * 60_000).delivery('bob@grey.example', 'delivered');
    expect(evaluate(goal, b.record).met).toBe(true);
  });

  it('the since cursor hides what happened before the step started', () => {
    const b = envelopeSession();
    const goal: Goal = { reply: { to: 'EHLO', code: 250 } };
    expect(evaluate(goal, b.record).met).toBe(true);
    const stepStart = cursorOf(b.record);
    expect(evaluate(goal, b.record, stepStart).met).toBe(false);
    b.command('EHLO client.example.com', ok250());
    expect(evaluate(goal, b.record, stepStart).met).toBe(true);
  });

  it('not, allOf and anyOf', () => {
    const b = new RecordBuilder().connect('mx1.example.net').command('EHLO a.example', ok250());
    const start = cursorOf(b.record);
    const sameConnection: Goal = {
      allOf: [{ reply: { to: 'NOOP', code: 250 } }, { not: { connected: { host: 'mx1.example.net' } } }],
    };
    b.command('NOOP', ok250());
    expect(evaluate(sameConnection, b.record, start).met).toBe(true);
    b.connect('mx1.example.net');
    const after = evaluate(sameConnection, b.record, start);
    expect(after.met).toBe(false);
    expect(after.progress.map((p) => p.met)).toEqual([true, false]);
    const either: Goal = { anyOf: [{ deferred: { to: 'bob@down.example' } }, { reply: { to: 'NOOP' } }] };
    expect(evaluate(either, b.record, start).met).toBe(true);
    expect(evaluate({ anyOf: [{ deferred: { to: 'bob@down.example' } }, { reply: { to: 'QUIT' } }] }, b.record, start).met).toBe(false);
  });
});

describe('describeGoal', () => {
  it('reads like a checklist line', () => {
    expect(describeGoal({ reply: { to: 'RCPT', code: 250 } })).toBe('get a 250 reply to RCPT');
    expect(describeGoal({ reply: { to: 'DATA-END', code: 554, enhanced: '5.7.1' } })).toBe('get a 554 5.7.1 reply to the end of the message (the lone dot)');
    expect(describeGoal({ sent: { verb: 'ehlo', tls: true } })).toBe('send EHLO inside TLS');
    expect(describeGoal({ dns: { name: 'example.net', type: 'MX' } })).toBe('look up MX example.net in DNS');
    expect(describeGoal({ bounced: { to: 'nobody@strict.example', status: '5.1.1' } })).toBe('the message to nobody@strict.example bounces with 5.1.1');
    expect(describeGoal({ clock: { advancedBy: '+10m' } })).toBe('advance the clock by 10m');
    expect(describeGoal({ inOrder: [{ sent: { verb: 'MAIL' } }, { sent: { verb: 'RCPT' } }] })).toBe('send MAIL, then send RCPT');
    expect(describeGoal({ not: { connected: { host: 'mx1.example.net' } } })).toBe('not: connect to mx1.example.net');
    expect(describeGoal({ label: 'Carol has mail', mailbox: { address: 'carol@example.net' } })).toBe('Carol has mail');
    expect(describeGoal({ dsn: { to: 'alice@example.com', action: 'failed', status: '5.1.1' } })).toBe('a bounce report (DSN) (failed, 5.1.1) reaches alice@example.com');
    expect(describeGoal({ dsn: { to: 'alice@example.com', action: 'relayed', recipient: 'bob@example.net', envelopeId: 'QQ314159' } })).toBe(
      'a delivery report (DSN) (relayed) about bob@example.net with Original-Envelope-Id QQ314159 reaches alice@example.com',
    );
    expect(describeGoal({ dsn: { to: 'alice@example.com', returned: 'full' } })).toBe('a bounce report (DSN) reaches alice@example.com, returning the whole message');
  });
});

describe('connected', () => {
  it('counts an established connection, not a refused attempt', () => {
    const b = new RecordBuilder();
    b.record.connections.push({ id: 1, host: 'mx1.example.net', port: 25, openedAt: 0, by: 'autopilot', closed: { at: 0, by: 'network', reason: 'connection refused' } });
    expect(evaluate({ connected: { host: 'mx1.example.net' } }, b.record).met).toBe(false);
    b.connect('mx2.example.net', 25, 'autopilot');
    expect(evaluate({ connected: { host: 'mx2.example.net', by: 'autopilot', port: 25 } }, b.record).met).toBe(true);
    expect(evaluate({ connected: { host: 'mx2.example.net', by: 'learner' } }, b.record).met).toBe(false);
  });
});
