import { describe, expect, it } from 'vitest';
import { EventLog } from '../../src/sim/events';
import { Mailboxes, headerValue, headerValues, mailboxKey, parseMessage } from '../../src/sim/mailbox';
import { WORLD_EPOCH } from '../../src/sim/clock';

const MESSAGE = [
  'Received: from smtp.example.com by mx1.example.net;',
  '\tTue, 10 Mar 2026 09:00:05 +0000',
  'Received: from client.example.com by smtp.example.com',
  'From: Alice <alice@example.com>',
  'To: Bob <bob@example.net>,',
  '  Carol <carol@example.net>',
  'Subject: Lunch?',
  '',
  'Shall we meet at noon?',
  '',
  '-- ',
  'Alice',
  '',
].join('\r\n');

describe('parseMessage', () => {
  it('unfolds headers and splits off the body', () => {
    const parsed = parseMessage(MESSAGE);
    expect(parsed.headers.map((h) => h.name)).toEqual(['Received', 'Received', 'From', 'To', 'Subject']);
    expect(headerValue(parsed.headers, 'to')).toBe('Bob <bob@example.net>, Carol <carol@example.net>');
    expect(headerValues(parsed.headers, 'RECEIVED')).toEqual([
      'from smtp.example.com by mx1.example.net; Tue, 10 Mar 2026 09:00:05 +0000',
      'from client.example.com by smtp.example.com',
    ]);
    expect(parsed.body).toBe('Shall we meet at noon?\n\n-- \nAlice\n');
    expect(parsed.malformed).toEqual([]);
  });

  it('keeps lines that are not fields instead of dropping them', () => {
    const parsed = parseMessage('Subject: hi\nthis is not a header\n\nbody');
    expect(parsed.malformed).toEqual(['this is not a header']);
    expect(parsed.body).toBe('body');
  });

  it('treats a message without a blank line as all header', () => {
    const parsed = parseMessage('Subject: only headers');
    expect(parsed.headers).toEqual([{ name: 'Subject', value: 'only headers' }]);
    expect(parsed.body).toBe('');
  });
});

describe('Mailboxes', () => {
  it('stores a copy per recipient, in order, and tells subscribers', () => {
    const boxes = new Mailboxes();
    const heard: string[] = [];
    const stop = boxes.subscribe((m) => heard.push(`${m.recipient}:${m.id}`));
    const envelope = { mailFrom: 'alice@example.com', rcptTo: ['bob@example.net', 'carol@example.net'] };
    for (const rcpt of envelope.rcptTo) boxes.deliver(rcpt, { envelope, raw: MESSAGE, deliveredAt: WORLD_EPOCH + 5000, deliveredBy: 'mx1.example.net' });
    stop();
    boxes.deliver('bob@EXAMPLE.NET', { envelope, raw: MESSAGE, deliveredAt: WORLD_EPOCH + 9000, deliveredBy: 'mx2.example.net' });

    expect(heard).toEqual(['bob@example.net:m1', 'carol@example.net:m2']);
    expect(boxes.list('bob@example.net').map((m) => m.deliveredBy)).toEqual(['mx1.example.net', 'mx2.example.net']);
    expect(boxes.list('<carol@example.net>')).toHaveLength(1);
    expect(boxes.list('dave@example.net')).toEqual([]);
    expect(boxes.addresses()).toEqual(['bob@example.net', 'carol@example.net']);
    expect(boxes.all().map((m) => m.id)).toEqual(['m1', 'm2', 'm3']);
    const first = boxes.list('bob@example.net')[0]!;
    expect(headerValue(first.headers, 'Subject')).toBe('Lunch?');
    expect(first.isDsn).toBe(false);
    expect(first.envelope).toEqual(envelope);
    expect(first.envelope).not.toBe(envelope);
  });

  it('keeps the local part as written (RFC 5321 §2.4) and lower-cases the domain', () => {
    expect(mailboxKey('Bob@Example.NET')).toBe('Bob@example.net');
    expect(mailboxKey(' <bob@example.net> ')).toBe('bob@example.net');
  });

  it('recognises a delivery status notification', () => {
    const boxes = new Mailboxes();
    const dsn = 'From: MAILER-DAEMON@smtp.example.com\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="x"\r\n\r\n--x--\r\n';
    const stored = boxes.deliver('alice@example.com', { envelope: { mailFrom: '', rcptTo: ['alice@example.com'] }, raw: dsn, deliveredAt: WORLD_EPOCH, deliveredBy: 'mx.example.com' });
    expect(stored.isDsn).toBe(true);
    expect(stored.envelope.mailFrom).toBe('');
  });
});

describe('EventLog', () => {
  it('appends in order, numbers events and notifies until unsubscribed', () => {
    const log = new EventLog();
    const heard: number[] = [];
    const stop = log.subscribe((e) => heard.push(e.seq));
    log.append({ kind: 'dns-query', at: WORLD_EPOCH, host: 'smtp.example.com', name: 'example.net', type: 'MX', status: 'NOERROR', answers: ['10 mx1.example.net.'] });
    log.append({ kind: 'connection', at: WORLD_EPOCH + 10, host: 'mx1.example.net', connectionId: 'c1', client: 'smtp.example.com', port: 25, outcome: 'connected' });
    stop();
    const reply = log.append({ kind: 'reply', at: WORLD_EPOCH + 20, host: 'mx1.example.net', connectionId: 'c1', reply: { code: 220, lines: ['mx1.example.net ESMTP'] } });
    expect(heard).toEqual([1, 2]);
    expect(reply.seq).toBe(3);
    expect(log.size).toBe(3);
    expect(log.all().map((e) => e.kind)).toEqual(['dns-query', 'connection', 'reply']);
    expect(log.since(1).map((e) => e.seq)).toEqual([2, 3]);
    expect(log.ofKind('reply')[0]!.reply.code).toBe(220);
    expect(Object.isFrozen(reply)).toBe(true);
  });
});
