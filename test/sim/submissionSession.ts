import { expect } from 'vitest';
import { formatReply } from '../../src/protocol/reply';
import type { World } from '../../src/sim/world';

/**
 * A session with the world's submission server (smtp.example.com:587) after EHLO and STARTTLS,
 * as a mail program opens one: the connection, and every reply so far as wire text.
 */
export function openSubmissionSession(world: World, peerAddress?: string) {
  const opened = world.connect('smtp.example.com', 587, peerAddress ? { peerAddress } : {});
  if (!opened.ok) throw new Error(opened.message);
  const server = opened.connection;
  const replies: string[] = [];
  server.onReply((reply) => replies.push(formatReply(reply).trim()));
  server.start();
  server.write('EHLO laptop.example\r\nSTARTTLS\r\n');
  let established = false;
  server.startHandshake((r) => (established = r.ok));
  expect(established).toBe(true);
  return { server, replies };
}
