/**
 * The default simulated world, as data: which domains exist, what their DNS says, and which
 * persona answers on each mail host. Only reserved names (RFC 2606, RFC 6761) and
 * documentation addresses (RFC 5737: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24;
 * RFC 3849: 2001:db8::/32) appear here.
 */
import { DEFAULT_TTL, normalizeName, resolve, type DnsRecord, type MtaStsPolicy, type Zones } from './dns';

export const PERSONA_IDS = [
  'friendly',
  'greylisting',
  'strict',
  'tls-broken',
  'overloaded',
  'tarpit',
  'content-filter',
  'bouncer',
  'submission',
  'closed-relay',
  'mailbox-full',
  'flaky',
  'legacy',
  'rate-limited',
  'smuggling-vulnerable',
] as const;

export type PersonaId = (typeof PERSONA_IDS)[number];

/** How a host that is down fails: a TCP RST at once, or silence until the client gives up. */
export type DownMode = 'refused' | 'timeout';

export interface SimHost {
  addresses: string[];
  persona: PersonaId;
  /** Persona settings; their meaning belongs to the persona (e.g. `{ variant: 'handshake' }`). */
  settings: Record<string, unknown>;
  ports: number[];
  down?: DownMode;
}

/** One mail domain of the world and what it is there to teach. */
export interface WorldDomain {
  domain: string;
  teaches: string;
}

const MX_PORTS = [25];
const SUBMISSION_PORTS = [587, 465];

const records: DnsRecord[] = [];
const hosts: Record<string, SimHost> = {};
const domains: WorldDomain[] = [];
const mtaSts: Record<string, MtaStsPolicy> = {};
const servfail: string[] = [];

function add(record: DnsRecord): void {
  records.push(record);
}

function a(name: string, address: string): void {
  add({ name, ttl: DEFAULT_TTL, type: 'A', address });
}

function aaaa(name: string, address: string): void {
  add({ name, ttl: DEFAULT_TTL, type: 'AAAA', address });
}

function mx(name: string, preference: number, exchange: string): void {
  add({ name, ttl: DEFAULT_TTL, type: 'MX', preference, exchange });
}

function txt(name: string, text: string): void {
  add({ name, ttl: DEFAULT_TTL, type: 'TXT', text });
}

function cname(name: string, target: string): void {
  add({ name, ttl: DEFAULT_TTL, type: 'CNAME', target });
}

function host(name: string, spec: Omit<SimHost, 'ports'> & { ports?: number[] }): void {
  for (const address of spec.addresses) {
    if (address.includes(':')) aaaa(name, address);
    else a(name, address);
  }
  hosts[name] = { ports: MX_PORTS, ...spec };
}

/** A domain with one MX host `mx.<domain>` run by `persona`. */
function personaDomain(domain: string, address: string, persona: PersonaId, settings: Record<string, unknown>, teaches: string): void {
  mx(domain, 10, `mx.${domain}`);
  host(`mx.${domain}`, { addresses: [address], persona, settings });
  domains.push({ domain, teaches });
}

// --- The article's cast -------------------------------------------------------------------

// alice@example.com submits through smtp.example.com; example.com also receives (DSNs come back here).
mx('example.com', 10, 'mx.example.com');
host('mx.example.com', { addresses: ['192.0.2.10', '2001:db8::10'], persona: 'friendly', settings: { mailboxes: ['alice@example.com'] } });
host('smtp.example.com', {
  addresses: ['192.0.2.25', '2001:db8::25'],
  persona: 'submission',
  settings: { users: { 'alice@example.com': 's3cr3t' } },
  ports: SUBMISSION_PORTS,
});
txt('example.com', 'v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 -all');
txt('_dmarc.example.com', 'v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com');
cname('www.example.com', 'example.com');
domains.push({ domain: 'example.com', teaches: "alice's domain: she submits on smtp.example.com (587 STARTTLS, 465 TLS) with AUTH; bounces come back to mx.example.com" });

// bob@ and carol@example.net: two MX hosts, so switching mx1 down shows the fallback to mx2.
mx('example.net', 10, 'mx1.example.net');
mx('example.net', 20, 'mx2.example.net');
host('mx1.example.net', { addresses: ['192.0.2.20', '2001:db8::20'], persona: 'friendly', settings: { mailboxes: ['bob@example.net', 'carol@example.net'] } });
host('mx2.example.net', { addresses: ['192.0.2.21'], persona: 'friendly', settings: { mailboxes: ['bob@example.net', 'carol@example.net'] } });
txt('example.net', 'v=spf1 mx -all');
txt('_dmarc.example.net', 'v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@example.net');
txt('_mta-sts.example.net', 'v=STSv1; id=20260301T000000');
mtaSts['example.net'] = { mode: 'enforce', mx: ['mx1.example.net', 'mx2.example.net'], maxAgeSeconds: 604800 };
domains.push({ domain: 'example.net', teaches: 'bob and carol: MX 10 mx1, 20 mx2 (friendly); switch mx1 down to watch the sender fall back to mx2' });

// --- One domain per persona ---------------------------------------------------------------

personaDomain('grey.example', '198.51.100.10', 'greylisting', { retryAfterSeconds: 300 }, 'greylisting: 451 4.7.1 on the first try, accepted when the sender retries after 5 minutes');
personaDomain('strict.example', '198.51.100.11', 'strict', { mailboxes: ['dave@strict.example'] }, 'strict checks: 550 5.1.1 for unknown mailboxes, 553/501 for malformed addresses');
personaDomain('tls-refuse.example', '198.51.100.12', 'tls-broken', { variant: 'refuse' }, 'STARTTLS advertised, then refused with 454 4.7.0');
personaDomain('tls-handshake.example', '198.51.100.13', 'tls-broken', { variant: 'handshake' }, 'STARTTLS accepted, then the TLS handshake fails');
personaDomain('tls-untrusted.example', '198.51.100.14', 'tls-broken', { variant: 'untrusted' }, 'STARTTLS works but the certificate is not trusted (self-signed, wrong name)');
personaDomain('overloaded.example', '198.51.100.15', 'overloaded', {}, '421 4.3.2 in the banner: the server is busy, try again later');
personaDomain('tarpit.example', '198.51.100.16', 'tarpit', { replyDelaySeconds: 400 }, 'slow banner and replies: the client hits its timeouts (RFC 5321 §4.5.3.2)');
personaDomain('filter-content.example', '198.51.100.17', 'content-filter', { variant: 'content' }, 'envelope accepted, then 554 5.7.1 at end of DATA: content rejected');
personaDomain('filter-size.example', '198.51.100.18', 'content-filter', { variant: 'size', maxSize: 10240 }, '552 5.3.4 at end of DATA: message too large (and SIZE in EHLO)');
personaDomain('filter-dmarc.example', '198.51.100.19', 'content-filter', { variant: 'dmarc' }, '550 5.7.26 at end of DATA for a From: domain whose DMARC says p=reject and that SPF does not back (try a forged sender)');
personaDomain('bounce.example', '198.51.100.20', 'bouncer', { reason: 'quota' }, '250 at end of DATA, then a DSN arrives later: accepted now, bounced afterwards; lists DSN, so NOTIFY, RET, ENVID and ORCPT travel on to it');
personaDomain('relay.example', '198.51.100.21', 'closed-relay', {}, 'a closed relay: 554 5.7.1 relaying denied for domains it does not serve');
personaDomain('full.example', '198.51.100.22', 'mailbox-full', { fullMailboxes: ['erin@full.example'] }, '452 4.2.2 for a full mailbox while other recipients are accepted');
personaDomain('flaky.example', '198.51.100.23', 'flaky', { dropAfter: 'DATA' }, 'drops the connection mid-transaction: the message is not delivered until a retry succeeds');
personaDomain('legacy.example', '198.51.100.24', 'legacy', {}, 'no ESMTP: 502 to EHLO, so the client falls back to HELO');
personaDomain('ratelimit.example', '198.51.100.25', 'rate-limited', { maxMessages: 3 }, '421 4.7.0 / 451 4.7.1 after a few messages: rate limits');
personaDomain('smuggling.example', '198.51.100.26', 'smuggling-vulnerable', {}, 'accepts a bare LF "." as end of data: SMTP smuggling');

// --- DNS lessons --------------------------------------------------------------------------

mx('nullmx.example', 0, '.');
domains.push({ domain: 'nullmx.example', teaches: 'Null MX "0 ." (RFC 7505): the domain accepts no mail; senders fail at once with 556 5.1.10' });

host('a-only.example', { addresses: ['203.0.113.10'], persona: 'friendly', settings: {} });
domains.push({ domain: 'a-only.example', teaches: 'no MX, only an A record: the domain itself is the implicit MX (RFC 5321 §5.1)' });

mx('balanced.example', 10, 'mx1.balanced.example');
mx('balanced.example', 10, 'mx2.balanced.example');
mx('balanced.example', 10, 'mx3.balanced.example');
host('mx1.balanced.example', { addresses: ['203.0.113.11'], persona: 'friendly', settings: {} });
host('mx2.balanced.example', { addresses: ['203.0.113.12'], persona: 'friendly', settings: {} });
host('mx3.balanced.example', { addresses: ['203.0.113.13'], persona: 'friendly', settings: {} });
domains.push({ domain: 'balanced.example', teaches: 'three MX hosts with equal preference 10: senders pick among them at random' });

personaDomain('sts-enforce.example', '203.0.113.20', 'tls-broken', { variant: 'untrusted' }, 'MTA-STS mode enforce with a broken certificate: the sender refuses to deliver rather than downgrade');
txt('_mta-sts.sts-enforce.example', 'v=STSv1; id=20260310T090000');
mtaSts['sts-enforce.example'] = { mode: 'enforce', mx: ['mx.sts-enforce.example'], maxAgeSeconds: 86400 };

personaDomain('sts-testing.example', '203.0.113.21', 'tls-broken', { variant: 'untrusted' }, 'MTA-STS mode testing with a broken certificate: the sender reports the failure but delivers anyway');
txt('_mta-sts.sts-testing.example', 'v=STSv1; id=20260310T090000');
mtaSts['sts-testing.example'] = { mode: 'testing', mx: ['mx.sts-testing.example'], maxAgeSeconds: 86400 };

personaDomain('dane.example', '203.0.113.22', 'tls-broken', { variant: 'untrusted' }, 'DANE: a TLSA record pins the certificate, the server presents another one, so a DANE sender must not deliver');
add({
  name: '_25._tcp.mx.dane.example',
  ttl: DEFAULT_TTL,
  type: 'TLSA',
  usage: 3,
  selector: 1,
  matchingType: 1,
  certificateData: '8d02536c887482bc34ff54e41d2ba659bf85b341a0a20afadb5813dcfbcf286d',
});

mx('ghost-mx.example', 10, 'mx.nowhere.ghost-mx.example');
domains.push({ domain: 'ghost-mx.example', teaches: 'the MX points to a host name that does not exist: no route, permanent failure' });

mx('down.example', 10, 'mx1.down.example');
mx('down.example', 20, 'mx2.down.example');
host('mx1.down.example', { addresses: ['203.0.113.30'], persona: 'friendly', settings: {}, down: 'refused' });
host('mx2.down.example', { addresses: ['203.0.113.31'], persona: 'friendly', settings: {}, down: 'timeout' });
domains.push({ domain: 'down.example', teaches: 'every MX is down (mx1 refuses connections, mx2 times out): the message waits in the queue and is retried' });

cname('alias.example', 'example.net');
domains.push({ domain: 'alias.example', teaches: 'a CNAME to example.net: the sender follows it and uses example.net\'s MX records' });

cname('loop-a.example', 'loop-b.example');
cname('loop-b.example', 'loop-a.example');
domains.push({ domain: 'loop-a.example', teaches: 'a CNAME loop (loop-a -> loop-b -> loop-a): the resolver answers SERVFAIL' });

servfail.push('broken-dns.example');
domains.push({ domain: 'broken-dns.example', teaches: 'its DNS servers answer SERVFAIL: a temporary failure, the message is retried' });

/** Listed for `world`; it has no records at all, which is what makes it NXDOMAIN. */
export const NXDOMAIN_EXAMPLE = 'no-such-domain.example';
domains.push({ domain: NXDOMAIN_EXAMPLE, teaches: 'does not exist (NXDOMAIN): a permanent failure, 5.1.2' });

// --- SPF and DMARC lessons (TXT records only) ------------------------------------------------

// mailer.example is a bulk-mail provider; its customers point their SPF at its record.
txt('mailer.example', 'v=spf1 ip4:198.51.100.128/25 ip6:2001:db8:5::/48 -all');
// A customer that borrows the provider's list with include:, and ends in a soft "~all".
txt('newsletter.example', 'v=spf1 include:mailer.example ~all');
txt('_dmarc.newsletter.example', 'v=DMARC1; p=none; rua=mailto:dmarc-reports@newsletter.example');
// A customer that hands its whole policy to the provider with redirect=: the provider's "-all" is final.
txt('promo.example', 'v=spf1 redirect=mailer.example');
// example.com's own bounce address at the provider: MAIL FROM in a subdomain of example.com, so DMARC can align it.
txt('bounce.example.com', 'v=spf1 include:mailer.example -all');
// A record that grew one include at a time until it needs more than ten DNS lookups (RFC 7208 §4.6.4).
txt('toomany.example', 'v=spf1 include:_spf.crm.example include:_spf.helpdesk.example include:mailer.example ~all');
txt('_spf.crm.example', 'v=spf1 include:_net1.crm.example include:_net2.crm.example include:_net3.crm.example -all');
txt('_net1.crm.example', 'v=spf1 ip4:203.0.113.64/28 -all');
txt('_net2.crm.example', 'v=spf1 ip4:203.0.113.80/28 -all');
txt('_net3.crm.example', 'v=spf1 ip6:2001:db8:c0::/48 -all');
txt('_spf.helpdesk.example', 'v=spf1 a:mx1.example.net mx:example.net include:_spf.crm.example -all');
// Strict DMARC alignment: mail.bank.example passes SPF but is not exactly bank.example.
txt('mail.bank.example', 'v=spf1 include:mailer.example -all');
txt('_dmarc.bank.example', 'v=DMARC1; p=reject; aspf=s; adkim=s; rua=mailto:dmarc-reports@bank.example');

// -------------------------------------------------------------------------------------------

export const defaultZones: Zones = { records, servfail, mtaSts };
export const defaultHosts: Record<string, SimHost> = hosts;
export const worldDomains: readonly WorldDomain[] = domains;

/** A copy of `hosts` with `name` switched down (or back up with `undefined`). */
export function withHostDown(hostsIn: Record<string, SimHost>, name: string, down: DownMode | undefined): Record<string, SimHost> {
  const key = normalizeName(name);
  const current = hostsIn[key];
  if (!current) return hostsIn;
  const { down: _previous, ...rest } = current;
  return { ...hostsIn, [key]: down ? { ...rest, down } : rest };
}

function mxSummary(zones: Zones, hostsIn: Record<string, SimHost>, domain: string): string {
  const res = resolve(zones, domain, 'MX');
  if (res.status !== 'NOERROR') return res.status;
  const via = res.cnameChain.length > 0 ? `CNAME ${normalizeName(res.cnameChain.at(-1)!.target)}, ` : '';
  if (res.answers.length === 0) {
    const self = hostsIn[domain];
    return self ? `${via}no MX, A only (${self.persona})` : `${via}no MX`;
  }
  const entries = [...res.answers]
    .sort((x, y) => x.preference - y.preference)
    .map((r) => {
      const exchange = normalizeName(r.exchange);
      if (exchange === '') return `${r.preference} .`;
      const h = hostsIn[exchange];
      const who = h ? `${h.persona}${h.down ? `, down: ${h.down}` : ''}` : 'no such host';
      return `${r.preference} ${exchange} (${who})`;
    });
  return `${via}MX ${entries.join(', ')}`;
}

/** One line per domain for the terminal's `world` command: who serves it and what it teaches. */
export function describeWorld(zones: Zones = defaultZones, hostsIn: Record<string, SimHost> = defaultHosts): string[] {
  const lines = worldDomains.map((d) => `${d.domain} — ${mxSummary(zones, hostsIn, d.domain)} — ${d.teaches}`);
  const submission = Object.entries(hostsIn)
    .filter(([, h]) => h.persona === 'submission')
    .map(([name, h]) => `${name} — submission server, ports ${h.ports.join(', ')} (${h.persona})`);
  return [...submission, ...lines];
}
