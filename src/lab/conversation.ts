/**
 * One SMTP conversation read from the wire, as a learner's tool sees it: which command each
 * reply answers, whether the client is typing commands, message data or AUTH answers, and when
 * TLS began. It is fed both directions of one connection, in order, and knows nothing of where
 * they came from (the learner's own connection, or a connection in the world's event log).
 *
 * The bookkeeping is the client machine's shadow (src/machines/client.ts): replies answer the
 * oldest command still waiting, in order (RFC 2920 §3), so pipelined batches are attributed
 * correctly.
 */
import { freshShadow, shadowAfterLine, shadowAfterReply, type ShadowState } from '../machines/client';
import { ReplyParser, type Reply } from '../protocol/reply';
import type { InputContext, WireDirection } from './record';

/** The name under which a reply is recorded: the verb it answers, `BANNER`, or `DATA-END`. */
export function answeredName(shadow: ShadowState): string {
  const first = shadow.pending[0];
  if (!first) return shadow.phase === 'banner' ? 'BANNER' : 'UNSOLICITED';
  if (first.verb === '.') return 'DATA-END';
  if (first.verb === 'AUTH-RESPONSE') return 'AUTH';
  return first.verb;
}

export interface ReadReply {
  reply: Reply;
  to: string;
  /** The wire lines of the reply, as received. */
  lines: string[];
  explanation: string;
}

export class Conversation {
  shadow: ShadowState = freshShadow();
  /** Directions after TLS began carry `~>`/`<~`. */
  secure = false;
  private parser = new ReplyParser();
  private partial = '';

  /** Where the next line the client types goes. */
  get context(): InputContext {
    if (this.shadow.phase === 'data') return 'data';
    if (this.shadow.phase === 'auth') return 'auth';
    return 'smtp';
  }

  clientDirection(): WireDirection {
    return this.secure ? '~>' : '->';
  }

  serverDirection(): WireDirection {
    return this.secure ? '<~' : '<-';
  }

  /** A line the client sent (without its ending). Returns the context it was sent in. */
  clientLine(text: string): InputContext {
    const context = this.context;
    this.shadow = shadowAfterLine(this.shadow, text);
    return context;
  }

  /** Text from the server in any chunking; returns the complete replies it finished. */
  serverText(text: string): ReadReply[] {
    const out: ReadReply[] = [];
    this.partial += text;
    const replies = this.parser.push(text);
    // Wire lines of each finished reply, taken from the text so the transcript shows exactly
    // what came (the parser has already split codes and enhanced codes off).
    const allLines = this.partial.split(/\r?\n/);
    this.partial = allLines.pop() ?? '';
    let cursor = 0;
    for (const reply of replies) {
      const lines: string[] = [];
      while (cursor < allLines.length) {
        const line = allLines[cursor++]!;
        lines.push(line);
        if (/^\d{3}(?: |$)/.test(line)) break;
      }
      out.push(this.serverReply(reply, lines));
    }
    return out;
  }

  /** A whole reply (when the source gives replies rather than text). */
  serverReply(reply: Reply, lines: string[]): ReadReply {
    const to = answeredName(this.shadow);
    this.shadow = shadowAfterReply(this.shadow, reply);
    return { reply, to, lines, explanation: this.shadow.lastExplanation ?? '' };
  }

  tlsStarted(): void {
    this.secure = true;
    // RFC 3207 §4.2: after the handshake the client knows nothing it learnt before; it must
    // greet again, and the server forgets the EHLO too.
    this.shadow = { ...this.shadow, phase: 'greet', tls: true, esmtp: false, extensions: [], pending: [] };
  }
}
