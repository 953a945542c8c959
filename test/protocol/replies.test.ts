import { describe, expect, it } from 'vitest';
import { listReplies, Replies } from '../../src/protocol/replies';
import { formatReply, isEnhancedCode, ReplyParser } from '../../src/protocol/reply';

describe('Replies catalogue', () => {
  const entries = listReplies();

  it('lists every constructor exactly once', () => {
    expect(entries.map((e) => e.name).sort()).toEqual(Object.keys(Replies).sort());
  });

  it.each(entries.map((e) => [e.name, e.reply] as const))('%s is a well-formed reply', (_name, reply) => {
    expect(reply.code).toBeGreaterThanOrEqual(200);
    expect(reply.code).toBeLessThanOrEqual(556);
    expect(reply.lines.length).toBeGreaterThan(0);
    if (reply.enhanced !== undefined) {
      expect(isEnhancedCode(reply.enhanced)).toBe(true);
      // RFC 3463 §2: the class digit must agree with the basic code's first digit.
      expect(reply.enhanced[0]).toBe(String(reply.code)[0]);
    }
    // It survives the trip over the wire.
    expect(new ReplyParser().push(formatReply(reply))).toEqual([reply]);
  });

  it('leaves enhanced codes off the greeting, EHLO/HELO and 3yz replies (RFC 2034 §3)', () => {
    expect(Replies.greeting('mx1.example.com').enhanced).toBeUndefined();
    expect(Replies.ehlo('mx1.example.com', 'c.example', ['PIPELINING']).enhanced).toBeUndefined();
    expect(Replies.helo('mx1.example.com', 'c.example').enhanced).toBeUndefined();
    expect(Replies.startMailInput().enhanced).toBeUndefined();
    expect(Replies.authChallenge('').enhanced).toBeUndefined();
  });

  it('returns a fresh value on every call', () => {
    const a = Replies.ok();
    a.lines.push('changed');
    expect(Replies.ok().lines).toEqual(['OK']);
  });

  const expected: Array<[string, ReturnType<(typeof Replies)['ok']>, number, string | undefined]> = [
    ['serviceNotAvailable', Replies.serviceNotAvailable('mx.example'), 421, '4.3.2'],
    ['senderOk', Replies.senderOk(), 250, '2.1.0'],
    ['recipientOk', Replies.recipientOk(), 250, '2.1.5'],
    ['startMailInput', Replies.startMailInput(), 354, undefined],
    ['queued', Replies.queued('4F3A21C8'), 250, '2.0.0'],
    ['bye', Replies.bye('mx.example'), 221, '2.0.0'],
    ['readyToStartTls', Replies.readyToStartTls(), 220, '2.0.0'],
    ['tlsNotAvailable', Replies.tlsNotAvailable(), 454, '4.7.0'],
    ['authSucceeded', Replies.authSucceeded(), 235, '2.7.0'],
    ['authChallenge', Replies.authChallenge('VXNlcm5hbWU6'), 334, undefined],
    ['authFailed', Replies.authFailed(), 535, '5.7.8'],
    ['authRequired', Replies.authRequired(), 530, '5.7.0'],
    ['encryptionRequired', Replies.encryptionRequired(), 530, '5.7.0'],
    ['authCancelled', Replies.authCancelled(), 501, '5.0.0'],
    ['badBase64', Replies.badBase64(), 501, '5.5.2'],
    ['unknownMechanism', Replies.unknownMechanism(), 504, '5.5.4'],
    ['alreadyAuthenticated', Replies.alreadyAuthenticated(), 503, '5.5.1'],
    ['syntaxError', Replies.syntaxError(), 500, '5.5.2'],
    ['syntaxErrorInParameters', Replies.syntaxErrorInParameters(), 501, '5.5.4'],
    ['notImplemented', Replies.notImplemented(), 502, '5.5.1'],
    ['badSequence', Replies.badSequence('x'), 503, '5.5.1'],
    ['paramNotImplemented', Replies.paramNotImplemented('X'), 555, '5.5.4'],
    ['commandParamNotImplemented', Replies.commandParamNotImplemented('X'), 504, '5.5.4'],
    ['lineTooLong', Replies.lineTooLong(), 500, '5.5.6'],
    ['pathTooLong', Replies.pathTooLong(), 501, '5.5.4'],
    ['tooManyRecipients', Replies.tooManyRecipients(), 452, '4.5.3'],
    ['messageTooBig', Replies.messageTooBig(), 552, '5.3.4'],
    ['userUnknown', Replies.userUnknown(), 550, '5.1.1'],
    ['mailboxFull', Replies.mailboxFull(), 452, '4.2.2'],
    ['greylisted 450', Replies.greylisted(450), 450, '4.7.1'],
    ['greylisted 451', Replies.greylisted(), 451, '4.7.1'],
    ['relayDenied', Replies.relayDenied(), 554, '5.7.1'],
    ['contentRejected', Replies.contentRejected(), 554, '5.7.1'],
    ['policyRejected', Replies.policyRejected(), 550, '5.7.26'],
    ['badAddressSyntax', Replies.badAddressSyntax(), 553, '5.1.3'],
    ['badSenderSyntax', Replies.badSenderSyntax(), 501, '5.1.7'],
    ['cannotVerify', Replies.cannotVerify(), 252, '2.5.0'],
    ['help', Replies.help(['a', 'b']), 214, '2.0.0'],
    ['ok', Replies.ok(), 250, '2.0.0'],
    ['tooManyErrors', Replies.tooManyErrors(), 421, '4.7.0'],
    ['rateLimited 421', Replies.rateLimited(421), 421, '4.7.0'],
    ['rateLimited 451', Replies.rateLimited(451), 451, '4.7.1'],
    ['timeout', Replies.timeout(), 421, '4.4.2'],
    ['connectionDropped', Replies.connectionDropped(), 451, '4.4.2'],
    ['nullMx', Replies.nullMx('example.test'), 556, '5.1.10'],
    ['smtputf8Required', Replies.smtputf8Required(), 553, '5.6.7'],
  ];
  it.each(expected)('%s has the agreed code', (_name, reply, code, enhanced) => {
    expect(reply.code).toBe(code);
    expect(reply.enhanced).toBe(enhanced);
  });

  it('puts the host first on greeting, 421 and bye lines', () => {
    expect(formatReply(Replies.greeting('mx1.example.com'))).toBe('220 mx1.example.com ESMTP ready\r\n');
    expect(formatReply(Replies.serviceNotAvailable('mx1.example.com'))).toMatch(/^421 4\.3\.2 mx1\.example\.com /);
    expect(Replies.ehlo('mx1.example.com', 'sender.example', ['SIZE 52428800', 'PIPELINING']).lines).toEqual([
      'mx1.example.com Hello sender.example',
      'SIZE 52428800',
      'PIPELINING',
    ]);
  });
});
