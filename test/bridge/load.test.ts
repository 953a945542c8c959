/**
 * Many sessions at once: 200 WebSockets held open through the bridge to one local SMTP server,
 * every one completing a transaction.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBridge, type BridgeHandle } from '../../src/bridge/server';
import { BridgeClient, plainTransaction, startSmtpPeer, type SmtpPeer } from './helpers';

const SESSIONS = 200;
let peer: SmtpPeer;
let bridge: BridgeHandle;
const logLines: string[] = [];

beforeAll(async () => {
  peer = await startSmtpPeer({ disabledCommands: ['STARTTLS', 'AUTH'], maxClients: SESSIONS + 10 });
  bridge = await startBridge({
    port: 0,
    policy: { localPorts: [peer.port] },
    limits: { maxSessionsPerClient: SESSIONS, maxSessionsTotal: SESSIONS },
    log: (line) => logLines.push(line),
  });
});

afterAll(async () => {
  await bridge?.close();
  await peer?.close();
});

it(`holds ${SESSIONS} concurrent sessions, each completing a transaction`, async () => {
  const clients = await Promise.all(Array.from({ length: SESSIONS }, () => BridgeClient.open(bridge.url)));
  for (const client of clients) await client.next('hello');
  expect(bridge.sessionCount()).toBe(SESSIONS);
  // Every session connects and reads its banner before any finishes: all are held open at once.
  for (const client of clients) client.send({ type: 'connect', host: '127.0.0.1', port: peer.port, tls: 'none' });
  await Promise.all(clients.map((client) => client.next('connected')));
  expect(bridge.sessionCount()).toBe(SESSIONS);
  const replies = await Promise.all(
    clients.map((client, index) => plainTransaction(client, `sender${index}@example.com`, `rcpt${index}@mail.test`, `Subject: load ${index}\r\n\r\nmessage ${index}`)),
  );
  expect(replies.every((reply) => reply.code === 250)).toBe(true);
  expect(peer.received).toHaveLength(SESSIONS);
  const bodies = new Set(peer.received.map((message) => message.body.toString()));
  for (let index = 0; index < SESSIONS; index++) expect(bodies.has(`Subject: load ${index}\r\n\r\nmessage ${index}\r\n`)).toBe(true);
  await Promise.all(clients.map((client) => client.closed));
  expect(logLines.filter((line) => line.startsWith('bridge session=') && line.includes('end=server-closed'))).toHaveLength(SESSIONS);
}, 60_000);
