/**
 * The personas: mail servers with one lesson each. Every persona makes a `ServerBackend` for
 * the server session machine; the world places them behind domains, and `smtpd` serves them.
 *
 *   const backend = createBackend('greylisting', { delayMs: 300_000 }, { hostname, now: clock.now });
 */
import { Replies } from '../../protocol/replies';
import type { HookResult, SessionFacts, TlsHandshakePlan } from '../../machines/backend';
import { BASE_DEFAULTS, BASE_SPECS, DURATION, domainOf, makeBackend, type BaseSettings } from './common';
import type { PersonaBackend, PersonaDefinition, PersonaEnv, PersonaId, SettingSpec, SettingValue } from './types';
import type { ReceivedMessage } from '../../machines/backend';
import { checkHost, evaluateDmarc } from '../spf';

export * from './types';
export { domainOf, localPartOf, BASE_DEFAULTS } from './common';

function define<S extends BaseSettings>(definition: PersonaDefinition<S>): PersonaDefinition<S> {
  return definition;
}



// ─── friendly ─────────────────────────────────────────────────────────────────────────────

const friendly = define({
  id: 'friendly',
  title: 'Friendly MX',
  description:
    'Accepts mail for its domains with every common extension: STARTTLS, PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8. Start here.',
  port: 25,
  settingSpecs: BASE_SPECS,
  defaults: { ...BASE_DEFAULTS },
  create: (settings, env) => makeBackend('friendly', settings, env, () => ({})),
});

// ─── smuggling-vulnerable ─────────────────────────────────────────────────────────────────

const smugglingVulnerable = define({
  id: 'smuggling-vulnerable',
  title: 'Lenient end of DATA',
  description:
    'Like the friendly MX, but it also ends DATA at <LF>.<LF>. A message that hides such a line can carry a second, forged message past the sending server ("SMTP smuggling").',
  port: 25,
  settingSpecs: BASE_SPECS,
  defaults: { ...BASE_DEFAULTS },
  create: (settings, env) => makeBackend('smuggling-vulnerable', settings, env, () => ({ lenientEndOfData: true })),
});

// ─── greylisting ──────────────────────────────────────────────────────────────────────────

interface GreylistSettings extends BaseSettings {
  delayMs: number;
  code: number;
}

const greylisting = define<GreylistSettings>({
  id: 'greylisting',
  title: 'Greylisting',
  description:
    'Defers the first attempt of every new (client address, sender, recipient) triplet with 451 4.7.1 and accepts a retry once the delay has passed. Real senders retry; many spam tools do not.',
  port: 25,
  settingSpecs: [
    ...BASE_SPECS,
    { name: 'delayMs', label: 'Greylist delay', kind: 'duration', description: 'How long a new triplet must wait before a retry is accepted.' },
    { name: 'code', label: 'Reply code', kind: 'choice', choices: ['450', '451'], description: '450 or 451, both with 4.7.1.' },
  ],
  defaults: { ...BASE_DEFAULTS, delayMs: 5 * DURATION.minute, code: 451 },
  create: (settings, env) => {
    /** First-seen time of each triplet; a triplet that passed is remembered as passed. */
    const firstSeen = new Map<string, number>();
    const passed = new Set<string>();
    return makeBackend('greylisting', settings, env, (kit) => ({
      onRcpt: (forwardPath, _params, envelope, facts) => {
        const relay = kit.relayCheck(forwardPath);
        if (relay) return relay;
        const triplet = `${facts.peer.address}\u0000${envelope.reversePath.toLowerCase()}\u0000${forwardPath.toLowerCase()}`;
        if (passed.has(triplet)) return undefined;
        const now = env.now();
        const seen = firstSeen.get(triplet);
        if (seen === undefined) {
          firstSeen.set(triplet, now);
          return Replies.greylisted(settings.code === 450 ? 450 : 451);
        }
        if (now - seen < settings.delayMs) return Replies.greylisted(settings.code === 450 ? 450 : 451);
        passed.add(triplet);
        return undefined;
      },
    }));
  },
});

// ─── strict ───────────────────────────────────────────────────────────────────────────────

/** A domain that is a name with at least two labels, or an address literal. */
function isQualifiedDomain(domain: string): boolean {
  return domain.startsWith('[') || /^[^.]+(\.[^.]+)+$/.test(domain);
}

const strict = define({
  id: 'strict',
  title: 'Strict MX',
  description:
    'Knows exactly which mailboxes exist: 550 5.1.1 for anyone else, 553 5.1.3 for addresses without a proper domain, 501 for malformed ones, 504 for an unqualified HELO name.',
  port: 25,
  settingSpecs: BASE_SPECS,
  defaults: { ...BASE_DEFAULTS },
  create: (settings, env) =>
    makeBackend('strict', settings, env, (kit) => ({
      onEhlo: (domain) => (isQualifiedDomain(domain) ? undefined : Replies.commandParamNotImplemented(`HELO name ${domain} must be a fully qualified domain`)),
      onHelo: (domain) => (isQualifiedDomain(domain) ? undefined : Replies.commandParamNotImplemented(`HELO name ${domain} must be a fully qualified domain`)),
      onMail: (reversePath) => {
        if (reversePath === '') return undefined; // the null path of bounces is always welcome
        const domain = domainOf(reversePath);
        return isQualifiedDomain(domain) ? undefined : Replies.badAddressSyntax(`sender domain "${domain}" is not fully qualified`);
      },
      onRcpt: (forwardPath) => {
        if (forwardPath.toLowerCase() !== 'postmaster' && !isQualifiedDomain(domainOf(forwardPath))) {
          return Replies.badAddressSyntax(`recipient domain "${domainOf(forwardPath)}" is not fully qualified`);
        }
        return kit.relayCheck(forwardPath) ?? (kit.isKnownMailbox(forwardPath) ? undefined : Replies.userUnknown(`<${forwardPath}>`));
      },
    })),
});

// ─── tls-broken ───────────────────────────────────────────────────────────────────────────

type TlsBrokenVariant = 'refuse' | 'handshake' | 'untrusted' | 'wrong-name';

interface TlsBrokenSettings extends BaseSettings {
  variant: TlsBrokenVariant;
}

const tlsBroken = define<TlsBrokenSettings>({
  id: 'tls-broken',
  title: 'Broken STARTTLS',
  description:
    'Advertises STARTTLS, then fails it: 454 4.7.0 (refuse), a handshake that breaks off (handshake), or a certificate a careful client will not trust (untrusted: self-signed; wrong-name). Shows why opportunistic TLS falls back to plaintext.',
  port: 25,
  settingSpecs: [
    ...BASE_SPECS,
    { name: 'variant', label: 'Failure', kind: 'choice', choices: ['refuse', 'handshake', 'untrusted', 'wrong-name'], description: 'How STARTTLS fails.' },
  ],
  defaults: { ...BASE_DEFAULTS, variant: 'refuse' },
  create: (settings, env) =>
    makeBackend('tls-broken', settings, env, () => ({
      onStartTls: () => {
        const plans: Record<Exclude<TlsBrokenVariant, 'refuse'>, TlsHandshakePlan> = {
          handshake: 'fail',
          untrusted: 'self-signed',
          'wrong-name': 'wrong-name',
        };
        return settings.variant === 'refuse' ? Replies.tlsNotAvailable() : { handshake: plans[settings.variant] };
      },
    })),
});

// ─── overloaded ───────────────────────────────────────────────────────────────────────────

const overloaded = define({
  id: 'overloaded',
  title: 'Overloaded',
  description: 'Answers every connection with 421 4.3.2 and hangs up. The sender must try the next MX host or come back later.',
  port: 25,
  settingSpecs: BASE_SPECS,
  defaults: { ...BASE_DEFAULTS },
  create: (settings, env) =>
    makeBackend('overloaded', settings, env, () => ({
      onConnect: () => Replies.serviceNotAvailable(env.hostname, 'too busy'),
    })),
});

// ─── tarpit ───────────────────────────────────────────────────────────────────────────────

interface TarpitSettings extends BaseSettings {
  bannerDelayMs: number;
  replyDelayMs: number;
}

const tarpit = define<TarpitSettings>({
  id: 'tarpit',
  title: 'Tarpit',
  description:
    'Slow on purpose: the banner and every reply come late, so impatient clients hit their timeouts (RFC 5321 §4.5.3.2 asks clients to wait 5 minutes for the banner).',
  port: 25,
  settingSpecs: [
    ...BASE_SPECS,
    { name: 'bannerDelayMs', label: 'Banner delay', kind: 'duration', description: 'Silence before the 220.' },
    { name: 'replyDelayMs', label: 'Reply delay', kind: 'duration', description: 'Delay before each reply to EHLO, MAIL, RCPT, DATA and the end of data.' },
  ],
  defaults: { ...BASE_DEFAULTS, bannerDelayMs: 60 * DURATION.second, replyDelayMs: 30 * DURATION.second },
  create: (settings, env) =>
    makeBackend('tarpit', settings, env, (kit) => {
      const slow = (result?: HookResult) => ({ ...(result ? { reply: result as never } : {}), delayMs: settings.replyDelayMs });
      return {
        onConnect: () => ({ delayMs: settings.bannerDelayMs }),
        onEhlo: () => slow(),
        onHelo: () => slow(),
        onMail: () => slow(),
        onRcpt: (forwardPath) => slow(kit.relayCheck(forwardPath)),
        onDataStart: () => slow(),
        onData: (message, envelope) => {
          kit.deliver(message, envelope);
          return slow();
        },
      };
    }),
});

// ─── content-filter ───────────────────────────────────────────────────────────────────────

type ContentFilterVariant = 'content' | 'size' | 'dmarc' | 'spf';

interface ContentFilterSettings extends BaseSettings {
  variant: ContentFilterVariant;
  /** Text that marks a message as unwanted; empty = every message is refused. */
  trigger: string;
  /** For the `size` variant: the filter's own (unadvertised) limit. */
  filterSizeLimit: number;
}

const contentFilter = define<ContentFilterSettings>({
  id: 'content-filter',
  title: 'Content filter',
  description:
    'Accepts the envelope, then refuses at the end of DATA: 554 5.7.1 for content, 552 5.3.4 for size, 550 5.7.26 for DMARC or 550 5.7.23 for SPF. The sender learns only after sending the whole message.',
  port: 25,
  settingSpecs: [
    ...BASE_SPECS,
    { name: 'variant', label: 'Rule', kind: 'choice', choices: ['content', 'size', 'dmarc', 'spf'], description: 'Which check fails.' },
    { name: 'trigger', label: 'Trigger text', kind: 'text', description: 'Only messages containing this text are refused (content variant); empty refuses all.' },
    { name: 'filterSizeLimit', label: 'Filter size limit', kind: 'number', description: 'Messages over this many octets are refused (size variant), although SIZE advertises more.' },
  ],
  defaults: { ...BASE_DEFAULTS, variant: 'content', trigger: '', filterSizeLimit: 1000 },
  create: (settings, env) =>
    makeBackend('content-filter', settings, env, (kit) => ({
      onData: (message, envelope, facts) => {
        const sender = domainOf(envelope.reversePath) || undefined;
        let refusal: HookResult;
        switch (settings.variant) {
          case 'content':
            if (settings.trigger === '' || message.text.includes(settings.trigger)) refusal = Replies.contentRejected('spam detected');
            break;
          case 'size':
            if (message.octets > settings.filterSizeLimit) refusal = Replies.messageTooBig(settings.filterSizeLimit);
            break;
          case 'dmarc':
            refusal = dmarcRefusal(env, message, sender, facts.peer.address);
            break;
          case 'spf':
            refusal = spfRefusal(env, sender, facts.peer.address);
            break;
        }
        if (refusal) return refusal;
        kit.deliver(message, envelope);
        return undefined;
      },
    })),
});

/** The domain of the first address in the message's From: header (RFC 5322 §3.6.2). */
function fromHeaderDomain(text: string): string | undefined {
  const end = text.search(/\r?\n\r?\n/);
  const headers = end < 0 ? text : text.slice(0, end);
  const from = /^From:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)/im.exec(headers)?.[1];
  const domain = from ? /@([A-Za-z0-9.-]+)/.exec(from)?.[1] : undefined;
  return domain?.toLowerCase();
}

/**
 * The receiver's check of RFC 7208 (SPF) for the MAIL FROM domain from the connecting address:
 * only a "fail" is refused (a softfail or neutral is the domain saying it is not sure).
 */
function spfRefusal(env: PersonaEnv, sender: string | undefined, peer: string): HookResult {
  if (!env.zones) return Replies.spfFailed(sender ? `${sender} (no DNS to check it)` : undefined);
  if (!sender) return undefined;
  const spf = checkHost(env.zones, peer, sender);
  return spf.result === 'fail' ? Replies.spfFailed(`${sender} does not list ${peer}`) : undefined;
}

/**
 * RFC 7489 (DMARC): the From: domain must be aligned with a domain SPF passed for (no message
 * in this world carries a DKIM signature); what happens otherwise is the From: domain's own
 * policy. Only p=reject is refused here: p=quarantine asks for the spam folder, p=none for a report.
 */
function dmarcRefusal(env: PersonaEnv, message: ReceivedMessage, sender: string | undefined, peer: string): HookResult {
  const fromDomain = fromHeaderDomain(message.text) ?? sender;
  if (!env.zones) return Replies.policyRejected('no DNS to check the sender against');
  if (!fromDomain) return Replies.policyRejected('the message has no From: domain to check');
  const spf = sender ? checkHost(env.zones, peer, sender) : undefined;
  const dmarc = evaluateDmarc(env.zones, { fromDomain, ...(sender && spf ? { spf: { domain: sender, result: spf.result } } : {}) });
  if (dmarc.result !== 'fail' || dmarc.disposition !== 'reject') return undefined;
  const spfWords = sender && spf ? `SPF ${spf.result} for ${sender} from ${peer}` : 'no SPF identity';
  return Replies.policyRejected(`DMARC policy of ${dmarc.policyDomain ?? fromDomain} is reject; From: ${fromDomain} is not aligned with an authenticated domain (${spfWords})`);
}

// ─── bouncer ──────────────────────────────────────────────────────────────────────────────

interface BouncerSettings extends BaseSettings {
  bounceAfterMs: number;
}

const bouncer = define<BouncerSettings>({
  id: 'bouncer',
  title: 'Accept, then bounce',
  description:
    'Says 250 at the end of DATA, then finds the mailbox over quota and sends a bounce (a DSN, RFC 3464) to the sender later. Acceptance is not delivery.',
  port: 25,
  settingSpecs: [
    ...BASE_SPECS,
    { name: 'bounceAfterMs', label: 'Bounce after', kind: 'duration', description: 'How long after acceptance the DSN is sent.' },
  ],
  defaults: { ...BASE_DEFAULTS, bounceAfterMs: 10 * DURATION.minute },
  create: (settings, env) =>
    makeBackend('bouncer', settings, env, (kit) => ({
      // RFC 3461 §4: a client may give NOTIFY, RET, ENVID and ORCPT only to a server that lists
      // DSN; this one does, and its later bounce honours what they asked for.
      extensions: (facts) => ({ ...kit.mxExtensions(facts), other: ['DSN'] }),
      onData: (message, envelope) => {
        // No bounce for a bounce (RFC 5321 §4.5.5: never send a notification to the null path).
        if (envelope.reversePath !== '') {
          const acceptedAt = env.now();
          for (const recipient of envelope.recipients) {
            const notify = recipient.params.notify;
            kit.laterBounces.push({
              acceptedAt,
              dueAt: acceptedAt + settings.bounceAfterMs,
              queueId: message.queueId,
              envelope,
              recipient: recipient.address,
              reason: Replies.mailboxFullPermanent(recipient.address),
              message,
              // RFC 3461 §4.1: no NOTIFY means FAILURE; NEVER, or a list without FAILURE, asks for no bounce.
              notifySender: notify === undefined || (notify !== 'NEVER' && notify.includes('FAILURE')),
            });
          }
        }
        return undefined;
      },
    })),
});

// ─── submission ───────────────────────────────────────────────────────────────────────────

interface SubmissionSettings extends BaseSettings {
  /** user -> password */
  users: Readonly<Record<string, string>>;
}

const submission = define<SubmissionSettings>({
  id: 'submission',
  title: 'Submission (port 587)',
  description:
    'A mail submission server (RFC 6409): STARTTLS first (530 5.7.0), then AUTH (PLAIN or LOGIN) before any mail (530 5.7.0), 535 5.7.8 for bad credentials. Once logged in, it relays anywhere.',
  port: 587,
  settingSpecs: [
    ...BASE_SPECS,
    { name: 'users', label: 'Accounts', kind: 'credentials', description: 'User names and passwords AUTH accepts.' },
  ],
  defaults: { ...BASE_DEFAULTS, domains: ['example.com'], mailboxes: ['alice', 'postmaster'], users: { 'alice@example.com': 's3cr3t' } },
  create: (settings, env) =>
    makeBackend('submission', settings, env, (kit) => ({
      policy: { tlsRequiredForAuth: true, tlsRequiredForMail: true, authRequiredForMail: true },
      extensions: (facts: SessionFacts) => ({
        ...kit.mxExtensions(facts),
        // RFC 4954 §4 / RFC 8314: credentials only over TLS, so AUTH is offered only then.
        ...(facts.tls ? { auth: ['PLAIN', 'LOGIN'] as const } : {}),
        // RFC 3461 §4: the world's MTA honours RET/ENVID on MAIL and NOTIFY/ORCPT on RCPT.
        other: ['DSN'],
      }),
      authenticate: (_mechanism, username, password) => Object.hasOwn(settings.users, username) && settings.users[username] === password,
      // An authenticated user may send anywhere: that is what submission is for.
      onRcpt: () => undefined,
    })),
});

// ─── closed-relay ─────────────────────────────────────────────────────────────────────────

const closedRelay = define({
  id: 'closed-relay',
  title: 'Closed relay',
  description:
    'An MX that takes mail only for its own domains: any other recipient gets 554 5.7.1 relay access denied, and unknown local mailboxes 550 5.1.1. Why you cannot send to anyone through any server.',
  port: 25,
  settingSpecs: BASE_SPECS,
  defaults: { ...BASE_DEFAULTS },
  create: (settings, env) =>
    makeBackend('closed-relay', settings, env, (kit) => ({
      onRcpt: (forwardPath) => kit.relayCheck(forwardPath) ?? (kit.isKnownMailbox(forwardPath) ? undefined : Replies.userUnknown(`<${forwardPath}>`)),
    })),
});

// ─── mailbox-full ─────────────────────────────────────────────────────────────────────────

interface MailboxFullSettings extends BaseSettings {
  fullMailboxes: readonly string[];
}

const mailboxFull = define<MailboxFullSettings>({
  id: 'mailbox-full',
  title: 'Mailbox full',
  description:
    'Some mailboxes are over quota: 452 4.2.2 for those recipients, 250 for the others, in the same transaction. The sender delivers to some and retries the rest.',
  port: 25,
  settingSpecs: [
    ...BASE_SPECS,
    { name: 'fullMailboxes', label: 'Full mailboxes', kind: 'mailboxes', description: 'Local parts whose mailbox is full.' },
  ],
  defaults: { ...BASE_DEFAULTS, fullMailboxes: ['carol'] },
  create: (settings, env) => {
    const full = new Set(settings.fullMailboxes.map((m) => m.toLowerCase()));
    return makeBackend('mailbox-full', settings, env, (kit) => ({
      onRcpt: (forwardPath) => {
        const relay = kit.relayCheck(forwardPath);
        if (relay) return relay;
        const local = forwardPath.slice(0, Math.max(0, forwardPath.lastIndexOf('@'))).toLowerCase();
        return full.has(local) ? Replies.mailboxFull(forwardPath) : undefined;
      },
    }));
  },
});

// ─── flaky ────────────────────────────────────────────────────────────────────────────────

type DropPoint = 'mail' | 'rcpt' | 'data' | 'data-end';

interface FlakySettings extends BaseSettings {
  dropAt: DropPoint;
  /** How many transactions are dropped before the server behaves (0 = always drop). */
  failures: number;
}

const flaky = define<FlakySettings>({
  id: 'flaky',
  title: 'Flaky',
  description:
    'Drops the connection in the middle of a transaction, without a reply. After data-end the sender cannot know whether the message arrived (RFC 5321 §3.8 treats it as a 451, so it retries, which risks a duplicate).',
  port: 25,
  settingSpecs: [
    ...BASE_SPECS,
    { name: 'dropAt', label: 'Drop at', kind: 'choice', choices: ['mail', 'rcpt', 'data', 'data-end'], description: 'Which command the connection dies at.' },
    { name: 'failures', label: 'Failures', kind: 'number', description: 'Transactions dropped before it works (0: it never works).' },
  ],
  defaults: { ...BASE_DEFAULTS, dropAt: 'data-end', failures: 1 },
  create: (settings, env) => {
    let dropped = 0;
    const drop = (point: DropPoint): HookResult | undefined => {
      if (point !== settings.dropAt) return undefined;
      if (settings.failures > 0 && dropped >= settings.failures) return undefined;
      dropped += 1;
      return { silent: true, close: true };
    };
    return makeBackend('flaky', settings, env, (kit) => ({
      onMail: () => drop('mail'),
      onRcpt: (forwardPath) => kit.relayCheck(forwardPath) ?? drop('rcpt'),
      onDataStart: () => drop('data'),
      onData: (message, envelope) => {
        const dropNow = drop('data-end');
        // The nasty case: the message was stored, but the reply never leaves.
        kit.deliver(message, envelope);
        return dropNow;
      },
    }));
  },
});

// ─── legacy ───────────────────────────────────────────────────────────────────────────────

interface LegacySettings extends BaseSettings {
  ehloReply: number;
}

const legacy = define<LegacySettings>({
  id: 'legacy',
  title: 'Legacy (no ESMTP)',
  description: 'An RFC 821 server: EHLO gets 500 or 502, so the client must fall back to HELO, and no extension (no STARTTLS, no SIZE, no 8BITMIME) is available.',
  port: 25,
  settingSpecs: [
    ...BASE_SPECS,
    { name: 'ehloReply', label: 'Reply to EHLO', kind: 'choice', choices: ['500', '502'], description: '500 (unknown command) or 502 (not implemented).' },
  ],
  defaults: { ...BASE_DEFAULTS, ehloReply: 502 },
  create: (settings, env) =>
    makeBackend('legacy', settings, env, (kit) => ({
      // No extensions at all, so replies carry no enhanced codes either (RFC 2034).
      extensions: () => ({}),
      onConnect: () => Replies.greeting(env.hostname, 'SMTP service ready'),
      onEhlo: () => (settings.ehloReply === 500 ? Replies.syntaxError() : Replies.notImplemented()),
      onRcpt: (forwardPath) => kit.relayCheck(forwardPath),
    })),
});

// ─── rate-limited ─────────────────────────────────────────────────────────────────────────

interface RateLimitedSettings extends BaseSettings {
  limit: 'messages' | 'connections';
  maxPerWindow: number;
  windowMs: number;
}

const rateLimited = define<RateLimitedSettings>({
  id: 'rate-limited',
  title: 'Rate limited',
  description:
    'Counts what each client address does: after N messages in the window MAIL gets 451 4.7.1; after N connections the banner is 421 4.7.0. The sender must slow down and retry.',
  port: 25,
  settingSpecs: [
    ...BASE_SPECS,
    { name: 'limit', label: 'Limit', kind: 'choice', choices: ['messages', 'connections'], description: 'What is counted.' },
    { name: 'maxPerWindow', label: 'Allowed per window', kind: 'number', description: 'How many are allowed per client address in the window.' },
    { name: 'windowMs', label: 'Window', kind: 'duration', description: 'The counting window.' },
  ],
  defaults: { ...BASE_DEFAULTS, limit: 'messages', maxPerWindow: 3, windowMs: DURATION.hour },
  create: (settings, env) => {
    const events = new Map<string, number[]>();
    const recent = (client: string): number[] => {
      const cutoff = env.now() - settings.windowMs;
      const list = (events.get(client) ?? []).filter((at) => at > cutoff);
      events.set(client, list);
      return list;
    };
    return makeBackend('rate-limited', settings, env, (kit) => ({
      onConnect: (facts) => {
        if (settings.limit !== 'connections') return undefined;
        const list = recent(facts.peer.address);
        if (list.length >= settings.maxPerWindow) return Replies.rateLimited(421, env.hostname);
        list.push(env.now());
        return undefined;
      },
      onMail: (_reversePath, _params, facts) => {
        if (settings.limit !== 'messages') return undefined;
        return recent(facts.peer.address).length >= settings.maxPerWindow ? Replies.rateLimited(451) : undefined;
      },
      onData: (message, envelope, facts) => {
        if (settings.limit === 'messages') recent(facts.peer.address).push(env.now());
        kit.deliver(message, envelope);
        return undefined;
      },
    }));
  },
});

// ─── The catalogue ────────────────────────────────────────────────────────────────────────

export const personas: { readonly [K in PersonaId]: PersonaDefinition<any> } = {
  friendly,
  greylisting,
  strict,
  'tls-broken': tlsBroken,
  overloaded,
  tarpit,
  'content-filter': contentFilter,
  bouncer,
  submission,
  'closed-relay': closedRelay,
  'mailbox-full': mailboxFull,
  flaky,
  legacy,
  'rate-limited': rateLimited,
  'smuggling-vulnerable': smugglingVulnerable,
};

export const PERSONA_IDS = Object.keys(personas) as PersonaId[];

export function isPersonaId(id: string): id is PersonaId {
  return Object.hasOwn(personas, id);
}

/** The settings of a persona with defaults filled in; unknown names or wrong types throw with a clear message. */
export function resolveSettings(id: PersonaId, overrides: Readonly<Record<string, unknown>> = {}): Record<string, SettingValue> {
  const definition = personas[id];
  const known: Record<string, SettingValue> = definition.defaults;
  const settings: Record<string, SettingValue> = { ...known };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(known, name)) {
      throw new Error(`persona "${id}" has no setting "${name}"; its settings are: ${Object.keys(known).join(', ')}`);
    }
    const expected = known[name]!;
    const spec = definition.settingSpecs.find((s: SettingSpec) => s.name === name);
    const sameKind =
      Array.isArray(expected) ? Array.isArray(value) && value.every((v) => typeof v === 'string') : typeof expected === typeof value && !Array.isArray(value);
    if (!sameKind) {
      throw new Error(`persona "${id}" setting "${name}" must be ${Array.isArray(expected) ? 'a list of strings' : `a ${typeof expected}`}, got ${JSON.stringify(value)}`);
    }
    if (spec?.choices && !spec.choices.includes(String(value))) {
      throw new Error(`persona "${id}" setting "${name}" must be one of ${spec.choices.join(', ')}, got ${JSON.stringify(value)}`);
    }
    if (typeof value === 'number' && (!Number.isFinite(value) || value < 0)) {
      throw new Error(`persona "${id}" setting "${name}" must be a non-negative number, got ${value}`);
    }
    settings[name] = value as SettingValue;
  }
  return settings;
}

/** Make the backend of persona `id` with `settings` over its defaults. */
export function createBackend(id: PersonaId, settings: Readonly<Record<string, unknown>> | undefined, env: PersonaEnv): PersonaBackend {
  if (!isPersonaId(id)) throw new Error(`unknown persona "${String(id)}"; known: ${PERSONA_IDS.join(', ')}`);
  const backend = personas[id].create(resolveSettings(id, settings ?? {}), env);
  // The server's clock, for the Received field it writes (RFC 5321 §4.4).
  (backend as { now?: () => number }).now ??= env.now;
  return backend;
}


