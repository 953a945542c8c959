/**
 * The bridge must not be an open proxy: forbidden targets refused with the rule named and never
 * dialled, Origin checked, every limit enforced, and malformed frames harmless.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type BridgeHandle, type BridgeOptions } from '../../src/bridge/server';
import { parseClientMessage } from '../../src/net/wire';
import {
  BridgeClient,
  plainTransaction,
  startCountingListener,
  startDnsmasq,
  startSmtpPeer,
  TEST_ORIGIN,
  type CountingListener,
  type DnsServer,
  type SmtpPeer,
} from './helpers';

let peer: SmtpPeer;
let dns: DnsServer;
let bridge: BridgeHandle;
const listeners: CountingListener[] = [];
let onLoopback: CountingListener;
let onLoopback2: CountingListener;
let onIpv6Loopback: CountingListener | null = null;
const logLines: string[] = [];
const extraBridges: BridgeHandle[] = [];

async function bridgeWith(options: BridgeOptions): Promise<BridgeHandle> {
  const handle = await startBridge({ port: 0, policy: { localPorts: [peer.port] }, log: (line) => logLines.push(line), ...options });
  extraBridges.push(handle);
  return handle;
}

beforeAll(async () => {
  peer = await startSmtpPeer({ disabledCommands: ['STARTTLS', 'AUTH'] });
  dns = await startDnsmasq([
    '--host-record=private.test,10.1.2.3',
    '--host-record=meta.test,169.254.169.254',
    '--host-record=loop.test,127.0.0.1',
    '--host-record=mapped.test,::ffff:127.0.0.1',
    '--local=/test/',
  ]);
  onLoopback = await startCountingListener('127.0.0.1');
  onLoopback2 = await startCountingListener('127.0.0.2');
  listeners.push(onLoopback, onLoopback2);
  try {
    onIpv6Loopback = await startCountingListener('::1');
    listeners.push(onIpv6Loopback);
  } catch {
    onIpv6Loopback = null; // no IPv6 loopback on this machine; the IPv4 listeners still count
  }
  bridge = await startBridge({
    port: 0,
    dnsServers: [dns.server],
    policy: { localPorts: [peer.port] },
    limits: { maxSessionsPerClient: 100, maxSessionsTotal: 200 },
    log: (line) => logLines.push(line),
  });
});

afterAll(async () => {
  for (const handle of extraBridges) await handle.close();
  await bridge?.close();
  for (const listener of listeners) await listener.close();
  await peer?.close();
  await dns?.close();
});

describe('forbidden targets', () => {
  const forbidden = (): Array<[host: string, port: number, rule: string]> => {
    const p = onLoopback.port;
    const p2 = onLoopback2.port;
    const p6 = onIpv6Loopback?.port ?? p;
    return [
      ['127.0.0.1', p, 'loopback-port'],
      ['localhost', p, 'loopback-port'],
      ['LOCALHOST', p, 'loopback-port'],
      ['[::1]', p6, 'loopback-port'],
      ['::1', p6, 'loopback-port'],
      ['127.0.0.2', p2, 'loopback-port'],
      ['loop.test', p, 'loopback-port'],
      ['localhost', 22, 'loopback-port'],
      ['127.0.0.1', 8080, 'loopback-port'],
      ['127.0.0.1', 6379, 'loopback-port'],
      ['2130706433', p, 'ipv4-spelling'],
      ['0177.0.0.1', p, 'ipv4-spelling'],
      ['0x7f.0.0.1', p, 'ipv4-spelling'],
      ['0x7f000001', p, 'ipv4-spelling'],
      ['127.1', p, 'ipv4-spelling'],
      ['017700000001', 25, 'ipv4-spelling'],
      ['127.0.0.1.', p, 'ipv4-spelling'],
      ['0', 25, 'ipv4-spelling'],
      ['[::ffff:127.0.0.1]', p, 'ipv4-mapped-ipv6'],
      ['[::ffff:7f00:1]', 25, 'ipv4-mapped-ipv6'],
      ['[::ffff:10.0.0.1]', 25, 'ipv4-mapped-ipv6'],
      ['[::ffff:169.254.169.254]', 80, 'ipv4-mapped-ipv6'],
      ['mapped.test', p, 'ipv4-mapped-ipv6'],
      ['[::]', p, 'unspecified'],
      ['0.0.0.0', p, 'unspecified'],
      ['0.0.0.0', 25, 'unspecified'],
      ['10.0.0.1', 25, 'private-ipv4'],
      ['172.16.5.4', 25, 'private-ipv4'],
      ['172.31.255.255', 465, 'private-ipv4'],
      ['192.168.1.1', 587, 'private-ipv4'],
      ['private.test', 25, 'private-ipv4'],
      ['169.254.169.254', 80, 'cloud-metadata'],
      ['169.254.169.254', 25, 'cloud-metadata'],
      ['meta.test', 80, 'cloud-metadata'],
      ['169.254.1.1', 25, 'link-local'],
      ['[fe80::1]', 25, 'link-local'],
      ['[fe80::1%eth0]', 25, 'ipv6-zone'],
      ['[fc00::1]', 25, 'unique-local-ipv6'],
      ['[fd12:3456::1]', 25, 'unique-local-ipv6'],
      ['100.64.0.1', 25, 'cgnat'],
      ['224.0.0.1', 25, 'multicast'],
      ['[ff02::1]', 25, 'multicast'],
      ['255.255.255.255', 25, 'broadcast'],
      ['240.0.0.1', 25, 'reserved-ipv4'],
      ['192.0.2.10', 25, 'documentation'],
      ['[2001:db8::1]', 25, 'documentation'],
      ['198.18.0.1', 25, 'benchmarking'],
      ['[64:ff9b::7f00:1]', 25, 'nat64'],
      ['[2002:7f00:1::]', 25, '6to4'],
      ['[2001:0:7f00:1::]', 25, 'teredo'],
      ['8.8.8.8', 25, 'public-disabled'],
      ['evil host', 25, 'invalid-host'],
    ];
  };

  it('refuses at least 40 forbidden targets, each with its rule, and dials none of them', async () => {
    const cases = forbidden();
    expect(cases.length).toBeGreaterThanOrEqual(40);
    const outcomes = await Promise.all(
      cases.map(async ([host, port, rule]) => {
        const client = await BridgeClient.open(bridge.url);
        client.send({ type: 'connect', host, port, tls: 'none' });
        const error = await client.next('error');
        const closed = await client.next('closed');
        return { host, port, expected: rule, code: error.code, rule: error.rule, message: error.message, closedBy: closed.by, connected: client.frames.some((frame) => frame.type === 'connected') };
      }),
    );
    for (const outcome of outcomes) {
      expect(outcome, `${outcome.host}:${outcome.port}`).toMatchObject({ code: 'refused-by-policy', rule: outcome.expected, closedBy: 'bridge', connected: false });
      expect(outcome.message.length).toBeGreaterThan(10);
    }
    for (const listener of listeners) expect(listener.connections, `${listener.host}:${listener.port}`).toBe(0);
    expect(logLines.filter((line) => line.startsWith('bridge refused ')).length).toBeGreaterThanOrEqual(cases.length);
  });

  it('does reach the same listener once it is allowed, so the zero count above means something', async () => {
    const allowing = await bridgeWith({ policy: { allow: [`127.0.0.1:${onLoopback.port}`] } });
    const client = await BridgeClient.open(allowing.url);
    client.send({ type: 'connect', host: '127.0.0.1', port: onLoopback.port, tls: 'none' });
    expect((await client.next('connected')).remoteAddress).toBe('127.0.0.1');
    expect((await client.readReply()).code).toBe(220);
    await client.next('closed');
    expect(onLoopback.connections).toBe(1);
  });
});

describe('Origin', () => {
  it('refuses a wrong or missing Origin with HTTP 403 and accepts the app origin', async () => {
    await expect(BridgeClient.open(bridge.url, 'http://evil.example')).rejects.toThrow('HTTP 403');
    await expect(BridgeClient.open(bridge.url, 'http://localhost:5174')).rejects.toThrow('HTTP 403');
    await expect(BridgeClient.open(bridge.url, null)).rejects.toThrow('HTTP 403');
    const ok = await BridgeClient.open(bridge.url, TEST_ORIGIN);
    expect((await ok.next('hello')).version).toBe(1);
    ok.close();
    expect(logLines.some((line) => line.includes('refused-origin') && line.includes('http://evil.example'))).toBe(true);
  });
});

describe('limits', () => {
  const limitLogged = (limit: string): boolean => logLines.some((line) => line.startsWith('bridge limit') && line.includes(`limit=${limit}`));

  it('sessions per client address', async () => {
    const limited = await bridgeWith({ limits: { maxSessionsPerClient: 2 } });
    const first = await BridgeClient.open(limited.url);
    const second = await BridgeClient.open(limited.url);
    await first.next('hello');
    await second.next('hello');
    const third = await BridgeClient.open(limited.url);
    const error = await third.next('error');
    expect(error).toMatchObject({ code: 'limit', rule: 'sessions-per-client' });
    expect(await third.closed).toBe(1013);
    expect(limitLogged('sessions-per-client')).toBe(true);
    first.close();
    await first.closed;
    await new Promise((resolve) => setTimeout(resolve, 50));
    const again = await BridgeClient.open(limited.url);
    expect((await again.next('hello')).type).toBe('hello');
    second.close();
    again.close();
  });

  it('sessions in total', async () => {
    const limited = await bridgeWith({ limits: { maxSessionsTotal: 3 } });
    const open = await Promise.all([0, 1, 2].map(() => BridgeClient.open(limited.url)));
    for (const client of open) await client.next('hello');
    const fourth = await BridgeClient.open(limited.url);
    expect(await fourth.next('error')).toMatchObject({ code: 'limit', rule: 'sessions-total' });
    expect(limitLogged('sessions-total')).toBe(true);
    for (const client of open) client.close();
  });

  it('idle time', async () => {
    const limited = await bridgeWith({ limits: { idleMs: 300 } });
    const client = await BridgeClient.open(limited.url);
    client.send({ type: 'connect', host: '127.0.0.1', port: peer.port, tls: 'none' });
    expect((await client.readReply()).code).toBe(220);
    const error = await client.next('error');
    expect(error).toMatchObject({ code: 'timeout', rule: 'idle' });
    expect((await client.next('closed')).by).toBe('bridge');
    expect(limitLogged('idle')).toBe(true);
  });

  it('session length, even while traffic flows', async () => {
    const limited = await bridgeWith({ limits: { sessionMs: 600, idleMs: 10_000 } });
    const client = await BridgeClient.open(limited.url);
    client.send({ type: 'connect', host: '127.0.0.1', port: peer.port, tls: 'none' });
    await client.readReply();
    const ticker = setInterval(() => client.send({ type: 'send', data: 'NOOP\r\n' }), 100);
    try {
      const error = await client.next('error');
      expect(error).toMatchObject({ code: 'timeout', rule: 'session-length' });
    } finally {
      clearInterval(ticker);
    }
    expect(limitLogged('session-length')).toBe(true);
  });

  it('bytes to the server', async () => {
    const limited = await bridgeWith({ limits: { maxBytesToServer: 100 } });
    const client = await BridgeClient.open(limited.url);
    client.send({ type: 'connect', host: '127.0.0.1', port: peer.port, tls: 'none' });
    await client.readReply();
    expect((await client.command('EHLO client.test')).code).toBe(250);
    client.send({ type: 'send', data: `NOOP ${'x'.repeat(100)}\r\n` });
    expect(await client.next('error')).toMatchObject({ code: 'limit', rule: 'bytes-to-server' });
    expect(limitLogged('bytes-to-server')).toBe(true);
  });

  it('bytes from the server', async () => {
    const limited = await bridgeWith({ limits: { maxBytesFromServer: 60 } });
    const client = await BridgeClient.open(limited.url);
    client.send({ type: 'connect', host: '127.0.0.1', port: peer.port, tls: 'none' });
    await client.readReply();
    client.send({ type: 'send', data: 'EHLO client.test\r\n' });
    expect(await client.next('error')).toMatchObject({ code: 'limit', rule: 'bytes-from-server' });
    expect(limitLogged('bytes-from-server')).toBe(true);
  });

  it('send frames (commands) per session', async () => {
    const limited = await bridgeWith({ limits: { maxSendFrames: 3 } });
    const client = await BridgeClient.open(limited.url);
    client.send({ type: 'connect', host: '127.0.0.1', port: peer.port, tls: 'none' });
    await client.readReply();
    for (let i = 0; i < 3; i++) expect((await client.command('NOOP')).code).toBe(250);
    client.send({ type: 'send', data: 'NOOP\r\n' });
    expect(await client.next('error')).toMatchObject({ code: 'limit', rule: 'send-frames' });
    expect(limitLogged('send-frames')).toBe(true);
  });

  it('frame size', async () => {
    const limited = await bridgeWith({ limits: { maxFrameBytes: 1000 } });
    const client = await BridgeClient.open(limited.url);
    await client.next('hello');
    client.send({ type: 'send', data: 'x'.repeat(2000) });
    expect(await client.next('error')).toMatchObject({ code: 'limit', rule: 'max-frame-bytes' });
    expect(limitLogged('max-frame-bytes')).toBe(true);
  });

  it('lookups per session', async () => {
    const limited = await bridgeWith({ limits: { maxResolves: 2 }, dnsServers: [dns.server] });
    const client = await BridgeClient.open(limited.url);
    const answers = [];
    for (const id of ['1', '2', '3']) {
      client.send({ type: 'resolve', id, name: 'loop.test', rrtype: 'A' });
      answers.push(await client.next('resolved'));
    }
    expect(answers.map((answer) => ('answers' in answer ? 'ok' : answer.error.code))).toEqual(['ok', 'ok', 'limit']);
    expect(await client.next('error')).toMatchObject({ code: 'limit', rule: 'resolves' });
    expect(limitLogged('resolves')).toBe(true);
  });

  it('malformed frames per session', async () => {
    const limited = await bridgeWith({ limits: { maxBadFrames: 3 } });
    const client = await BridgeClient.open(limited.url);
    for (let i = 0; i < 3; i++) client.sendRaw('{not json');
    for (let i = 0; i < 3; i++) expect((await client.next('error')).code).toBe('bad-frame');
    expect(await client.next('error')).toMatchObject({ code: 'limit', rule: 'bad-frames' });
    expect(limitLogged('bad-frames')).toBe(true);
  });
});

describe('malformed and random frames', () => {
  it('answers 10,000 malformed frames with bad-frame errors, does not crash, and keeps serving other sessions', async () => {
    const fuzzBridge = await bridgeWith({ limits: { maxBadFrames: 1_000_000, maxSessionsPerClient: 100 } });
    const validType = fc.constantFrom('resolve', 'connect', 'starttls', 'send', 'close', 'hello', '');
    const textFrame = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 100 }),
      fc.json({ maxDepth: 3 }),
      fc.record({ type: validType, host: fc.anything(), port: fc.anything(), data: fc.anything(), id: fc.anything(), tls: fc.anything() }, { requiredKeys: ['type'] }).map((value) => JSON.stringify(value)),
      fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 })).map((value) => JSON.stringify(value)),
    );
    // Only frames the validator rejects, so every frame must earn exactly one bad-frame error.
    const malformedText = textFrame.filter((text) => {
      const parsed = parseClientMessage(text);
      return !parsed.ok && Buffer.byteLength(text) < 60_000;
    });
    const frames = fc.sample(fc.oneof({ arbitrary: malformedText, weight: 9 }, { arbitrary: fc.uint8Array({ maxLength: 64 }), weight: 1 }), { numRuns: 10_000, seed: 20240607 });
    expect(frames.length).toBe(10_000);

    const sessions = 20;
    const perSession = frames.length / sessions;
    const clients = await Promise.all(Array.from({ length: sessions }, () => BridgeClient.open(fuzzBridge.url)));
    // Meanwhile a well-behaved session completes a transaction.
    const bystander = BridgeClient.open(fuzzBridge.url).then(async (client) => {
      client.send({ type: 'connect', host: '127.0.0.1', port: peer.port, tls: 'none' });
      return plainTransaction(client, 'a@example.com', 'b@mail.test', 'Subject: during fuzz\r\n\r\nstill here');
    });
    clients.forEach((client, index) => {
      for (const frame of frames.slice(index * perSession, (index + 1) * perSession)) {
        if (typeof frame === 'string') client.sendRaw(frame);
        else client.sendRaw(Buffer.from(frame), true);
      }
    });
    await Promise.all(
      clients.map(async (client) => {
        for (let i = 0; i < perSession; i++) expect((await client.next('error')).code).toBe('bad-frame');
        client.close();
      }),
    );
    expect((await bystander).code).toBe(250);
    const after = await BridgeClient.open(fuzzBridge.url);
    after.send({ type: 'connect', host: '127.0.0.1', port: peer.port, tls: 'none' });
    expect((await plainTransaction(after, 'c@example.com', 'd@mail.test', 'Subject: after fuzz\r\n\r\nok')).code).toBe(250);
  }, 60_000);
});
