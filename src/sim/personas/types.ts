/**
 * What a persona is: a named mail-server behaviour with settings, which makes a `ServerBackend`
 * for the server session machine. The world places personas behind domains; `smtpd` serves
 * them on real sockets.
 */
import type { Zones } from '../dns';
import type { Reply } from '../../protocol/reply';
import type { Envelope, ReceivedMessage, ServerBackend } from '../../machines/backend';

/** Where accepted messages go: the world's mailboxes, or `smtpd`'s store. */
export interface MessageSink {
  /** `mailbox` is the recipient address as accepted at RCPT, e.g. "bob@example.net". */
  deliver(mailbox: string, message: ReceivedMessage, envelope: Envelope): void;
}

/** What whoever creates a backend gives it. */
export interface PersonaEnv {
  /** The server's own name (banner, EHLO, Received lines). */
  hostname: string;
  /** The current time in ms; the world passes its virtual clock, so greylisting runs in virtual time. */
  now(): number;
  /** Queue ids for accepted messages (8-12 hex digits); deterministic by default. */
  idSource?: () => string;
  /** Where accepted messages are delivered; without one they are only counted. */
  sink?: MessageSink;
  /**
   * The DNS the server's own checks read (SPF, DMARC: the content filter's `spf` and `dmarc`
   * rules). Without it those rules cannot look anything up and refuse, saying so.
   */
  zones?: Zones;
}

/** A bounce a persona promised after accepting a message (the `bouncer`): the world sends the DSN. */
export interface LaterBounce {
  /** When the message was accepted (ms, on the env's clock): the DSN's Arrival-Date (RFC 3464 §2.2.5). */
  acceptedAt: number;
  /** When the DSN should be sent (ms, on the env's clock). */
  dueAt: number;
  queueId: string;
  envelope: Envelope;
  /** The recipient that "failed" after acceptance. */
  recipient: string;
  /** Why, as the DSN's diagnostic code will say it (e.g. 552 5.2.2 mailbox full). */
  reason: Reply;
  message: ReceivedMessage;
  /**
   * Whether the sender hears of it. RFC 3461 §4.1: false when the recipient's NOTIFY was NEVER,
   * or a list without FAILURE; the recipient fails all the same, only no DSN is written. RET and
   * ENVID, and the recipient's ORCPT, are in `envelope` as MAIL and RCPT carried them.
   */
  notifySender: boolean;
}

export type SettingValue = string | number | boolean | readonly string[] | Readonly<Record<string, string>>;

/** One named setting of a persona, described for the UI's persona picker and the CLI. */
export interface SettingSpec {
  name: string;
  label: string;
  kind: 'domains' | 'mailboxes' | 'number' | 'duration' | 'choice' | 'boolean' | 'text' | 'credentials';
  description: string;
  /** For `choice`. */
  choices?: readonly string[];
}

/** A backend made by a persona, with what the world needs to know about it. */
export interface PersonaBackend extends ServerBackend {
  readonly personaId: PersonaId;
  /** The settings in effect (defaults filled in). */
  readonly settings: Readonly<Record<string, SettingValue>>;
  /** Bounces owed for accepted messages, oldest first. The world takes them out as they fall due. */
  readonly laterBounces: LaterBounce[];
  /** Messages this backend accepted, by queue id (also given to the sink). */
  readonly acceptedCount: () => number;
}

export type PersonaId =
  | 'friendly'
  | 'greylisting'
  | 'strict'
  | 'tls-broken'
  | 'overloaded'
  | 'tarpit'
  | 'content-filter'
  | 'bouncer'
  | 'submission'
  | 'closed-relay'
  | 'mailbox-full'
  | 'flaky'
  | 'legacy'
  | 'rate-limited'
  | 'smuggling-vulnerable';

export interface PersonaDefinition<S extends Record<string, SettingValue> = Record<string, SettingValue>> {
  id: PersonaId;
  title: string;
  /** One or two sentences for the UI: what this server does and what it teaches. */
  description: string;
  /** The usual port (25 for MX personas, 587 for submission). */
  port: number;
  settingSpecs: readonly SettingSpec[];
  defaults: S;
  create(settings: S, env: PersonaEnv): PersonaBackend;
}
