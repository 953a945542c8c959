/**
 * What most personas share: the domains and mailboxes they serve, the usual MX extensions,
 * relay refusal, delivery into the sink, and queue ids.
 */
import { returnPathField } from '../../protocol/trace';
import { Replies } from '../../protocol/replies';
import type { Reply } from '../../protocol/reply';
import {
  createQueueIdSource,
  type Envelope,
  type Extensions,
  type ReceivedMessage,
  type ServerBackend,
  type SessionFacts,
} from '../../machines/backend';
import type { LaterBounce, PersonaBackend, PersonaEnv, PersonaId, SettingSpec, SettingValue } from './types';

/** Settings every MX-like persona has. */
export interface BaseSettings extends Record<string, SettingValue> {
  /** Domains this server accepts mail for (anything else is relaying). */
  domains: readonly string[];
  /** Local parts that exist on those domains. */
  mailboxes: readonly string[];
  /** RFC 1870 SIZE limit in octets. */
  maxMessageSize: number;
}

export const BASE_DEFAULTS: BaseSettings = {
  domains: ['example.net'],
  mailboxes: ['bob', 'carol', 'postmaster'],
  maxMessageSize: 10 * 1024 * 1024,
};

export const BASE_SPECS: readonly SettingSpec[] = [
  { name: 'domains', label: 'Domains served', kind: 'domains', description: 'Mail for these domains is accepted; any other domain is relaying.' },
  { name: 'mailboxes', label: 'Mailboxes', kind: 'mailboxes', description: 'Local parts that exist on the served domains.' },
  { name: 'maxMessageSize', label: 'Size limit (octets)', kind: 'number', description: 'Advertised with SIZE (RFC 1870); bigger messages get 552 5.3.4.' },
];

const MINUTE = 60_000;
export const DURATION = { second: 1000, minute: MINUTE, hour: 60 * MINUTE, day: 24 * 60 * MINUTE } as const;

/** The domain of an address, lower-cased ("" when there is none, as for "Postmaster"). */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

/** The local part of an address. */
export function localPartOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : address.slice(0, at);
}

/** What a persona's hooks can use. */
export interface PersonaKit<S extends BaseSettings> {
  settings: S;
  env: PersonaEnv;
  /** Does this server accept mail for the address's domain? (Bare "Postmaster" always.) */
  serves(address: string): boolean;
  /** Is this an existing mailbox here? Local parts compare case-insensitively (as most servers do). */
  isKnownMailbox(address: string): boolean;
  /** 554 5.7.1 for a domain this server does not serve, else undefined (RFC 5321 §3.6.2). */
  relayCheck(address: string): Reply | undefined;
  /** The usual MX extension set; STARTTLS only before TLS. */
  mxExtensions(facts: SessionFacts): Extensions;
  /** Put the message in every recipient's mailbox (through the sink) and count it. */
  deliver(message: ReceivedMessage, envelope: Envelope): void;
  laterBounces: LaterBounce[];
}

export function makeKit<S extends BaseSettings>(settings: S, env: PersonaEnv): PersonaKit<S> & { accepted: () => number } {
  const domains = new Set(settings.domains.map((d) => d.toLowerCase()));
  const mailboxes = new Set(settings.mailboxes.map((m) => m.toLowerCase()));
  let accepted = 0;
  const kit = {
    settings,
    env,
    laterBounces: [] as LaterBounce[],
    serves: (address: string) => address.toLowerCase() === 'postmaster' || domains.has(domainOf(address)),
    isKnownMailbox: (address: string) =>
      address.toLowerCase() === 'postmaster' || (domains.has(domainOf(address)) && mailboxes.has(localPartOf(address).toLowerCase())),
    relayCheck: (address: string) => (kit.serves(address) ? undefined : Replies.relayDenied(domainOf(address) || undefined)),
    mxExtensions: (facts: SessionFacts): Extensions => ({
      pipelining: true,
      size: settings.maxMessageSize,
      starttls: !facts.tls,
      enhancedStatusCodes: true,
      eightBitMime: true,
      smtpUtf8: true,
    }),
    deliver: (message: ReceivedMessage, envelope: Envelope) => {
      accepted += 1;
      // RFC 5321 §4.4: the server that makes the final delivery records the envelope sender
      // in a Return-Path field at the top: where a bounce about this message would go.
      const delivered = { ...message, text: returnPathField(envelope.reversePath) + message.received + message.text };
      for (const recipient of envelope.recipients) env.sink?.deliver(recipient.address, delivered, envelope);
    },
    accepted: () => accepted,
  };
  return kit;
}

/** A string hash for seeding deterministic queue ids from the hostname. */
function seedOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * Build a persona backend. `hooks` may override anything; by default the server accepts any
 * recipient on its domains, refuses relaying, and delivers at the end of DATA.
 */
export function makeBackend<S extends BaseSettings>(
  personaId: PersonaId,
  settings: S,
  env: PersonaEnv,
  hooks: (kit: PersonaKit<S>) => Partial<ServerBackend>,
): PersonaBackend {
  const kit = makeKit(settings, env);
  const ids = env.idSource ?? createQueueIdSource(seedOf(env.hostname));
  const defaults: ServerBackend = {
    hostname: env.hostname,
    extensions: kit.mxExtensions,
    newQueueId: ids,
    onRcpt: (forwardPath) => kit.relayCheck(forwardPath),
    onData: (message, envelope) => {
      kit.deliver(message, envelope);
      return undefined;
    },
  };
  return {
    ...defaults,
    ...hooks(kit),
    hostname: env.hostname,
    personaId,
    settings,
    laterBounces: kit.laterBounces,
    acceptedCount: kit.accepted,
  };
}
