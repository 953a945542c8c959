/**
 * The connect timeout against a target that really never answers: a loopback listener whose
 * accept queue is full, so the kernel drops the bridge's SYNs and connect() neither succeeds nor
 * fails. The bridge must give up on its own timer, tell the browser, free the session and log it.
 */
import { connect as netConnect, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeUsage, parseBridgeArgs, UsageError } from '../../src/bridge/args';
import { DEFAULT_LIMITS, startBridge, type BridgeHandle, type BridgeOptions } from '../../src/bridge/server';
import { BridgeClient, startCountingListener, startUnansweredTarget, type CountingListener, type UnansweredTarget } from './helpers';

const CONNECT_TIMEOUT_SECONDS = '0.5';
const CONNECT_TIMEOUT_MS = 500;
/** Node timers run on the event loop's millisecond clock, which may lag a real clock by a tick. */
const TIMER_SLACK_MS = 20;

let unanswered: UnansweredTarget;
let answering: CountingListener;
let silent: TcpServer;
let silentPort: number;
const silentSockets = new Set<Socket>();
let bridge: BridgeHandle;
const logLines: string[] = [];

beforeAll(async () => {
  unanswered = await startUnansweredTarget();
  answering = await startCountingListener('127.0.0.1');
  // Accepts and never says a word: TCP is up, a TLS handshake waits forever.
  silent = createTcpServer((socket) => {
    silentSockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
  const address = silent.address();
  silentPort = typeof address === 'object' && address ? address.port : 0;

  // Built from the command line the user would type, so the flag is tested end to end.
  // One session per client: a session the timeout failed to free would block the next one.
  const options = parseBridgeArgs([
    '--port', '0',
    '--connect-timeout-seconds', CONNECT_TIMEOUT_SECONDS,
    '--max-sessions-per-client', '1',
    '--local-port', String(unanswered.port),
    '--local-port', String(answering.port),
    '--local-port', String(silentPort),
  ]) as BridgeOptions;
  bridge = await startBridge({ ...options, log: (line) => logLines.push(line) });
});

afterAll(async () => {
  await bridge?.close();
  for (const socket of silentSockets) socket.destroy();
  await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
  await answering?.close();
  await unanswered?.close();
});

describe('the --connect-timeout-seconds flag', () => {
  it('takes fractions of a second, keeps the 10 s default, and refuses zero', () => {
    const options = parseBridgeArgs(['--connect-timeout-seconds', '0.5']);
    expect(options).toMatchObject({ limits: { connectTimeoutMs: 500 } });
    expect(parseBridgeArgs([])).toMatchObject({ limits: {} });
    expect(DEFAULT_LIMITS.connectTimeoutMs).toBe(10_000);
    expect(bridgeUsage()).toMatch(/--connect-timeout-seconds N\s+give up a TCP\/TLS connect after this long \(default 10\)/);
    expect(() => parseBridgeArgs(['--connect-timeout-seconds', '0'])).toThrow(UsageError);
    expect(() => parseBridgeArgs(['--connect-timeout-seconds', 'soon'])).toThrow('--connect-timeout-seconds needs a positive number, got "soon"');
  });
});

describe('a target that never answers the connect', () => {
  it('ends in a timeout error to the browser, frees the session, and is logged', async () => {
    const client = await BridgeClient.open(bridge.url);
    const hello = await client.next('hello');
    expect(hello.limits.connectTimeoutMs).toBe(CONNECT_TIMEOUT_MS);

    // A direct connect of our own, started alongside the bridge's: it shows the target hangs
    // (no refusal, no reset), so what ends the bridge's attempt is the bridge's own timer.
    const probe = netConnect({ host: '127.0.0.1', port: unanswered.port });
    const probeEvents: string[] = [];
    probe.on('connect', () => probeEvents.push('connect'));
    probe.on('error', (error: NodeJS.ErrnoException) => probeEvents.push(`error ${error.code}`));

    const started = performance.now();
    client.send({ type: 'connect', host: '127.0.0.1', port: unanswered.port, tls: 'none' });
    // Waiting at most half the default timeout: the configured 0.5 s is what counts, not the 10 s default.
    const error = await client.next('error', DEFAULT_LIMITS.connectTimeoutMs / 2);
    const waited = performance.now() - started;

    expect(error.code).toBe('timeout');
    expect(error.rule).toBeUndefined();
    expect(error.message).toBe(`cannot connect to 127.0.0.1:${unanswered.port}(127.0.0.1): no answer within 0.5 s (connect timeout)`);
    expect(waited).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - TIMER_SLACK_MS);
    expect(probe.connecting).toBe(true);
    expect(probeEvents).toEqual([]);
    probe.destroy();

    const closed = await client.next('closed');
    expect(closed).toEqual({ type: 'closed', by: 'bridge', reason: 'connect timeout' });
    expect(await client.closed).toBe(1000);
    expect(client.frames.map((frame) => frame.type)).toEqual(['hello', 'error', 'closed']);
    expect(bridge.sessionCount()).toBe(0);

    const ending = logLines.filter((line) => line.includes(`target=127.0.0.1:${unanswered.port}(127.0.0.1)`));
    expect(ending).toHaveLength(1);
    expect(ending[0]).toMatch(/^bridge session=\d+ client=127\.0\.0\.1 origin=http:\/\/localhost:5173 .* bytes_to_server=0 bytes_from_server=0 duration=\d+\.\d{3}s end=timeout reason="connect timeout"$/);

    // With one session per client allowed, the next session only opens if the last one was freed.
    const next = await BridgeClient.open(bridge.url);
    await next.next('hello');
    next.send({ type: 'connect', host: '127.0.0.1', port: answering.port, tls: 'none' });
    expect(await next.next('connected')).toMatchObject({ remoteAddress: '127.0.0.1', remotePort: answering.port });
    expect((await next.readReply()).code).toBe(220);
    expect(answering.connections).toBe(1);
    next.close();
    await next.closed;
  });

  it('also bounds an implicit-TLS handshake the server never answers, with words that say so', async () => {
    const client = await BridgeClient.open(bridge.url);
    await client.next('hello');
    client.send({ type: 'connect', host: '127.0.0.1', port: silentPort, tls: 'implicit' });
    const error = await client.next('error', DEFAULT_LIMITS.connectTimeoutMs / 2);
    expect(error.code).toBe('timeout');
    expect(error.message).toBe(`the TLS handshake with 127.0.0.1:${silentPort}(127.0.0.1) did not finish within 0.5 s (connect timeout)`);
    expect(silentSockets.size).toBe(1);
    expect(await client.next('closed')).toMatchObject({ by: 'bridge', reason: 'connect timeout' });
    await client.closed;
    expect(bridge.sessionCount()).toBe(0);
    expect(logLines.some((line) => line.includes(`target=127.0.0.1:${silentPort}(127.0.0.1) tls=none`) && line.endsWith('end=timeout reason="connect timeout"'))).toBe(true);
  });
});
