// `createWorld({ inspect })`: a developer can follow, or count, every step of every machine the
// world runs for a delivery (the bench counts a five-day run's transitions this way).
import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { createWorld } from '../../src/sim/world';

interface Step {
  machine: string;
  value: unknown;
}

function stepsOf(events: InspectionEvent[]): Step[] {
  const steps: Step[] = [];
  for (const event of events) {
    if (event.type !== '@xstate.microstep') continue;
    const snapshot = event.snapshot as unknown as { value: unknown; machine?: { id: string } };
    steps.push({ machine: snapshot.machine?.id ?? '?', value: snapshot.value });
  }
  return steps;
}

describe('world inspection', () => {
  it('hears the queue, the server session and the client session of one delivery, step by step', () => {
    const events: InspectionEvent[] = [];
    const world = createWorld({ seed: 1, inspect: (event) => events.push(event) });
    world.send({ from: 'alice@example.com', to: ['bob@example.net'] });
    world.advance(60_000);
    expect(world.mailboxes.list('bob@example.net')).toHaveLength(1);

    const steps = stepsOf(events);
    const machines = new Set(steps.map((s) => s.machine));
    expect([...machines].sort()).toEqual(['client', 'destination', 'server']);
    // A message sent alone is due at once: the queue delivers it and is idle again.
    expect(steps.filter((s) => s.machine === 'destination').map((s) => s.value)).toEqual(['delivering', 'idle']);
    // Each session ran to its end: the client after the 221, the server once the client left.
    expect(steps.filter((s) => s.machine === 'client').at(-1)!.value).toBe('done');
    expect(steps.filter((s) => s.machine === 'server').at(-1)!.value).toBe('closed');
    // One actor per machine here: no actor is made per step.
    expect(events.filter((e) => e.type === '@xstate.actor')).toHaveLength(3);
  });

  it('costs nothing when not asked for: the same run gives the same record either way', () => {
    const run = (inspect?: (event: InspectionEvent) => void) => {
      const world = createWorld({ seed: 7, ...(inspect ? { inspect } : {}) });
      world.sendAll([
        { from: 'alice@example.com', to: ['bob@example.net', 'someone@grey.example'] },
        { from: 'alice@example.com', to: ['nobody@nullmx.example'] },
      ]);
      world.advance(86_400_000);
      return JSON.stringify(world.log.all());
    };
    let heard = 0;
    expect(run(() => (heard += 1))).toBe(run());
    expect(heard).toBeGreaterThan(0);
  });
});
