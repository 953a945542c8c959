// The server session machine as a bare actor: every rule of RFC 5321 and its extensions that
// the machine owns, checked by code and enhanced code.
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { Extensions, ServerBackend, SessionFacts } from '../../src/machines/backend';
import { encodePlain } from '../../src/protocol/sasl';
import type { LineEvent } from '../../src/machines/server';
import { codes, line, startSession } from './serverHarness';

const FULL: Extensions = { pipelining: true, size: 1000, starttls: true, enhancedStatusCodes: true, eightBitMime: true, smtpUtf8: true };

function backend(overrides: Partial<ServerBackend> = {}): ServerBackend {
  return { hostname: 'mx.example.net', extensions: (facts: SessionFacts) => ({ ...FULL, ...(facts.tls ? { auth: ['PLAIN', 'LOGIN'] } : {}) }), ...overrides };
}

const ENVELOPE = ['EHLO client.example', 'MAIL FROM:<alice@example.com>', 'RCPT TO:<bob@example.net>'];

describe('greeting', () => {
  it('says 220 first, without an enhanced code (RFC 2034 §3)', () => {
    const s = startSession({ backend: backend() });
    expect(codes(s.newReplies())).toEqual(['220']);
    expect(s.newReplies()[0]).toBeUndefined();
    expect(s.state()).toBe('waitingForHelo');
  });

  it('a 421 banner closes the connection', () => {
    const s = startSession({ backend: backend({ onConnect: () => ({ code: 421, enhanced: '4.3.2', lines: ['busy'] }) }) });
    expect(codes(s.newReplies())).toEqual(['421 4.3.2']);
    expect(s.emitted.at(-1)).toEqual({ type: 'close', reason: 'server' });
    expect(s.state()).toBe('closed');
  });

  it('a 554 banner closes too', () => {
    const s = startSession({ backend: backend({ onConnect: () => ({ code: 554, enhanced: '5.3.2', lines: ['no'] }) }) });
    expect(codes(s.newReplies())).toEqual(['554 5.3.2']);
    expect(s.closed()).toBe(true);
  });
});

describe('EHLO and HELO', () => {
  it('EHLO lists the extensions, HELO does not', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    const [ehlo] = s.send('EHLO client.example');
    expect(ehlo!.code).toBe(250);
    expect(ehlo!.enhanced).toBeUndefined();
    expect(ehlo!.lines.slice(1)).toEqual(['PIPELINING', 'SIZE 1000', 'STARTTLS', 'ENHANCEDSTATUSCODES', '8BITMIME', 'SMTPUTF8']);
    const [helo] = s.send('HELO client.example');
    expect(helo!.code).toBe(250);
    expect(helo!.lines).toHaveLength(1);
    expect(s.state()).toBe('ready');
  });

  it('EHLO inside a transaction resets it (RFC 5321 §4.1.4)', () => {
    const s = startSession({ backend: backend() });
    s.send(...ENVELOPE);
    expect(s.state()).toBe('rcpt');
    expect(codes(s.send('EHLO again.example', 'RCPT TO:<carol@example.net>'))).toEqual(['250', '503 5.5.1']);
  });
});

describe('command sequence (RFC 5321 §4.1.4, §3.3)', () => {
  it('MAIL before EHLO is 503 5.5.1', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    expect(codes(s.send('MAIL FROM:<alice@example.com>'))).toEqual(['503 5.5.1']);
    expect(s.state()).toBe('waitingForHelo');
  });

  it('nested MAIL, RCPT before MAIL and DATA before RCPT are 503 5.5.1', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    expect(codes(s.send('EHLO c.example', 'RCPT TO:<bob@example.net>', 'DATA', 'MAIL FROM:<a@example.com>', 'MAIL FROM:<a@example.com>', 'DATA'))).toEqual([
      '250',
      '503 5.5.1',
      '503 5.5.1',
      '250 2.1.0',
      '503 5.5.1',
      '503 5.5.1',
    ]);
  });

  it('DATA after every RCPT was refused is 554 5.5.1 (no valid recipients)', () => {
    const s = startSession({ backend: backend({ onRcpt: () => ({ code: 550, enhanced: '5.1.1', lines: ['unknown'] }) }) });
    s.newReplies();
    expect(codes(s.send(...ENVELOPE, 'DATA'))).toEqual(['250', '250 2.1.0', '550 5.1.1', '554 5.5.1']);
    expect(s.state()).toBe('mail');
  });

  it('RSET ends the transaction but keeps the greeting', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    expect(codes(s.send(...ENVELOPE, 'RSET', 'RCPT TO:<bob@example.net>', 'MAIL FROM:<a@example.com>'))).toEqual([
      '250',
      '250 2.1.0',
      '250 2.1.5',
      '250 2.0.0',
      '503 5.5.1',
      '250 2.1.0',
    ]);
  });

  it('NOOP 250, VRFY 252, EXPN 502, HELP 214 in any state; QUIT 221 and close', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    expect(codes(s.send('NOOP', 'VRFY bob', 'EXPN staff', 'HELP', 'QUIT'))).toEqual(['250 2.0.0', '252 2.5.0', '502 5.5.1', '214 2.0.0', '221 2.0.0']);
    expect(s.emitted.at(-1)).toEqual({ type: 'close', reason: 'quit' });
    expect(s.state()).toBe('closed');
    expect(s.actor.getSnapshot().status).toBe('done');
  });

  it('per-recipient replies: one refused recipient does not stop the others', () => {
    const s = startSession({
      backend: backend({ onRcpt: (to) => (to.startsWith('nobody') ? { code: 550, enhanced: '5.1.1', lines: ['unknown'] } : undefined) }),
    });
    s.newReplies();
    const replies = s.send('EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<bob@example.net>', 'RCPT TO:<nobody@example.net>', 'RCPT TO:<carol@example.net>', 'DATA', 'hi', '.');
    expect(codes(replies)).toEqual(['250', '250 2.1.0', '250 2.1.5', '550 5.1.1', '250 2.1.5', '354', '250 2.0.0']);
    const accepted = s.emitted.find((e) => e.type === 'accepted');
    expect(accepted && accepted.type === 'accepted' && accepted.envelope.recipients.map((r) => r.address)).toEqual(['bob@example.net', 'carol@example.net']);
  });

  it('more recipients than maxRecipients get 452 4.5.3', () => {
    const s = startSession({ backend: backend(), maxRecipients: 2 });
    s.newReplies();
    expect(codes(s.send(...ENVELOPE, 'RCPT TO:<carol@example.net>', 'RCPT TO:<dave@example.net>'))).toEqual([
      '250',
      '250 2.1.0',
      '250 2.1.5',
      '250 2.1.5',
      '452 4.5.3',
    ]);
  });
});

describe('bad commands', () => {
  it('an unknown command is 500 5.5.2, a bad argument 501', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    const replies = s.send('FOO bar', 'MAIL FROM:<not an address>');
    expect(replies.map((r) => r.code)).toEqual([500, 501]);
    expect(replies[0]!.enhanced).toBe('5.5.2');
    expect(replies[1]!.enhanced).toMatch(/^5\.\d\.\d+$/);
  });

  it('a line the framer flagged too long is 500 5.5.6', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    expect(codes(s.send(line('NOOP ' + 'x'.repeat(100), 'crlf', { tooLong: true })))).toEqual(['500 5.5.6']);
  });

  it('after maxBadCommands errors: 421 4.7.0 and close', () => {
    const s = startSession({ backend: backend(), maxBadCommands: 3 });
    s.newReplies();
    expect(codes(s.send('FOO', 'BAR'))).toEqual(['500 5.5.2', '500 5.5.2']);
    expect(codes(s.send('BAZ'))).toEqual(['421 4.7.0']);
    expect(s.emitted.at(-1)).toEqual({ type: 'close', reason: 'too-many-errors' });
  });

  it('the default limit is 10', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    const replies = s.send(...Array.from({ length: 10 }, () => 'FOO'));
    expect(codes(replies.slice(0, 9))).toEqual(Array(9).fill('500 5.5.2'));
    expect(codes(replies.slice(9))).toEqual(['421 4.7.0']);
  });
});

describe('DATA', () => {
  it('accepts with a queue id of 8-12 hex digits, the same on every run', () => {
    const run = () => {
      const s = startSession({ backend: backend() });
      s.newReplies();
      const replies = s.send(...ENVELOPE, 'DATA', 'Subject: t', '', '..leading dot', '.');
      expect(codes(replies)).toEqual(['250', '250 2.1.0', '250 2.1.5', '354', '250 2.0.0']);
      const accepted = s.emitted.find((e) => e.type === 'accepted');
      if (!accepted || accepted.type !== 'accepted') throw new Error('no accepted event');
      expect(accepted.message.text).toBe('Subject: t\r\n\r\n.leading dot\r\n');
      expect(replies.at(-1)!.lines[0]).toContain(accepted.queueId);
      return accepted.queueId;
    };
    const id = run();
    expect(id).toMatch(/^[0-9A-F]{8,12}$/);
    expect(run()).toBe(id);
  });

  it('an injected queue id source is used', () => {
    const s = startSession({ backend: backend(), queueIds: () => 'ABCDEF0123' });
    s.newReplies();
    expect(s.send(...ENVELOPE, 'DATA', '.').at(-1)!.lines[0]).toContain('ABCDEF0123');
  });

  it('ends only at <CRLF>.<CRLF>: a "." after a bare LF, or ending in a bare LF, is content', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    s.send(...ENVELOPE, 'DATA');
    expect(s.send(line('one', 'lf'), line('.', 'crlf'), line('.', 'lf'), line('two'))).toEqual([]);
    expect(s.state()).toBe('data');
    expect(codes(s.send('.'))).toEqual(['250 2.0.0']);
    expect(s.state()).toBe('ready');
  });

  it('a lenient backend also ends at <LF>.<LF> (the smuggling flaw)', () => {
    const s = startSession({ backend: backend({ lenientEndOfData: true }) });
    s.newReplies();
    s.send(...ENVELOPE, 'DATA');
    expect(codes(s.send(line('one', 'lf'), line('.', 'lf')))).toEqual(['250 2.0.0']);
    expect(codes(s.send(line('MAIL FROM:<forged@example.com>', 'lf')))).toEqual(['250 2.1.0']);
  });

  it('SIZE= over the limit is 552 5.3.4 at MAIL (RFC 1870 §6.1)', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    expect(codes(s.send('EHLO c.example', 'MAIL FROM:<a@example.com> SIZE=5000', 'MAIL FROM:<a@example.com> SIZE=500'))).toEqual([
      '250',
      '552 5.3.4',
      '250 2.1.0',
    ]);
  });

  it('a message over the limit is 552 5.3.4 at the end of data, and nothing is delivered', () => {
    let delivered = 0;
    const s = startSession({ backend: backend({ onData: () => void delivered++ }) });
    s.newReplies();
    s.send(...ENVELOPE, 'DATA');
    for (let i = 0; i < 20; i++) s.send('x'.repeat(70));
    expect(codes(s.send('.'))).toEqual(['552 5.3.4']);
    expect(delivered).toBe(0);
    expect(s.state()).toBe('ready');
  });

  it('a text line over 1000 octets is refused at the end (RFC 5321 §4.5.3.1.6)', () => {
    const s = startSession({ backend: backend({ extensions: () => ({ ...FULL, size: 0 }) }) });
    s.newReplies();
    s.send(...ENVELOPE, 'DATA', line('y'.repeat(1200), 'crlf', { tooLong: true }));
    expect(codes(s.send('.'))).toEqual(['500 5.5.6']);
  });

  it('the envelope is cleared after the end of data', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    s.send(...ENVELOPE, 'DATA', '.');
    expect(codes(s.send('RCPT TO:<bob@example.net>'))).toEqual(['503 5.5.1']);
  });
});

describe('ESMTP parameters are checked against what was advertised', () => {
  it('BODY=8BITMIME and SMTPUTF8 without the extension are 555 5.5.4', () => {
    const s = startSession({ backend: backend({ extensions: () => ({ enhancedStatusCodes: true }) }) });
    s.newReplies();
    expect(codes(s.send('EHLO c.example', 'MAIL FROM:<a@example.com> BODY=8BITMIME', 'MAIL FROM:<a@example.com> SMTPUTF8', 'MAIL FROM:<a@example.com> SIZE=10'))).toEqual([
      '250',
      '555 5.5.4',
      '555 5.5.4',
      '555 5.5.4',
    ]);
  });

  it('after HELO no parameter is allowed', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    expect(codes(s.send('HELO c.example', 'MAIL FROM:<a@example.com> BODY=8BITMIME'))).toEqual(['250', '555 5.5.4']);
  });

  it('advertised parameters go into the envelope', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    s.send('EHLO c.example', 'MAIL FROM:<a@example.com> BODY=8BITMIME SMTPUTF8 SIZE=100', 'RCPT TO:<bob@example.net>', 'DATA', '.');
    const accepted = s.emitted.find((e) => e.type === 'accepted');
    if (!accepted || accepted.type !== 'accepted') throw new Error('no accepted event');
    expect(accepted.envelope).toMatchObject({ bodyType: '8BITMIME', smtpUtf8: true, declaredSize: 100 });
  });

  it('a non-ASCII address needs SMTPUTF8 (553 5.6.7)', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    expect(codes(s.send('EHLO c.example', 'MAIL FROM:<jörg@example.com>', 'MAIL FROM:<jörg@example.com> SMTPUTF8'))).toEqual(['250', '553 5.6.7', '250 2.1.0']);
  });

  it('without ENHANCEDSTATUSCODES replies carry no enhanced code', () => {
    const s = startSession({ backend: backend({ extensions: () => ({}) }) });
    s.newReplies();
    expect(codes(s.send('HELO c.example', 'MAIL FROM:<a@example.com>', 'FOO'))).toEqual(['250', '250', '500']);
  });
});

describe('STARTTLS (RFC 3207)', () => {
  it('220 2.0.0, then the handshake; the session starts over and STARTTLS is no longer offered', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    expect(codes(s.send('EHLO c.example', 'STARTTLS'))).toEqual(['250', '220 2.0.0']);
    expect(s.emitted.at(-1)).toEqual({ type: 'starttls', handshake: 'ok' });
    expect(s.state()).toBe('tlsHandshake');
    // Plaintext pipelined behind STARTTLS is dropped unread (RFC 3207 §4.2, CVE-2011-0411).
    expect(s.send('MAIL FROM:<injected@example.com>')).toEqual([]);
    s.actor.send({ type: 'tls.established', info: { protocol: 'TLSv1.3' } });
    expect(s.state()).toBe('waitingForHelo');
    expect(codes(s.send('MAIL FROM:<a@example.com>'))).toEqual(['503 5.5.1']);
    const [ehlo] = s.send('EHLO c.example');
    expect(ehlo!.lines).not.toContain('STARTTLS');
    expect(ehlo!.lines).toContain('AUTH PLAIN LOGIN');
    expect(codes(s.send('STARTTLS'))).toEqual(['503 5.5.1']);
    expect(s.actor.getSnapshot().context.facts).toMatchObject({ tls: true, tlsInfo: { protocol: 'TLSv1.3' } });
  });

  it('STARTTLS clears the transaction and the EHLO name', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    s.send('EHLO c.example', 'STARTTLS');
    s.actor.send({ type: 'tls.established' });
    const facts = s.actor.getSnapshot().context.facts;
    expect(facts.heloName).toBeUndefined();
    expect(facts.esmtp).toBe(false);
  });

  it('STARTTLS before EHLO and during a transaction is 503 5.5.1', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    expect(codes(s.send('STARTTLS', 'EHLO c.example', 'MAIL FROM:<a@example.com>', 'STARTTLS'))).toEqual(['503 5.5.1', '250', '250 2.1.0', '503 5.5.1']);
  });

  it('a 454 4.7.0 refusal leaves the session in plaintext', () => {
    const s = startSession({ backend: backend({ onStartTls: () => ({ code: 454, enhanced: '4.7.0', lines: ['no TLS'] }) }) });
    s.newReplies();
    expect(codes(s.send('EHLO c.example', 'STARTTLS', 'MAIL FROM:<a@example.com>'))).toEqual(['250', '454 4.7.0', '250 2.1.0']);
    expect(s.emitted.some((e) => e.type === 'starttls')).toBe(false);
  });

  it('a failed handshake closes the connection', () => {
    const s = startSession({ backend: backend({ onStartTls: () => ({ handshake: 'fail' }) }) });
    s.newReplies();
    s.send('EHLO c.example', 'STARTTLS');
    expect(s.emitted.at(-1)).toEqual({ type: 'starttls', handshake: 'fail' });
    s.actor.send({ type: 'tls.failed', reason: 'handshake failure' });
    expect(s.emitted.at(-1)).toEqual({ type: 'close', reason: 'tls-failed' });
    expect(s.state()).toBe('closed');
  });

  it('STARTTLS not offered is 502 5.5.1; on an implicit-TLS connection it is 503 5.5.1', () => {
    const plain = startSession({ backend: backend({ extensions: () => ({ enhancedStatusCodes: true }) }) });
    plain.newReplies();
    expect(codes(plain.send('EHLO c.example', 'STARTTLS'))).toEqual(['250', '502 5.5.1']);
    const implicit = startSession({ backend: backend(), implicitTls: true });
    implicit.newReplies();
    expect(codes(implicit.send('EHLO c.example', 'STARTTLS'))).toEqual(['250', '503 5.5.1']);
  });
});

describe('AUTH (RFC 4954)', () => {
  const users: Record<string, string> = { 'alice@example.com': 's3cr3t' };
  const auth = (overrides: Partial<ServerBackend> = {}) =>
    backend({ authenticate: (_m, user, password) => users[user] === password, ...overrides });
  const overTls = (b: ServerBackend) => {
    const s = startSession({ backend: b, implicitTls: true });
    s.newReplies();
    s.send('EHLO c.example');
    return s;
  };

  it('PLAIN with an initial response: 235 2.7.0', () => {
    const s = overTls(auth());
    expect(codes(s.send('AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHMzY3IzdA=='))).toEqual(['235 2.7.0']);
    expect(s.actor.getSnapshot().context.facts.authenticatedUser).toBe('alice@example.com');
  });

  it('PLAIN without one: an empty 334, then the response', () => {
    const s = overTls(auth());
    const [challenge] = s.send('AUTH PLAIN');
    expect(challenge).toEqual({ code: 334, lines: [''] });
    expect(s.state()).toBe('auth');
    expect(codes(s.send(encodePlain('alice@example.com', 's3cr3t')))).toEqual(['235 2.7.0']);
    expect(s.state()).toBe('ready');
  });

  it('LOGIN asks for the user name and the password in base64', () => {
    const s = overTls(auth());
    expect(s.send('AUTH LOGIN')).toEqual([{ code: 334, lines: ['VXNlcm5hbWU6'] }]);
    expect(s.send(btoa('alice@example.com'))).toEqual([{ code: 334, lines: ['UGFzc3dvcmQ6'] }]);
    expect(codes(s.send(btoa('s3cr3t')))).toEqual(['235 2.7.0']);
  });

  it('bad credentials are 535 5.7.8', () => {
    const s = overTls(auth());
    expect(codes(s.send(`AUTH PLAIN ${encodePlain('alice@example.com', 'wrong')}`))).toEqual(['535 5.7.8']);
    expect(s.actor.getSnapshot().context.facts.authenticatedUser).toBeUndefined();
  });

  it('a SASL response longer than a text line (up to 12288 octets, RFC 4954 §4) is read, not refused as too long', () => {
    const s = overTls(auth());
    // RFC 4616 §2 allows 255 octets for each of authzid, user and password: 1024 base64 characters.
    const response = encodePlain('u'.repeat(255), 'p'.repeat(255), 'z'.repeat(255));
    expect(response.length).toBeGreaterThan(1000);
    // The framer flags lines over 1000 octets; the AUTH exchange must judge by its own limit.
    expect(codes(s.send('AUTH PLAIN', line(response, 'crlf', { tooLong: true, octets: response.length })))).toEqual(['334', '535 5.7.8']);
    expect(codes(s.send('AUTH PLAIN', line('x'.repeat(12_300), 'crlf', { tooLong: true, octets: 12_300 })))).toEqual(['334', '500 5.5.6']);
  });

  it('"*" cancels with 501 5.0.0; bad base64 is 501 5.5.2; an unknown mechanism 504 5.5.4', () => {
    const s = overTls(auth());
    expect(codes(s.send('AUTH LOGIN', '*'))).toEqual(['334', '501 5.0.0']);
    expect(codes(s.send('AUTH PLAIN', '!!!not base64'))).toEqual(['334', '501 5.5.2']);
    expect(codes(s.send('AUTH CRAM-MD5'))).toEqual(['504 5.5.4']);
    expect(s.state()).toBe('ready');
  });

  it('a second AUTH is 503 5.5.1; AUTH inside a transaction is 503 5.5.1', () => {
    const s = overTls(auth());
    expect(codes(s.send(`AUTH PLAIN ${encodePlain('alice@example.com', 's3cr3t')}`, 'AUTH PLAIN'))).toEqual(['235 2.7.0', '503 5.5.1']);
    const t = overTls(auth());
    expect(codes(t.send('MAIL FROM:<a@example.com>', 'AUTH PLAIN'))).toEqual(['250 2.1.0', '503 5.5.1']);
  });

  it('AUTH before TLS when TLS is required: 530 5.7.0, or 538 5.7.11 if the server says so', () => {
    const s = startSession({ backend: auth({ policy: { tlsRequiredForAuth: true } }) });
    s.newReplies();
    expect(codes(s.send('EHLO c.example', 'AUTH PLAIN'))).toEqual(['250', '530 5.7.0']);
    const t = startSession({ backend: auth({ policy: { tlsRequiredForAuth: true, authBeforeTlsReply: 538 } }) });
    t.newReplies();
    expect(codes(t.send('EHLO c.example', 'AUTH PLAIN'))).toEqual(['250', '538 5.7.11']);
  });

  it('AUTH not offered is 502 5.5.1', () => {
    const s = startSession({ backend: auth() });
    s.newReplies();
    expect(codes(s.send('EHLO c.example', 'AUTH PLAIN'))).toEqual(['250', '502 5.5.1']);
  });

  it('mail before TLS or before AUTH, when required: 530 5.7.0', () => {
    const policy = { tlsRequiredForMail: true, authRequiredForMail: true };
    const s = startSession({ backend: auth({ policy }) });
    s.newReplies();
    expect(codes(s.send('EHLO c.example', 'MAIL FROM:<alice@example.com>'))).toEqual(['250', '530 5.7.0']);
    expect(s.newReplies()).toEqual([]);
    expect(s.replies().at(-1)!.lines[0]).toMatch(/STARTTLS/);
    const t = overTls(auth({ policy }));
    expect(t.send('MAIL FROM:<alice@example.com>')[0]!.lines[0]).toMatch(/Authentication required/);
    expect(codes(t.send(`AUTH PLAIN ${encodePlain('alice@example.com', 's3cr3t')}`, 'MAIL FROM:<alice@example.com>'))).toEqual(['235 2.7.0', '250 2.1.0']);
  });
});

describe('PIPELINING (RFC 2920) and delays', () => {
  it('a whole batch sent at once gets its replies in order', () => {
    const s = startSession({ backend: backend() });
    s.newReplies();
    const replies = s.send('EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.net>', 'RCPT TO:<c@example.net>', 'DATA', 'body', '.', 'QUIT');
    expect(codes(replies)).toEqual(['250', '250 2.1.0', '250 2.1.5', '250 2.1.5', '354', '250 2.0.0', '221 2.0.0']);
  });

  it('a slow banner comes after its delay on the given clock; lines sent early wait their turn', () => {
    const clock = new SimulatedClock();
    const s = startSession({ backend: backend({ onConnect: () => ({ delayMs: 30_000 }) }) }, clock);
    expect(s.newReplies()).toEqual([]);
    expect(s.state()).toBe('holding');
    expect(s.send('EHLO c.example', 'NOOP')).toEqual([]);
    clock.increment(29_999);
    expect(s.newReplies()).toEqual([]);
    clock.increment(1);
    expect(codes(s.newReplies())).toEqual(['220', '250', '250 2.0.0']);
  });

  it('lines that arrive while a tarpit reply is pending are queued, never dropped, and answered in order', () => {
    const clock = new SimulatedClock();
    const slow = { delayMs: 10_000 };
    const s = startSession({ backend: backend({ onMail: () => slow, onRcpt: () => slow }) }, clock);
    s.newReplies();
    const sent = s.send('EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.net>', 'RCPT TO:<c@example.net>', 'DATA', 'x', '.', 'NOOP');
    expect(codes(sent)).toEqual(['250']);
    clock.increment(10_000);
    expect(codes(s.newReplies())).toEqual(['250 2.1.0']);
    clock.increment(10_000);
    expect(codes(s.newReplies())).toEqual(['250 2.1.5']);
    clock.increment(10_000);
    expect(codes(s.newReplies())).toEqual(['250 2.1.5', '354', '250 2.0.0', '250 2.0.0']);
    expect(s.state()).toBe('ready');
  });

  it('a backend can drop the connection without a word', () => {
    const s = startSession({ backend: backend({ onRcpt: () => ({ silent: true, close: true }) }) });
    s.newReplies();
    expect(codes(s.send(...ENVELOPE))).toEqual(['250', '250 2.1.0']);
    expect(s.emitted.at(-1)).toEqual({ type: 'close', reason: 'dropped' });
    expect(s.state()).toBe('closed');
  });

  it('disconnect ends the session and tells the backend', () => {
    let told: SessionFacts | undefined;
    const s = startSession({ backend: backend({ onDisconnect: (facts) => (told = facts) }) });
    s.send('EHLO c.example');
    s.actor.send({ type: 'disconnect' });
    expect(s.state()).toBe('closed');
    expect(told?.heloName).toBe('c.example');
  });
});

describe('cost per input', () => {
  /** A session whose microsteps (XState transitions) and hook calls are counted. */
  async function counted() {
    const { createActor } = await import('xstate');
    const { serverMachine } = await import('../../src/machines/server');
    const calls = { mail: 0, rcpt: 0, dataStart: 0, data: 0 };
    const hooks = backend({
      onMail: () => void calls.mail++,
      onRcpt: () => void calls.rcpt++,
      onDataStart: () => void calls.dataStart++,
      onData: () => void calls.data++,
    });
    let microsteps = 0;
    const actor = createActor(serverMachine, {
      input: { backend: hooks, peer: { address: '192.0.2.10', port: 40000 } },
      inspect: (event) => {
        if (event.type === '@xstate.microstep') microsteps++;
      },
    });
    const replies: string[] = [];
    actor.on('reply', (event) => replies.push(codes([event.reply])[0]!));
    actor.start();
    actor.send(line('EHLO client.example'));
    const stepsFor = (...lines: LineEvent[]): number => {
      const before = microsteps;
      actor.send(lines.length === 1 ? lines[0]! : { type: 'lines', lines });
      return microsteps - before;
    };
    const batchOfOne = (one: LineEvent): number => {
      const before = microsteps;
      actor.send({ type: 'lines', lines: [one] });
      return microsteps - before;
    };
    return { actor, calls, replies, stepsFor, batchOfOne };
  }

  const message = ['Subject: one step', '', 'Hello.', '..a dot-stuffed line'].map((text) => line(text));

  it('a command, a batch of one command, a message line and the end of data are each one transition', async () => {
    const { actor, calls, replies, stepsFor, batchOfOne } = await counted();
    expect(stepsFor(line('MAIL FROM:<alice@example.com>'))).toBe(1);
    expect(batchOfOne(line('RCPT TO:<bob@example.net>'))).toBe(1);
    expect(stepsFor(line('DATA'))).toBe(1);
    expect(stepsFor(line('Subject: one step'))).toBe(1);
    expect(stepsFor(line('.'))).toBe(1);
    expect(replies).toEqual(['220', '250', '250 2.1.0', '250 2.1.5', '354', '250 2.0.0']);
    expect(actor.getSnapshot().value).toBe('ready');
    expect(calls).toEqual({ mail: 1, rcpt: 1, dataStart: 1, data: 1 });
  });

  it('a pipelined MAIL/RCPT/DATA group is one transition, and the message with its end of data another (RFC 2920 §3.1)', async () => {
    const { actor, calls, replies, stepsFor } = await counted();
    for (let transaction = 1; transaction <= 3; transaction++) {
      expect(stepsFor(line('MAIL FROM:<alice@example.com>'), line('RCPT TO:<bob@example.net>'), line('RCPT TO:<carol@example.net>'), line('DATA'))).toBe(1);
      expect(actor.getSnapshot().value).toBe('data');
      expect(stepsFor(...message, line('.'))).toBe(1);
      expect(actor.getSnapshot().value).toBe('ready');
      // Each hook once per line, as if the lines had come one by one.
      expect(calls).toEqual({ mail: transaction, rcpt: 2 * transaction, dataStart: transaction, data: transaction });
    }
    expect(replies.slice(-5)).toEqual(['250 2.1.0', '250 2.1.5', '250 2.1.5', '354', '250 2.0.0']);
  });

  it('message text without its end is one transition however many lines it has', async () => {
    const { actor, replies, stepsFor } = await counted();
    stepsFor(line('MAIL FROM:<alice@example.com>'), line('RCPT TO:<bob@example.net>'), line('DATA'));
    // (Short lines: this backend offers SIZE 1000.)
    expect(stepsFor(...Array.from({ length: 200 }, (_, i) => line(String(i % 10))))).toBe(1);
    expect(stepsFor(line('last line'), line('.'))).toBe(1);
    expect(replies.at(-1)).toBe('250 2.0.0');
    expect(actor.getSnapshot().context.facts.messagesAccepted).toBe(1);
  });

  it('a group that goes on past DATA costs one more transition for the lines behind the 354, and one for those behind the end', async () => {
    const { actor, calls, replies, stepsFor } = await counted();
    const steps = stepsFor(line('MAIL FROM:<alice@example.com>'), line('RCPT TO:<bob@example.net>'), line('DATA'), ...message, line('.'), line('NOOP'), line('QUIT'));
    expect(steps).toBe(3);
    expect(replies.slice(1)).toEqual(['250', '250 2.1.0', '250 2.1.5', '354', '250 2.0.0', '250 2.0.0', '221 2.0.0']);
    expect(actor.getSnapshot().value).toBe('closed');
    expect(calls).toEqual({ mail: 1, rcpt: 1, dataStart: 1, data: 1 });
  });
});
