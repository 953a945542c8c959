/**
 * wsLink against the real thing: the bridge (startBridge) in front of real SMTP servers nobody
 * here wrote (smtp-server) and our own smtpd, and a real DNS server (dnsmasq) behind
 * resolveViaBridge. Everything on loopback, on ephemeral ports.
 */
import { createServer } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startBridge, type BridgeHandle } from '../../src/bridge/server';
import { ReplyParser, type Reply } from '../../src/protocol/reply';
import { startSmtpd, type RunningSmtpd } from '../../src/smtpd/server';
import { BridgeConnectError, bridgeLinkFactory, connectViaBridge, resolveViaBridge, type BridgeLink } from '../../src/net/wsLink';
import type { LinkEvents, TlsReport } from '../../src/net/link';
import type { WebSocketConstructor } from '../../src/net/bridgeClient';
import { startDnsmasq, startSmtpPeer, TEST_ORIGIN, type DnsServer, type SmtpPeer } from '../bridge/helpers';

/** Node 20 has no global WebSocket: the `ws` client, sending the Origin a browser on the app would send. */
class AppWebSocket extends WebSocket {
  constructor(url: string) {
    super(url, { origin: TEST_ORIGIN });
  }
}

class ForeignWebSocket extends WebSocket {
  constructor(url: string) {
    super(url, { origin: 'http://evil.example' });
  }
}

const viaApp = { WebSocketImpl: AppWebSocket };

// In the browser the global WebSocket is used; `npm run check` proves its class fits the same option.
const browserWebSocketFits: WebSocketConstructor | undefined = (globalThis as { WebSocket?: typeof globalThis.WebSocket }).WebSocket;
void browserWebSocketFits;

/** What a terminal does with a Link: collect replies and remember how it ended. */
class Session {
  private readonly parser = new ReplyParser();
  private readonly replies: Reply[] = [];
  private waiters: Array<() => void> = [];
  readonly tlsEvents: TlsReport[] = [];
  closed: LinkEvents['close'] | null = null;

  constructor(readonly link: BridgeLink) {
    link.on('data', (text) => {
      this.replies.push(...this.parser.push(text));
      this.wake();
    });
    link.on('tls', (report) => this.tlsEvents.push(report));
    link.on('close', (event) => {
      this.closed = event;
      this.wake();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  private wait(what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10_000);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async reply(): Promise<Reply> {
    for (;;) {
      const next = this.replies.shift();
      if (next) return next;
      if (this.closed) throw new Error(`closed before a reply: ${this.closed.reason}`);
      await this.wait('a reply');
    }
  }

  async command(line: string): Promise<Reply> {
    this.link.send(`${line}\r\n`);
    return this.reply();
  }

  async closing(): Promise<LinkEvents['close']> {
    while (!this.closed) await this.wait('the close');
    return this.closed;
  }
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let peer: SmtpPeer;
let smtpd: RunningSmtpd;
let dns: DnsServer;
let bridge: BridgeHandle;
let idleBridge: BridgeHandle;
let deadPort: number;
const bridgeLog: string[] = [];

beforeAll(async () => {
  [peer, smtpd, dns, deadPort] = await Promise.all([
    startSmtpPeer(),
    startSmtpd({ persona: 'friendly', port: 0, tlsPort: 0, summary: () => undefined }),
    startDnsmasq([
      '--mx-host=mail.test,mx.mail.test,10',
      '--mx-host=mail.test,backup.mail.test,20',
      '--host-record=mx.mail.test,127.0.0.1',
      '--host-record=backup.mail.test,127.0.0.2',
      '--txt-record=mail.test,v=spf1 mx -all',
      '--local=/test/',
    ]),
    closedPort(),
  ]);
  bridge = await startBridge({
    port: 0,
    dnsServers: [dns.server],
    policy: { localPorts: [peer.port, smtpd.port, smtpd.tlsPort!, deadPort] },
    log: (line) => bridgeLog.push(line),
  });
  idleBridge = await startBridge({
    port: 0,
    policy: { localPorts: [peer.port] },
    limits: { idleMs: 300 },
    log: () => undefined,
  });
});

afterAll(async () => {
  await idleBridge?.close();
  await bridge?.close();
  await Promise.all([peer?.close(), smtpd?.close(), dns?.close()]);
});

describe('connectViaBridge to a real SMTP server (smtp-server)', () => {
  it('carries banner, EHLO, STARTTLS with the certificate report, a dot-stuffed message and QUIT', async () => {
    const link = await connectViaBridge(bridge.url, { host: '127.0.0.1', port: peer.port, tls: 'none' }, viaApp);
    const session = new Session(link);
    expect(link.host).toBe('127.0.0.1');
    expect(link.port).toBe(peer.port);
    expect(link.remoteAddress).toBe('127.0.0.1');
    expect(link.resolvedFrom).toBeNull();
    expect(link.secure).toBe(false);

    const banner = await session.reply();
    expect(banner.code).toBe(220);
    expect(banner.lines.join(' ')).toContain('mx.mail.test');

    const ehlo = await session.command('EHLO client.test');
    expect(ehlo.code).toBe(250);
    expect(ehlo.lines).toContain('STARTTLS');

    expect((await session.command('STARTTLS')).code).toBe(220);
    const report = await link.startTls({ serverName: 'mx.mail.test' });
    const x509 = new X509Certificate(peer.cert);
    expect(report.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(report.authorized).toBe(false);
    expect(report.authorizationError).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(report.certificate?.subject).toBe('CN=mx.mail.test');
    expect(report.certificate?.fingerprint256).toBe(x509.fingerprint256);
    expect(report.certificate?.san).toEqual(['DNS:mx.mail.test']);
    expect(link.secure).toBe(true);
    expect(link.tlsReport).toEqual(report);
    expect(session.tlsEvents).toEqual([report]);
    await expect(link.startTls()).rejects.toThrow(/already/);

    // RFC 3207 section 4.2: the session starts over after TLS, so EHLO again.
    const ehloAgain = await session.command('EHLO client.test');
    expect(ehloAgain.code).toBe(250);
    expect(ehloAgain.lines).not.toContain('STARTTLS');

    expect((await session.command('MAIL FROM:<learner@example.com>')).code).toBe(250);
    expect((await session.command('RCPT TO:<friend@mail.test>')).code).toBe(250);
    expect((await session.command('DATA')).code).toBe(354);
    const message = ['Subject: through wsLink', '', 'first line', '.a dot line', 'caf\u00e9', ''].join('\r\n');
    // RFC 5321 section 4.5.2: the client doubles a leading dot, the server removes it.
    link.send(`${message.replace(/^\./gm, '..')}.\r\n`);
    expect((await session.reply()).code).toBe(250);

    expect((await session.command('QUIT')).code).toBe(221);
    const closed = await session.closing();
    expect(closed.by).toBe('server');
    expect(link.closed).toBe(true);

    const stored = peer.received.at(-1)!;
    expect(stored.secure).toBe(true);
    expect(stored.to).toEqual(['friend@mail.test']);
    expect(stored.body.toString('utf8')).toBe(message);
  });

  it('splits a send larger than a bridge frame into several frames, and the server gets every byte', async () => {
    const link = await connectViaBridge(bridge.url, { host: '127.0.0.1', port: peer.port, tls: 'none' }, viaApp);
    const session = new Session(link);
    expect((await session.reply()).code).toBe(220);
    expect((await session.command('EHLO client.test')).code).toBe(250);
    expect((await session.command('MAIL FROM:<learner@example.com>')).code).toBe(250);
    expect((await session.command('RCPT TO:<friend@mail.test>')).code).toBe(250);
    expect((await session.command('DATA')).code).toBe(354);
    const line = `${'x'.repeat(70)} \u00e9\u2014\ud83d\udce8\r\n`;
    const body = `Subject: big\r\n\r\n${line.repeat(4000)}`;
    expect(body.length * 6).toBeGreaterThan(bridge.limits.maxFrameBytes * 4);
    link.send(`${body}.\r\n`);
    expect((await session.reply()).code).toBe(250);
    expect((await session.command('QUIT')).code).toBe(221);
    await session.closing();
    expect(peer.received.at(-1)!.body.toString('utf8')).toBe(body);
  });

  it('close() hangs up at once and reports the client closed', async () => {
    const link = await connectViaBridge(bridge.url, { host: '127.0.0.1', port: peer.port, tls: 'none' }, viaApp);
    const session = new Session(link);
    expect((await session.reply()).code).toBe(220);
    link.close();
    expect(link.closed).toBe(true);
    expect(await session.closing()).toEqual({ by: 'client', reason: 'closed by the client' });
    link.send('NOOP\r\n'); // ignored once closed, as the Link contract says
    await expect(link.startTls()).rejects.toThrow(/closed/);
  });
});

describe('connectViaBridge to smtpd', () => {
  it('does implicit TLS: the link is secure when it resolves and the report is the first event', async () => {
    const link = await connectViaBridge(bridge.url, { host: '127.0.0.1', port: smtpd.tlsPort!, tls: 'implicit' }, viaApp);
    const session = new Session(link);
    expect(link.secure).toBe(true);
    const banner = await session.reply();
    expect(banner.code).toBe(220);
    expect(banner.lines.join(' ')).toContain(smtpd.hostname);
    expect(session.tlsEvents).toHaveLength(1);
    expect(session.tlsEvents[0]!.authorized).toBe(false);
    expect(session.tlsEvents[0]!.certificate?.subject).toContain(smtpd.hostname);
    expect((await session.command('EHLO client.test')).code).toBe(250);
    expect((await session.command('QUIT')).code).toBe(221);
    expect((await session.closing()).by).toBe('server');
  });

  it('reaches the MX host by name through the bridge resolver (telnet mx.mail.test)', async () => {
    // dnsmasq says mx.mail.test is 127.0.0.1; the bridge looks it up once and dials that address.
    const link = await connectViaBridge(bridge.url, { host: 'mx.mail.test', port: smtpd.port, tls: 'none' }, viaApp);
    const session = new Session(link);
    expect(link.resolvedFrom).toBe('mx.mail.test');
    expect(link.remoteAddress).toBe('127.0.0.1');
    expect((await session.reply()).code).toBe(220);
    expect((await session.command('EHLO client.test')).lines).toContain('STARTTLS');
    expect((await session.command('STARTTLS')).code).toBe(220);
    const report = await link.startTls();
    expect(report.authorized).toBe(false);
    expect(report.authorizationError).toBeTruthy();
    expect((await session.command('EHLO client.test')).code).toBe(250);
    expect((await session.command('QUIT')).code).toBe(221);
  });

  it('works as a LinkFactory (465 and the given ports do implicit TLS)', async () => {
    const factory = bridgeLinkFactory(bridge.url, { ...viaApp, implicitTlsPorts: [smtpd.tlsPort!] });
    const link = await factory('127.0.0.1', smtpd.tlsPort!);
    expect(link.secure).toBe(true);
    link.close();
    const plain = await factory('127.0.0.1', smtpd.port);
    expect(plain.secure).toBe(false);
    plain.close();
  });
});

describe('errors in plain words', () => {
  async function refusal(host: string, port: number): Promise<BridgeConnectError> {
    const error = await connectViaBridge(bridge.url, { host, port, tls: 'none' }, viaApp).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(BridgeConnectError);
    return error as BridgeConnectError;
  }

  it('a loopback port that is not a mail port is refused, naming the rule', async () => {
    const error = await refusal('127.0.0.1', 22);
    expect(error.code).toBe('policy');
    expect(error.bridgeCode).toBe('refused-by-policy');
    expect(error.rule).toBe('loopback-port');
    const ports = [25, 465, 587, 2525, ...[peer.port, smtpd.port, smtpd.tlsPort!, deadPort].sort((a, b) => a - b)];
    expect(error.message).toBe(`The bridge refused to connect to 127.0.0.1:22: on this machine only the mail ports ${ports.join(', ')} are reachable (policy rule: loopback-port).`);
  });

  it('a private address is refused, naming the rule', async () => {
    const error = await refusal('10.0.0.1', 25);
    expect(error.rule).toBe('private-ipv4');
    expect(error.message).toContain('10.0.0.1:25');
    expect(error.message).toContain('private-ipv4');
  });

  it('a port nobody listens on says the connection was refused', async () => {
    const error = await refusal('127.0.0.1', deadPort);
    expect(error.code).toBe('refused');
    expect(error.bridgeCode).toBe('connect-failed');
    expect(error.message).toBe(`No connection: connection refused: nothing is listening on 127.0.0.1:${deadPort}.`);
  });

  it('a name with no address says it cannot be found', async () => {
    const error = await refusal('nosuch.mail.test', 25);
    expect(error.code).toBe('unknown-host');
    expect(error.message).toBe('Cannot find nosuch.mail.test: nosuch.mail.test does not exist (NXDOMAIN).');
  });

  it('a page from another origin cannot use the bridge, and the message says what to check', async () => {
    const error = await connectViaBridge(bridge.url, { host: '127.0.0.1', port: peer.port, tls: 'none' }, { WebSocketImpl: ForeignWebSocket }).then(
      () => null,
      (caught: unknown) => caught as BridgeConnectError,
    );
    expect(error).toBeInstanceOf(BridgeConnectError);
    expect(error!.bridgeCode).toBe('bridge-unreachable');
    expect(error!.message).toContain(bridge.url);
    expect(error!.message).toMatch(/origin/);
    expect(bridgeLog.some((line) => line.includes('refused-origin') && line.includes('http://evil.example'))).toBe(true);
  });

  it('an idle session ended by the bridge closes the link with the limit in words', async () => {
    const link = await connectViaBridge(idleBridge.url, { host: '127.0.0.1', port: peer.port, tls: 'none' }, viaApp);
    const session = new Session(link);
    expect((await session.reply()).code).toBe(220);
    const closed = await session.closing();
    expect(closed.by).toBe('bridge');
    expect(closed.reason).toMatch(/^The bridge closed the connection: nothing happened for 0\.3 s \(idle limit\)\.$/);
  });
});

describe('resolveViaBridge against dnsmasq', () => {
  it('answers MX sorted by preference, printed like dig', async () => {
    const result = await resolveViaBridge(bridge.url, 'mail.test', 'MX', viaApp);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.status).toBe('NOERROR');
    expect(result.answers.map((record) => (record.type === 'MX' ? [record.preference, record.exchange] : null))).toEqual([
      [10, 'mx.mail.test'],
      [20, 'backup.mail.test'],
    ]);
    expect(result.query).toEqual({ name: 'mail.test', type: 'MX', short: false });
    expect(result.text).toContain(';; ->>HEADER<<- opcode: QUERY, status: NOERROR');
    expect(result.text).toContain('ANSWER: 2');
    expect(result.text).toMatch(/\n;; ANSWER SECTION:\nmail\.test\.\t+0\tIN\tMX\t10 mx\.mail\.test\.\nmail\.test\.\t+0\tIN\tMX\t20 backup\.mail\.test\.\n/);
  });

  it('answers A with the TTL, TXT with its strings, and +short with the data only', async () => {
    const a = await resolveViaBridge(bridge.url, 'MX.mail.test.', 'a', viaApp);
    expect(a.ok && a.answers).toEqual([{ type: 'A', name: 'mx.mail.test', ttl: expect.any(Number), address: '127.0.0.1' }]);
    expect(a.ok && a.text).toMatch(/\nmx\.mail\.test\.\t+\d+\tIN\tA\t127\.0\.0\.1\n/);

    const txt = await resolveViaBridge(bridge.url, 'mail.test', 'TXT', viaApp);
    expect(txt.ok && txt.text).toMatch(/\tIN\tTXT\t"v=spf1 mx -all"\n/);

    const short = await resolveViaBridge(bridge.url, 'mail.test', 'MX', { ...viaApp, short: true });
    expect(short.ok && short.text).toBe('10 mx.mail.test.\n20 backup.mail.test.\n');
  });

  it('reports NXDOMAIN and NODATA as dig does', async () => {
    const missing = await resolveViaBridge(bridge.url, 'nosuch.mail.test', 'MX', viaApp);
    expect(missing.ok && missing.status).toBe('NXDOMAIN');
    expect(missing.ok && missing.answers).toEqual([]);
    expect(missing.ok && missing.text).toContain('status: NXDOMAIN');
    expect(missing.ok && missing.text).not.toContain('ANSWER SECTION');

    const nodata = await resolveViaBridge(bridge.url, 'mx.mail.test', 'MX', viaApp);
    expect(nodata.ok && nodata.status).toBe('NOERROR');
    expect(nodata.ok && nodata.text).toContain('ANSWER: 0');
  });

  it('refuses what it cannot ask, in words', async () => {
    expect(await resolveViaBridge(bridge.url, 'mail.test', 'TLSA', viaApp)).toEqual({
      ok: false,
      error: 'dig: record type TLSA is not looked up in real mode (use MX, A, AAAA, TXT)',
    });
    const bad = await resolveViaBridge(bridge.url, 'bad name.test', 'A', viaApp);
    expect(bad.ok).toBe(false);
    const unreachable = await resolveViaBridge(bridge.url, 'mail.test', 'MX', { WebSocketImpl: ForeignWebSocket });
    expect(unreachable.ok).toBe(false);
    expect(!unreachable.ok && unreachable.error).toContain('cannot reach the bridge');
  });
});
