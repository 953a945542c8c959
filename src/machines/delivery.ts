/**
 * The sending MTA's queue over (virtual) time, built the way Postfix's queue manager is:
 *
 * - one **destination queue** per next-hop domain (an XState machine, `destinationQueueMachine`).
 *   It holds the queue entries bound there (one message's recipients at that domain), wakes when
 *   the earliest falls due, hands every entry due at that moment to one delivery run (resolve MX,
 *   try the hosts in preference order, messages to the same host sharing connections), takes the
 *   deferred ones back with their next retry time, and remembers a dead destination as
 *   suspended;
 *
 *        idle --enqueue--> ready --due now--> delivering --run.done--> ready
 *                            |  \--nothing queued--> idle
 *                            \--later--> waiting --after (earliest due)--> delivering
 *
 * - one **message record** per message (Postfix's queue file): recipients and their state, the
 *   timeline a learner reads, and the rules that decide what a verdict means for the message:
 *   a 2xx delivers, a 5xx fails that recipient at once (a DSN is due), a 4xx or a connection
 *   failure defers it with backoff, and past the retry period the message bounces. These are
 *   plain functions over the record (`recordVerdicts`, `deferEntry`), so a run of thousands of
 *   deferrals costs a few object updates each, not an actor step each.
 *
 * Why not one actor per message: a five-day run of 1,000 messages makes about 25,000 retries;
 * an XState cycle per retry (wake, attempt, decide, wait) measured 60–80 µs here, which alone is
 * two seconds. Messages due at the same destination at the same moment are one run in Postfix
 * too (its in-memory queue is per destination, and a dead destination defers everything bound
 * for it without a connection per message).
 *
 * ## The retry schedule, and why
 *
 * Postfix's defaults: the first retry after `minimal_backoff_time` (300s), each further wait
 * doubling up to `maximal_backoff_time` (4000s), giving up after `maximal_queue_lifetime` (5d),
 * and a "delayed mail" warning after `delay_warning_time` (4h, off by default in Postfix but
 * commonly enabled). Five minutes is also what greylisting servers ask senders to wait, so a
 * greylisted message goes through on the first retry. RFC 5321 §4.5.4.1 asks for a retry
 * interval of at least 30 minutes and giving up "after at least 4-5 days"; like Postfix we retry
 * a first few times sooner, because most temporary failures (greylisting, a restarting server)
 * are short. The last attempt is placed exactly at the end of the retry period, so the bounce
 * comes at 5 days, not up to an hour later. The backoff counts per queue entry: a message whose
 * recipients sit at two domains waits at each on that domain's own history.
 *
 * Waits are XState `after` delays: with the world's virtual clock five days take milliseconds.
 */
import { assign, setup, type ActorRefFrom } from 'xstate';
import type { Reply } from '../protocol/reply';


export interface RetryPolicy {
  /** First wait after a deferral (Postfix minimal_backoff_time). */
  minimalBackoffMs: number;
  /** Longest wait between attempts (Postfix maximal_backoff_time). */
  maximalBackoffMs: number;
  /** Give up and bounce after this long in the queue (Postfix maximal_queue_lifetime). */
  maximalLifetimeMs: number;
  /** Send a "delayed" DSN once the message has waited this long; 0 disables it. */
  delayWarningMs: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  minimalBackoffMs: 5 * MINUTE,
  maximalBackoffMs: 4000_000,
  maximalLifetimeMs: 5 * DAY,
  delayWarningMs: 4 * HOUR,
};

/** The wait before attempt number `deferrals + 1`, given how many attempts deferred so far. */
export function backoffDelay(policy: RetryPolicy, deferrals: number): number {
  const doubled = policy.minimalBackoffMs * 2 ** Math.max(0, deferrals - 1);
  return Math.min(policy.maximalBackoffMs, doubled);
}

export type RecipientOutcome = 'delivered' | 'deferred' | 'failed';

/** How one attempt ended for one recipient. */
export interface RecipientVerdict {
  address: string;
  outcome: RecipientOutcome;
  /** RFC 3463 status, e.g. "5.1.1", "4.4.1". */
  status: string;
  /** What happened, for people and the DSN's Diagnostic-Code (the reply text when there was one). */
  diagnostic: string;
  /** The SMTP reply, when a server gave one. */
  reply?: Reply;
  /** The host that gave the verdict (DSN Remote-MTA). */
  remoteMta?: string;
}

/** One host tried during an attempt: the delivery timeline shows these. */
export interface HostTrial {
  host: string;
  /** Virtual time the connection was tried. */
  at: number;
  outcome: 'delivered' | 'partial' | 'deferred' | 'failed' | 'refused' | 'timeout' | 'tls-failed' | 'skipped';
  /** One line: what happened there. */
  summary: string;
  reply?: Reply;
  /** The event-log connection id, to find the transcript. */
  connectionId?: string;
  /** TLS was wanted and the session went on (or will be retried) without it. */
  downgraded?: boolean;
}

export interface AttemptResult {
  trials: readonly HostTrial[];
  verdicts: RecipientVerdict[];
}

export type RecipientState = {
  address: string;
  status: 'queued' | 'deferred' | 'delivered' | 'failed';
  statusCode?: string;
  attempts: number;
  last?: RecipientVerdict;
  /** Failed because the retry period ran out (not a 5xx). */
  expired?: boolean;
};

export interface TimelineEntry {
  /** Which attempt of this message at that destination (1 for the first). */
  attempt: number;
  at: number;
  host?: string;
  /** 'suspended': the destination was resting after failing, so no connection was made. */
  outcome: HostTrial['outcome'] | 'no-route' | 'suspended' | 'expired' | 'retry-scheduled';
  summary: string;
  reply?: Reply;
  /** Shared with the queue entry and the event log while they are the same list: never changed. */
  recipients: readonly string[];
  connectionId?: string;
  /** For 'retry-scheduled': when. */
  retryAt?: number;
  /** TLS was wanted and this host was used without it (opportunistic downgrade). */
  downgraded?: boolean;
}

// ---------------------------------------------------------------- the message record (queue file)

/** One message as the queue keeps it: what a learner's delivery timeline is drawn from. */
export interface MessageRecord {
  readonly messageId: string;
  readonly from: string;
  readonly arrivalAt: number;
  readonly policy: RetryPolicy;
  /** Per recipient, in the order of the envelope. Entries are replaced, never edited. */
  readonly recipients: RecipientState[];
  readonly timeline: TimelineEntry[];
  /** The delayed-mail warning went out (once per message). */
  warned: boolean;
  /**
   * Next attempt per destination still waiting (the message's next attempt is the earliest);
   * undefined while an attempt runs or once nothing waits there. The key stays and its value is
   * overwritten: a Map that loses and regains a key a hundred times rebuilds its table each time.
   */
  readonly nextAttempts: Map<string, number | undefined>;
}

/** What a change to a record asks of the world: log it, and write DSNs. */
export type QueueNotice =
  /** Recipients failed (5xx now, or the retry period ran out): a DSN with Action: failed is due. */
  | { type: 'bounce'; verdicts: RecipientVerdict[]; expired: boolean }
  /** Recipients still deferred after `delayWarningMs`: a DSN with Action: delayed is due. */
  | { type: 'delayed'; verdicts: RecipientVerdict[]; willRetryUntil: number }
  | { type: 'deferred'; recipients: readonly string[]; retryAt: number; reason: string };

export function openMessageRecord(input: { messageId: string; from: string; recipients: readonly string[]; arrivalAt: number; retry?: Partial<RetryPolicy> }): MessageRecord {
  return {
    messageId: input.messageId,
    from: input.from,
    arrivalAt: input.arrivalAt,
    policy: { ...DEFAULT_RETRY_POLICY, ...input.retry },
    recipients: input.recipients.map((address) => ({ address, status: 'queued' as const, attempts: 0 })),
    timeline: [],
    warned: false,
    nextAttempts: new Map(),
  };
}

function isPending(r: RecipientState): boolean {
  return r.status === 'queued' || r.status === 'deferred';
}

/** Every recipient is delivered or failed: the message leaves the queue. */
export function isSettled(record: MessageRecord): boolean {
  return !record.recipients.some(isPending);
}

/** When the message is next tried anywhere, while some recipient waits. */
export function nextAttemptOf(record: MessageRecord): number | undefined {
  let next: number | undefined;
  for (const at of record.nextAttempts.values()) if (at !== undefined && (next === undefined || at < next)) next = at;
  return next;
}

/** The end of the retry period (RFC 5321 §4.5.4.1 "at least 4-5 days"). */
export function deadlineOf(record: MessageRecord): number {
  return record.arrivalAt + record.policy.maximalLifetimeMs;
}

/**
 * One attempt's answers for some recipients: the hosts tried (for the timeline) and a verdict
 * per recipient. A recipient already settled keeps its state (a late answer changes nothing).
 * `routeOutcome` names a verdict reached without any host ('no-route', 'suspended').
 */
export function recordVerdicts(
  record: MessageRecord,
  attempt: number,
  now: number,
  result: AttemptResult,
  routeOutcome: 'no-route' | 'suspended' = 'no-route',
): readonly QueueNotice[] {
  const { trials, verdicts } = result;
  const recipients = record.recipients;
  // Records are rewritten tens of thousands of times in a long run (a dead destination defers
  // its mail every hour for five days): plain loops, objects of one shape (no spreads) and no
  // array made that is not kept keep that cheap.
  let failed: RecipientVerdict[] | undefined;
  for (const verdict of verdicts) {
    for (let i = 0; i < recipients.length; i++) {
      const r = recipients[i]!;
      if (r.address !== verdict.address || !isPending(r)) continue;
      recipients[i] = { address: r.address, status: verdict.outcome, statusCode: verdict.status, attempts: r.attempts + 1, last: verdict };
      break;
    }
    if (verdict.outcome === 'failed') (failed ??= []).push(verdict);
  }
  if (trials.length > 0) {
    const addresses = addressesOf(verdicts);
    for (const t of trials) {
      const entry: TimelineEntry = { attempt, at: t.at, host: t.host, outcome: t.outcome, summary: t.summary, recipients: addresses };
      if (t.reply) entry.reply = t.reply;
      if (t.connectionId) entry.connectionId = t.connectionId;
      if (t.downgraded) entry.downgraded = true;
      record.timeline.push(entry);
    }
  } else {
    for (const v of verdicts) record.timeline.push({ attempt, at: now, outcome: routeOutcome, summary: v.diagnostic, recipients: [v.address] });
  }
  // RFC 3461 §6.2 / RFC 5321 §6.1: the sender learns of a permanent failure at once.
  return failed ? [{ type: 'bounce', verdicts: failed, expired: false }] : NO_NOTICES;
}

/**
 * The answer of most calls: nothing for the world to do. Not frozen, like the recipient lists
 * (readonly by type): V8 walks a frozen array on slow paths (for-of, slice, map, includes).
 */
const NO_NOTICES: readonly QueueNotice[] = [];

function addressesOf(verdicts: readonly RecipientVerdict[]): string[] {
  const addresses: string[] = new Array(verdicts.length);
  for (let i = 0; i < verdicts.length; i++) addresses[i] = verdicts[i]!.address;
  return addresses;
}

export interface QueueEntry {
  readonly messageId: string;
  /** The recipients still to deliver at this destination. */
  readonly recipients: readonly string[];
  /** When the entry may be tried (virtual ms). */
  readonly dueAt: number;
  /** Attempts made so far. */
  readonly attempts: number;
  /** Attempts that ended deferred (the backoff grows with them). */
  readonly deferrals: number;
}

/**
 * After an attempt of `entry` (already counted in `entry.attempts`): the recipients of it that
 * still wait either get a retry time (returned as the entry to queue again) or, when the retry
 * period is over, fail with 4.4.7 (RFC 3463 "delivery time expired").
 */
export function deferEntry(record: MessageRecord, destination: string, entry: QueueEntry, now: number): { requeue?: QueueEntry; notices: readonly QueueNotice[] } {
  // Runs every time a recipient is deferred (about 25,000 times in five days of 1,000
  // messages): when every recipient of the entry still waits, as after most attempts, the
  // entry's own list goes on, to the timeline, the notice and the next entry alike (lists are
  // never changed once made); a new one is made only when it got shorter.
  const wanted = entry.recipients;
  let waitingCount = 0;
  let sameList = true;
  let firstWaiting: RecipientState | undefined;
  for (const r of record.recipients) {
    if (!isPending(r) || !wanted.includes(r.address)) continue;
    if (wanted[waitingCount] !== r.address) sameList = false;
    waitingCount += 1;
    firstWaiting ??= r;
  }
  if (firstWaiting === undefined) {
    record.nextAttempts.set(destination, undefined);
    return { notices: NO_NOTICES };
  }
  const deadline = deadlineOf(record);
  if (now >= deadline) {
    record.nextAttempts.set(destination, undefined);
    const waiting = record.recipients.filter((r) => isPending(r) && wanted.includes(r.address));
    return { notices: [expire(record, entry.attempts, waiting, now)] };
  }
  const addresses = sameList && waitingCount === wanted.length ? wanted : record.recipients.filter((r) => isPending(r) && wanted.includes(r.address)).map((r) => r.address);
  const deferrals = entry.deferrals + 1;
  const retryAt = Math.min(now + backoffDelay(record.policy, deferrals), deadline);
  record.timeline.push({
    attempt: entry.attempts,
    at: now,
    outcome: 'retry-scheduled',
    summary: retrySummary(Math.round((retryAt - now) / 1000)),
    recipients: addresses,
    retryAt,
  });
  record.nextAttempts.set(destination, retryAt);
  const deferred: QueueNotice = { type: 'deferred', recipients: addresses, retryAt, reason: firstWaiting.last?.diagnostic ?? 'temporary failure' };
  const warnAfter = record.policy.delayWarningMs;
  const requeue: QueueEntry = { messageId: entry.messageId, recipients: addresses, dueAt: retryAt, attempts: entry.attempts, deferrals };
  if (record.warned || warnAfter <= 0 || now - record.arrivalAt < warnAfter) return { requeue, notices: [deferred] };
  record.warned = true;
  const delayed: QueueNotice = {
    type: 'delayed',
    // Every recipient of the message still waiting, at any destination: one warning per message.
    verdicts: record.recipients.filter(isPending).map((r) => r.last ?? { address: r.address, outcome: 'deferred', status: '4.0.0', diagnostic: 'not yet delivered' }),
    willRetryUntil: deadline,
  };
  return { requeue, notices: [deferred, delayed] };
}

/**
 * The retry row's words by wait in seconds. The waits are few (the backoff steps, and the
 * last one cut short by the deadline), so each sentence is made once, not once per deferral.
 */
const retrySummaries = new Map<number, string>();
function retrySummary(waitSeconds: number): string {
  let summary = retrySummaries.get(waitSeconds);
  if (summary === undefined) {
    summary = `deferred: next attempt at +${waitSeconds}s`;
    // The last waits before a deadline can be anything: keep the cache to the usual steps.
    if (retrySummaries.size < 64) retrySummaries.set(waitSeconds, summary);
  }
  return summary;
}

function expire(record: MessageRecord, attempt: number, waiting: RecipientState[], now: number): QueueNotice {
  const days = Math.round((now - record.arrivalAt) / DAY);
  const verdicts: RecipientVerdict[] = waiting.map((r) => ({
    address: r.address,
    outcome: 'failed',
    // RFC 3463 X.4.7: delivery time expired; the last reason goes in the diagnostic.
    status: '4.4.7',
    // The MTA's own words, so no reply goes with them (the DSN types them as such); the host
    // that gave the last error, if one answered, stays the Remote-MTA.
    diagnostic: `delivery time expired after ${days} days${r.last ? `; last error: ${r.last.diagnostic}` : ''}`,
    ...(r.last?.remoteMta ? { remoteMta: r.last.remoteMta } : {}),
  }));
  const byAddress = new Map(verdicts.map((v) => [v.address, v]));
  const recipients = record.recipients;
  for (let i = 0; i < recipients.length; i++) {
    const verdict = byAddress.get(recipients[i]!.address);
    if (verdict && isPending(recipients[i]!)) recipients[i] = { ...recipients[i]!, status: 'failed', statusCode: verdict.status, last: verdict, expired: true };
  }
  record.timeline.push({ attempt, at: now, outcome: 'expired', summary: 'retry period over: the message is returned to the sender', recipients: verdicts.map((v) => v.address) });
  return { type: 'bounce', verdicts, expired: true };
}

// ---------------------------------------------------------------- the destination queue (XState)

/**
 * A destination none of whose hosts answered lately: entries falling due before `until` are
 * deferred without a connection ("delivery temporarily suspended", as Postfix says), and the
 * rest grows like the backoff while it stays dead. RFC 5321 §4.5.4.1 lets a client do this.
 */
export interface Suspension {
  until: number;
  /** The length of this rest (it doubles while the destination stays dead). */
  wait: number;
  status: string;
  diagnostic: string;
}

export interface DestinationInput {
  /** The next-hop domain, e.g. "example.net". */
  destination: string;
  /** The clock the machine runs on (the world's virtual clock). */
  now: () => number;
  /**
   * True while entries due now should wait for the end of the moment (a batch of sends, or the
   * clock running), so every message due then shares the run; false: deliver at once.
   */
  held: () => boolean;
}

export interface DestinationContext {
  destination: string;
  now: () => number;
  held: () => boolean;
  /** Entries waiting, in the order they were queued. */
  queued: QueueEntry[];
  /** Entries handed to the run in progress. */
  inFlight: QueueEntry[];
  suspension?: Suspension;
  /** Runs so far (for the queue view). */
  runs: number;
}

/**
 * A delivery run asked of the transport (emitted as `run`): the entries due now, and the
 * destination's suspension. The transport answers with `run.done`, at once or later in virtual
 * time.
 */
export interface DeliveryRunRequest {
  type: 'run';
  destination: string;
  entries: readonly QueueEntry[];
  suspension: Suspension | undefined;
}

export type DestinationEvent =
  /** Entries join the queue (one message's recipients there, or a batch queued together). */
  | { type: 'enqueue'; entries: readonly QueueEntry[] }
  /** The run ended: these entries wait again; the destination's suspension as the run left it. */
  | { type: 'run.done'; requeue: readonly QueueEntry[]; suspension: Suspension | undefined };

/** The entries an event adds to the queue. */
function arrivingEntries(event: DestinationEvent): readonly QueueEntry[] {
  return event.type === 'enqueue' ? event.entries : event.requeue;
}

/**
 * Where the queue goes once entries arrive or a run ends: idle when nothing is left, a run
 * when something is due, else a wait for the earliest entry. The guards read the event, so no
 * pass-through state is needed (each transition is an XState microstep, and a long run makes
 * thousands of these). `reenter` restarts the wait, whose length may have changed.
 */
function lookAgain(from: 'root' | 'delivering') {
  // Targets are written from where the transition is declared: the machine's root, or a state.
  const state = (name: 'idle' | 'delivering' | 'waiting') => (from === 'root' ? (`.${name}` as const) : name);
  const actions = from === 'root' ? (['takeArriving'] as const) : (['endRun'] as const);
  return [
    { guard: 'nothingLeft' as const, target: state('idle'), actions },
    { guard: 'dueNow' as const, target: state('delivering'), reenter: true, actions },
    { target: state('waiting'), reenter: true, actions },
  ];
}

function earliestDue(queued: readonly QueueEntry[]): number | undefined {
  let next: number | undefined;
  for (const e of queued) if (next === undefined || e.dueAt < next) next = e.dueAt;
  return next;
}

const destinationQueueSetup = setup({
  types: {
    context: {} as DestinationContext,
    events: {} as DestinationEvent,
    input: {} as DestinationInput,
    emitted: {} as DeliveryRunRequest,
  },
  guards: {
    /** After this event nothing is left to send. */
    nothingLeft: ({ context, event }) => context.queued.length === 0 && arrivingEntries(event).length === 0,
    /** After this event some entry is due now (and the world is not holding first attempts back). */
    dueNow: ({ context, event }) => !context.held() && Math.min(earliestDue(context.queued) ?? Infinity, earliestDue(arrivingEntries(event)) ?? Infinity) <= context.now(),
  },
  delays: {
    untilEarliestDue: ({ context }) => Math.max(0, (earliestDue(context.queued) ?? context.now()) - context.now()),
  },
  actions: {
    /** The entries the event brings (new ones, or a run's leftovers) join the queue. */
    takeArriving: assign(({ context, event }) => ({ queued: context.queued.concat(arrivingEntries(event)) })),
    /** The entries due now go to the run. */
    takeDue: assign(({ context }) => {
      const now = context.now();
      return { inFlight: context.queued.filter((e) => e.dueAt <= now), queued: context.queued.filter((e) => e.dueAt > now), runs: context.runs + 1 };
    }),
    /**
     * The run is over: its entries are out of flight, the suspension is as it left it, and its
     * leftovers join the queue, in one assign (each assign makes a new snapshot of the queue).
     */
    endRun: assign(({ context, event }) =>
      event.type === 'run.done' ? { inFlight: [], suspension: event.suspension, queued: context.queued.concat(event.requeue) } : {},
    ),
    /**
     * Hand the run to the transport. Provided as `requestRun` by whoever listens for `run`
     * (the world): `destinationQueueMachine.provide({ actions: { startRun: requestRun } })`.
     * Without a transport the queue stops with an error rather than pretend mail went somewhere.
     * (`_params` is typed as `requestRun`'s are, so that it may take this action's place.)
     */
    startRun: ({ context }, _params: undefined) => {
      throw new Error(`destination queue ${context.destination}: no delivery transport was provided`);
    },
  },
});

/**
 * The transport's `startRun`: emit `run` with the entries taken for it. Emitted events reach
 * `actor.on('run', ...)` once the transition is over, so the listener sees the queue already
 * `delivering` and may answer `run.done` at once.
 */
export const requestRun = destinationQueueSetup.emit(({ context }) => ({
  type: 'run' as const,
  destination: context.destination,
  entries: context.inFlight,
  suspension: context.suspension,
}));

export const destinationQueueMachine = destinationQueueSetup.createMachine({
  id: 'destination',
  context: ({ input }) => ({ destination: input.destination, now: input.now, held: input.held, queued: [], inFlight: [], runs: 0 }),
  initial: 'idle',
  on: {
    // Entries queued mid-run wait for the run to end (see `delivering`); otherwise the queue
    // looks again at once: deliver now, or wait for the earliest entry.
    enqueue: lookAgain('root'),
  },
  states: {
    idle: {},
    waiting: {
      after: { untilEarliestDue: 'delivering' },
    },
    delivering: {
      // A run is a request answered by an event, not an invoked actor: a run speaks SMTP
      // through other actors and may last into virtual time (connect timeouts, a tarpit), so
      // it cannot be an action that returns; and an actor made, started and stopped per run
      // is work a five-day run repeats about 800 times for nothing the queue needs of it.
      entry: ['takeDue', 'startRun'],
      on: {
        enqueue: { actions: 'takeArriving' },
        'run.done': lookAgain('delivering'),
      },
    },
  },
});

export type DestinationQueueMachine = typeof destinationQueueMachine;
export type DestinationQueueActor = ActorRefFrom<DestinationQueueMachine>;
