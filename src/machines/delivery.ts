/**
 * The sending MTA's queue for one message, over (virtual) time.
 *
 *   queued -> attempting -> (all recipients settled) -> finished
 *                      \-> waiting (backoff) -> attempting ...
 *                      \-> retry period over -> bounce the rest -> finished
 *
 * One attempt (resolve MX, try the hosts in order, speak SMTP) is an invoked `attempt` actor the
 * world provides with `deliveryMachine.provide({ actors: { attempt } })`: this machine only
 * knows the outcome per recipient. A 2xx delivers, a 5xx fails that recipient at once (and a
 * DSN is due), a 4xx or a connection failure defers it to the next attempt.
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
 * comes at 5 days, not up to an hour later.
 *
 * Delays are XState `after` delays: with the world's virtual clock five days take milliseconds.
 */
import { enqueueActions, fromCallback, setup, type ActorRefFrom } from 'xstate';
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
  trials: HostTrial[];
  verdicts: RecipientVerdict[];
}

export interface AttemptInput {
  messageId: string;
  attempt: number;
  recipients: string[];
}

/**
 * `attempt.progress` reports part of an attempt as soon as it is known (one destination domain
 * finished while another still waits for a connect timeout); `attempt.done` ends the attempt
 * with whatever was not reported yet.
 */
export type AttemptDone = { type: 'attempt.done'; result: AttemptResult } | { type: 'attempt.progress'; result: AttemptResult };

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
  attempt: number;
  at: number;
  host?: string;
  outcome: HostTrial['outcome'] | 'no-route' | 'expired' | 'retry-scheduled';
  summary: string;
  reply?: Reply;
  recipients: string[];
  connectionId?: string;
  /** For 'retry-scheduled': when. */
  retryAt?: number;
  /** TLS was wanted and this host was used without it (opportunistic downgrade). */
  downgraded?: boolean;
}

export interface DeliveryInput {
  messageId: string;
  from: string;
  recipients: string[];
  arrivalAt: number;
  /** The clock the machine runs on (the world's virtual clock). */
  now: () => number;
  retry?: Partial<RetryPolicy>;
}

export interface DeliveryContext {
  messageId: string;
  from: string;
  arrivalAt: number;
  now: () => number;
  policy: RetryPolicy;
  recipients: RecipientState[];
  attempt: number;
  deferrals: number;
  warned: boolean;
  timeline: TimelineEntry[];
  /** When the next attempt is due while waiting. */
  nextAttemptAt?: number;
}

export type DeliveryEmitted =
  | { type: 'attempt.started'; attempt: number; recipients: string[] }
  /** Recipients failed (5xx now, or the retry period ran out): a DSN with Action: failed is due. */
  | { type: 'bounce'; verdicts: RecipientVerdict[]; expired: boolean }
  /** Recipients still deferred after `delayWarningMs`: a DSN with Action: delayed is due. */
  | { type: 'delayed'; verdicts: RecipientVerdict[]; willRetryUntil: number }
  | { type: 'deferred'; recipients: string[]; retryAt: number; reason: string }
  | { type: 'finished' };

function pendingOf(context: DeliveryContext): RecipientState[] {
  return context.recipients.filter((r) => r.status === 'queued' || r.status === 'deferred');
}

function deadline(context: DeliveryContext): number {
  return context.arrivalAt + context.policy.maximalLifetimeMs;
}

/** The default attempt actor fails loudly: the world must provide the real one. */
const missingAttempt = fromCallback<AttemptDone, AttemptInput>(({ input, sendBack }) => {
  sendBack({
    type: 'attempt.done',
    result: {
      trials: [],
      verdicts: input.recipients.map((address) => ({ address, outcome: 'deferred', status: '4.3.0', diagnostic: 'no transport configured for this queue' })),
    },
  });
});

export const deliveryMachine = setup({
  types: {
    context: {} as DeliveryContext,
    events: {} as AttemptDone,
    input: {} as DeliveryInput,
    emitted: {} as DeliveryEmitted,
  },
  actors: { attempt: missingAttempt },
  guards: {
    allSettled: ({ context }) => !context.recipients.some((r) => r.status === 'queued' || r.status === 'deferred'),
    retryPeriodOver: ({ context }) => context.now() >= deadline(context),
  },
  actions: {
    startAttempt: enqueueActions(({ context, enqueue }) => {
      const attempt = context.attempt + 1;
      const recipients = pendingOf(context).map((r) => r.address);
      enqueue.assign({ attempt, nextAttemptAt: undefined });
      enqueue.emit({ type: 'attempt.started', attempt, recipients });
    }),
    applyResult: enqueueActions(({ context, event, enqueue }) => {
      const { trials, verdicts } = event.result;
      const byAddress = new Map(verdicts.map((v) => [v.address, v]));
      const recipients = context.recipients.map((r): RecipientState => {
        const verdict = byAddress.get(r.address);
        if (!verdict || (r.status !== 'queued' && r.status !== 'deferred')) return r;
        return { ...r, status: verdict.outcome, statusCode: verdict.status, attempts: r.attempts + 1, last: verdict };
      });
      const entries: TimelineEntry[] = trials.map((t) => ({
        attempt: context.attempt,
        at: t.at,
        host: t.host,
        outcome: t.outcome,
        summary: t.summary,
        ...(t.reply ? { reply: t.reply } : {}),
        ...(t.connectionId ? { connectionId: t.connectionId } : {}),
        ...(t.downgraded ? { downgraded: true } : {}),
        recipients: verdicts.map((v) => v.address),
      }));
      if (trials.length === 0) {
        for (const v of verdicts) {
          entries.push({ attempt: context.attempt, at: context.now(), outcome: 'no-route', summary: v.diagnostic, recipients: [v.address] });
        }
      }
      // concat, not spread: the same new array, made in one step (the timeline grows with every attempt).
      enqueue.assign({ recipients, timeline: context.timeline.concat(entries) });
      const failed = verdicts.filter((v) => v.outcome === 'failed');
      // RFC 3461 §6.2 / RFC 5321 §6.1: the sender learns of a permanent failure at once.
      if (failed.length > 0) enqueue.emit({ type: 'bounce', verdicts: failed, expired: false });
    }),
    /** Past the retry period: every recipient still waiting fails (RFC 5321 §4.5.4.1). */
    expire: enqueueActions(({ context, enqueue }) => {
      const now = context.now();
      const verdicts: RecipientVerdict[] = pendingOf(context).map((r) => ({
        address: r.address,
        outcome: 'failed',
        // RFC 3463 X.4.7: delivery time expired; the last reason goes in the diagnostic.
        status: '4.4.7',
        diagnostic: `delivery time expired after ${Math.round((now - context.arrivalAt) / DAY)} days${r.last ? `; last error: ${r.last.diagnostic}` : ''}`,
        ...(r.last?.reply ? { reply: r.last.reply } : {}),
        ...(r.last?.remoteMta ? { remoteMta: r.last.remoteMta } : {}),
      }));
      const byAddress = new Map(verdicts.map((v) => [v.address, v]));
      enqueue.assign({
        recipients: context.recipients.map((r) => {
          const verdict = byAddress.get(r.address);
          return verdict ? { ...r, status: 'failed' as const, statusCode: verdict.status, last: verdict, expired: true } : r;
        }),
        timeline: context.timeline.concat({
          attempt: context.attempt,
          at: now,
          outcome: 'expired' as const,
          summary: 'retry period over: the message is returned to the sender',
          recipients: verdicts.map((v) => v.address),
        }),
      });
      enqueue.emit({ type: 'bounce', verdicts, expired: true });
    }),
    scheduleRetry: enqueueActions(({ context, enqueue }) => {
      const now = context.now();
      const deferrals = context.deferrals + 1;
      const retryAt = Math.min(now + backoffDelay(context.policy, deferrals), deadline(context));
      const pending = pendingOf(context);
      const reason = pending[0]?.last?.diagnostic ?? 'temporary failure';
      enqueue.assign({
        deferrals,
        nextAttemptAt: retryAt,
        timeline: context.timeline.concat({
          attempt: context.attempt,
          at: now,
          outcome: 'retry-scheduled' as const,
          summary: `deferred: next attempt at +${Math.round((retryAt - now) / 1000)}s`,
          recipients: pending.map((r) => r.address),
          retryAt,
        }),
      });
      enqueue.emit({ type: 'deferred', recipients: pending.map((r) => r.address), retryAt, reason });
      const warnAfter = context.policy.delayWarningMs;
      if (!context.warned && warnAfter > 0 && now - context.arrivalAt >= warnAfter) {
        enqueue.assign({ warned: true });
        enqueue.emit({
          type: 'delayed',
          verdicts: pending.map((r) => r.last ?? { address: r.address, outcome: 'deferred', status: '4.0.0', diagnostic: 'not yet delivered' }),
          willRetryUntil: deadline(context),
        });
      }
    }),
    finish: enqueueActions(({ enqueue }) => enqueue.emit({ type: 'finished' })),
  },
  delays: {
    untilNextAttempt: ({ context }) => Math.max(0, (context.nextAttemptAt ?? context.now()) - context.now()),
  },
}).createMachine({
  id: 'delivery',
  context: ({ input }) => ({
    messageId: input.messageId,
    from: input.from,
    arrivalAt: input.arrivalAt,
    now: input.now,
    policy: { ...DEFAULT_RETRY_POLICY, ...input.retry },
    recipients: input.recipients.map((address) => ({ address, status: 'queued' as const, attempts: 0 })),
    attempt: 0,
    deferrals: 0,
    warned: false,
    timeline: [],
  }),
  initial: 'attempting',
  states: {
    attempting: {
      entry: 'startAttempt',
      invoke: {
        src: 'attempt',
        input: ({ context }) => ({ messageId: context.messageId, attempt: context.attempt, recipients: pendingOf(context).map((r) => r.address) }),
      },
      on: {
        'attempt.progress': { actions: 'applyResult' },
        'attempt.done': { target: 'deciding', actions: 'applyResult' },
      },
    },
    deciding: {
      always: [
        { guard: 'allSettled', target: 'finished' },
        { guard: 'retryPeriodOver', target: 'finished', actions: 'expire' },
        { target: 'waiting', actions: 'scheduleRetry' },
      ],
    },
    waiting: {
      after: { untilNextAttempt: 'attempting' },
    },
    finished: { type: 'final', entry: 'finish' },
  },
});

export type DeliveryMachine = typeof deliveryMachine;
export type DeliveryActor = ActorRefFrom<DeliveryMachine>;
