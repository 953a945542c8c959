// Shortest paths (xstate/graph) to every resting state of the server machine, each replayed
// on a live actor that must end in the state the path promises.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { serverMachine, SERVER_STATES, type ServerEvent, type ServerInput } from '../../src/machines/server';
import type { ServerBackend, SessionFacts } from '../../src/machines/backend';
import { encodePlain } from '../../src/protocol/sasl';

const TARPIT_MS = 5_000;

function input(): ServerInput {
  const backend: ServerBackend = {
    hostname: 'mx.example.net',
    extensions: (facts: SessionFacts) => ({
      pipelining: true,
      starttls: true,
      enhancedStatusCodes: true,
      size: 1000,
      ...(facts.tls ? { auth: ['PLAIN', 'LOGIN'] as const } : {}),
    }),
    authenticate: (_m, user, password) => user === 'alice@example.com' && password === 's3cr3t',
    // A slow sender check, so that `holding` is reachable.
    onMail: (from) => (from === 'slow@example.com' ? { delayMs: TARPIT_MS } : undefined),
  };
  return { backend, peer: { address: '192.0.2.1', port: 2525 }, maxRecipients: 1, queueIds: () => '0123456789' };
}

const lines = [
  'EHLO client.example',
  'MAIL FROM:<alice@example.com>',
  'MAIL FROM:<slow@example.com>',
  'RCPT TO:<bob@example.net>',
  'DATA',
  '.',
  'STARTTLS',
  'AUTH LOGIN',
  `AUTH PLAIN ${encodePlain('alice@example.com', 's3cr3t')}`,
  'QUIT',
];

const holdingNode = serverMachine.getStateNodeById('server.holding');
const afterEvent = holdingNode.after[0]!.eventType;

const events: ServerEvent[] = [
  ...lines.map((text) => ({ type: 'line' as const, text, ending: 'crlf' as const })),
  { type: 'tls.established', info: { protocol: 'TLSv1.3' } },
  { type: 'tls.failed', reason: 'handshake failure' },
  { type: afterEvent } as unknown as ServerEvent,
];

/** Keep the state space small: the state, and the facts that change what a command does. */
function serializeState(snapshot: ReturnType<typeof serverMachine.transition>): string {
  const c = snapshot.context;
  return JSON.stringify([
    snapshot.value,
    c.facts.tls,
    c.facts.heloName !== undefined,
    c.facts.authenticatedUser !== undefined,
    c.envelope?.recipients.length ?? -1,
    c.badCommands,
    c.outcome.next,
  ]);
}

describe('server machine: shortest paths to every state', () => {
  const paths = getShortestPaths(serverMachine, { input: input(), events, serializeState });
  const reached = new Set(paths.map((p) => String(p.state.value)));

  it('reaches every resting state', () => {
    for (const state of SERVER_STATES) expect(reached, `no path reaches ${state}`).toContain(state);
  });

  for (const state of SERVER_STATES) {
    it(`replays the shortest path to ${state} on a live actor`, () => {
      const candidates = paths.filter((p) => p.state.value === state);
      expect(candidates.length).toBeGreaterThan(0);
      const path = candidates.reduce((a, b) => (b.steps.length < a.steps.length ? b : a));
      const actor = createActor(serverMachine, { input: input() });
      actor.start();
      for (const step of path.steps) {
        const event = step.event as { type: string };
        if (event.type.startsWith('xstate.init')) continue;
        // Delayed events (leaving `holding`) are sent as the clock would deliver them.
        actor.send(event as ServerEvent);
      }
      expect(actor.getSnapshot().value).toBe(state);
    });
  }
});
