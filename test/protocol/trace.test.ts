import { describe, expect, it } from 'vitest';
import { formatRfc5322Date, receivedField, returnPathField, withProtocol } from '../../src/protocol/trace';

describe('trace fields (RFC 5321 §4.4)', () => {
  it('names the protocol as RFC 3848 does', () => {
    expect(withProtocol({ esmtp: false, tls: false, authenticated: false })).toBe('SMTP');
    expect(withProtocol({ esmtp: true, tls: false, authenticated: false })).toBe('ESMTP');
    expect(withProtocol({ esmtp: true, tls: true, authenticated: false })).toBe('ESMTPS');
    expect(withProtocol({ esmtp: true, tls: false, authenticated: true })).toBe('ESMTPA');
    expect(withProtocol({ esmtp: true, tls: true, authenticated: true })).toBe('ESMTPSA');
    expect(withProtocol({ esmtp: true, tls: true, authenticated: false, utf8: true })).toBe('UTF8SMTPS');
  });

  it('writes a folded Received field; "for" only with a single recipient', () => {
    const at = Date.UTC(2026, 2, 10, 9, 0, 0);
    const one = receivedField({ heloName: 'smtp.example.com', peerAddress: '192.0.2.25', by: 'mx1.example.net', protocol: 'ESMTPS', queueId: 'ABC123', recipients: ['bob@example.net'], tls: 'TLSv1.3 TLS_AES_256_GCM_SHA384', at });
    expect(one).toBe(
      'Received: from smtp.example.com ([192.0.2.25])\r\n\tby mx1.example.net (smtp-lab) with ESMTPS id ABC123\r\n\t(TLSv1.3 TLS_AES_256_GCM_SHA384)\r\n\tfor <bob@example.net>; Tue, 10 Mar 2026 09:00:00 +0000\r\n',
    );
    const two = receivedField({ peerAddress: '192.0.2.25', by: 'mx1.example.net', protocol: 'SMTP', queueId: 'X', recipients: ['bob@example.net', 'carol@example.net'], at });
    expect(two).not.toContain('bob@example.net');
    expect(two).toContain('from unknown ([192.0.2.25])');
    expect(two.endsWith('\t; Tue, 10 Mar 2026 09:00:00 +0000\r\n')).toBe(true);
  });

  it('Return-Path carries the envelope sender, <> for a bounce', () => {
    expect(returnPathField('alice@example.com')).toBe('Return-Path: <alice@example.com>\r\n');
    expect(returnPathField('')).toBe('Return-Path: <>\r\n');
  });

  it('formats dates as RFC 5322 §3.3 does', () => {
    expect(formatRfc5322Date(Date.UTC(2026, 0, 4, 23, 5, 9))).toBe('Sun, 4 Jan 2026 23:05:09 +0000');
  });
});
