// The sending MTA's queue on its own: the retry schedule, the message record's rules, and the
// destination queue machine as a bare actor with a scripted transport answering its `run` requests.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import {
  backoffDelay,
  deferEntry,
  DEFAULT_RETRY_POLICY,
  destinationQueueMachine,
  isSettled,
  nextAttemptOf,
  openMessageRecord,
  recordVerdicts,
  requestRun,
  type DeliveryRunRequest,
  type MessageRecord,
  type QueueEntry,
  type QueueNotice,
  type RecipientVerdict,
  type Suspension,
} from '../../src/machines/delivery';
import { VirtualClock } from '../../src/sim/clock';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('retry schedule', () => {
  it('starts at 5 minutes, doubles, and stops growing at 4000 seconds (Postfix defaults)', () => {
    const waits = [1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(DEFAULT_RETRY_POLICY, n) / 1000);
    expect(waits).toEqual([300, 600, 1200, 2400, 4000, 4000, 4000]);
  });
});

function verdict(address: string, outcome: RecipientVerdict['outcome']): RecipientVerdict {
  const status = outcome === 'delivered' ? '2.0.0' : outcome === 'failed' ? '5.1.1' : '4.7.1';
  return { address, outcome, status, diagnostic: `${status} scripted` };
}

/**
 * A destination queue whose transport answers each run from a script: per attempt number, an
 * outcome per recipient (deferred when the script says nothing). It settles entries through the
 * message records exactly as the world does, so the whole queue is tested without sessions.
 */
function scriptedQueue(script: Array<Record<string, RecipientVerdict['outcome']>>, options: { held?: () => boolean } = {}) {
  const clock = new VirtualClock();
  const records = new Map<string, MessageRecord>();
  const notices: Array<QueueNotice & { at: number; messageId: string }> = [];
  const runs: Array<{ at: number; entries: QueueEntry[] }> = [];
  const actor = createActor(destinationQueueMachine.provide({ actions: { startRun: requestRun } }), {
    input: { destination: 'x.test', now: () => clock.now(), held: options.held ?? (() => false) },
    clock,
  });
  actor.on('run', (run: DeliveryRunRequest) => {
    const now = clock.now();
    runs.push({ at: now, entries: [...run.entries] });
    const requeue: QueueEntry[] = [];
    for (const due of run.entries) {
      const entry = { ...due, attempts: due.attempts + 1 };
      const record = records.get(entry.messageId)!;
      const step = script[Math.min(entry.attempts - 1, script.length - 1)]!;
      const verdicts = entry.recipients.map((address) => verdict(address, step[address] ?? 'deferred'));
      const first = recordVerdicts(record, entry.attempts, now, { trials: [{ host: 'mx.x.test', at: now, outcome: 'deferred', summary: 'scripted' }], verdicts });
      const after = deferEntry(record, 'x.test', entry, now);
      if (after.requeue) requeue.push(after.requeue);
      for (const n of first.concat(after.notices)) notices.push({ ...n, at: now, messageId: entry.messageId });
    }
    actor.send({ type: 'run.done', requeue, suspension: run.suspension });
  });
  actor.start();
  const queue = (messageId: string, recipients: string[]) => {
    const record = openMessageRecord({ messageId, from: 'alice@example.com', recipients, arrivalAt: clock.now() });
    records.set(messageId, record);
    actor.send({ type: 'enqueue', entries: [{ messageId, recipients, dueAt: clock.now(), attempts: 0, deferrals: 0 }] });
    return record;
  };
  return { clock, actor, queue, runs, notices, records };
}

describe('destination queue machine', () => {
  it('is idle with nothing queued, and delivers a message queued outside a batch at once', () => {
    const q = scriptedQueue([{ 'a@x.test': 'delivered' }]);
    expect(q.actor.getSnapshot().value).toBe('idle');
    const record = q.queue('m1', ['a@x.test']);
    expect(q.runs).toHaveLength(1);
    expect(isSettled(record)).toBe(true);
    expect(q.actor.getSnapshot().value).toBe('idle');
  });

  it('retries only the recipients still waiting, after the backoff', () => {
    const q = scriptedQueue([{ 'a@x.test': 'delivered', 'b@x.test': 'deferred' }, { 'b@x.test': 'delivered' }]);
    const record = q.queue('m1', ['a@x.test', 'b@x.test']);
    expect(q.actor.getSnapshot().value).toBe('waiting');
    expect(nextAttemptOf(record)! - q.clock.epoch).toBe(5 * MINUTE);
    q.clock.advance(5 * MINUTE - 1);
    expect(q.runs).toHaveLength(1);
    q.clock.advance(1);
    expect(q.runs.map((r) => r.entries.map((e) => e.recipients))).toEqual([[['a@x.test', 'b@x.test']], [['b@x.test']]]);
    expect(isSettled(record)).toBe(true);
    expect(record.recipients.map((r) => [r.status, r.attempts])).toEqual([
      ['delivered', 1],
      ['delivered', 2],
    ]);
    expect(nextAttemptOf(record)).toBeUndefined();
  });

  it('holds entries queued while held, and runs them together when the moment ends', () => {
    let held = true;
    const q = scriptedQueue([{}], { held: () => held });
    q.queue('m1', ['a@x.test']);
    q.queue('m2', ['b@x.test']);
    q.queue('m3', ['c@x.test']);
    expect(q.runs).toHaveLength(0);
    expect(q.actor.getSnapshot().value).toBe('waiting');
    held = false;
    q.clock.advance(0);
    expect(q.runs).toHaveLength(1);
    expect(q.runs[0]!.entries.map((e) => e.messageId)).toEqual(['m1', 'm2', 'm3']);
    // Deferred together, so due together again: one run for the three at the next retry.
    q.clock.advance(5 * MINUTE);
    expect(q.runs).toHaveLength(2);
    expect(q.runs[1]!.entries).toHaveLength(3);
  });

  it('takes several entries arriving in one enqueue into one run', () => {
    const q = scriptedQueue([{ 'a@x.test': 'delivered', 'b@x.test': 'delivered' }]);
    const entries = ['m1', 'm2'].map((messageId, i) => {
      const recipients = [i === 0 ? 'a@x.test' : 'b@x.test'];
      q.records.set(messageId, openMessageRecord({ messageId, from: 'alice@example.com', recipients, arrivalAt: q.clock.now() }));
      return { messageId, recipients, dueAt: q.clock.now(), attempts: 0, deferrals: 0 };
    });
    q.actor.send({ type: 'enqueue', entries });
    expect(q.runs.map((r) => r.entries.map((e) => e.messageId))).toEqual([['m1', 'm2']]);
    expect([...q.records.values()].every(isSettled)).toBe(true);
    expect(q.actor.getSnapshot().value).toBe('idle');
  });

  it('asks for a run once it is delivering, with the entries it took', () => {
    const clock = new VirtualClock();
    const actor = createActor(destinationQueueMachine.provide({ actions: { startRun: requestRun } }), { input: { destination: 'x.test', now: () => clock.now(), held: () => false }, clock });
    const seenAtRequest: Array<{ state: unknown; inFlight: string[]; queued: number; destination: string }> = [];
    actor.on('run', (run) => {
      const { value, context } = actor.getSnapshot();
      seenAtRequest.push({ state: value, inFlight: context.inFlight.map((e) => e.messageId), queued: context.queued.length, destination: run.destination });
      actor.send({ type: 'run.done', requeue: [], suspension: run.suspension });
    });
    actor.start();
    const later = { messageId: 'm2', recipients: ['b@x.test'], dueAt: clock.now() + MINUTE, attempts: 0, deferrals: 0 };
    actor.send({ type: 'enqueue', entries: [{ messageId: 'm1', recipients: ['a@x.test'], dueAt: clock.now(), attempts: 0, deferrals: 0 }, later] });
    expect(seenAtRequest).toEqual([{ state: 'delivering', inFlight: ['m1'], queued: 1, destination: 'x.test' }]);
    expect(actor.getSnapshot().value).toBe('waiting');
    clock.advance(MINUTE);
    expect(seenAtRequest.map((s) => s.inFlight)).toEqual([['m1'], ['m2']]);
    expect(actor.getSnapshot().value).toBe('idle');
  });

  it('keeps each entry on its own schedule when they arrived at different times', () => {
    const q = scriptedQueue([{}]);
    q.queue('m1', ['a@x.test']);
    q.clock.advance(MINUTE);
    q.queue('m2', ['b@x.test']);
    q.clock.advance(5 * MINUTE);
    // m1's retry at +5m, m2's first attempt at +1m and retry at +6m: separate runs.
    expect(q.runs.map((r) => [(r.at - q.clock.epoch) / MINUTE, r.entries.map((e) => e.messageId)])).toEqual([
      [0, ['m1']],
      [1, ['m2']],
      [5, ['m1']],
      [6, ['m2']],
    ]);
  });

  it('bounces a 5xx at once, without waiting for the others', () => {
    const q = scriptedQueue([{ 'a@x.test': 'failed', 'b@x.test': 'deferred' }]);
    q.queue('m1', ['a@x.test', 'b@x.test']);
    const bounce = q.notices.find((n) => n.type === 'bounce');
    expect(bounce && bounce.type === 'bounce' && bounce.verdicts.map((v) => v.address)).toEqual(['a@x.test']);
    expect(bounce && bounce.type === 'bounce' && bounce.expired).toBe(false);
  });

  it('warns once after 4 hours and gives up at exactly 5 days', () => {
    const q = scriptedQueue([{}]);
    const record = q.queue('m1', ['a@x.test']);
    q.clock.advance(6 * DAY);
    const delayed = q.notices.filter((n) => n.type === 'delayed');
    expect(delayed).toHaveLength(1);
    expect(delayed[0]!.at - q.clock.epoch).toBeGreaterThanOrEqual(4 * HOUR);
    const bounce = q.notices.find((n) => n.type === 'bounce')!;
    expect(bounce.at - q.clock.epoch).toBe(5 * DAY);
    expect(bounce.type === 'bounce' && bounce.expired).toBe(true);
    expect(record.recipients[0]).toMatchObject({ status: 'failed', expired: true, statusCode: '4.4.7' });
    expect(record.timeline.at(-1)).toMatchObject({ outcome: 'expired' });
    // Between the first attempt and the end: the doubling schedule, then every 4000 s.
    expect(q.runs.length).toBeGreaterThan(100);
    expect(q.runs.length).toBeLessThan(120);
    expect(q.actor.getSnapshot().value).toBe('idle');
  });

  it('takes an entry queued during a run after that run, at the same moment', () => {
    const clock = new VirtualClock();
    let pendingDone: (() => void) | undefined;
    const seen: string[][] = [];
    const actor = createActor(destinationQueueMachine.provide({ actions: { startRun: requestRun } }), { input: { destination: 'x.test', now: () => clock.now(), held: () => false }, clock });
    actor.on('run', (run) => {
      seen.push(run.entries.map((e) => e.messageId));
      const suspension: Suspension | undefined = run.suspension;
      // This run ends later (a connect timeout, say): nothing is requeued.
      pendingDone = () => actor.send({ type: 'run.done', requeue: [], suspension });
    });
    actor.start();
    actor.send({ type: 'enqueue', entries: [{ messageId: 'm1', recipients: ['a@x.test'], dueAt: clock.now(), attempts: 0, deferrals: 0 }] });
    expect(actor.getSnapshot().value).toBe('delivering');
    actor.send({ type: 'enqueue', entries: [{ messageId: 'm2', recipients: ['b@x.test'], dueAt: clock.now(), attempts: 0, deferrals: 0 }] });
    expect(seen).toEqual([['m1']]);
    pendingDone!();
    expect(seen).toEqual([['m1'], ['m2']]);
  });

  it('stops with an error when no transport was provided, rather than losing mail quietly', () => {
    const clock = new VirtualClock();
    const actor = createActor(destinationQueueMachine, { input: { destination: 'x.test', now: () => clock.now(), held: () => false }, clock });
    const errors: unknown[] = [];
    actor.subscribe({ error: (e) => errors.push(e) });
    actor.start();
    actor.send({ type: 'enqueue', entries: [{ messageId: 'm1', recipients: ['a@x.test'], dueAt: clock.now(), attempts: 0, deferrals: 0 }] });
    expect(String(errors[0])).toMatch(/x\.test: no delivery transport/);
  });
});

describe('message record', () => {
  it('a late answer does not change a recipient already settled', () => {
    const record = openMessageRecord({ messageId: 'm1', from: 'alice@example.com', recipients: ['a@x.test'], arrivalAt: 0 });
    recordVerdicts(record, 1, 0, { trials: [], verdicts: [verdict('a@x.test', 'delivered')] });
    recordVerdicts(record, 2, 10, { trials: [], verdicts: [verdict('a@x.test', 'failed')] });
    expect(record.recipients[0]).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('without any host tried, the timeline names why (no route, or a suspended destination)', () => {
    const record = openMessageRecord({ messageId: 'm1', from: 'alice@example.com', recipients: ['a@x.test'], arrivalAt: 0 });
    recordVerdicts(record, 1, 0, { trials: [], verdicts: [{ address: 'a@x.test', outcome: 'deferred', status: '4.4.1', diagnostic: 'delivery temporarily suspended: refused' }] }, 'suspended');
    expect(record.timeline).toEqual([{ attempt: 1, at: 0, outcome: 'suspended', summary: 'delivery temporarily suspended: refused', recipients: ['a@x.test'] }]);
  });

  it('the delayed warning lists every recipient still waiting, at any destination', () => {
    const record = openMessageRecord({ messageId: 'm1', from: 'alice@example.com', recipients: ['a@x.test', 'b@y.test'], arrivalAt: 0 });
    const at = 5 * HOUR;
    recordVerdicts(record, 3, at, { trials: [], verdicts: [verdict('a@x.test', 'deferred')] });
    const { notices, requeue } = deferEntry(record, 'x.test', { messageId: 'm1', recipients: ['a@x.test'], dueAt: at, attempts: 3, deferrals: 2 }, at);
    const delayed = notices.find((n) => n.type === 'delayed');
    expect(delayed && delayed.type === 'delayed' && delayed.verdicts.map((v) => v.address)).toEqual(['a@x.test', 'b@y.test']);
    expect(requeue).toMatchObject({ recipients: ['a@x.test'], deferrals: 3, dueAt: at + 20 * MINUTE });
    expect(record.nextAttempts.get('x.test')).toBe(at + 20 * MINUTE);
  });
});
