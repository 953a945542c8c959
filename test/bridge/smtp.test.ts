/**
 * The bridge against real peers nobody here wrote: smtp-server (STARTTLS, AUTH) and dnsmasq.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type BridgeHandle } from '../../src/bridge/server';
import { BridgeClient, SMTP_PASSWORD, SMTP_USER, startDnsmasq, startSmtpPeer, type DnsServer, type SmtpPeer } from './helpers';

let peer: SmtpPeer;
let dns: DnsServer;
let bridge: BridgeHandle;
const logLines: string[] = [];

beforeAll(async () => {
  peer = await startSmtpPeer();
  dns = await startDnsmasq([
    '--mx-host=mail.test,mx.mail.test,10',
    '--mx-host=mail.test,backup.mail.test,20',
    '--host-record=mx.mail.test,127.0.0.1',
    '--host-record=backup.mail.test,127.0.0.2',
    '--txt-record=mail.test,v=spf1 mx -all',
    // Answer NXDOMAIN / NODATA for other names under .test instead of REFUSED (there is no upstream).
    '--local=/test/',
  ]);
  bridge = await startBridge({
    port: 0,
    dnsServers: [dns.server],
    policy: { localPorts: [peer.port] },
    log: (line) => logLines.push(line),
  });
});

afterAll(async () => {
  await bridge?.close();
  await peer?.close();
  await dns?.close();
});

describe('an SMTP transaction through the bridge to smtp-server', () => {
  it('does banner, EHLO, STARTTLS with a certificate report, AUTH, and delivers the message byte for byte', async () => {
    const client = await BridgeClient.open(bridge.url);
    const hello = await client.next('hello');
    expect(hello.version).toBe(1);
    expect(hello.policy.loopbackPorts).toContain(peer.port);

    client.send({ type: 'connect', host: '127.0.0.1', port: peer.port, tls: 'none' });
    const connected = await client.next('connected');
    expect(connected).toMatchObject({ remoteAddress: '127.0.0.1', remotePort: peer.port, resolvedFrom: null, tls: 'none' });

    const banner = await client.readReply();
    expect(banner.code).toBe(220);
    expect(banner.lines[0]).toContain('mx.mail.test');

    const ehlo = await client.command('EHLO client.test');
    expect(ehlo.code).toBe(250);
    expect(ehlo.lines).toContain('STARTTLS');
    // smtp-server refuses AUTH before TLS here (allowInsecureAuth: false): 538, RFC 4954 section 6.
    expect((await client.command('AUTH PLAIN')).code).toBe(538);

    expect((await client.command('STARTTLS')).code).toBe(220);
    client.send({ type: 'starttls', servername: 'mx.mail.test' });
    const tls = await client.next('tls');
    const x509 = new X509Certificate(peer.cert);
    expect(tls.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(tls.cipher.length).toBeGreaterThan(0);
    expect(tls.certificate?.subject).toBe('CN=mx.mail.test');
    expect(tls.certificate?.issuer).toBe('CN=mx.mail.test');
    expect(tls.certificate?.fingerprint256).toBe(x509.fingerprint256);
    expect(tls.certificate?.san).toEqual(['DNS:mx.mail.test']);
    expect(tls.certificate?.validTo).toBe(x509.validTo);
    expect(tls.authorized).toBe(false);
    expect(tls.authorizationError).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');

    const ehloAgain = await client.command('EHLO client.test');
    expect(ehloAgain.code).toBe(250);
    expect(ehloAgain.lines).not.toContain('STARTTLS');
    expect(ehloAgain.lines).toContain('AUTH PLAIN LOGIN');

    // AUTH LOGIN: RFC 4954 section 4 challenges, base64 username then password.
    expect((await client.command('AUTH LOGIN')).code).toBe(334);
    expect((await client.command(Buffer.from(SMTP_USER).toString('base64'))).code).toBe(334);
    const authed = await client.command(Buffer.from(SMTP_PASSWORD).toString('base64'));
    expect(authed.code).toBe(235);

    expect((await client.command('MAIL FROM:<learner@example.com>')).code).toBe(250);
    expect((await client.command('RCPT TO:<friend@mail.test>')).code).toBe(250);
    expect((await client.command('DATA')).code).toBe(354);

    const message = [
      'From: learner@example.com',
      'To: friend@mail.test',
      'Subject: dots and bytes',
      '',
      'A line that starts with a dot follows.',
      '.hidden',
      '..two dots',
      '.',
      'caf\u00e9 \u2014 UTF-8 text',
      '',
    ].join('\r\n');
    // RFC 5321 section 4.5.2: the client doubles a leading dot; the server removes it.
    const stuffed = message.replace(/^\./gm, '..');
    client.send({ type: 'send', data: `${stuffed}.\r\n` });
    const accepted = await client.readReply();
    expect(accepted.code).toBe(250);

    expect((await client.command('QUIT')).code).toBe(221);
    const closed = await client.next('closed');
    expect(closed.by).toBe('server');

    expect(peer.received).toHaveLength(1);
    const stored = peer.received[0]!;
    expect(stored.user).toBe(SMTP_USER);
    expect(stored.secure).toBe(true);
    expect(stored.from).toBe('learner@example.com');
    expect(stored.to).toEqual(['friend@mail.test']);
    expect(stored.body.equals(Buffer.from(message, 'utf8'))).toBe(true);
    expect(createHash('sha256').update(stored.body).digest('hex')).toBe(createHash('sha256').update(message, 'utf8').digest('hex'));

    await client.closed;
    const sessionLine = logLines.find((line) => line.includes(`target=127.0.0.1:${peer.port}`) && line.includes('end=server-closed'));
    expect(sessionLine).toMatch(/tls=TLSv1\.[23]\(unverified\)/);
    expect(sessionLine).toMatch(/bytes_to_server=\d+ bytes_from_server=\d+ duration=[\d.]+s/);
  });

  it('ends the session with tls-failed when the browser asks for a verified certificate and it is self-signed', async () => {
    const client = await BridgeClient.open(bridge.url);
    client.send({ type: 'connect', host: '127.0.0.1', port: peer.port, tls: 'none' });
    await client.next('connected');
    await client.readReply();
    await client.command('EHLO client.test');
    expect((await client.command('STARTTLS')).code).toBe(220);
    client.send({ type: 'starttls', servername: 'mx.mail.test', rejectUnauthorized: true });
    const tls = await client.next('tls');
    expect(tls.authorized).toBe(false);
    const error = await client.next('error');
    expect(error.code).toBe('tls-failed');
    expect(error.message).toContain('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect((await client.next('closed')).by).toBe('bridge');
  });

  it('reports authorized: true when the certificate is trusted and matches the name', async () => {
    const trusting = await startBridge({ port: 0, policy: { localPorts: [peer.port] }, trustedCa: [peer.cert], log: () => undefined });
    try {
      const client = await BridgeClient.open(trusting.url);
      client.send({ type: 'connect', host: '127.0.0.1', port: peer.port, tls: 'none' });
      await client.readReply();
      await client.command('EHLO client.test');
      await client.command('STARTTLS');
      client.send({ type: 'starttls', servername: 'mx.mail.test', rejectUnauthorized: true });
      const tls = await client.next('tls');
      expect(tls.authorized).toBe(true);
      expect(tls.authorizationError).toBeUndefined();
      expect((await client.command('EHLO client.test')).code).toBe(250);
      client.send({ type: 'close' });
      expect((await client.next('closed')).by).toBe('client');
    } finally {
      await trusting.close();
    }
  });

  it('connects with implicit TLS (port 465 style) and reports the certificate before the banner', async () => {
    const implicit = await startSmtpPeer({ secure: true });
    const tlsBridge = await startBridge({ port: 0, policy: { localPorts: [implicit.port] }, log: () => undefined });
    try {
      const client = await BridgeClient.open(tlsBridge.url);
      client.send({ type: 'connect', host: 'localhost', port: implicit.port, tls: 'implicit', servername: 'mx.mail.test' });
      expect(await client.next('connected')).toMatchObject({ remoteAddress: '127.0.0.1', resolvedFrom: 'localhost', tls: 'implicit' });
      const tls = await client.next('tls');
      expect(tls.certificate?.fingerprint256).toBe(new X509Certificate(implicit.cert).fingerprint256);
      expect(tls.authorized).toBe(false);
      expect((await client.readReply()).code).toBe(220);
      expect((await client.command('QUIT')).code).toBe(221);
    } finally {
      await tlsBridge.close();
      await implicit.close();
    }
  });

  it('reports the server closing and a connect to a closed port', async () => {
    const gone = await startSmtpPeer();
    const port = gone.port;
    await gone.close();
    const refusedBridge = await startBridge({ port: 0, policy: { localPorts: [port] }, log: () => undefined });
    try {
      const client = await BridgeClient.open(refusedBridge.url);
      client.send({ type: 'connect', host: '127.0.0.1', port, tls: 'none' });
      const error = await client.next('error');
      expect(error.code).toBe('connect-failed');
      expect(error.message).toContain('ECONNREFUSED');
      expect((await client.next('closed')).by).toBe('bridge');
    } finally {
      await refusedBridge.close();
    }
  });
});

describe('DNS through the bridge with dnsmasq', () => {
  it('resolves MX, A and TXT records from the local DNS server', async () => {
    const client = await BridgeClient.open(bridge.url);
    client.send({ type: 'resolve', id: 'q1', name: 'mail.test', rrtype: 'MX' });
    const mx = await client.next('resolved');
    expect(mx.id).toBe('q1');
    expect('answers' in mx && mx.answers).toEqual([
      { rrtype: 'MX', exchange: 'mx.mail.test', preference: 10 },
      { rrtype: 'MX', exchange: 'backup.mail.test', preference: 20 },
    ]);
    client.send({ type: 'resolve', id: 'q2', name: 'mx.mail.test', rrtype: 'A' });
    const a = await client.next('resolved');
    expect('answers' in a && a.answers.map((answer) => answer.rrtype === 'A' && answer.address)).toEqual(['127.0.0.1']);
    client.send({ type: 'resolve', id: 'q3', name: 'mail.test', rrtype: 'TXT' });
    const txt = await client.next('resolved');
    expect('answers' in txt && txt.answers).toEqual([{ rrtype: 'TXT', text: 'v=spf1 mx -all', chunks: ['v=spf1 mx -all'] }]);
    client.send({ type: 'resolve', id: 'q4', name: 'nowhere.mail.test', rrtype: 'MX' });
    const missing = await client.next('resolved');
    expect('error' in missing && missing.error.code).toBe('nxdomain');
    client.close();
  });

  it('connects to the MX host by name and reaches the local SMTP server', async () => {
    const before = peer.received.length;
    const client = await BridgeClient.open(bridge.url);
    client.send({ type: 'resolve', id: 'mx', name: 'mail.test', rrtype: 'MX' });
    const mx = await client.next('resolved');
    const exchange = 'answers' in mx && mx.answers[0]!.rrtype === 'MX' ? mx.answers[0]!.exchange : '';
    expect(exchange).toBe('mx.mail.test');
    client.send({ type: 'connect', host: exchange, port: peer.port, tls: 'none' });
    const connected = await client.next('connected');
    expect(connected).toMatchObject({ remoteAddress: '127.0.0.1', resolvedFrom: 'mx.mail.test' });
    const banner = await client.readReply();
    expect(banner.code).toBe(220);
    expect((await client.command('EHLO client.test')).code).toBe(250);
    expect((await client.command('MAIL FROM:<a@example.com>')).code).toBe(250);
    expect((await client.command('RCPT TO:<b@mail.test>')).code).toBe(250);
    expect((await client.command('DATA')).code).toBe(354);
    expect((await client.command('Subject: by name\r\n\r\nhello\r\n.')).code).toBe(250);
    await client.command('QUIT');
    expect(peer.received.length).toBe(before + 1);
    expect(peer.received[before]!.body.toString()).toBe('Subject: by name\r\n\r\nhello\r\n');
  });
});
