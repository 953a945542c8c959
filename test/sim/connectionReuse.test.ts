// Connection reuse by the world's sending MTA: retries for the same host that fall due at the
// same moment share one SMTP session, one transaction per message, and every message ends
// exactly as it would on a connection of its own.
import { describe, expect, it } from 'vitest';
import { createWorld, type World } from '../../src/sim/world';

const ALICE = 'alice@example.com';
const HOUR = 3_600_000;

/** Sessions the sending MTA opened to `host` (connections that got through). */
function sessionsTo(world: World, host: string): string[] {
  return world.log
    .ofKind('connection')
    .filter((e) => e.host === host && e.outcome === 'connected')
    .map((e) => e.connectionId);
}

function sendMany(world: World, to: string, count: number) {
  return Array.from({ length: count }, (_, i) => world.send({ from: ALICE, to: [to], subject: `reuse ${i}` }));
}

describe('connection reuse', () => {
  it('a single send still has a whole session of its own', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['bob@example.net'] });
    expect(handle.recipients().map((r) => r.status)).toEqual(['delivered']);
    const commands = world.log.ofKind('command').map((e) => e.line.split(/[ :]/)[0]!.toUpperCase());
    expect(commands).toEqual(expect.arrayContaining(['EHLO', 'MAIL', 'RCPT', 'DATA', 'QUIT']));
  });

  it('greylisted retries due together share one connection, and each message arrives once', () => {
    const world = createWorld();
    const handles = sendMany(world, 'carol@grey.example', 4);
    const before = sessionsTo(world, 'mx.grey.example').length;
    // Each first try had its own connection (they were sent one by one) and was greylisted.
    expect(before).toBe(4);
    expect(handles.every((h) => h.recipients()[0]!.status !== 'delivered')).toBe(true);
    world.advance(HOUR);
    expect(handles.map((h) => h.recipients()[0]!.status)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    const retries = sessionsTo(world, 'mx.grey.example').slice(before);
    expect(retries).toHaveLength(1);
    // One transaction per message on that connection, each with its own MAIL FROM.
    const mails = world.log.ofKind('command').filter((e) => e.connectionId === retries[0] && /^MAIL FROM/i.test(e.line));
    expect(mails).toHaveLength(4);
    expect(world.mailboxes.list('carol@grey.example')).toHaveLength(4);
    // Every message keeps its own timeline, and the delivering try names the shared connection.
    for (const h of handles) {
      const delivered = h.timeline().filter((entry) => entry.outcome === 'delivered');
      expect(delivered).toHaveLength(1);
      expect(delivered[0]!.connectionId).toBe(retries[0]);
    }
  });

  it('a dropped transaction costs only that message a retry; every copy arrives once', () => {
    const world = createWorld();
    // The first try of the first message is dropped at DATA; the other two are delivered at once.
    // Nothing shares a connection here, but the retry must come out the same with reuse in play.
    const handles = sendMany(world, 'dave@flaky.example', 3);
    world.advance(2 * HOUR);
    world.runUntilIdle(2 * 86_400_000);
    expect(handles.map((h) => h.recipients()[0]!.status)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(world.mailboxes.list('dave@flaky.example')).toHaveLength(3);
  });

  it('messages queued together share their first connection, even when every recipient is refused', () => {
    const world = createWorld();
    const grey = world.sendAll(Array.from({ length: 5 }, (_, i) => ({ from: ALICE, to: ['carol@grey.example'], subject: `batch ${i}` })));
    const strict = world.sendAll(Array.from({ length: 3 }, (_, i) => ({ from: ALICE, to: ['nobody@strict.example'], subject: `unknown ${i}` })));
    expect(sessionsTo(world, 'mx.grey.example')).toHaveLength(1);
    expect(sessionsTo(world, 'mx.strict.example')).toHaveLength(1);
    // Each greylisted transaction was refused at RCPT and cleared with RSET before the next MAIL
    // (RFC 5321 §4.1.1.5), so every message got its own answer: 450 now, not a "nested MAIL".
    expect(grey.map((h) => h.recipients()[0]!.statusCode)).toEqual(['4.7.1', '4.7.1', '4.7.1', '4.7.1', '4.7.1']);
    expect(strict.map((h) => h.recipients()[0]!.statusCode)).toEqual(['5.1.1', '5.1.1', '5.1.1']);
    world.advance(HOUR);
    expect(grey.map((h) => h.recipients()[0]!.status)).toEqual(['delivered', 'delivered', 'delivered', 'delivered', 'delivered']);
    expect(world.mailboxes.list('carol@grey.example')).toHaveLength(5);
  });

  it('a batch with one bad address queues nothing and says which', () => {
    const world = createWorld();
    expect(() => world.sendAll([{ from: ALICE, to: ['bob@example.net'] }, { from: ALICE, to: ['not-an-address'] }])).toThrow(/"not-an-address" is not an address/);
    expect(world.deliveries()).toHaveLength(0);
    expect(world.log.ofKind('connection')).toHaveLength(0);
  });
});
