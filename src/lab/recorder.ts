/**
 * Builds the session record (record.ts) from what happens on the wire and in the world: one
 * `Conversation` per connection attributes each reply to its command, and each line gets its
 * explanation. Two sources feed it: the world's event log in simulated mode (the learner's
 * connections and the autopilot's alike), and the learner's own link in real-network mode.
 */
import type { Reply } from '../protocol/reply';
import { formatReply } from '../protocol/reply';
import { Conversation } from './conversation';
import { explainClientLine, explainReply } from './explain';
import type {
  ConnectionRecord,
  DeliveryOutcome,
  DnsLookup,
  InputContext,
  MachineState,
  MailboxMessage,
  ReplyRecord,
  SessionRecord,
  ShellRun,
  TypedLine,
  WireLine,
} from './record';

/** A wire line with its explanation, for the transcript. */
export interface ExplainedLine extends WireLine {
  readonly explanation: string;
  /** The reply code, on server lines. */
  readonly code?: number;
  readonly by: 'learner' | 'autopilot';
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K] };

interface OpenConnection {
  id: number;
  conversation: Conversation;
  host: string;
  by: 'learner' | 'autopilot';
}

export class Recorder {
  readonly record: Mutable<SessionRecord>;
  /** The transcript: every wire line, explained. */
  readonly lines: ExplainedLine[] = [];
  private open = new Map<string, OpenConnection>();
  private nextId = 1;
  private listeners = new Set<() => void>();

  constructor(clock: number) {
    this.record = {
      typed: [],
      shell: [],
      wire: [],
      replies: [],
      connections: [],
      dns: [],
      deliveries: [],
      mailbox: [],
      states: [],
      clock,
    };
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  changed(): void {
    for (const listener of [...this.listeners]) listener();
  }

  setClock(at: number): void {
    this.record.clock = at;
  }

  typed(line: TypedLine): void {
    this.record.typed.push(line);
  }

  shell(run: ShellRun): void {
    this.record.shell.push(run);
  }

  dns(lookup: DnsLookup): void {
    this.record.dns.push(lookup);
  }

  delivery(outcome: DeliveryOutcome): void {
    this.record.deliveries.push(outcome);
  }

  mail(message: MailboxMessage): void {
    this.record.mailbox.push(message);
  }

  state(state: MachineState): void {
    const last = [...this.record.states].reverse().find((s) => s.machine === state.machine);
    if (last?.state !== state.state) this.record.states.push(state);
  }

  /** A connection opened; `key` is the source's own id for it. Returns the record's id. */
  opened(key: string, at: number, host: string, port: number, by: 'learner' | 'autopilot'): number {
    const id = this.nextId++;
    this.open.set(key, { id, conversation: new Conversation(), host, by });
    this.record.connections.push({ id, host, port, openedAt: at, by });
    return id;
  }

  /** A connection that never opened (refused, timed out, unknown host). */
  failed(at: number, host: string, port: number, by: 'learner' | 'autopilot', reason: string): void {
    const id = this.nextId++;
    this.record.connections.push({ id, host, port, openedAt: at, by, closed: { at, by: 'network', reason } });
  }

  closed(key: string, at: number, by: 'client' | 'server' | 'network', reason: string): void {
    const connection = this.open.get(key);
    if (!connection) return;
    this.open.delete(key);
    this.updateConnection(connection.id, (c) => ({ ...c, closed: { at, by, reason } }));
  }

  tls(key: string, at: number, tls: NonNullable<ConnectionRecord['tls']>): void {
    const connection = this.open.get(key);
    if (!connection) return;
    if (tls.ok) connection.conversation.tlsStarted();
    this.updateConnection(connection.id, (c) => ({ ...c, tls }));
  }

  /** The client sent one line. Returns the context it was sent in (command, data, auth). */
  clientLine(key: string, at: number, text: string): InputContext | undefined {
    const connection = this.open.get(key);
    if (!connection) return undefined;
    const dir = connection.conversation.clientDirection();
    const context = connection.conversation.clientLine(text);
    const wire: WireLine = { at, connection: connection.id, host: connection.host, dir, text };
    this.record.wire.push(wire);
    this.lines.push({ ...wire, by: connection.by, explanation: explainClientLine(text, context === 'smtp' || context === 'shell' ? 'command' : context) });
    return context;
  }

  /** Text the server sent, any chunking. Returns the replies it completed. */
  serverText(key: string, at: number, text: string): ReplyRecord[] {
    const connection = this.open.get(key);
    if (!connection) return [];
    const dir = connection.conversation.serverDirection();
    return connection.conversation.serverText(text).map((read) => this.noteReply(connection, at, dir, read.reply, read.to, read.lines, read.explanation));
  }

  /** A whole reply (the world's log gives replies, not text). */
  serverReply(key: string, at: number, reply: Reply): ReplyRecord | undefined {
    const connection = this.open.get(key);
    if (!connection) return undefined;
    const dir = connection.conversation.serverDirection();
    const lines = formatReply(reply).split('\r\n').filter((l) => l !== '');
    const read = connection.conversation.serverReply(reply, lines);
    return this.noteReply(connection, at, dir, reply, read.to, lines, read.explanation);
  }

  conversationOf(key: string): Conversation | undefined {
    return this.open.get(key)?.conversation;
  }

  private noteReply(connection: OpenConnection, at: number, dir: WireLine['dir'], reply: Reply, to: string, lines: string[], why: string): ReplyRecord {
    const explanation = [why, explainReply(reply, to)].filter(Boolean).join('\n');
    for (const text of lines) {
      const wire: WireLine = { at, connection: connection.id, host: connection.host, dir, text };
      this.record.wire.push(wire);
      this.lines.push({ ...wire, by: connection.by, explanation, code: reply.code });
    }
    const record: ReplyRecord = { at, connection: connection.id, host: connection.host, to, reply, by: connection.by };
    this.record.replies.push(record);
    return record;
  }

  private updateConnection(id: number, update: (c: ConnectionRecord) => ConnectionRecord): void {
    const index = this.record.connections.findIndex((c) => c.id === id);
    if (index >= 0) this.record.connections[index] = update(this.record.connections[index]!);
  }
}
