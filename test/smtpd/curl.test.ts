// curl's SMTP client with --ssl-reqd: it must get TLS or give up, never send in plaintext.
import { describe, expect, it } from 'vitest';
import { startSmtpd } from '../../src/smtpd/server';
import { deliveredMessages, requireCommand, run, temporaryMaildir } from './helpers';

const message = 'From: alice@example.com\r\nTo: bob@example.net\r\nSubject: curl\r\n\r\nSent with curl.\r\n';

async function curlAgainst(persona: string, options: { variant?: string; verify?: boolean; implicitTls?: boolean } = {}) {
  requireCommand('curl', 'curl');
  const dir = await temporaryMaildir();
  const server = await startSmtpd({
    persona,
    port: 0,
    maildir: dir.path,
    ...(options.implicitTls ? { tlsPort: 0 } : {}),
    ...(options.variant ? { variant: options.variant } : {}),
  });
  try {
    const url = options.implicitTls ? `smtps://127.0.0.1:${server.tlsPort}` : `smtp://127.0.0.1:${server.port}`;
    const result = await run(
      'curl',
      [
        '--silent', '--show-error', '--max-time', '15',
        url, '--ssl-reqd', ...(options.verify ? [] : ['-k']),
        '--mail-from', 'alice@example.com', '--mail-rcpt', 'bob@example.net', '--upload-file', '-',
      ],
      { input: message },
    );
    return { ...result, delivered: await deliveredMessages(dir.path) };
  } finally {
    await server.close();
    await dir.remove();
  }
}

describe('curl --ssl-reqd', () => {
  it('sends through friendly over STARTTLS', async () => {
    const result = await curlAgainst('friendly');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.delivered).toHaveLength(1);
    expect(result.delivered[0]!.content.toString()).toBe(message);
  });

  it('sends through friendly over implicit TLS (smtps://)', async () => {
    const result = await curlAgainst('friendly', { implicitTls: true });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.delivered[0]!.envelope.tls?.[0]).toMatch(/^TLSv1\.[23] /);
  });

  it('tls-broken refuse: 454 to STARTTLS, curl stops before sending (exit 64)', async () => {
    const result = await curlAgainst('tls-broken', { variant: 'refuse' });
    // CURLE_USE_SSL_FAILED: the server would not do TLS and --ssl-reqd forbids going on.
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/STARTTLS denied, code 454/);
    expect(result.delivered).toEqual([]);
  });

  it('tls-broken handshake: the handshake fails (exit 35)', async () => {
    const result = await curlAgainst('tls-broken', { variant: 'handshake' });
    // CURLE_SSL_CONNECT_ERROR.
    expect(result.code).toBe(35);
    expect(result.stderr).toMatch(/curl: \(35\) .*(wrong version number|packet length too long|unexpected eof|record layer failure)/i);
    expect(result.delivered).toEqual([]);
  });

  it('tls-broken untrusted: a verifying curl refuses the certificate (exit 60)', async () => {
    const result = await curlAgainst('tls-broken', { variant: 'untrusted', verify: true });
    // CURLE_PEER_FAILED_VERIFICATION.
    expect(result.code).toBe(60);
    expect(result.stderr).toMatch(/curl: \(60\) SSL certificate problem: (certificate has expired|self[- ]signed certificate)/);
    expect(result.delivered).toEqual([]);
  });

  it('tls-broken untrusted: even with -k the certificate is the broken one (expired, wrong name)', async () => {
    // With -k curl goes on; the point here is the certificate the variant really serves.
    const dir = await temporaryMaildir();
    const server = await startSmtpd({ persona: 'tls-broken', variant: 'untrusted', port: 0, maildir: dir.path });
    try {
      const result = await run('openssl', ['s_client', '-starttls', 'smtp', '-connect', `127.0.0.1:${server.port}`, '-verify_return_error'], {
        input: 'QUIT\r\n',
        timeoutMs: 15_000,
      });
      const output = result.stdout + result.stderr;
      expect(output).toMatch(/verify error:num=(10|18):(certificate has expired|self[- ]signed certificate)/);
      expect(output).toMatch(/ 0 s:CN ?= ?wrong-name\.invalid\n/);
      const notAfter = /NotAfter: (.+ GMT)/.exec(output)?.[1];
      expect(notAfter).toBeDefined();
      expect(new Date(notAfter!).getTime()).toBeLessThan(Date.now());
    } finally {
      await server.close();
      await dir.remove();
    }
  });
});
