// Drives the server session machine as a bare actor: lines in, emitted events out.
import { createActor, type AnyActorLogic, type ActorOptions } from 'xstate';
import { serverMachine, type ServerEmitted, type ServerInput, type LineEvent } from '../../src/machines/server';
import type { Reply } from '../../src/protocol/reply';

export type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

export const PEER = { address: '192.0.2.10', port: 40000 };

export function line(text: string, ending: 'crlf' | 'lf' = 'crlf', extra: Partial<LineEvent> = {}): LineEvent {
  return { type: 'line', text, ending, ...extra };
}

export function startSession(input: Omit<ServerInput, 'peer'> & { peer?: ServerInput['peer'] }, clock?: Clock) {
  const actor = createActor(serverMachine, { input: { peer: PEER, ...input }, ...(clock ? { clock } : {}) });
  const emitted: ServerEmitted[] = [];
  actor.on('*', (event) => emitted.push(event as ServerEmitted));
  actor.start();
  let seen = 0;
  return {
    actor,
    emitted,
    /** Send lines; returns the replies emitted since the last call. */
    send(...texts: Array<string | LineEvent>): Reply[] {
      for (const t of texts) actor.send(typeof t === 'string' ? line(t) : t);
      return this.newReplies();
    },
    newReplies(): Reply[] {
      const fresh = emitted.slice(seen);
      seen = emitted.length;
      return fresh.filter((e): e is Extract<ServerEmitted, { type: 'reply' }> => e.type === 'reply').map((e) => e.reply);
    },
    replies(): Reply[] {
      return emitted.filter((e): e is Extract<ServerEmitted, { type: 'reply' }> => e.type === 'reply').map((e) => e.reply);
    },
    state(): string {
      const value = actor.getSnapshot().value;
      return typeof value === 'string' ? value : JSON.stringify(value);
    },
    closed(): boolean {
      return emitted.some((e) => e.type === 'close');
    },
  };
}

/** code and enhanced code of replies, e.g. "250 2.1.0" or "220". */
export function codes(replies: Reply[]): string[] {
  return replies.map((r) => (r.enhanced ? `${r.code} ${r.enhanced}` : String(r.code)));
}
