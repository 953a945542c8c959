// A destination whose every host failed at its last run (refused, timed out, 421 at the banner,
// TLS refused by policy) is probed with one message when its rest is over, as Postfix's queue
// manager opens a throttled destination with a single delivery. The rest of its mail waits,
// untried, until the probe answers.
import { describe, expect, it } from 'vitest';
import { createWorld, type World } from '../../src/sim/world';

const ALICE = 'alice@example.com';
const HOUR = 3_600_000;

function sendMany(world: World, to: string, count: number) {
  return world.sendAll(Array.from({ length: count }, (_, i) => ({ from: ALICE, to: [to], subject: `probe ${i}` })));
}

/** MAIL commands per session the sending MTA opened to `host`, in order. */
function mailsPerSession(world: World, host: string): number[] {
  const sessions = world.log
    .ofKind('connection')
    .filter((e) => e.host === host && e.outcome === 'connected')
    .map((e) => e.connectionId);
  const commands = world.log.ofKind('command');
  return sessions.map((id) => commands.filter((c) => c.connectionId === id && /^MAIL FROM/i.test(c.line)).length);
}

describe('a dead destination is probed with one message', () => {
  it('421 at every banner: after the first session, each retry connects for one message and the others wait as "delivery temporarily suspended"', () => {
    const world = createWorld();
    const handles = sendMany(world, 'x@overloaded.example', 5);
    world.advance(6 * HOUR);
    // Every try after the first (which carried all five together) was made for one message only.
    const attempts = world.log.ofKind('delivery-attempt').filter((e) => e.target === 'mx.overloaded.example:25');
    const firstRun = attempts.filter((e) => e.at === attempts[0]!.at);
    expect(firstRun).toHaveLength(5);
    const later = attempts.slice(5);
    expect(later.length).toBeGreaterThan(2);
    const byMoment = new Map<number, number>();
    for (const e of later) byMoment.set(e.at, (byMoment.get(e.at) ?? 0) + 1);
    expect([...byMoment.values()].every((n) => n === 1)).toBe(true);
    // At each probe the other messages due with it were deferred without a connection, and say why.
    const probeAt = later[0]!.at;
    const waited = handles.flatMap((h) => h.timeline()).filter((t) => t.at >= probeAt && t.outcome === 'suspended');
    expect(waited.length).toBeGreaterThan(0);
    for (const row of waited) expect(row.summary).toMatch(/^delivery temporarily suspended: mx\.overloaded\.example said: 421 /);
    // Nothing is lost or settled: every message still waits for a later retry.
    expect(handles.map((h) => h.recipients()[0]!.status)).toEqual(['deferred', 'deferred', 'deferred', 'deferred', 'deferred']);
  });

  it('when the probe gets through, the rest go in the same run', () => {
    const world = createWorld();
    world.setHostDown('mx1.example.net', 'refused');
    world.setHostDown('mx2.example.net', 'refused');
    const handles = sendMany(world, 'bob@example.net', 3);
    expect(handles.map((h) => h.recipients()[0]!.status)).toEqual(['deferred', 'deferred', 'deferred']);
    world.setHostDown('mx1.example.net', undefined);
    world.setHostDown('mx2.example.net', undefined);
    world.runUntilIdle(HOUR);
    expect(handles.map((h) => h.recipients()[0]!.status)).toEqual(['delivered', 'delivered', 'delivered']);
    // One session for the probe, then one for the other two, at the same moment.
    expect(mailsPerSession(world, 'mx1.example.net')).toEqual([1, 2]);
    const deliveredAt = handles.map((h) => h.timeline().find((t) => t.outcome === 'delivered')!.at);
    expect(new Set(deliveredAt).size).toBe(1);
    expect(world.mailboxes.list('bob@example.net')).toHaveLength(3);
  });
});
