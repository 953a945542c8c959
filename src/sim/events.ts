/**
 * The world's event log: everything that happens on the simulated network, stamped with virtual
 * time and the host it happened at. The transcript, the sequence diagram, the delivery
 * timeline and lesson goals all read this one append-only record.
 */

/** A reply as it crossed the wire; structurally the protocol's `Reply`. */
export interface ReplyData {
  code: number;
  enhanced?: string;
  lines: string[];
}

export type WorldEventBody =
  | { kind: 'dns-query'; name: string; type: string; status: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL'; answers: string[] }
  | { kind: 'connection'; connectionId: string; client: string; port: number; outcome: 'connected' | 'refused' | 'timeout' | 'closed' }
  | { kind: 'command'; connectionId: string; line: string }
  | { kind: 'reply'; connectionId: string; reply: ReplyData }
  | { kind: 'tls'; connectionId: string; step: 'starttls' | 'handshake' | 'established' | 'failed'; detail: string }
  | { kind: 'delivery-attempt'; messageId: string; recipients: readonly string[]; attempt: number; target: string }
  | { kind: 'deferral'; messageId: string; recipients: readonly string[]; reason: string; retryAt: number }
  | {
      kind: 'bounce';
      messageId: string;
      recipients: string[];
      status: string;
      reason: string;
      /**
       * A receiving host bouncing mail it had accepted: the Message-ID of the bounced message
       * (its own queue id is `messageId`), and whether a report went back to the sender
       * (RFC 3461 §4.1: not when the sender's NOTIFY asked for none).
       */
      later?: { originalMessageId: string | undefined; reportSent: boolean };
    }
  | { kind: 'delivery'; messageId: string; recipient: string; mailbox: string };

export type WorldEventKind = WorldEventBody['kind'];

/** What callers append: the event, the virtual time and the host it concerns. */
export type WorldEventInput = WorldEventBody & {
  /** Virtual time (ms since 1970). */
  at: number;
  /** The host the event happened at (the server for wire events, the sending MTA for queue events). */
  host: string;
};

/** A logged event: the input plus its position in the log. */
export type WorldEvent = WorldEventInput & { seq: number };

export type WorldEventOf<K extends WorldEventKind> = Extract<WorldEvent, { kind: K }>;

export type EventListener = (event: WorldEvent) => void;

export class EventLog {
  private events: WorldEvent[] = [];
  /**
   * Copy-on-write: `subscribe` and unsubscribing replace the array, so `append` walks the list
   * as it was when the event came (a listener added or removed meanwhile does not change who
   * hears this event) without copying it for every event.
   */
  private listeners: readonly EventListener[] = [];

  /**
   * Append an event; listeners hear it at once. The log takes the object it is given (callers
   * build a fresh one per event; copying it again is most of the cost of a busy log), numbers
   * it and freezes it: the log is a record, not a state. Do not change `input` afterwards.
   * A caller may build the event whole, `seq` included as its last field (any number: the log
   * overwrites it), so that numbering it does not have to grow the object by a field.
   */
  append(input: WorldEventInput | WorldEvent): WorldEvent {
    // An object already frozen (an event appended before, say) cannot take a number: copy that one.
    const event = (Object.isFrozen(input) ? { ...input } : input) as WorldEvent;
    event.seq = this.events.length + 1;
    Object.freeze(event);
    this.events.push(event);
    const listeners = this.listeners;
    for (let i = 0; i < listeners.length; i++) listeners[i]!(event);
    return event;
  }

  /** Every event so far, oldest first. */
  all(): readonly WorldEvent[] {
    return this.events;
  }

  /** Events after sequence number `seq` (for readers that poll). */
  since(seq: number): WorldEvent[] {
    return this.events.slice(Math.max(0, seq));
  }

  /** Events of one kind. */
  ofKind<K extends WorldEventKind>(kind: K): WorldEventOf<K>[] {
    return this.events.filter((e): e is WorldEventOf<K> => e.kind === kind);
  }

  get size(): number {
    return this.events.length;
  }

  /** Hear every event appended from now on; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    if (!this.listeners.includes(listener)) this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }
}
