// The delivery machine on its own: the retry schedule, and the queue logic with a transport
// given as its `attempt` actor (the world gives the real one; here a scripted remote server).
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback } from 'xstate';
import { backoffDelay, DEFAULT_RETRY_POLICY, deliveryMachine, type AttemptDone, type AttemptInput, type DeliveryEmitted, type RecipientVerdict } from '../../src/machines/delivery';
import { VirtualClock } from '../../src/sim/clock';

const MINUTE = 60_000;
const DAY = 86_400_000;

describe('retry schedule', () => {
  it('starts at 5 minutes, doubles, and stops growing at 4000 seconds (Postfix defaults)', () => {
    const waits = [1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(DEFAULT_RETRY_POLICY, n) / 1000);
    expect(waits).toEqual([300, 600, 1200, 2400, 4000, 4000, 4000]);
  });
});

/** A remote side that answers each attempt from a script of outcomes per recipient. */
function scripted(script: Array<Record<string, RecipientVerdict['outcome']>>, clock: VirtualClock, seen: AttemptInput[]) {
  return fromCallback<AttemptDone, AttemptInput>(({ input, sendBack }) => {
    seen.push(input);
    const step = script[Math.min(input.attempt - 1, script.length - 1)]!;
    sendBack({
      type: 'attempt.done',
      result: {
        trials: [{ host: 'mx.example.net', at: clock.now(), outcome: 'deferred', summary: 'scripted' }],
        verdicts: input.recipients.map((address) => {
          const outcome = step[address] ?? 'deferred';
          const status = outcome === 'delivered' ? '2.0.0' : outcome === 'failed' ? '5.1.1' : '4.7.1';
          return { address, outcome, status, diagnostic: `${status} scripted` };
        }),
      },
    });
  });
}

function run(script: Array<Record<string, RecipientVerdict['outcome']>>, recipients: string[]) {
  const clock = new VirtualClock();
  const seen: AttemptInput[] = [];
  const machine = deliveryMachine.provide({ actors: { attempt: scripted(script, clock, seen) } });
  const actor = createActor(machine, { input: { messageId: 'm1', from: 'alice@example.com', recipients, arrivalAt: clock.now(), now: () => clock.now() }, clock });
  const emitted: Array<DeliveryEmitted & { at: number }> = [];
  actor.on('*', (e) => emitted.push({ ...(e as DeliveryEmitted), at: clock.now() }));
  actor.start();
  return { clock, seen, actor, emitted };
}

describe('delivery machine', () => {
  it('retries only the recipients still waiting, after the backoff', () => {
    const { clock, seen, actor } = run([{ 'a@x.test': 'delivered', 'b@x.test': 'deferred' }, { 'b@x.test': 'delivered' }], ['a@x.test', 'b@x.test']);
    expect(actor.getSnapshot().value).toBe('waiting');
    clock.advance(5 * MINUTE - 1);
    expect(seen).toHaveLength(1);
    clock.advance(1);
    expect(seen.map((s) => s.recipients)).toEqual([['a@x.test', 'b@x.test'], ['b@x.test']]);
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().context.recipients.map((r) => [r.status, r.attempts])).toEqual([
      ['delivered', 1],
      ['delivered', 2],
    ]);
  });

  it('bounces a 5xx at once, without waiting for the others', () => {
    const { emitted } = run([{ 'a@x.test': 'failed', 'b@x.test': 'deferred' }], ['a@x.test', 'b@x.test']);
    const bounce = emitted.find((e) => e.type === 'bounce');
    expect(bounce && bounce.type === 'bounce' && bounce.verdicts.map((v) => v.address)).toEqual(['a@x.test']);
  });

  it('warns once after 4 hours and gives up at exactly 5 days', () => {
    const { clock, emitted, actor } = run([{}], ['a@x.test']);
    clock.advance(6 * DAY);
    const delayed = emitted.filter((e) => e.type === 'delayed');
    expect(delayed).toHaveLength(1);
    expect(delayed[0]!.at - clock.epoch).toBeGreaterThanOrEqual(4 * 3_600_000);
    const bounce = emitted.find((e) => e.type === 'bounce')!;
    expect(bounce.at - clock.epoch).toBe(5 * DAY);
    expect(bounce.type === 'bounce' && bounce.expired).toBe(true);
    expect(actor.getSnapshot().context.recipients[0]).toMatchObject({ status: 'failed', expired: true, statusCode: '4.4.7' });
    // Between the first attempt and the end: the doubling schedule, then every 4000 s.
    const attempts = emitted.filter((e) => e.type === 'attempt.started').length;
    expect(attempts).toBeGreaterThan(100);
    expect(attempts).toBeLessThan(120);
  });
});
