/**
 * Simulated DNS: zones as data, a resolver that answers from them, and the sending MTA's
 * route to a mail domain (RFC 5321 §5.1, RFC 7505 Null MX).
 *
 * The resolver answers like a recursive resolver would for a stub: NOERROR with answers,
 * NOERROR with no data, NXDOMAIN for a name that does not exist, SERVFAIL for a zone whose
 * servers are broken. CNAMEs are followed (RFC 1034 §3.6.2) with loop protection.
 */

export type RecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'TLSA' | 'CNAME';
export const RECORD_TYPES: readonly RecordType[] = ['A', 'AAAA', 'MX', 'TXT', 'TLSA', 'CNAME'];

interface RecordBase {
  /** Owner name, lower case, without the trailing dot. */
  name: string;
  ttl: number;
}

export type DnsRecord =
  | (RecordBase & { type: 'A'; address: string })
  | (RecordBase & { type: 'AAAA'; address: string })
  | (RecordBase & { type: 'MX'; preference: number; exchange: string })
  | (RecordBase & { type: 'TXT'; text: string })
  | (RecordBase & {
      type: 'TLSA';
      /** RFC 6698 §2.1: certificate usage, selector, matching type, association data (hex). */
      usage: number;
      selector: number;
      matchingType: number;
      certificateData: string;
    })
  | (RecordBase & { type: 'CNAME'; target: string });

export type RecordOf<T extends RecordType> = Extract<DnsRecord, { type: T }>;

/** RFC 8461 §3.2: the policy served at https://mta-sts.<domain>/.well-known/mta-sts.txt. */
export interface MtaStsPolicy {
  mode: 'enforce' | 'testing' | 'none';
  /** MX patterns; "*.example.net" matches exactly one left-most label. */
  mx: string[];
  maxAgeSeconds: number;
}

export interface Zones {
  records: DnsRecord[];
  /** Names (and everything under them) whose authoritative servers fail: answers are SERVFAIL. */
  servfail: string[];
  /** MTA-STS policy documents by policy domain (only honoured when `_mta-sts.<domain>` TXT exists). */
  mtaSts: Record<string, MtaStsPolicy>;
}

export type DnsStatus = 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL';

export interface Resolution<T extends RecordType = RecordType> {
  status: DnsStatus;
  /** The name that was asked. */
  name: string;
  type: T;
  /** Records of the asked type at the end of the CNAME chain. */
  answers: RecordOf<T>[];
  /** CNAME records followed on the way, in order (dig prints them before the answers). */
  cnameChain: RecordOf<'CNAME'>[];
  /** Why a SERVFAIL happened, when the resolver itself decided it (a CNAME loop or a too-long chain). */
  problem?: 'cname-loop' | 'cname-chain-too-long' | 'zone-servfail';
}

export const DEFAULT_TTL = 3600;
/** Resolvers stop following CNAMEs after a handful of hops; BIND's limit is 16, ours is smaller. */
export const MAX_CNAME_HOPS = 8;

export function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/** True when `name` is `zone` or lies below it. */
export function isAtOrBelow(name: string, zone: string): boolean {
  const n = normalizeName(name);
  const z = normalizeName(zone);
  return n === z || n.endsWith(`.${z}`);
}

function nameExists(zones: Zones, name: string): boolean {
  // A name with no records of its own still exists when a name below it has records
  // (an "empty non-terminal", RFC 8020): the answer is NOERROR with no data, not NXDOMAIN.
  return zones.records.some((r) => r.name === name || r.name.endsWith(`.${name}`));
}

function isServfail(zones: Zones, name: string): boolean {
  return zones.servfail.some((zone) => isAtOrBelow(name, zone));
}

/** Ask the simulated resolver for `type` records at `name`. */
export function resolve<T extends RecordType>(zones: Zones, name: string, type: T): Resolution<T> {
  const asked = normalizeName(name);
  const cnameChain: RecordOf<'CNAME'>[] = [];
  const visited = new Set<string>();
  let current = asked;
  const result = (status: DnsStatus, answers: RecordOf<T>[] = [], problem?: Resolution['problem']): Resolution<T> => ({
    status,
    name: asked,
    type,
    answers,
    cnameChain,
    ...(problem ? { problem } : {}),
  });

  for (;;) {
    if (isServfail(zones, current)) return result('SERVFAIL', [], 'zone-servfail');
    if (!nameExists(zones, current)) return result('NXDOMAIN');
    const here = zones.records.filter((r) => r.name === current);
    const cname = here.find((r): r is RecordOf<'CNAME'> => r.type === 'CNAME');
    // RFC 1034 §3.6.2: a CNAME answers every type but CNAME itself by restarting at its target.
    if (cname && type !== 'CNAME') {
      visited.add(current);
      cnameChain.push(cname);
      const target = normalizeName(cname.target);
      if (visited.has(target)) return result('SERVFAIL', [], 'cname-loop');
      if (cnameChain.length > MAX_CNAME_HOPS) return result('SERVFAIL', [], 'cname-chain-too-long');
      current = target;
      continue;
    }
    const answers = here.filter((r): r is RecordOf<T> => r.type === type);
    return result('NOERROR', answers);
  }
}

/** The canonical name `name` resolves to after CNAMEs (itself when there is none). */
export function canonicalName<T extends RecordType>(resolution: Resolution<T>): string {
  const last = resolution.cnameChain.at(-1);
  return last ? normalizeName(last.target) : resolution.name;
}

// ---------------------------------------------------------------------------
// A small seeded random source, so MX shuffles are reproducible in tests and lessons.

export type Rng = () => number;

/** mulberry32: a tiny 32-bit PRNG. Returns floats in [0, 1). Same seed, same sequence. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle of a copy. */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

// ---------------------------------------------------------------------------
// RFC 5321 §5.1: locating the target host.

export interface MailHost {
  host: string;
  /** MX preference; 0 for the implicit MX. */
  preference: number;
  /** IPv4 then IPv6 addresses of the host. */
  addresses: string[];
  /** True when no MX exists and the domain itself is the target (RFC 5321 §5.1 implicit MX). */
  implicit: boolean;
}

export interface RouteFailure {
  /** The reply code a sending MTA would give or report for this failure. */
  code: number;
  /** RFC 3463 enhanced status code. */
  enhanced: string;
  /** One line for a DSN Diagnostic-Code or a terminal message. */
  text: string;
}

export type MailRoute =
  | { kind: 'hosts'; domain: string; hosts: MailHost[]; implicit: boolean; explanation: string[] }
  | { kind: 'null-mx'; domain: string; failure: RouteFailure; explanation: string[] }
  | { kind: 'permanent'; domain: string; failure: RouteFailure; explanation: string[] }
  | { kind: 'temporary'; domain: string; failure: RouteFailure; explanation: string[] };

function describeChain<T extends RecordType>(res: Resolution<T>): string[] {
  return res.cnameChain.map(
    (c) => `${c.name} is an alias (CNAME) for ${normalizeName(c.target)}; RFC 5321 §5.1 processes the target as if it were the original name.`,
  );
}

function describeServfail<T extends RecordType>(res: Resolution<T>): string {
  switch (res.problem) {
    case 'cname-loop':
      return `the CNAME chain from ${res.name} loops back on itself (${res.cnameChain.map((c) => c.name).join(' -> ')} -> ${normalizeName(res.cnameChain.at(-1)!.target)}), so the resolver answers SERVFAIL`;
    case 'cname-chain-too-long':
      return `the CNAME chain from ${res.name} is longer than ${MAX_CNAME_HOPS} hops, so the resolver gives up with SERVFAIL`;
    default:
      return `the DNS servers for ${res.name} answer SERVFAIL (${res.type} query)`;
  }
}

interface HostAddresses {
  addresses: string[];
  status: 'ok' | 'no-address' | 'nxdomain' | 'servfail';
  notes: string[];
}

function addressesOf(zones: Zones, host: string): HostAddresses {
  const v4 = resolve(zones, host, 'A');
  const v6 = resolve(zones, host, 'AAAA');
  const notes = describeChain(v4);
  const addresses = [...v4.answers.map((r) => r.address), ...v6.answers.map((r) => r.address)];
  if (addresses.length > 0) return { addresses, status: 'ok', notes };
  if (v4.status === 'SERVFAIL' || v6.status === 'SERVFAIL') {
    return { addresses, status: 'servfail', notes: [...notes, v4.status === 'SERVFAIL' ? describeServfail(v4) : describeServfail(v6)] };
  }
  if (v4.status === 'NXDOMAIN') return { addresses, status: 'nxdomain', notes };
  return { addresses, status: 'no-address', notes };
}

/**
 * Where does mail for `domain` go? RFC 5321 §5.1, step by step, with a sentence per decision.
 * `rng` shuffles MX hosts of equal preference ("the SMTP client SHOULD randomize them to spread
 * the load"); pass a seeded one (`mulberry32`) for reproducible routes.
 */
export function routeMail(zones: Zones, domain: string, rng: Rng): MailRoute {
  const target = normalizeName(domain);
  const explanation: string[] = [];
  const fail = (kind: 'permanent' | 'temporary' | 'null-mx', code: number, enhanced: string, text: string): MailRoute => ({
    kind,
    domain: target,
    failure: { code, enhanced, text },
    explanation,
  });

  const mx = resolve(zones, target, 'MX');
  explanation.push(`Look up MX records for ${target}: ${mx.status}${mx.status === 'NOERROR' ? `, ${mx.answers.length} MX record${mx.answers.length === 1 ? '' : 's'}` : ''}.`);
  explanation.push(...describeChain(mx));

  if (mx.status === 'SERVFAIL') {
    explanation.push(
      `${capitalize(describeServfail(mx))}. That may be a passing fault, so the message stays queued and is retried later (temporary failure, 4.4.3).`,
    );
    return fail('temporary', 451, '4.4.3', `DNS lookup for ${target} MX failed (SERVFAIL); will retry`);
  }
  if (mx.status === 'NXDOMAIN') {
    explanation.push(`${canonicalName(mx)} does not exist (NXDOMAIN), so no mail can ever be delivered there: permanent failure, 5.1.2 (bad destination system address).`);
    return fail('permanent', 550, '5.1.2', `Domain ${target} does not exist (NXDOMAIN)`);
  }

  const records = mx.answers;
  // RFC 7505 §3: a single MX with preference 0 and exchange "." says "this domain accepts no mail".
  const nullMx = records.find((r) => normalizeName(r.exchange) === '');
  if (nullMx && records.length === 1) {
    explanation.push(
      `The only MX is "0 ." — a Null MX (RFC 7505): ${target} declares that it accepts no mail. The sender must not try any host and fails at once with 556 5.1.10.`,
    );
    return fail('null-mx', 556, '5.1.10', `Recipient domain ${target} has a null MX (RFC 7505) and accepts no mail`);
  }

  if (records.length === 0) {
    // RFC 5321 §5.1: no MX -> the domain itself is the implicit MX, preference 0, if it has an address.
    const canonical = canonicalName(mx);
    explanation.push(`No MX records, so RFC 5321 §5.1 treats ${canonical} itself as the mail host (the "implicit MX") if it has an A or AAAA record.`);
    const own = addressesOf(zones, canonical);
    explanation.push(...own.notes);
    if (own.status === 'ok') {
      explanation.push(`${canonical} has address${own.addresses.length === 1 ? '' : 'es'} ${own.addresses.join(', ')}: deliver there, port 25.`);
      return {
        kind: 'hosts',
        domain: target,
        hosts: [{ host: canonical, preference: 0, addresses: own.addresses, implicit: true }],
        implicit: true,
        explanation,
      };
    }
    if (own.status === 'servfail') {
      explanation.push('The address lookup failed temporarily, so the message is retried later (4.4.3).');
      return fail('temporary', 451, '4.4.3', `DNS lookup for ${canonical} A/AAAA failed (SERVFAIL); will retry`);
    }
    explanation.push(`${canonical} has neither MX nor A/AAAA records: it is not a mail domain. Permanent failure, 5.1.2.`);
    return fail('permanent', 550, '5.1.2', `Domain ${target} has no MX and no address records`);
  }

  if (nullMx) {
    explanation.push(`A "0 ." Null MX appears beside other MX records, which RFC 7505 §3 forbids; the "." entry is ignored as unusable.`);
  }
  const usable = records.filter((r) => r !== nullMx);

  // RFC 5321 §5.1: sort by preference, lowest first; randomize among equal preferences.
  const byPreference = new Map<number, RecordOf<'MX'>[]>();
  for (const r of usable) {
    const group = byPreference.get(r.preference) ?? [];
    group.push(r);
    byPreference.set(r.preference, group);
  }
  const ordered: RecordOf<'MX'>[] = [];
  for (const preference of [...byPreference.keys()].sort((a, b) => a - b)) {
    const group = byPreference.get(preference)!;
    if (group.length > 1) {
      const order = shuffled(group, rng);
      explanation.push(
        `${group.length} MX hosts share preference ${preference}; they are tried in random order to spread the load (this time: ${order.map((r) => normalizeName(r.exchange)).join(', ')}).`,
      );
      ordered.push(...order);
    } else {
      ordered.push(group[0]!);
    }
  }
  explanation.push(`Try MX hosts lowest preference first: ${ordered.map((r) => `${r.preference} ${normalizeName(r.exchange)}`).join(', ')}.`);

  const hosts: MailHost[] = [];
  let sawTemporary = false;
  for (const record of ordered) {
    const host = normalizeName(record.exchange);
    const found = addressesOf(zones, host);
    explanation.push(...found.notes);
    if (found.notes.length > 0 && found.status === 'ok') {
      explanation.push(`Note: RFC 2181 §10.3 says an MX must name a host, not an alias; ${host} is an alias, followed anyway as most MTAs do.`);
    }
    switch (found.status) {
      case 'ok':
        explanation.push(`${host} (preference ${record.preference}) has address${found.addresses.length === 1 ? '' : 'es'} ${found.addresses.join(', ')}.`);
        hosts.push({ host, preference: record.preference, addresses: found.addresses, implicit: false });
        break;
      case 'servfail':
        sawTemporary = true;
        explanation.push(`${host} is skipped for now: its address lookup failed temporarily.`);
        break;
      case 'nxdomain':
        explanation.push(`${host} is skipped: that host name does not exist (NXDOMAIN), so the MX record points nowhere.`);
        break;
      case 'no-address':
        explanation.push(`${host} is skipped: it has no A or AAAA record to connect to.`);
        break;
    }
  }

  if (hosts.length > 0) {
    return { kind: 'hosts', domain: target, hosts, implicit: false, explanation };
  }
  // RFC 5321 §5.1: "If MX records are present, but none of them are usable ... this situation
  // MUST be reported as an error." A DNS fault may heal, so it is temporary; a host that
  // does not exist will not appear by waiting.
  if (sawTemporary) {
    explanation.push('No MX host has a usable address yet, but some lookups failed temporarily: retry later (4.4.3).');
    return fail('temporary', 451, '4.4.3', `No MX host of ${target} could be resolved (DNS failure); will retry`);
  }
  explanation.push(`None of the MX hosts of ${target} has an address: RFC 5321 §5.1 says this must be reported as an error. Permanent failure, 5.4.4 (unable to route).`);
  return fail('permanent', 550, '5.4.4', `MX hosts of ${target} have no address records (unable to route)`);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// ---------------------------------------------------------------------------
// Mail-related TXT and TLSA helpers.

function txtStartingWith(zones: Zones, name: string, prefix: string): string | undefined {
  const res = resolve(zones, name, 'TXT');
  return res.answers.map((r) => r.text).find((t) => t.toLowerCase().startsWith(prefix.toLowerCase()));
}

/** The SPF policy of a domain (RFC 7208 §4.5: the TXT record starting "v=spf1"). */
export function spfRecord(zones: Zones, domain: string): string | undefined {
  return txtStartingWith(zones, domain, 'v=spf1');
}

/** The DMARC record at `_dmarc.<domain>` (RFC 7489 §6.1). */
export function dmarcRecord(zones: Zones, domain: string): string | undefined {
  return txtStartingWith(zones, `_dmarc.${normalizeName(domain)}`, 'v=DMARC1');
}

/** The MTA-STS TXT at `_mta-sts.<domain>` (RFC 8461 §3.1), e.g. "v=STSv1; id=20260310T090000". */
export function mtaStsRecord(zones: Zones, domain: string): string | undefined {
  return txtStartingWith(zones, `_mta-sts.${normalizeName(domain)}`, 'v=STSv1');
}

/** The MTA-STS policy a sender would fetch: only when the TXT record announces one (RFC 8461 §3). */
export function mtaStsPolicy(zones: Zones, domain: string): MtaStsPolicy | undefined {
  const name = normalizeName(domain);
  if (!mtaStsRecord(zones, name)) return undefined;
  return zones.mtaSts[name];
}

/** RFC 8461 §4.1: "*.example.net" matches exactly one extra left-most label; other patterns match exactly. */
export function mxMatchesPattern(host: string, pattern: string): boolean {
  const h = normalizeName(host);
  const p = normalizeName(pattern);
  if (p.startsWith('*.')) {
    const suffix = p.slice(1); // ".example.net"
    return h.endsWith(suffix) && !h.slice(0, -suffix.length).includes('.') && h.length > suffix.length;
  }
  return h === p;
}

/** The TLSA records for SMTP on `host` (RFC 7672 §2.2: `_25._tcp.<host>`). */
export function tlsaRecords(zones: Zones, host: string, port = 25): RecordOf<'TLSA'>[] {
  return resolve(zones, `_${port}._tcp.${normalizeName(host)}`, 'TLSA').answers;
}
