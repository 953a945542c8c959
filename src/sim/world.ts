/**
 * The simulated world: DNS zones, mail hosts with their personas, mailboxes, the event log, the
 * virtual clock, and the sending MTA's queue (one destination queue machine per next-hop domain,
 * one record per message: see machines/delivery.ts).
 *
 *   const world = createWorld();
 *   const handle = world.send({ from: 'alice@example.com', to: ['bob@example.net'] });
 *   world.advance(5 * 60_000);          // retries that fall due run now, in virtual time
 *   handle.recipients();                // delivered / deferred / failed, per recipient
 *   world.mailboxes.list('bob@example.net');
 *
 * The world's sending MTA is smtp.example.com (alice's submission server, which relays her mail
 * to the recipients' MX hosts). Every host keeps one persona backend for its whole life, so
 * greylisting and rate limits remember earlier connections. Bounces are RFC 3464 DSNs sent back
 * through the same queue to the sender's domain, from `<>` (RFC 5321 §4.5.5).
 */
import { createActor, type InspectionEvent } from 'xstate';
import {
  deferEntry,
  destinationQueueMachine,
  isSettled,
  nextAttemptOf,
  openMessageRecord,
  recordVerdicts,
  requestRun,
  DEFAULT_RETRY_POLICY,
  type DestinationQueueActor,
  type HostTrial,
  type MessageRecord,
  type QueueEntry,
  type QueueNotice,
  type RecipientState,
  type RecipientVerdict,
  type RetryPolicy,
  type Suspension,
  type TimelineEntry,
} from '../machines/delivery';
import type { ClientReport, MessageResult, RecipientResult, TlsPolicy } from '../machines/client';
import type { Reply } from '../protocol/reply';
import type { NotifyCondition } from '../protocol/params';
import type { Envelope as SmtpEnvelope } from '../machines/backend';
import { createBackend, type PersonaBackend, type PersonaId as BackendPersonaId } from './personas/index';
import { VirtualClock, WORLD_EPOCH, formatRfc5322Date } from './clock';
import { mtaStsPolicy, mulberry32, mxMatchesPattern, normalizeName, resolve, routeMail, tlsaRecords, type DnsStatus, type MailHost, type MailRoute, type Rng, type Zones } from './dns';
import { dig as digZones, type DigResult } from './dig';
import { EventLog, type WorldEventBody } from './events';
import { Mailboxes, type StoredMessage } from './mailbox';
import { buildDsn, LOCAL_DIAGNOSTIC, type DsnRecipient } from './dsn';
import { defaultHosts, defaultZones, describeWorld, type DownMode, type SimHost } from './topology';
import { ServerEnd, runClientSession } from './worldConnection';

export { ServerEnd, simulateHandshake, SIMULATED_CA, type SimTlsReport, type SimCertificate, type HandshakeResult } from './worldConnection';

export interface WorldOptions {
  /** Seeds the random source (equal-preference MX order) and message ids. Default 1. */
  seed?: number;
  zones?: Zones;
  hosts?: Record<string, SimHost>;
  retry?: Partial<RetryPolicy>;
  /** Virtual start time (ms since 1970). */
  epoch?: number;
  /** How long the sending MTA waits for a TCP connection (Postfix smtp_connect_timeout: 30s). */
  connectTimeoutMs?: number;
  /**
   * Hears XState's inspection events of every actor the world runs (destination queues, server
   * and client sessions): for counting a run's transitions, or following a machine step by step.
   */
  inspect?: (event: InspectionEvent) => void;
}

/**
 * At most this many messages share one connection (Postfix bounds reuse too, by
 * smtp_connection_reuse_count_limit and smtp_connection_reuse_time_limit).
 */
const MESSAGES_PER_CONNECTION = 50;

/** The sending MTA of the world (alice's provider). */
export const WORLD_MTA = { hostname: 'smtp.example.com', address: '192.0.2.25' } as const;
/** Where a learner's own connections come from (a documentation address, RFC 5737). */
export const LEARNER_ADDRESS = '203.0.113.99';

export interface SendInput {
  from: string;
  to: string[];
  subject?: string;
  body?: string;
  /** Extra header fields, e.g. { 'X-Lesson': 'greylisting' }. */
  headers?: Record<string, string>;
  /** DSN requests (RFC 3461), as a client gives them with MAIL and RCPT at a DSN server. */
  dsn?: SendDsnOptions;
}

/** RFC 3461 §4.1 NOTIFY of one recipient: NEVER alone, or the conditions that ask for a DSN. */
export type DsnNotify = 'NEVER' | readonly NotifyCondition[];

/**
 * What `send` may ask of the world's MTA about DSNs, as MAIL's RET/ENVID and each RCPT's
 * NOTIFY/ORCPT would (RFC 3461 §4). Recipients are named by an address of `to` (any case);
 * a recipient not named has no NOTIFY: failure DSNs, and delay warnings at the MTA's discretion.
 *
 *   world.send({ from, to: ['bob@example.net', 'nobody@example.net'], dsn: {
 *     ret: 'HDRS', envid: 'QQ314159',
 *     notify: { 'bob@example.net': ['SUCCESS', 'FAILURE'], 'nobody@example.net': 'NEVER' },
 *     orcpt: { 'bob@example.net': 'rfc822;bob@example.net' },
 *   } });
 */
export interface SendDsnOptions {
  /** RFC 3461 §4.3: the whole message (FULL) or its header only (HDRS) in a failure DSN. */
  ret?: 'FULL' | 'HDRS';
  /** RFC 3461 §4.4: the sender's id for this transmission (printable ASCII, at most 100 characters). */
  envid?: string;
  /** RFC 3461 §4.1, per recipient. */
  notify?: Readonly<Record<string, DsnNotify>>;
  /** RFC 3461 §4.2, per recipient: "addr-type;address", e.g. "rfc822;bob@example.net" (not xtext-encoded). */
  orcpt?: Readonly<Record<string, string>>;
}

export interface DsnRecord {
  /** 'relayed': a success report asked for with NOTIFY=SUCCESS (RFC 3461 §5.2.2). */
  action: 'failed' | 'delayed' | 'relayed';
  at: number;
  recipients: string[];
  /** The full DSN message. */
  text: string;
  /** The host that wrote it. */
  reportingMta: string;
}

/** The queue's view of one message. */
export interface DeliveryHandle {
  readonly id: string;
  /** The Message-ID header value. */
  readonly messageId: string;
  readonly from: string;
  readonly to: readonly string[];
  readonly arrivalAt: number;
  /** The RFC 5322 message as queued. */
  readonly content: string;
  /** True once every recipient is delivered or failed. */
  readonly done: boolean;
  recipients(): RecipientState[];
  timeline(): TimelineEntry[];
  /** DSNs the sending MTA wrote about this message (failed, delayed, and relayed when NOTIFY asked for SUCCESS). */
  readonly dsns: readonly DsnRecord[];
  /** When this message is itself a DSN (from <>, written by the world's MTA or a receiving host): its Action. */
  readonly report?: DsnRecord['action'];
  /**
   * Bounces by receiving hosts that had accepted the message (the `bouncer`): to the sending
   * MTA those recipients are delivered, but the mail went no further.
   */
  laterBounces(): readonly LaterBounceView[];
  /** When the next attempt is due, while waiting (the earliest over its destinations). */
  nextAttemptAt(): number | undefined;
  /** When this recipient is tried next, while it waits (undefined while an attempt runs). */
  nextAttemptFor(address: string): number | undefined;
}

/** A receiving host failing a recipient after its 250 (RFC 5321 §6.1: it owes the sender a DSN). */
export interface LaterBounceView {
  readonly recipient: string;
  /** The host that accepted the message and bounced it. */
  readonly host: string;
  readonly at: number;
  /** Enhanced status (RFC 3463), e.g. 5.2.2. */
  readonly status: string;
  readonly reason: string;
  /** False when the sender's NOTIFY asked for no report (RFC 3461 §4.1), or the sender was <>. */
  readonly reportSent: boolean;
}

/** One destination queue as `mailq` shows it: what waits there, and why. */
export interface QueueView {
  /** The sending MTA (the world's, or a host sending its own DSNs). */
  readonly sender: string;
  /** The next-hop domain. */
  readonly destination: string;
  /** The queue machine's state: 'waiting', 'delivering', ... */
  readonly state: string;
  /** The destination rests until then after failing (no connection before). */
  readonly suspendedUntil?: number;
  readonly suspendedBecause?: string;
  readonly entries: readonly QueueViewEntry[];
}

export interface QueueViewEntry {
  /** The queue id (`DeliveryHandle.id`). */
  readonly id: string;
  readonly from: string;
  readonly arrivalAt: number;
  readonly recipients: readonly string[];
  readonly attempts: number;
  /** When it is tried next (undefined while a run has it). */
  readonly dueAt?: number;
  /** The last reason it was deferred. */
  readonly reason?: string;
}

export type ConnectResult =
  | { ok: true; connection: ServerEnd }
  /** `connectionId`: the failed attempt's connection event in the log (a timeout's is logged when the wait ends). */
  | { ok: false; error: 'refused' | 'timeout' | 'unknown-host'; message: string; host: string; port: number; connectionId: string };

export interface ConnectOptions {
  /** The client's address as the server sees it (default: the learner's). */
  peerAddress?: string;
  /** TLS from the first byte (RFC 8314). Default: on port 465 only. */
  implicitTls?: boolean;
  /**
   * How long this client waits for a host that never answers before it gives up (default: the
   * world's connect timeout). The log records the timeout when that wait ends.
   */
  timeoutMs?: number;
}

export interface World {
  readonly zones: Zones;
  readonly clock: VirtualClock;
  readonly log: EventLog;
  readonly mailboxes: Mailboxes;
  readonly retryPolicy: RetryPolicy;
  /** The hosts as they are now (down states included). */
  hosts(): Readonly<Record<string, SimHost>>;
  /** Switch a host down ('refused' or 'timeout') or back up (undefined). */
  setHostDown(name: string, mode: DownMode | undefined): void;
  /** Domains a host accepts mail for (from the MX records pointing at it). */
  domainsOf(host: string): string[];
  /** The persona backend of a host (made once, kept for the world's life). */
  backendOf(host: string): PersonaBackend | undefined;
  /** Open a connection to `host` (a name or an address) on `port`: the server end. Logged. */
  connect(host: string, port: number, options?: ConnectOptions): ConnectResult;
  /** `dig` against the world's zones; logged as a DNS query. */
  dig(args: readonly string[]): DigResult;
  /** Move virtual time forward; retries, greylist delays and later bounces that fall due run. */
  advance(ms: number): void;
  /** Advance until every queued message is settled and nothing more is due, or `limitMs` passes. */
  runUntilIdle(limitMs?: number): void;
  /** Queue a message from the world's sending MTA; the first attempt runs at once. */
  send(input: SendInput): DeliveryHandle;
  /**
   * Queue several messages at one moment, as a queue manager picks up mail that arrived
   * together: their first attempts run when all are queued, and messages for the same host
   * share connections. Every input is checked first; a bad one throws and nothing is queued.
   */
  sendAll(inputs: readonly SendInput[]): DeliveryHandle[];
  deliveries(): readonly DeliveryHandle[];
  /** The queues with mail waiting or in flight, one per destination (what `mailq` lists). */
  queues(): QueueView[];
  /** Messages queued or in flight (not yet settled), including DSNs and later bounces. */
  busy(): boolean;
  describe(): string[];
}

/** Persona settings from the topology's words for them (which are the world's, not the persona's). */
function personaSettings(spec: SimHost, domains: string[]): Record<string, unknown> {
  const s = spec.settings;
  const localParts = (list: unknown): string[] | undefined =>
    Array.isArray(list) ? [...new Set([...list.map((a) => String(a).split('@')[0]!), 'postmaster'])] : undefined;
  const out: Record<string, unknown> = {};
  if (domains.length > 0) out.domains = domains;
  const mailboxes = localParts(s.mailboxes);
  if (mailboxes) out.mailboxes = mailboxes;
  switch (spec.persona) {
    case 'greylisting':
      if (typeof s.retryAfterSeconds === 'number') out.delayMs = s.retryAfterSeconds * 1000;
      break;
    case 'tls-broken':
      if (typeof s.variant === 'string') out.variant = s.variant;
      break;
    case 'tarpit':
      if (typeof s.replyDelaySeconds === 'number') out.replyDelayMs = s.replyDelaySeconds * 1000;
      break;
    case 'content-filter':
      if (typeof s.variant === 'string') out.variant = s.variant;
      if (typeof s.maxSize === 'number') out.filterSizeLimit = s.maxSize;
      break;
    case 'mailbox-full': {
      const full = localParts(s.fullMailboxes)?.filter((m) => m !== 'postmaster');
      if (full) out.fullMailboxes = full;
      break;
    }
    case 'flaky':
      // "DATA": the connection dies at the DATA command, before anything is stored, so the
      // retry delivers exactly once.
      if (typeof s.dropAfter === 'string') out.dropAt = s.dropAfter.toLowerCase() === 'data' ? 'data' : s.dropAfter.toLowerCase();
      break;
    case 'rate-limited':
      if (typeof s.maxMessages === 'number') out.maxPerWindow = s.maxMessages;
      break;
    case 'submission':
      if (s.users && typeof s.users === 'object') out.users = s.users;
      break;
  }
  return out;
}

/** The DSN requests the queue keeps with a message (RFC 3461 §4): from MAIL/RCPT or `send`. */
interface DsnRequest {
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  /** Per recipient, by lower-cased address. */
  recipients: Map<string, { notify?: DsnNotify; orcpt?: { addressType: string; address: string } }>;
}

/** The MAIL/RCPT parameters a DSN server received (RFC 3461 §4), or undefined when none was given. */
function dsnRequestOfEnvelope(envelope: SmtpEnvelope): DsnRequest | undefined {
  const { ret, envid } = envelope.mailParams;
  const request: DsnRequest = { recipients: new Map() };
  if (ret !== undefined) request.ret = ret;
  if (envid !== undefined) request.envid = envid;
  for (const r of envelope.recipients) {
    const { notify, orcpt } = r.params;
    if (notify === undefined && orcpt === undefined) continue;
    request.recipients.set(r.address.toLowerCase(), { ...(notify !== undefined ? { notify } : {}), ...(orcpt !== undefined ? { orcpt } : {}) });
  }
  return ret === undefined && envid === undefined && request.recipients.size === 0 ? undefined : request;
}

const NOTIFY_CONDITIONS: readonly string[] = ['SUCCESS', 'FAILURE', 'DELAY'];

/** Check `send`'s DSN options (a clear error naming the bad value) and keep them as the queue does. */
function dsnRequestOfInput(input: SendInput): DsnRequest | undefined {
  const options = input.dsn;
  if (options === undefined) return undefined;
  const request: DsnRequest = { recipients: new Map() };
  if (options.ret !== undefined) {
    if (options.ret !== 'FULL' && options.ret !== 'HDRS') throw new Error(`send: dsn.ret must be FULL or HDRS (RFC 3461 §4.3), not "${String(options.ret)}"`);
    request.ret = options.ret;
  }
  if (options.envid !== undefined) {
    // RFC 3461 §4.4: printable US-ASCII, at most 100 characters.
    if (typeof options.envid !== 'string' || !/^[\x20-\x7e]{1,100}$/.test(options.envid)) {
      throw new Error('send: dsn.envid must be 1 to 100 printable ASCII characters (RFC 3461 §4.4)');
    }
    request.envid = options.envid;
  }
  const recipients = new Set(input.to.map((t) => t.toLowerCase()));
  const entryFor = (address: string, what: string) => {
    const key = address.toLowerCase();
    if (!recipients.has(key)) throw new Error(`send: dsn.${what} names "${address}", which is not a recipient (to: ${input.to.join(', ')})`);
    let entry = request.recipients.get(key);
    if (!entry) request.recipients.set(key, (entry = {}));
    return entry;
  };
  for (const [address, notify] of Object.entries(options.notify ?? {})) {
    const entry = entryFor(address, 'notify');
    if (notify === 'NEVER') {
      entry.notify = 'NEVER';
      continue;
    }
    // RFC 3461 §4.1: NEVER stands alone; otherwise one or more of SUCCESS, FAILURE, DELAY.
    if (!Array.isArray(notify) || notify.length === 0 || notify.some((c) => !NOTIFY_CONDITIONS.includes(c))) {
      throw new Error(`send: dsn.notify for ${address} must be "NEVER" or a list of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1)`);
    }
    entry.notify = [...new Set(notify)];
  }
  for (const [address, orcpt] of Object.entries(options.orcpt ?? {})) {
    const entry = entryFor(address, 'orcpt');
    // RFC 3461 §4.2: addr-type ";" address.
    const match = typeof orcpt === 'string' ? /^([A-Za-z0-9][A-Za-z0-9-]*);([\x21-\x7e\u0080-\uffff][^\r\n]*)$/.exec(orcpt) : null;
    if (!match) throw new Error(`send: dsn.orcpt for ${address} must be addr-type;address, e.g. rfc822;${address} (RFC 3461 §4.2)`);
    entry.orcpt = { addressType: match[1]!.toLowerCase(), address: match[2]! };
  }
  return request;
}

/**
 * Does this recipient want a DSN for `condition`? RFC 3461 §4.1: NEVER asks for none; a list
 * asks for exactly those; no NOTIFY at all is treated as FAILURE (and DELAY, at the MTA's
 * discretion: this one warns), never SUCCESS.
 */
function notifyAsks(request: DsnRequest | undefined, address: string, condition: NotifyCondition): boolean {
  const notify = request?.recipients.get(address.toLowerCase())?.notify;
  if (notify === undefined) return condition !== 'SUCCESS';
  if (notify === 'NEVER') return false;
  return notify.includes(condition);
}

interface QueuedMessage {
  id: string;
  messageId: string;
  from: string;
  to: string[];
  content: string;
  arrivalAt: number;
  /** The MTA that sends it: the world's, or a host sending its own DSN. */
  origin: { hostname: string; address: string };
  /** RET, ENVID, NOTIFY and ORCPT, when the sender gave any (RFC 3461). */
  dsnRequest: DsnRequest | undefined;
  dsns: DsnRecord[];
  /** This message is a DSN with this Action (RFC 3464 §2.3.3). */
  report: DsnRecord['action'] | undefined;
  /** The queue file: recipients' states and the timeline. */
  record: MessageRecord;
  settled: boolean;
}

/** A destination's route (RFC 5321 §5.1) and its MX answer as the event log shows it. */
interface RouteAnswer {
  route: MailRoute;
  mxStatus: DnsStatus;
  mxAnswers: string[];
}

function shortReply(reply: Reply): string {
  return `${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ''} ${reply.lines.join(' ')}`.trim();
}

/**
 * Recipients of one message that got an answer about themselves (RCPT, end of DATA, a refusal
 * of MAIL or the session for good); none means a session-level temporary failure: next MX host.
 */
function decidedRecipients(result: MessageResult, report: ClientReport): RecipientResult[] {
  return result.recipients.filter(
    (r) => r.stage === 'rcpt' || r.stage === 'data' || (r.stage === 'mail' && r.status === 'failed') || (r.stage === 'session' && r.status === 'failed' && report.tlsFailure === undefined),
  );
}

/** The Message-ID field of a message (RFC 5322 §3.6.4), if it has one. */
function messageIdOf(content: string): string | undefined {
  return /^Message-ID:\s*(.+)$/im.exec(content)?.[1]?.trim();
}

/** The same verdict for every recipient of an entry (a route failure, a host failure). */
function verdictsFor(entry: QueueEntry, outcome: 'failed' | 'deferred', failure: { status: string; diagnostic: string; reply?: Reply; host?: string }): RecipientVerdict[] {
  // A dead destination gets here for every entry of every run: a plain loop into a list of the
  // right length.
  const recipients = entry.recipients;
  const verdicts: RecipientVerdict[] = new Array(recipients.length);
  for (let i = 0; i < recipients.length; i++) {
    const verdict: RecipientVerdict = { address: recipients[i]!, outcome, status: failure.status, diagnostic: failure.diagnostic };
    if (failure.reply) verdict.reply = failure.reply;
    if (failure.host) verdict.remoteMta = failure.host;
    verdicts[i] = verdict;
  }
  return verdicts;
}

/** An entry's hosts when the run tried none (a route failure, a suspended destination). */
const NO_TRIALS: readonly HostTrial[] = [];

function defaultStatus(reply: Reply): string {
  return reply.enhanced ?? `${Math.floor(reply.code / 100)}.0.0`;
}

function checkSendInput(input: SendInput): void {
  if (!input.from.includes('@') && input.from !== '') throw new Error(`send: "${input.from}" is not an address (expected local@domain)`);
  if (input.to.length === 0) throw new Error('send: at least one recipient is needed');
  for (const t of input.to) if (!t.includes('@')) throw new Error(`send: "${t}" is not an address (expected local@domain)`);
  dsnRequestOfInput(input);
}

function domainOfAddress(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : normalizeName(address.slice(at + 1));
}

export function createWorld(options: WorldOptions = {}): World {
  const seed = options.seed ?? 1;
  const zones = options.zones ?? defaultZones;
  const clock = new VirtualClock(options.epoch ?? WORLD_EPOCH);
  const log = new EventLog();
  const mailboxes = new Mailboxes();
  const rng: Rng = mulberry32(seed);
  const retryPolicy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
  /** The `inspect` option of every actor made here (none unless asked: inspection costs). */
  const inspecting = options.inspect ? { inspect: options.inspect } : {};
  const hosts: Record<string, SimHost> = {};
  for (const [name, spec] of Object.entries(options.hosts ?? defaultHosts)) hosts[normalizeName(name)] = { ...spec };
  const backends = new Map<string, PersonaBackend>();
  const queue: QueuedMessage[] = [];
  const byId = new Map<string, QueuedMessage>();
  const relayed = new Set<string>();
  /** Destinations none of whose hosts could be reached lately (connection refused or timed out). */
  const suspensions = new Map<string, { until: number; wait: number; status: string; diagnostic: string }>();
  let connectionCount = 0;
  let messageCount = 0;
  let laterBouncesPending = 0;

  const append = (body: WorldEventBody, host: string) => {
    // Each body is a fresh object made for this one event, so it can carry the stamp itself.
    const stamped = body as WorldEventBody & { at: number; host: string };
    stamped.at = clock.now();
    stamped.host = host;
    log.append(stamped);
  };

  /**
   * Answers the queue asks for on every attempt, kept per world: a five-day run asks the same
   * few questions tens of thousands of times. Zones are fixed for a world's life; should records
   * be added anyway, the kept answers are dropped. A route that drew on the random source
   * (equal-preference MX hosts, shuffled per attempt) is never kept, so the draws stay the same.
   */
  const dnsMemo = {
    records: zones.records.length,
    servfail: zones.servfail.length,
    routes: new Map<string, RouteAnswer>(),
    tlsPolicies: new Map<string, TlsPolicy | 'skip'>(),
  };
  function dnsMemoValid(): void {
    if (dnsMemo.records === zones.records.length && dnsMemo.servfail === zones.servfail.length) return;
    dnsMemo.records = zones.records.length;
    dnsMemo.servfail = zones.servfail.length;
    dnsMemo.routes.clear();
    dnsMemo.tlsPolicies.clear();
  }
  function routeFor(domain: string): RouteAnswer {
    dnsMemoValid();
    const kept = dnsMemo.routes.get(domain);
    if (kept) return kept;
    let drew = false;
    const route = routeMail(zones, domain, () => {
      drew = true;
      return rng();
    });
    const mx = resolve(zones, domain, 'MX');
    const answer: RouteAnswer = { route, mxStatus: mx.status, mxAnswers: mx.answers.map((r) => `${r.preference} ${r.exchange || '.'}`) };
    if (!drew) dnsMemo.routes.set(domain, answer);
    return answer;
  }

  // Which domains each host serves: every mail domain whose route (RFC 5321 §5.1) reaches it.
  const served = new Map<string, Set<string>>();
  {
    const candidates = new Set<string>();
    for (const r of zones.records) if (r.type === 'MX' || r.type === 'CNAME') candidates.add(r.name);
    // Hosts nobody names as an MX but that receive mail themselves (an A-only domain's implicit MX).
    const exchanges = new Set(zones.records.flatMap((r) => (r.type === 'MX' ? [normalizeName(r.exchange)] : [])));
    for (const name of Object.keys(hosts)) if (!exchanges.has(name)) candidates.add(name);
    const fixed = mulberry32(seed);
    for (const domain of candidates) {
      const route = routeMail(zones, domain, fixed);
      if (route.kind !== 'hosts') continue;
      for (const h of route.hosts) {
        const set = served.get(h.host) ?? new Set<string>();
        set.add(domain);
        served.set(h.host, set);
      }
    }
    // A submission server serves its own domain's users (its MX sibling shares the domain).
    for (const [name, spec] of Object.entries(hosts)) {
      if (spec.persona === 'submission') {
        const domain = name.split('.').slice(1).join('.');
        served.set(name, new Set([domain]));
      }
    }
  }
  const domainsOf = (host: string): string[] => [...(served.get(normalizeName(host)) ?? [])].sort();

  function backendOf(hostName: string): PersonaBackend | undefined {
    const name = normalizeName(hostName);
    const spec = hosts[name];
    if (!spec) return undefined;
    let backend = backends.get(name);
    if (!backend) {
      const isSubmission = spec.persona === 'submission';
      backend = createBackend(spec.persona as BackendPersonaId, personaSettings(spec, domainsOf(name)), {
        hostname: name,
        now: () => clock.now(),
        zones,
        sink: {
          deliver: (mailbox, message, envelope) => {
            if (isSubmission) {
              // Submission relays: the accepted message enters the world's queue once.
              const key = `${name}/${message.queueId}`;
              if (relayed.has(key)) return;
              relayed.add(key);
              enqueue({
                from: envelope.reversePath,
                to: envelope.recipients.map((r) => r.address),
                content: message.text,
                origin: { hostname: name, address: spec.addresses[0] ?? WORLD_MTA.address },
                // RFC 3461 §4: this server offers DSN, so it keeps what MAIL and RCPT asked for.
                dsnRequest: dsnRequestOfEnvelope(envelope),
              });
              return;
            }
            mailboxes.deliver(mailbox, {
              envelope: { mailFrom: envelope.reversePath, rcptTo: envelope.recipients.map((r) => r.address) },
              raw: message.text,
              deliveredAt: clock.now(),
              deliveredBy: name,
            });
          },
        },
      });
      backends.set(name, backend);
    }
    return backend;
  }

  function findHost(nameOrAddress: string): string | undefined {
    const key = normalizeName(nameOrAddress.replace(/^\[|\]$/g, ''));
    if (hosts[key]) return key;
    return Object.keys(hosts).find((name) => hosts[name]!.addresses.includes(key));
  }

  /** Later bounces by the Message-ID of the bounced message, for its delivery handle. */
  const laterBouncesByMessageId = new Map<string, LaterBounceView[]>();

  /** Later bounces the bouncer owes: each becomes a DSN from that host, sent through the queue. */
  function collectLaterBounces(hostName: string): void {
    const backend = backends.get(hostName);
    if (!backend || backend.laterBounces.length === 0) return;
    const owed = backend.laterBounces.splice(0, backend.laterBounces.length);
    for (const bounce of owed) {
      laterBouncesPending += 1;
      clock.schedule(bounce.dueAt, () => {
        laterBouncesPending -= 1;
        const sender = bounce.envelope.reversePath;
        const diagnostic = shortReply(bounce.reason);
        // RFC 3461 §4.1: the recipient failed all the same, but NOTIFY=NEVER, or a list without
        // FAILURE, asked for no report of it; RFC 5321 §4.5.5: never one to the null reverse-path.
        const reportSent = sender !== '' && bounce.notifySender;
        const later = { originalMessageId: messageIdOf(bounce.message.text), reportSent };
        const status = bounce.reason.enhanced ?? '5.0.0';
        append({ kind: 'bounce', messageId: bounce.queueId, recipients: [bounce.recipient], status, reason: diagnostic, later }, hostName);
        if (later.originalMessageId !== undefined) {
          const view: LaterBounceView = { recipient: bounce.recipient, host: hostName, at: clock.now(), status, reason: diagnostic, reportSent };
          const known = laterBouncesByMessageId.get(later.originalMessageId);
          if (known) known.push(view);
          else laterBouncesByMessageId.set(later.originalMessageId, [view]);
        }
        if (!reportSent) return;
        const { ret, envid } = bounce.envelope.mailParams;
        const orcpt = bounce.envelope.recipients.find((r) => r.address === bounce.recipient)?.params.orcpt;
        const dsn = buildDsn({
          reportingMta: hostName,
          originalSender: sender,
          arrivalDate: bounce.acceptedAt,
          date: clock.now(),
          recipients: [
            {
              // RFC 3464 §2.3.1: Original-Recipient is the ORCPT given with this RCPT (RFC 3461 §4.2).
              ...(orcpt ? { originalRecipient: orcpt.address, originalRecipientType: orcpt.addressType } : {}),
              finalRecipient: bounce.recipient,
              action: 'failed',
              status: bounce.reason.enhanced ?? '5.0.0',
              diagnosticCode: diagnostic,
            },
          ],
          originalMessage: bounce.message.text,
          // RFC 3464 §2.2.1: the ENVID of MAIL (RFC 3461 §4.4) comes back as Original-Envelope-Id.
          ...(envid !== undefined ? { originalEnvelopeId: envid } : {}),
          // RFC 3461 §4.3: RET=FULL returns the whole message; RET=HDRS, or none, the header only.
          ...(ret === 'FULL' ? { returnContent: 'full' as const } : {}),
        });
        enqueue({ from: '', to: [sender], content: dsn.text, origin: { hostname: hostName, address: hosts[hostName]?.addresses[0] ?? WORLD_MTA.address }, report: 'failed' });
      });
    }
  }

  function connect(hostName: string, port: number, connectOptions: ConnectOptions = {}): ConnectResult {
    const name = findHost(hostName);
    const peerAddress = connectOptions.peerAddress ?? LEARNER_ADDRESS;
    const connectionId = `c${++connectionCount}`;
    const fail = (error: 'refused' | 'timeout' | 'unknown-host', message: string): ConnectResult => {
      const failed = { kind: 'connection', connectionId, client: peerAddress, port, outcome: error === 'timeout' ? 'timeout' : 'refused' } as const;
      const host = name ?? normalizeName(hostName);
      // A refusal (a TCP RST) is known at once; silence only when the client stops waiting.
      if (error === 'timeout') clock.schedule(clock.now() + (connectOptions.timeoutMs ?? connectTimeoutMs), () => append(failed, host));
      else append(failed, host);
      return { ok: false, error, message, host: name ?? hostName, port, connectionId };
    };
    if (!name) return fail('unknown-host', `${hostName}: no such host in this world`);
    const spec = hosts[name]!;
    if (spec.down === 'timeout') return fail('timeout', `connect to ${name}[${spec.addresses[0]}]:${port}: Connection timed out`);
    if (spec.down === 'refused' || !spec.ports.includes(port)) {
      return fail('refused', `connect to ${name}[${spec.addresses[0]}]:${port}: Connection refused`);
    }
    const connection = new ServerEnd({
      connectionId,
      host: name,
      port,
      backend: backendOf(name)!,
      peer: { address: peerAddress, port: 40000 + (connectionCount % 20000) },
      clock,
      log,
      onEnded: () => collectLaterBounces(name),
      implicitTls: connectOptions.implicitTls ?? port === 465,
      ...inspecting,
    });
    return { ok: true, connection };
  }

  /** RFC 8461 (MTA-STS) and RFC 7672 (DANE) decide how much TLS the sender demands of `host`. */
  function tlsPolicyFor(domain: string, host: string): TlsPolicy | 'skip' {
    dnsMemoValid();
    const key = `${domain} ${host}`;
    let policy = dnsMemo.tlsPolicies.get(key);
    if (policy === undefined) {
      policy = tlsPolicyFromZones(domain, host);
      dnsMemo.tlsPolicies.set(key, policy);
    }
    return policy;
  }

  function tlsPolicyFromZones(domain: string, host: string): TlsPolicy | 'skip' {
    const sts = mtaStsPolicy(zones, domain);
    if (sts && sts.mode === 'enforce') {
      // RFC 8461 §4.1: an MX host that does not match the policy is not used at all.
      if (!sts.mx.some((pattern) => mxMatchesPattern(host, pattern))) return 'skip';
      return 'enforce';
    }
    if (tlsaRecords(zones, host).length > 0) return 'enforce';
    return 'opportunistic';
  }

  /**
   * The destination queues, one per (sending MTA, next-hop domain): Postfix's queue manager keeps
   * its in-memory queue per destination too. Each is a `destinationQueueMachine` whose `run`
   * requests are answered by `runDestination` below.
   */
  interface DestinationQueue {
    key: string;
    domain: string;
    origin: { hostname: string; address: string };
    actor: DestinationQueueActor;
  }
  const destinations = new Map<string, DestinationQueue>();
  /** The queue machine with the world as its transport: each run it asks for is `runDestination`. */
  const transportedQueueMachine = destinationQueueMachine.provide({ actions: { startRun: requestRun } });
  /** Sends being queued together (`sendAll`): their first attempts wait for the end of the batch. */
  let holding = 0;
  /**
   * While `sendAll` queues its messages, or a run settles a batch of entries (whose bounces and
   * delay warnings are new messages): the new entries per destination, given to each queue in
   * one `enqueue` at the end (an event per message would make the queue look again, and set its
   * wait again, once per message of the same moment). `last` orders the destinations.
   */
  let gathering: Map<DestinationQueue, { entries: QueueEntry[]; last: number }> | undefined;
  let gatheredCount = 0;

  /**
   * Run `queueSome` with the entries it queues gathered (see `gathering`), and hand them on when
   * it is done: one arrival per destination, in the order of each one's last message. A queue's
   * wait is set when entries arrive and waits due at the same moment run in the order they were
   * set, so the destinations run as they would after arrivals one by one. Nothing else may set a
   * timer inside `queueSome` (no session may start in it), or that order would change.
   */
  function gatheringArrivals<T>(queueSome: () => T): T {
    if (gathering !== undefined) return queueSome();
    gathering = new Map();
    try {
      return queueSome();
    } finally {
      const gathered = gathering;
      gathering = undefined;
      // Most batches a run settles queue nothing new (no bounce, no warning).
      if (gathered.size === 1) {
        for (const [destination, { entries }] of gathered) destination.actor.send({ type: 'enqueue', entries });
      } else if (gathered.size > 1) {
        for (const [destination, { entries }] of [...gathered].sort((a, b) => a[1].last - b[1].last)) destination.actor.send({ type: 'enqueue', entries });
      }
    }
  }
  let advancing = 0;
  /** Messages with a recipient not yet delivered or failed. */
  let unsettled = 0;

  function destinationFor(origin: { hostname: string; address: string }, domain: string): DestinationQueue {
    const key = `${origin.hostname} ${origin.address} ${domain}`;
    let queue = destinations.get(key);
    if (queue) return queue;
    const actor = createActor(transportedQueueMachine, { input: { destination: domain, now: () => clock.now(), held: () => holding > 0 || advancing > 0 }, clock, ...inspecting });
    const created: DestinationQueue = { key, domain, origin, actor };
    actor.on('run', (run) => runDestination(created, run.entries, run.suspension, (requeue, suspension) => actor.send({ type: 'run.done', requeue, suspension })));
    destinations.set(key, created);
    actor.start();
    return created;
  }

  /** A failure that moves the remaining entries on to the next host. */
  interface HostFailure {
    status: string;
    diagnostic: string;
    reply?: Reply;
    /** The host that answered, when one did (the DSN's Remote-MTA). */
    host?: string;
  }

  /** Entries that go on together to a host: the first host, the next one, or the same one again. */
  /** A queue entry during its run: its message at hand, and the hosts tried so far (for its timeline). */
  interface RunEntry extends QueueEntry {
    readonly message: QueuedMessage;
    trials: HostTrial[] | undefined;
  }

  interface HostStep {
    index: number;
    entries: RunEntry[];
    lastFailure: HostFailure | undefined;
    /** Retry in plaintext after a broken handshake (opportunistic TLS). */
    plaintextOnly: boolean;
  }

  /**
   * One delivery run for the entries of a destination due now: MX lookup once, then the hosts in
   * preference order (RFC 5321 §5.1). Messages for the same host share connections, at most
   * MESSAGES_PER_CONNECTION each, one MAIL/RCPT/DATA transaction per message (RFC 5321 §3.3).
   * Each entry is settled as soon as its answer is known, so the queue never shows a recipient
   * as waiting when its copy already sits in a mailbox.
   */
  function runDestination(
    queue: DestinationQueue,
    due: readonly QueueEntry[],
    suspension: Suspension | undefined,
    done: (requeue: QueueEntry[], suspension: Suspension | undefined) => void,
  ): void {
    const { domain, origin } = queue;
    const requeue: QueueEntry[] = [];
    const entries: RunEntry[] = [];
    for (const e of due) {
      const message = byId.get(e.messageId);
      if (!message) continue;
      entries.push({ messageId: e.messageId, recipients: e.recipients, dueAt: e.dueAt, attempts: e.attempts + 1, deferrals: e.deferrals, message, trials: undefined });
      // In flight: no next attempt until this one ends.
      message.record.nextAttempts.set(domain, undefined);
    }
    const noteTrial = (entry: RunEntry, trial: HostTrial) => {
      if (entry.trials) entry.trials.push(trial);
      else entry.trials = [trial];
    };
    /** `takenBy`: the session with the host that answered for these recipients, if one did. */
    const settle = (entry: RunEntry, verdicts: RecipientVerdict[], routeOutcome?: 'no-route' | 'suspended', takenBy?: ClientReport) => {
      const message = entry.message;
      const record = message.record;
      const now = clock.now();
      // Only a message whose sender asked for DSNs, and whose requests did not go on with it
      // (the host that took it did not list DSN), pays for remembering who waited.
      const waitedBefore =
        message.dsnRequest && message.from !== '' && takenBy?.extensions.some((line) => line === 'DSN' || line.startsWith('DSN ')) !== true ? pendingAddresses(record) : undefined;
      const notices = recordVerdicts(record, entry.attempts, now, { trials: entry.trials ?? NO_TRIALS, verdicts }, routeOutcome);
      const after = deferEntry(record, domain, entry, now);
      if (after.requeue) requeue.push(after.requeue);
      for (const notice of notices) onQueueNotice(message, notice);
      for (const notice of after.notices) onQueueNotice(message, notice);
      if (waitedBefore) {
        // RFC 3461 §5.2.2: the next hop took the message but does not list DSN, so NOTIFY could
        // not go on with it, and a recipient with NOTIFY=SUCCESS gets a "relayed" report now;
        // one report covers the recipients of this message accepted together. A next hop that
        // lists DSN was given the requests (§5.2.1): reporting is its business from then on,
        // and this MTA sends nothing. (No persona of this world reports a success itself, so
        // such a message brings no success report at all; a failure it reports as asked.)
        const relayedNow = verdicts.filter((v) => v.outcome === 'delivered' && waitedBefore.has(v.address) && notifyAsks(message.dsnRequest, v.address, 'SUCCESS'));
        if (relayedNow.length > 0) sendDsn(message, 'relayed', relayedNow);
      }
      if (!message.settled && isSettled(record)) {
        message.settled = true;
        unsettled -= 1;
      }
    };
    const settleAll = (outcome: 'failed' | 'deferred', failure: HostFailure, routeOutcome?: 'no-route' | 'suspended') => {
      gatheringArrivals(() => {
        for (const entry of entries) settle(entry, verdictsFor(entry, outcome, failure), routeOutcome);
      });
    };

    if (entries.length === 0) {
      done(requeue, suspension);
      return;
    }
    // Like Postfix's queue manager: a destination whose every host just failed to answer is
    // "temporarily suspended" instead of being connected to again for each queued message.
    if (suspension && suspension.until > clock.now()) {
      settleAll('deferred', { status: suspension.status, diagnostic: `delivery temporarily suspended: ${suspension.diagnostic}` }, 'suspended');
      done(requeue, suspension);
      return;
    }
    const { route, mxStatus, mxAnswers } = routeFor(domain);
    append({ kind: 'dns-query', name: domain, type: 'MX', status: mxStatus, answers: mxAnswers.slice() }, origin.hostname);
    if (route.kind !== 'hosts') {
      const failure = { status: route.failure.enhanced, diagnostic: `${route.failure.code} ${route.failure.enhanced} ${route.failure.text}` };
      settleAll(route.kind === 'temporary' ? 'deferred' : 'failed', failure);
      done(requeue, suspension);
      return;
    }
    const hosts = route.hosts;
    /** Some entry got an answer about its recipients from a host: the destination is alive. */
    let answered = false;
    /** Some entries ran out of hosts without such an answer. */
    let exhausted: HostFailure | undefined;
    // A destination that was dead at its last run (its rest is over) is probed with one message,
    // as Postfix's queue manager opens a throttled destination with a single delivery: the rest
    // wait for the probe's answer instead of riding into a session that will likely fail too.
    let held = suspension !== undefined && entries.length > 1 ? entries.slice(1) : undefined;
    const work: HostStep[] = [{ index: 0, entries: held ? entries.slice(0, 1) : entries, lastFailure: undefined, plaintextOnly: false }];

    const finish = () => {
      let next = suspension;
      if (answered) next = undefined;
      else if (exhausted) {
        // No host got as far as a recipient: rest the destination, longer each time it stays
        // dead (like the message backoff), so queued mail does not hammer it.
        const wait = suspension ? Math.min(retryPolicy.maximalBackoffMs, suspension.wait * 2) : retryPolicy.minimalBackoffMs;
        next = { until: clock.now() + wait, wait, status: exhausted.status, diagnostic: exhausted.diagnostic };
      }
      if (held) {
        const rest = held;
        held = undefined;
        if (next === undefined || next === suspension) {
          // The probe got an answer: the destination lives, and the rest go now.
          work.push({ index: 0, entries: rest, lastFailure: undefined, plaintextOnly: false });
          nextStep();
          return;
        }
        // Still dead: the rest wait with it, untried.
        const why = { status: next.status, diagnostic: `delivery temporarily suspended: ${next.diagnostic}` };
        gatheringArrivals(() => {
          for (const entry of rest) settle(entry, verdictsFor(entry, 'deferred', why), 'suspended');
        });
      }
      done(requeue, next);
    };

    const nextStep = (): void => {
      const step = work.shift();
      if (!step) {
        finish();
        return;
      }
      tryHost(step);
    };

    const tryHost = ({ index, entries: group, lastFailure, plaintextOnly }: HostStep): void => {
      if (index >= hosts.length) {
        // Every host failed at the connection or session level: wait and try again later.
        const why = lastFailure ?? { status: '4.4.1', diagnostic: `no MX host of ${domain} could be reached` };
        exhausted = why;
        gatheringArrivals(() => {
          for (const entry of group) settle(entry, verdictsFor(entry, 'deferred', why));
        });
        nextStep();
        return;
      }
      const host = hosts[index]!.host;
      const policy = tlsPolicyFor(domain, host);
      if (policy === 'skip') {
        const at = clock.now();
        for (const entry of group) noteTrial(entry, { host, at, outcome: 'skipped', summary: `${host} is not listed in ${domain}'s MTA-STS policy: not used (RFC 8461 §4.1)` });
        work.unshift({ index: index + 1, entries: group, lastFailure, plaintextOnly: false });
        nextStep();
        return;
      }
      const tls: TlsPolicy = plaintextOnly ? 'none' : policy;
      /** The session ended before reaching these messages: a new connection to the same host. */
      const unreached: RunEntry[] = [];
      /** The handshake broke under opportunistic TLS: the same host again, in plaintext. */
      const downgraded: RunEntry[] = [];
      /** No recipient-level answer from this host: the next host. */
      const undecided: RunEntry[] = [];
      let failure = lastFailure;
      let offset = 0;

      const afterHost = () => {
        if (downgraded.length > 0) work.push({ index, entries: downgraded, lastFailure, plaintextOnly: true });
        if (unreached.length > 0) work.push({ index, entries: unreached, lastFailure, plaintextOnly });
        if (undecided.length > 0) work.push({ index: index + 1, entries: undecided, lastFailure: failure, plaintextOnly: false });
        nextStep();
      };

      const nextConnection = (): void => {
        if (offset >= group.length) {
          afterHost();
          return;
        }
        const batch = group.slice(offset, offset + MESSAGES_PER_CONNECTION);
        offset += batch.length;
        const at = clock.now();
        const target = `${host}:25`;
        for (const entry of batch) {
          log.append({ kind: 'delivery-attempt', messageId: entry.messageId, recipients: entry.recipients, attempt: entry.attempts, target, at, host: origin.hostname, seq: 0 });
        }
        const opened = connect(host, 25, { peerAddress: origin.address });
        if (!opened.ok) {
          // The host cannot be reached now: every entry still bound for it moves on together.
          const rest = group.slice(offset);
          for (const entry of rest) {
            log.append({ kind: 'delivery-attempt', messageId: entry.messageId, recipients: entry.recipients, attempt: entry.attempts, target, at, host: origin.hostname, seq: 0 });
          }
          offset = group.length;
          const moveOn = () => {
            const trial: HostTrial = { host, at, connectionId: opened.connectionId, outcome: opened.error === 'timeout' ? 'timeout' : 'refused', summary: opened.message };
            for (const entry of batch) noteTrial(entry, trial);
            for (const entry of rest) noteTrial(entry, trial);
            undecided.push(...batch, ...rest);
            // No Remote-MTA: nobody answered (RFC 3464 §2.3.5 names the MTA that reported).
            failure = { status: '4.4.1', diagnostic: opened.message };
            afterHost();
          };
          // Postfix's smtp_connect_timeout: the attempt hangs that long before the next host.
          if (opened.error === 'timeout') clock.schedule(at + connectTimeoutMs, moveOn);
          else moveOn();
          return;
        }
        const connectionId = opened.connection.connectionId;
        const messages = batch.map((entry) => {
          const message = entry.message;
          // RFC 3461 §5.2: the DSN requests travel with the message; the client writes them only
          // to a host that lists DSN. A message without requests is built exactly as before.
          if (message.dsnRequest) return { from: message.from, recipients: entry.recipients.slice(), content: message.content, dsn: message.dsnRequest };
          return { from: message.from, recipients: entry.recipients.slice(), content: message.content };
        });
        runClientSession(opened.connection, { clientName: origin.hostname, tls, messages }, clock, (report) => {
          // Opportunistic TLS whose handshake broke: connect again without STARTTLS, as Postfix does.
          if (report.tls === 'handshake-failed' && tls === 'opportunistic') {
            for (const entry of batch) {
              noteTrial(entry, { host, at, connectionId, outcome: 'tls-failed', summary: `TLS handshake with ${host} failed; retrying in plaintext (opportunistic TLS)`, downgraded: true });
            }
            downgraded.push(...batch);
            nextConnection();
            return;
          }
          const decided = batch.map((_, i) => decidedRecipients(report.messages[i]!, report));
          let sessionFailure: { reply: Reply | undefined; trial: HostTrial; failure: HostFailure } | undefined;
          const sessionAnswered = decided.some((d) => d.length > 0);
          gatheringArrivals(() => {
            for (let i = 0; i < batch.length; i++) {
              const entry = batch[i]!;
              const result = report.messages[i]!;
              if (decided[i]!.length === 0) {
                // A message the session never reached (it ended during an earlier transaction)
                // goes to the same host on a new connection; with no answer at all, next host.
                if (sessionAnswered && result.mailReply === undefined) {
                  unreached.push(entry);
                  continue;
                }
                // Nothing reached a recipient-level answer: a session-level temporary failure.
                const reply = result.recipients[0]?.reply;
                // Every message of a session that failed this way (a 421 banner, a TLS policy
                // failure, a timeout) shares the one reply: one trial and one failure serve them all.
                if (sessionFailure === undefined || sessionFailure.reply !== reply) {
                  const status = reply ? defaultStatus(reply) : '4.4.2';
                  const diagnostic = report.tlsFailure
                    ? `TLS is required for ${domain} but ${report.tlsFailure}`
                    : reply
                      ? `${host} said: ${shortReply(reply)}`
                      : `lost connection with ${host}`;
                  const trial: HostTrial = { host, at, connectionId, outcome: report.tlsFailure ? 'tls-failed' : report.endedBy === 'timeout' ? 'timeout' : 'deferred', summary: diagnostic };
                  const hostFailure: HostFailure = { status: report.tlsFailure ? '4.7.5' : status, diagnostic, host };
                  if (reply) {
                    trial.reply = reply;
                    hostFailure.reply = reply;
                  }
                  sessionFailure = { reply, trial, failure: hostFailure };
                }
                noteTrial(entry, sessionFailure.trial);
                undecided.push(entry);
                failure = sessionFailure.failure;
                continue;
              }
              answered = true;
              const delivered = result.recipients.filter((r) => r.status === 'delivered').length;
              const outcome: HostTrial['outcome'] =
                delivered === result.recipients.length ? 'delivered' : delivered > 0 ? 'partial' : result.recipients.some((r) => r.status === 'deferred') ? 'deferred' : 'failed';
              const lastReply = result.dataReply ?? result.recipients.find((r) => r.reply)?.reply;
              const trial: HostTrial = { host, at, connectionId, outcome, summary: summarize(host, result.recipients, report) };
              if (lastReply) trial.reply = lastReply;
              if (report.downgraded || plaintextOnly) trial.downgraded = true;
              noteTrial(entry, trial);
              for (const r of result.recipients) {
                if (r.status === 'delivered') append({ kind: 'delivery', messageId: entry.messageId, recipient: r.address, mailbox: r.address }, host);
              }
              settle(
                entry,
                result.recipients.map((r) => verdictOf(r, host)),
                undefined,
                report,
              );
            }
          });
          nextConnection();
        }, options.inspect);
      };
      nextConnection();
    };

    nextStep();
  }
  function summarize(host: string, recipients: RecipientResult[], report: ClientReport): string {
    const parts = recipients.map((r) => `${r.address}: ${r.status}${r.reply ? ` (${shortReply(r.reply)})` : ''}`);
    const tls = report.tls === 'established' ? ` over ${report.tlsReport?.protocol ?? 'TLS'}` : report.downgraded ? ' in plaintext (STARTTLS failed, opportunistic)' : '';
    return `${host}${tls}: ${parts.join('; ')}`;
  }

  function verdictOf(r: RecipientResult, host: string): RecipientVerdict {
    const reply = r.reply!;
    const outcome = r.status === 'delivered' ? 'delivered' : r.status === 'failed' ? 'failed' : 'deferred';
    return { address: r.address, outcome, status: defaultStatus(reply), diagnostic: shortReply(reply), reply, remoteMta: host };
  }

  function pendingAddresses(record: MessageRecord): Set<string> {
    const waiting = new Set<string>();
    for (const r of record.recipients) if (r.status === 'queued' || r.status === 'deferred') waiting.add(r.address);
    return waiting;
  }

  function sendDsn(message: QueuedMessage, action: 'failed' | 'delayed' | 'relayed', verdicts: RecipientVerdict[], willRetryUntil?: number): void {
    const now = clock.now();
    const request = message.dsnRequest;
    const recipients: DsnRecipient[] = verdicts.map((v) => {
      // RFC 3464 §2.3.1: Original-Recipient is the ORCPT the sender gave (RFC 3461 §4.2), if any.
      const orcpt = request?.recipients.get(v.address.toLowerCase())?.orcpt;
      return {
        ...(orcpt ? { originalRecipient: orcpt.address, originalRecipientType: orcpt.addressType } : {}),
        finalRecipient: v.address,
        action,
        status: action === 'delayed' && v.status.startsWith('2') ? '4.0.0' : action === 'relayed' && !v.status.startsWith('2') ? '2.0.0' : v.status,
        ...(v.remoteMta ? { remoteMta: v.remoteMta } : {}),
        diagnosticCode: v.diagnostic,
        // A verdict without a reply is this MTA's own finding (no host answered, or time ran out).
        ...(v.reply ? {} : { diagnosticType: LOCAL_DIAGNOSTIC }),
        lastAttemptDate: now,
        ...(willRetryUntil !== undefined ? { willRetryUntil } : {}),
      };
    });
    const dsn = buildDsn({
      reportingMta: message.origin.hostname,
      originalSender: message.from,
      arrivalDate: message.arrivalAt,
      date: now,
      recipients,
      originalMessage: message.content,
      // RFC 3464 §2.2.1: the ENVID of RFC 3461 §4.4 comes back as Original-Envelope-Id.
      ...(request?.envid !== undefined ? { originalEnvelopeId: request.envid } : {}),
      // RFC 3461 §4.3: RET=FULL returns the whole message in a failure DSN; a report of no
      // failure carries the header only. RET=HDRS, or no RET (the MTA's choice), the header only.
      ...(request?.ret === 'FULL' && action === 'failed' ? { returnContent: 'full' as const } : {}),
    });
    message.dsns.push({ action, at: now, recipients: verdicts.map((v) => v.address), text: dsn.text, reportingMta: message.origin.hostname });
    enqueue({ from: '', to: [message.from], content: dsn.text, origin: message.origin, report: action });
  }

  function onQueueNotice(message: QueuedMessage, notice: QueueNotice): void {
    const origin = message.origin.hostname;
    switch (notice.type) {
      case 'bounce':
        append({ kind: 'bounce', messageId: message.id, recipients: notice.verdicts.map((v) => v.address), status: notice.verdicts[0]!.status, reason: notice.verdicts[0]!.diagnostic }, origin);
        // RFC 5321 §4.5.5 / RFC 3464: never a DSN about a DSN (the null reverse-path).
        if (message.from !== '') {
          // RFC 3461 §4.1: no failure DSN for a recipient whose NOTIFY is NEVER or lacks FAILURE.
          const asked = message.dsnRequest ? notice.verdicts.filter((v) => notifyAsks(message.dsnRequest, v.address, 'FAILURE')) : notice.verdicts;
          if (asked.length > 0) sendDsn(message, 'failed', asked);
        }
        break;
      case 'delayed':
        if (message.from !== '') {
          // RFC 3461 §4.1: a delay warning only for recipients whose NOTIFY includes DELAY, or who gave no NOTIFY.
          const asked = message.dsnRequest ? notice.verdicts.filter((v) => notifyAsks(message.dsnRequest, v.address, 'DELAY')) : notice.verdicts;
          if (asked.length > 0) sendDsn(message, 'delayed', asked, notice.willRetryUntil);
        }
        break;
      case 'deferred':
        // Written whole (stamp and number included), as the most frequent event of a long run.
        log.append({ kind: 'deferral', messageId: message.id, recipients: notice.recipients, reason: notice.reason, retryAt: notice.retryAt, at: clock.now(), host: origin, seq: 0 });
        break;
    }
  }

  function enqueue(spec: {
    from: string;
    to: string[];
    content: string;
    origin: { hostname: string; address: string };
    dsnRequest?: DsnRequest | undefined;
    report?: DsnRecord['action'];
  }): QueuedMessage {
    messageCount += 1;
    const id = `q${messageCount}`;
    const messageId = messageIdOf(spec.content) ?? `<${id}@${spec.origin.hostname}>`;
    const now = clock.now();
    const record = openMessageRecord({ messageId: id, from: spec.from, recipients: spec.to, arrivalAt: now, retry: retryPolicy });
    const message: QueuedMessage = {
      id,
      messageId,
      from: spec.from,
      to: [...spec.to],
      content: spec.content,
      arrivalAt: now,
      origin: spec.origin,
      dsnRequest: spec.dsnRequest,
      dsns: [],
      report: spec.report,
      record,
      settled: false,
    };
    queue.push(message);
    byId.set(id, message);
    unsettled += 1;
    // One queue entry per destination domain, in the order the domains first appear.
    const byDomain = new Map<string, string[]>();
    for (const address of spec.to) {
      const domain = domainOfAddress(address);
      const list = byDomain.get(domain);
      if (list) list.push(address);
      else byDomain.set(domain, [address]);
    }
    for (const domain of byDomain.keys()) record.nextAttempts.set(domain, now);
    for (const [domain, recipients] of byDomain) {
      const destination = destinationFor(spec.origin, domain);
      // The list goes on unchanged from entry to entry, timeline row and log event while every
      // recipient in it waits (see deferEntry): readonly wherever it goes. (Not frozen: V8 walks
      // frozen arrays on slow paths, and `slice` of one costs twenty times as much.)
      const entry: QueueEntry = { messageId: id, recipients, dueAt: now, attempts: 0, deferrals: 0 };
      if (!gathering) {
        destination.actor.send({ type: 'enqueue', entries: [entry] });
        continue;
      }
      let gathered = gathering.get(destination);
      if (!gathered) gathering.set(destination, (gathered = { entries: [], last: 0 }));
      gathered.entries.push(entry);
      gathered.last = ++gatheredCount;
    }
    return message;
  }

  function compose(input: SendInput, id: number): string {
    const headers: string[] = [
      `From: <${input.from}>`,
      `To: ${input.to.map((t) => `<${t}>`).join(', ')}`,
      `Subject: ${input.subject ?? 'Hello'}`,
      `Date: ${formatRfc5322Date(clock.now())}`,
      `Message-ID: <${id}.${seed}.sim@${WORLD_MTA.hostname}>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      ...Object.entries(input.headers ?? {}).map(([k, v]) => `${k}: ${v.replace(/[\r\n]+/g, ' ')}`),
    ];
    const body = (input.body ?? 'Hello from the simulated world.').replace(/\r\n|\r|\n/g, '\r\n');
    return `${headers.join('\r\n')}\r\n\r\n${body}${body.endsWith('\r\n') ? '' : '\r\n'}`;
  }

  function handleOf(message: QueuedMessage): DeliveryHandle {
    const record = message.record;
    return {
      id: message.id,
      messageId: message.messageId,
      from: message.from,
      to: message.to,
      arrivalAt: message.arrivalAt,
      content: message.content,
      get done() {
        return message.settled;
      },
      // Copies: the record changes in place as the queue works, a caller's list does not.
      recipients: () => record.recipients.slice(),
      timeline: () => record.timeline.slice(),
      dsns: message.dsns,
      ...(message.report ? { report: message.report } : {}),
      laterBounces: () => laterBouncesByMessageId.get(message.messageId)?.slice() ?? [],
      nextAttemptAt: () => (message.settled ? undefined : nextAttemptOf(record)),
      nextAttemptFor: (address) => record.nextAttempts.get(domainOfAddress(address)),
    };
  }

  const world: World = {
    zones,
    clock,
    log,
    mailboxes,
    retryPolicy,
    hosts: () => hosts,
    setHostDown(name, mode) {
      const key = findHost(name);
      if (!key) throw new Error(`setHostDown: no host "${name}" in this world; hosts: ${Object.keys(hosts).sort().join(', ')}`);
      const { down: _previous, ...rest } = hosts[key]!;
      hosts[key] = mode ? { ...rest, down: mode } : rest;
    },
    domainsOf,
    backendOf,
    connect,
    dig(args) {
      const result = digZones(zones, args);
      if (result.ok) {
        const res = resolve(zones, result.query.name, result.query.type);
        append({ kind: 'dns-query', name: result.query.name, type: result.query.type, status: res.status, answers: result.text.split('\n').filter((l) => l && !l.startsWith(';')) }, 'resolver');
      }
      return result;
    },
    advance(ms) {
      advancing += 1;
      try {
        clock.advance(ms);
      } finally {
        advancing -= 1;
      }
    },
    runUntilIdle(limitMs = retryPolicy.maximalLifetimeMs + 86_400_000) {
      const limit = clock.now() + limitMs;
      advancing += 1;
      try {
        while (world.busy()) {
          const next = clock.nextDueAt();
          if (next === undefined || next > limit) break;
          clock.advanceTo(Math.max(next, clock.now()));
        }
      } finally {
        advancing -= 1;
      }
    },
    send(input) {
      checkSendInput(input);
      const message = enqueue({ from: input.from, to: input.to, content: compose(input, messageCount + 1), origin: WORLD_MTA, dsnRequest: dsnRequestOfInput(input) });
      return handleOf(message);
    },
    sendAll(inputs) {
      // Every input is checked before any is queued: a bad one loses nothing and queues nothing.
      for (const input of inputs) checkSendInput(input);
      holding += 1;
      let handles: DeliveryHandle[];
      try {
        handles = gatheringArrivals(() =>
          inputs.map((input) =>
            handleOf(enqueue({ from: input.from, to: input.to, content: compose(input, messageCount + 1), origin: WORLD_MTA, dsnRequest: dsnRequestOfInput(input) })),
          ),
        );
      } finally {
        holding -= 1;
      }
      // The first attempts run now, together: the queues were waiting for the end of this moment.
      if (holding === 0 && advancing === 0) world.advance(0);
      return handles;
    },
    deliveries: () => queue.map(handleOf),
    queues() {
      const views: QueueView[] = [];
      for (const q of destinations.values()) {
        const snapshot = q.actor.getSnapshot();
        const { queued, inFlight, suspension } = snapshot.context;
        if (queued.length === 0 && inFlight.length === 0) continue;
        const entryView = (entry: QueueEntry, waiting: boolean): QueueViewEntry => {
          const message = byId.get(entry.messageId)!;
          const last = message.record.recipients.find((r) => entry.recipients.includes(r.address) && r.last)?.last;
          return {
            id: message.id,
            from: message.from,
            arrivalAt: message.arrivalAt,
            recipients: entry.recipients,
            attempts: entry.attempts,
            ...(waiting ? { dueAt: entry.dueAt } : {}),
            ...(last ? { reason: last.diagnostic } : {}),
          };
        };
        views.push({
          sender: q.origin.hostname,
          destination: q.domain,
          state: String(snapshot.value),
          ...(suspension && suspension.until > clock.now() ? { suspendedUntil: suspension.until, suspendedBecause: suspension.diagnostic } : {}),
          entries: [...inFlight.map((e) => entryView(e, false)), ...queued.map((e) => entryView(e, true))],
        });
      }
      return views.sort((a, b) => a.destination.localeCompare(b.destination) || a.sender.localeCompare(b.sender));
    },
    busy: () => laterBouncesPending > 0 || unsettled > 0,
    describe: () => describeWorld(zones, hosts),
  };
  return world;
}

/** Every stored DSN in a mailbox (delivery status notifications, RFC 3464). */
export function dsnsIn(mailboxes: Mailboxes, address: string): StoredMessage[] {
  return mailboxes.list(address).filter((m) => m.isDsn);
}
