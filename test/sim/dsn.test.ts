import { describe, expect, it } from 'vitest';
import { buildDsn, parseDsn, type DsnInput } from '../../src/sim/dsn';
import { WORLD_EPOCH } from '../../src/sim/clock';
import { parseMessage, headerValue, looksLikeDsn } from '../../src/sim/mailbox';

const HOUR = 3_600_000;
const ORIGINAL = 'From: Alice <alice@example.com>\r\nTo: bob@example.net, carol@example.net, erin@full.example\r\nSubject: Lunch?\r\nMessage-ID: <lunch.1@example.com>\r\n\r\nShall we meet at noon?\r\n';

const input: DsnInput = {
  reportingMta: 'smtp.example.com',
  originalSender: '<alice@example.com>',
  arrivalDate: WORLD_EPOCH,
  date: WORLD_EPOCH + 2 * HOUR,
  originalMessage: ORIGINAL,
  originalEnvelopeId: 'QQ314159',
  recipients: [
    {
      finalRecipient: 'bob@example.net',
      originalRecipient: 'bob@example.net',
      action: 'failed',
      status: '5.1.1',
      remoteMta: 'mx1.example.net',
      diagnosticCode: '550 5.1.1 <bob@example.net>: Recipient address rejected: user unknown',
      lastAttemptDate: WORLD_EPOCH + 2 * HOUR,
    },
    {
      finalRecipient: 'erin@full.example',
      action: 'delayed',
      status: '4.2.2',
      remoteMta: 'mx.full.example',
      diagnosticCode: '452 4.2.2 Mailbox full; try again later',
      lastAttemptDate: WORLD_EPOCH + HOUR,
      willRetryUntil: WORLD_EPOCH + 5 * 24 * HOUR,
    },
    { finalRecipient: 'carol@example.net', action: 'delivered', status: '2.0.0', remoteMta: 'mx1.example.net' },
  ],
};

describe('buildDsn', () => {
  const built = buildDsn(input);
  const message = parseMessage(built.text);

  it('is sent with the null reverse path to the original sender', () => {
    expect(built.envelope).toEqual({ mailFrom: '', rcptTo: ['alice@example.com'] });
  });

  it('is a multipart/report from MAILER-DAEMON', () => {
    expect(headerValue(message.headers, 'From')).toBe('Mail Delivery System <MAILER-DAEMON@smtp.example.com>');
    expect(headerValue(message.headers, 'To')).toBe('<alice@example.com>');
    expect(headerValue(message.headers, 'Auto-Submitted')).toBe('auto-replied');
    expect(looksLikeDsn(message.headers)).toBe(true);
    expect(built.text).toContain('Content-Type: message/delivery-status\r\n');
    expect(built.text).toContain('Content-Type: text/rfc822-headers\r\n');
  });

  it('uses CRLF line ends only and keeps lines within 998 octets (RFC 5322 §2.1.1)', () => {
    expect(built.text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    expect(built.text.split('\r\n').every((l) => l.length <= 998)).toBe(true);
  });

  it('writes the RFC 3464 fields', () => {
    for (const line of [
      'Reporting-MTA: dns; smtp.example.com',
      'Original-Envelope-Id: QQ314159',
      'Arrival-Date: Tue, 10 Mar 2026 09:00:00 +0000',
      'Final-Recipient: rfc822; bob@example.net',
      'Action: failed',
      'Status: 5.1.1',
      'Remote-MTA: dns; mx1.example.net',
      'Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected: user unknown',
      'Last-Attempt-Date: Tue, 10 Mar 2026 11:00:00 +0000',
      'Will-Retry-Until: Sun, 15 Mar 2026 09:00:00 +0000',
    ]) {
      expect(built.text.split('\r\n')).toContain(line);
    }
  });

  it('quotes the original headers but not the body', () => {
    expect(built.text).toContain('Message-ID: <lunch.1@example.com>');
    expect(built.text).not.toContain('Shall we meet at noon?');
  });

  it('keeps a CRLF in a diagnostic from forging a field', () => {
    const evil = buildDsn({ ...input, recipients: [{ ...input.recipients[0]!, diagnosticCode: '550 no\r\nAction: delivered' }] });
    const parsed = parseDsn(evil.text);
    expect(parsed.ok && parsed.dsn.recipients.map((r) => r.action)).toEqual(['failed']);
  });

  it('is the same text for the same input', () => {
    expect(buildDsn(input).text).toBe(built.text);
  });

  it.each([
    [['failed'], 'Undelivered Mail Returned to Sender'],
    [['delayed'], 'Delayed Mail (still being retried)'],
    [['failed', 'delayed'], 'Delivery Status Notification'],
  ] as const)('subject for %j is %s', (actions, subject) => {
    const text = buildDsn({ ...input, recipients: actions.map((action, i) => ({ ...input.recipients[i]!, action })) }).text;
    expect(headerValue(parseMessage(text).headers, 'Subject')).toBe(subject);
  });

  it('refuses a report about nobody', () => {
    expect(() => buildDsn({ ...input, recipients: [] })).toThrow(/at least one recipient/);
  });
});

describe('parseDsn', () => {
  it('reads back what buildDsn wrote, for every recipient', () => {
    const parsed = parseDsn(buildDsn(input).text);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const { dsn } = parsed;
    expect(dsn.reportingMta).toBe('smtp.example.com');
    expect(dsn.arrivalDate).toBe(input.arrivalDate);
    expect(dsn.originalEnvelopeId).toBe('QQ314159');
    expect(dsn.subject).toBe('Delivery Status Notification');
    expect(dsn.recipients.map(({ fields: _fields, ...rest }) => rest)).toEqual(input.recipients);
    expect(headerValue(dsn.originalHeaders, 'Subject')).toBe('Lunch?');
    expect(dsn.humanReadable).toContain('<bob@example.net> could not be delivered (status 5.1.1)');
    expect(dsn.humanReadable).toContain('<erin@full.example> has not been delivered yet');
  });

  it('reads a DSN written by another MTA, with LF line ends and a quoted boundary', () => {
    const foreign = [
      'From: MAILER-DAEMON@mx.example.org.test',
      'Content-Type: multipart/report; boundary="=_b 1"; report-type="delivery-status"',
      '',
      '--=_b 1',
      '',
      'Sorry.',
      '--=_b 1',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns;mx.example.org.test',
      '',
      'Final-Recipient: RFC822;dave@strict.example',
      'Action: Failed',
      'Status: 5.1.1',
      'Diagnostic-Code: smtp; 550-5.1.1 The email account does not exist;',
      '    please check the address',
      '--=_b 1--',
    ].join('\n');
    const parsed = parseDsn(foreign);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.dsn.reportingMta).toBe('mx.example.org.test');
    expect(parsed.dsn.humanReadable).toBe('Sorry.');
    expect(parsed.dsn.recipients).toHaveLength(1);
    expect(parsed.dsn.recipients[0]).toMatchObject({
      finalRecipient: 'dave@strict.example',
      action: 'failed',
      status: '5.1.1',
      diagnosticCode: '550-5.1.1 The email account does not exist; please check the address',
    });
  });

  it.each([
    ['Subject: hi\r\n\r\nplain mail', /expected multipart\/report/],
    ['Content-Type: multipart/report; report-type=disposition-notification; boundary=x\r\n\r\n--x--', /report-type is disposition-notification/],
    ['Content-Type: multipart/report; report-type=delivery-status\r\n\r\n', /no boundary/],
    ['Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\nno parts', /no part starts with --x/],
    ['Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--', /no message\/delivery-status part/],
    [
      'Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; a.test\r\n\r\nFinal-Recipient: rfc822; b@a.test\r\nStatus: 5.0.0\r\n--x--',
      /lacks Action/,
    ],
  ])('explains why %j is not a DSN', (text, message) => {
    const parsed = parseDsn(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(message);
  });
});
