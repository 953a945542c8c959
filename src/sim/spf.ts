/**
 * How a receiving server decides whether mail is authentic: SPF (RFC 7208) and DMARC
 * (RFC 7489), evaluated against the simulated world's DNS zones.
 *
 * SPF asks one question: may the host at address <ip> send mail whose envelope sender (MAIL
 * FROM) is in <domain>? The domain answers with a TXT record listing who may. DMARC adds the
 * link to what a reader sees: the domain in the `From:` header must match (be "aligned" with)
 * a domain that SPF or DKIM authenticated, and the From domain's own record says what to do
 * when it does not.
 *
 * Both evaluators return the verdict with a trace: every record read and every term tried,
 * in plain words, so a learner can follow the receiver's reasoning line by line.
 */
import { normalizeName, resolve, type Resolution, type RecordType, type Zones } from './dns';
import { formatIp, inNetwork, parseIp, parseIpv4Bytes, parseIpv6Bytes, type IpAddress, type SpfResult } from './spfBasics';

export { formatIp, inNetwork, parseIp, SPF_RESULTS, type IpAddress, type SpfResult } from './spfBasics';

// ---------------------------------------------------------------------------------------------
// SPF records (RFC 7208 §4.6.1 and the grammar of §12)

export type SpfQualifier = '+' | '-' | '~' | '?';
export type SpfMechanismName = 'all' | 'include' | 'a' | 'mx' | 'ptr' | 'ip4' | 'ip6' | 'exists';

/** RFC 7208 §4.6.2: the result a matching mechanism gives, by its qualifier ("+" when none is written). */
const QUALIFIER_RESULT: Readonly<Record<SpfQualifier, SpfResult>> = { '+': 'pass', '-': 'fail', '~': 'softfail', '?': 'neutral' };

export interface SpfMechanism {
  readonly kind: 'mechanism';
  readonly qualifier: SpfQualifier;
  readonly name: SpfMechanismName;
  /** The domain-spec as written (macros unexpanded); absent when the mechanism names none. */
  readonly domainSpec?: string;
  /** ip4 / ip6: the network; a and mx: the prefix lengths to compare with. */
  readonly network?: IpAddress;
  readonly ip4Prefix?: number;
  readonly ip6Prefix?: number;
  /** The term as written, for the trace. */
  readonly text: string;
}

export interface SpfModifier {
  readonly kind: 'modifier';
  readonly name: string;
  readonly value: string;
  readonly text: string;
}

export type SpfTerm = SpfMechanism | SpfModifier;

export type SpfParse = { readonly ok: true; readonly terms: readonly SpfTerm[] } | { readonly ok: false; readonly error: string };

/** RFC 7208 §4.5: an SPF record is a TXT string that starts with "v=spf1" followed by a space or nothing. */
export function isSpfRecord(text: string): boolean {
  return /^v=spf1(?: |$)/i.test(text);
}

const MECHANISM_NAMES: readonly SpfMechanismName[] = ['all', 'include', 'a', 'mx', 'ptr', 'ip4', 'ip6', 'exists'];
const MODIFIER_NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/**
 * Splits "example.com/24//64" into the domain-spec and the dual CIDR lengths (RFC 7208 §5.3,
 * §5.4: `a` and `mx` may compare only a prefix of the host's addresses).
 */
function splitDualCidr(text: string): { spec: string; ip4Prefix?: number; ip6Prefix?: number } | { error: string } {
  const match = /^(.*?)(?:\/(\d+))?(?:\/\/(\d+))?$/.exec(text)!;
  const spec = match[1]!;
  const ip4Prefix = match[2] === undefined ? undefined : Number(match[2]);
  const ip6Prefix = match[3] === undefined ? undefined : Number(match[3]);
  if (spec.includes('/')) return { error: `"${text}" has a malformed CIDR length` };
  if (ip4Prefix !== undefined && (ip4Prefix > 32 || /^0\d/.test(match[2]!))) return { error: `IPv4 prefix /${match[2]} is not 0-32` };
  if (ip6Prefix !== undefined && (ip6Prefix > 128 || /^0\d/.test(match[3]!))) return { error: `IPv6 prefix //${match[3]} is not 0-128` };
  return { spec, ...(ip4Prefix === undefined ? {} : { ip4Prefix }), ...(ip6Prefix === undefined ? {} : { ip6Prefix }) };
}

function parseTerm(text: string): SpfTerm | { error: string } {
  // RFC 7208 §12: a modifier is name "=" value; a mechanism is [qualifier] name [":" or "/" ...].
  const modifier = /^([^:/=]+)=(.*)$/.exec(text);
  if (modifier) {
    const name = modifier[1]!.toLowerCase();
    if (!MODIFIER_NAME.test(name)) return { error: `"${text}" is not a valid modifier` };
    return { kind: 'modifier', name, value: modifier[2]!, text };
  }
  let rest = text;
  let qualifier: SpfQualifier = '+';
  if (/^[+\-~?]/.test(rest)) {
    qualifier = rest[0] as SpfQualifier;
    rest = rest.slice(1);
  }
  const nameMatch = /^([A-Za-z0-9]+)(.*)$/.exec(rest);
  const name = nameMatch?.[1]?.toLowerCase();
  if (!nameMatch || !name || !(MECHANISM_NAMES as readonly string[]).includes(name)) {
    // RFC 7208 §5: an unknown mechanism makes the whole record a permerror.
    return { error: `"${text}" is not a mechanism SPF knows (all, include, a, mx, ptr, ip4, ip6, exists)` };
  }
  const mechanism = name as SpfMechanismName;
  const argument = nameMatch[2]!;
  const base = { kind: 'mechanism' as const, qualifier, name: mechanism, text };
  switch (mechanism) {
    case 'all':
      if (argument !== '') return { error: `"${text}": all takes no argument` };
      return base;
    case 'include':
    case 'exists': {
      if (!argument.startsWith(':') || argument.length === 1) return { error: `"${text}": ${mechanism} needs a domain, as in ${mechanism}:example.net` };
      return { ...base, domainSpec: argument.slice(1) };
    }
    case 'ptr':
      if (argument === '') return base;
      if (!argument.startsWith(':') || argument.length === 1) return { error: `"${text}" is malformed` };
      return { ...base, domainSpec: argument.slice(1) };
    case 'a':
    case 'mx': {
      if (argument !== '' && !argument.startsWith(':') && !argument.startsWith('/')) return { error: `"${text}" is malformed` };
      const split = splitDualCidr(argument.startsWith(':') ? argument.slice(1) : argument);
      if ('error' in split) return { error: `"${text}": ${split.error}` };
      if (argument.startsWith(':') && split.spec === '') return { error: `"${text}": the domain after ":" is empty` };
      return {
        ...base,
        ...(split.spec ? { domainSpec: split.spec } : {}),
        ...(split.ip4Prefix === undefined ? {} : { ip4Prefix: split.ip4Prefix }),
        ...(split.ip6Prefix === undefined ? {} : { ip6Prefix: split.ip6Prefix }),
      };
    }
    case 'ip4':
    case 'ip6': {
      const version = mechanism === 'ip4' ? 4 : 6;
      const max = version === 4 ? 32 : 128;
      const match = /^:([^/]+)(?:\/(\d+))?$/.exec(argument);
      if (!match) return { error: `"${text}": ${mechanism} needs an address, as in ${version === 4 ? 'ip4:192.0.2.0/24' : 'ip6:2001:db8::/32'}` };
      const bytes = version === 4 ? parseIpv4Bytes(match[1]!) : parseIpv6Bytes(match[1]!);
      // RFC 7208 §5.6: the whole address is written; parts may not be left out ("ip4:192.0.2" is an error).
      if (!bytes) return { error: `"${text}": "${match[1]}" is not an IPv${version} address` };
      const prefix = match[2] === undefined ? max : Number(match[2]);
      if (prefix > max || (match[2] !== undefined && /^0\d/.test(match[2]))) return { error: `"${text}": the prefix length must be 0-${max}` };
      const network: IpAddress = { version, bytes };
      return { ...base, network, ...(version === 4 ? { ip4Prefix: prefix } : { ip6Prefix: prefix }) };
    }
  }
}

/**
 * Parses the terms of an SPF record. RFC 7208 §4.6: a syntax error anywhere makes the whole
 * record a permerror, before any term is evaluated, so the whole record is parsed first.
 */
export function parseSpfRecord(record: string): SpfParse {
  if (!isSpfRecord(record)) return { ok: false, error: 'the record does not start with "v=spf1"' };
  const terms: SpfTerm[] = [];
  for (const word of record.slice('v=spf1'.length).split(' ').filter((w) => w !== '')) {
    const term = parseTerm(word);
    if ('error' in term) return { ok: false, error: term.error };
    terms.push(term);
  }
  // RFC 7208 §6: redirect and exp may each appear once at most.
  for (const name of ['redirect', 'exp']) {
    if (terms.filter((t) => t.kind === 'modifier' && t.name === name).length > 1) return { ok: false, error: `"${name}=" appears more than once` };
  }
  return { ok: true, terms };
}

// ---------------------------------------------------------------------------------------------
// Macros (RFC 7208 §7), enough for include:, exists: and redirect= targets

interface MacroContext {
  readonly ip: IpAddress;
  readonly sender: string;
  readonly domain: string;
  readonly helo: string;
}

function macroValue(letter: string, context: MacroContext): string | undefined {
  const at = context.sender.lastIndexOf('@');
  switch (letter) {
    case 's':
      return context.sender;
    case 'l':
      return context.sender.slice(0, at);
    case 'o':
      return context.sender.slice(at + 1);
    case 'd':
      return context.domain;
    case 'i':
      // RFC 7208 §7.3: IPv6 is written as dot-separated nibbles for %{i}.
      return context.ip.version === 4
        ? context.ip.bytes.join('.')
        : context.ip.bytes.flatMap((b) => [(b >> 4).toString(16), (b & 0xf).toString(16)]).join('.');
    case 'p':
      // RFC 7208 §7.3: "unknown" when the validated name cannot be found; this world has no reverse DNS.
      return 'unknown';
    case 'v':
      return context.ip.version === 4 ? 'in-addr' : 'ip6';
    case 'h':
      return context.helo;
    default:
      // c, r and t are for exp= explanations only (§7.2); anything else is not a macro letter.
      return undefined;
  }
}

/** Expands the macros of a domain-spec; undefined when a macro is malformed (a permerror). */
export function expandMacros(spec: string, context: MacroContext): string | undefined {
  let out = '';
  for (let i = 0; i < spec.length; i++) {
    const ch = spec[i]!;
    if (ch !== '%') {
      out += ch;
      continue;
    }
    const next = spec[++i];
    if (next === '%') out += '%';
    else if (next === '_') out += ' ';
    else if (next === '-') out += '%20';
    else if (next === '{') {
      const close = spec.indexOf('}', i);
      if (close < 0) return undefined;
      const body = /^([a-zA-Z])(\d*)(r?)([.\-+,/_=]*)$/i.exec(spec.slice(i + 1, close));
      if (!body) return undefined;
      const letter = body[1]!;
      const value = macroValue(letter.toLowerCase(), context);
      if (value === undefined) return undefined;
      const delimiters = body[4] || '.';
      let parts = value.split(new RegExp(`[${delimiters.replace(/[-\\\]^/]/g, '\\$&')}]`));
      if (body[3]) parts = parts.reverse();
      if (body[2]) {
        const keep = Number(body[2]);
        if (keep === 0) return undefined;
        parts = parts.slice(-keep);
      }
      const joined = parts.join('.');
      // An upper-case macro letter asks for URL escaping (§7.3).
      out += letter === letter.toUpperCase() ? encodeURIComponent(joined) : joined;
      i = close;
    } else return undefined;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// check_host() (RFC 7208 §4)

/** RFC 7208 §4.6.4: at most 10 terms that query DNS per check. */
export const SPF_LOOKUP_LIMIT = 10;
/** RFC 7208 §4.6.4: at most 2 lookups that find nothing ("void lookups"), the recommended default. */
export const SPF_VOID_LOOKUP_LIMIT = 2;
/** RFC 7208 §4.6.4: an mx mechanism may look up the addresses of at most 10 MX hosts. */
export const SPF_MX_HOST_LIMIT = 10;

export interface TraceLine {
  /** Nesting: 0 for the domain asked about, 1 inside its first include, ... */
  readonly depth: number;
  readonly text: string;
}

export interface SpfEvaluation {
  readonly result: SpfResult;
  readonly ip: string;
  readonly domain: string;
  readonly sender: string;
  /** The term that decided and the domain whose record holds it; absent when nothing matched. */
  readonly decidedBy?: { readonly domain: string; readonly term: string };
  /**
   * DNS-querying terms reached (include, a, mx, ptr, exists, redirect); the first TXT query is
   * free. One more than the limit when the check stopped there.
   */
  readonly lookups: number;
  readonly voidLookups: number;
  readonly trace: readonly TraceLine[];
  /** For permerror and temperror: what went wrong. */
  readonly problem?: string;
}

export interface CheckHostOptions {
  /** The full MAIL FROM address; "postmaster@<domain>" when absent (RFC 7208 §4.3). */
  readonly sender?: string;
  /** The EHLO name, for the %{h} macro; the domain when absent. */
  readonly helo?: string;
}

class Abort {
  constructor(
    readonly result: 'permerror' | 'temperror',
    readonly problem: string,
  ) {}
}

interface Evaluator {
  readonly zones: Zones;
  readonly ip: IpAddress;
  readonly ipText: string;
  readonly sender: string;
  readonly helo: string;
  lookups: number;
  voids: number;
  readonly trace: TraceLine[];
  decidedBy?: { domain: string; term: string };
}

const HOST = /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/** RFC 7208 §4.3: the domain must be a fully qualified name of two labels or more. */
function isCheckableDomain(domain: string): boolean {
  return HOST.test(domain) && !/^\d+$/.test(domain.split('.').pop() ?? '');
}

function countLookup(ev: Evaluator, depth: number, term: string): void {
  ev.lookups += 1;
  if (ev.lookups > SPF_LOOKUP_LIMIT) {
    ev.trace.push({ depth, text: `${term}: this would be DNS lookup number ${ev.lookups}, over the limit of ${SPF_LOOKUP_LIMIT} (RFC 7208 §4.6.4)` });
    throw new Abort('permerror', `more than ${SPF_LOOKUP_LIMIT} DNS lookups (include, a, mx, ptr, exists and redirect count; ip4, ip6 and all do not)`);
  }
}

function query<T extends RecordType>(ev: Evaluator, depth: number, name: string, type: T, term: string): Resolution<T> {
  const res = resolve(ev.zones, name, type);
  if (res.status === 'SERVFAIL') {
    ev.trace.push({ depth, text: `${term}: the ${type} lookup of ${name} failed (SERVFAIL)` });
    // RFC 7208 §5: a DNS error other than "no such name" ends the check with temperror.
    throw new Abort('temperror', `DNS lookup of ${name} ${type} failed (SERVFAIL); the receiver should try again later`);
  }
  return res;
}

function countVoid(ev: Evaluator, depth: number, term: string): void {
  ev.voids += 1;
  if (ev.voids > SPF_VOID_LOOKUP_LIMIT) {
    ev.trace.push({ depth, text: `${term}: that is lookup number ${ev.voids} that found nothing, over the limit of ${SPF_VOID_LOOKUP_LIMIT} (RFC 7208 §4.6.4)` });
    throw new Abort('permerror', `more than ${SPF_VOID_LOOKUP_LIMIT} DNS lookups found nothing ("void lookups")`);
  }
}

function targetOf(ev: Evaluator, spec: string | undefined, domain: string, term: string): string {
  if (spec === undefined) return domain; // RFC 7208 §4.8: no domain-spec means the current domain.
  const expanded = expandMacros(spec, { ip: ev.ip, sender: ev.sender, domain, helo: ev.helo });
  if (expanded === undefined) throw new Abort('permerror', `${term}: malformed macro in "${spec}"`);
  const name = normalizeName(expanded);
  if (!isCheckableDomain(name)) throw new Abort('permerror', `${term}: "${expanded}" is not a domain name`);
  return name;
}

function prefixFor(ev: Evaluator, mechanism: SpfMechanism): number {
  return ev.ip.version === 4 ? (mechanism.ip4Prefix ?? 32) : (mechanism.ip6Prefix ?? 128);
}

function addressesMatching(ev: Evaluator, addresses: readonly string[], prefix: number): string | undefined {
  return addresses.find((text) => {
    const address = parseIp(text);
    return address !== undefined && inNetwork(ev.ip, address, prefix);
  });
}

/** Whether one mechanism matches <ip>; it pushes its own trace line. */
function matches(ev: Evaluator, mechanism: SpfMechanism, domain: string, depth: number): boolean {
  const term = mechanism.text;
  const addressType = ev.ip.version === 4 ? 'A' : 'AAAA';
  const cidr = (prefix: number) => (prefix === (ev.ip.version === 4 ? 32 : 128) ? '' : `/${prefix}`);
  switch (mechanism.name) {
    case 'all':
      ev.trace.push({ depth, text: `${term}: "all" matches every address` });
      return true;
    case 'ip4':
    case 'ip6': {
      const network = mechanism.network!;
      const prefix = (mechanism.name === 'ip4' ? mechanism.ip4Prefix : mechanism.ip6Prefix)!;
      const written = `${formatIp(network)}/${prefix}`;
      if (ev.ip.version !== network.version) {
        ev.trace.push({ depth, text: `${term}: ${ev.ipText} is IPv${ev.ip.version}, this lists IPv${network.version} addresses: no match` });
        return false;
      }
      const hit = inNetwork(ev.ip, network, prefix);
      ev.trace.push({ depth, text: `${term}: ${ev.ipText} is ${hit ? 'inside' : 'outside'} ${written}${hit ? ': match' : ': no match'}` });
      return hit;
    }
    case 'a': {
      countLookup(ev, depth, term);
      const target = targetOf(ev, mechanism.domainSpec, domain, term);
      // RFC 7208 §5: an IPv4 client is compared with A records, an IPv6 client with AAAA records.
      const res = query(ev, depth, target, addressType, term);
      const addresses = res.answers.map((r) => r.address);
      if (addresses.length === 0) {
        ev.trace.push({ depth, text: `${term}: ${target} has no ${addressType} record (${res.status}): no match [lookup ${ev.lookups}]` });
        countVoid(ev, depth, term);
        return false;
      }
      const prefix = prefixFor(ev, mechanism);
      const hit = addressesMatching(ev, addresses, prefix);
      ev.trace.push({
        depth,
        text: `${term}: ${target} has ${addressType} ${addresses.join(', ')}; ${hit ? `${ev.ipText} is ${hit}${cidr(prefix)}: match` : `${ev.ipText} is none of them${cidr(prefix) ? ` (compared as ${cidr(prefix)})` : ''}: no match`} [lookup ${ev.lookups}]`,
      });
      return hit !== undefined;
    }
    case 'mx': {
      countLookup(ev, depth, term);
      const target = targetOf(ev, mechanism.domainSpec, domain, term);
      const res = query(ev, depth, target, 'MX', term);
      const exchanges = res.answers.map((r) => normalizeName(r.exchange)).filter((x) => x !== '');
      if (exchanges.length === 0) {
        ev.trace.push({ depth, text: `${term}: ${target} has no MX host (${res.status}): no match [lookup ${ev.lookups}]` });
        if (res.answers.length === 0) countVoid(ev, depth, term);
        return false;
      }
      if (exchanges.length > SPF_MX_HOST_LIMIT) {
        ev.trace.push({ depth, text: `${term}: ${target} has ${exchanges.length} MX hosts, more than the ${SPF_MX_HOST_LIMIT} SPF may look at` });
        throw new Abort('permerror', `mx found more than ${SPF_MX_HOST_LIMIT} MX hosts (RFC 7208 §4.6.4)`);
      }
      const prefix = prefixFor(ev, mechanism);
      const seen: string[] = [];
      for (const exchange of exchanges) {
        // These address lookups do not count toward the limit of 10 (RFC 7208 §4.6.4 counts the mx term once).
        const addresses = query(ev, depth, exchange, addressType, term).answers.map((r) => r.address);
        seen.push(`${exchange} (${addresses.join(', ') || `no ${addressType}`})`);
        const hit = addressesMatching(ev, addresses, prefix);
        if (hit) {
          ev.trace.push({ depth, text: `${term}: MX host ${exchange} has ${addressType} ${hit}${cidr(prefix)}, which is ${ev.ipText}: match [lookup ${ev.lookups}]` });
          return true;
        }
      }
      ev.trace.push({ depth, text: `${term}: MX hosts of ${target}: ${seen.join(', ')}; ${ev.ipText} is not one of them: no match [lookup ${ev.lookups}]` });
      return false;
    }
    case 'ptr': {
      countLookup(ev, depth, term);
      // RFC 7208 §5.5 says ptr SHOULD NOT be used (slow, unreliable); this world has no reverse DNS.
      ev.trace.push({ depth, text: `${term}: ptr asks reverse DNS, which RFC 7208 §5.5 discourages and this world does not have: no match [lookup ${ev.lookups}]` });
      return false;
    }
    case 'exists': {
      countLookup(ev, depth, term);
      const target = targetOf(ev, mechanism.domainSpec, domain, term);
      // RFC 7208 §5.7: exists always asks for an A record, whatever the client's IP version.
      const res = query(ev, depth, target, 'A', term);
      const hit = res.answers.length > 0;
      ev.trace.push({ depth, text: `${term}: ${target} ${hit ? 'has an A record: match' : `has no A record (${res.status}): no match`} [lookup ${ev.lookups}]` });
      if (!hit) countVoid(ev, depth, term);
      return hit;
    }
    case 'include': {
      countLookup(ev, depth, term);
      const target = targetOf(ev, mechanism.domainSpec, domain, term);
      ev.trace.push({ depth, text: `${term}: ask what ${target}'s own SPF record says about ${ev.ipText} [lookup ${ev.lookups}]` });
      const inner = evaluateDomain(ev, target, depth + 1);
      // RFC 7208 §5.2: only an inner pass is a match; fail, softfail and neutral just do not match.
      switch (inner) {
        case 'pass':
          ev.trace.push({ depth, text: `${term}: ${target} says pass, so the include matches` });
          return true;
        case 'fail':
        case 'softfail':
        case 'neutral':
          ev.trace.push({ depth, text: `${term}: ${target} says ${inner}, which for an include only means "no match": go on` });
          return false;
        case 'none':
          throw new Abort('permerror', `include:${target} points to a domain without an SPF record (RFC 7208 §5.2)`);
        default:
          throw new Abort(inner, `include:${target} ended in ${inner}`);
      }
    }
  }
}

/** Finds and evaluates the SPF record of `domain`; the result of check_host() for it. */
function evaluateDomain(ev: Evaluator, domain: string, depth: number): SpfResult {
  if (!isCheckableDomain(domain)) {
    ev.trace.push({ depth, text: `${domain} is not a fully qualified domain name, so there is nothing to check (RFC 7208 §4.3)` });
    return 'none';
  }
  const res = query(ev, depth, domain, 'TXT', `${domain} TXT`);
  if (res.status === 'NXDOMAIN') {
    ev.trace.push({ depth, text: `${domain}: no such domain (NXDOMAIN), so no SPF record` });
    return 'none';
  }
  const records = res.answers.map((r) => r.text).filter(isSpfRecord);
  if (records.length === 0) {
    ev.trace.push({ depth, text: `${domain}: ${res.answers.length === 0 ? 'no TXT record' : `${res.answers.length} TXT record${res.answers.length === 1 ? '' : 's'}, none starting with "v=spf1"`}, so no SPF policy` });
    return 'none';
  }
  // RFC 7208 §4.5: two SPF records leave the receiver unable to choose: permerror.
  if (records.length > 1) {
    ev.trace.push({ depth, text: `${domain}: ${records.length} records start with "v=spf1"; a domain may publish only one` });
    throw new Abort('permerror', `${domain} publishes ${records.length} SPF records (RFC 7208 §4.5)`);
  }
  const record = records[0]!;
  ev.trace.push({ depth, text: `${domain} TXT "${record}"` });
  const parsed = parseSpfRecord(record);
  if (!parsed.ok) {
    ev.trace.push({ depth, text: `the record of ${domain} does not parse: ${parsed.error}` });
    throw new Abort('permerror', `syntax error in ${domain}'s record: ${parsed.error}`);
  }
  const mechanisms = parsed.terms.filter((t): t is SpfMechanism => t.kind === 'mechanism');
  // RFC 7208 §4.6.2: mechanisms are tried left to right; the first match decides by its qualifier.
  for (const mechanism of mechanisms) {
    if (matches(ev, mechanism, domain, depth)) {
      const result = QUALIFIER_RESULT[mechanism.qualifier];
      ev.trace.push({ depth, text: `→ ${domain}: ${result} (qualifier "${mechanism.qualifier}" of ${mechanism.text})` });
      ev.decidedBy = { domain, term: mechanism.text };
      return result;
    }
  }
  // RFC 7208 §5.1: with an "all" anywhere in the record, redirect= is ignored (all always matches first).
  const redirect = parsed.terms.find((t): t is SpfModifier => t.kind === 'modifier' && t.name === 'redirect');
  if (redirect && !mechanisms.some((m) => m.name === 'all')) {
    const term = redirect.text;
    countLookup(ev, depth, term);
    const target = targetOf(ev, redirect.value, domain, term);
    ev.trace.push({ depth, text: `${term}: nothing matched, so ${target}'s record decides instead [lookup ${ev.lookups}]` });
    const result = evaluateDomain(ev, target, depth + 1);
    // RFC 7208 §6.1: a redirect to a domain without an SPF record is a permerror, not none.
    if (result === 'none') throw new Abort('permerror', `redirect=${target} points to a domain without an SPF record (RFC 7208 §6.1)`);
    ev.trace.push({ depth, text: `→ ${domain}: ${result} (from ${target})` });
    return result;
  }
  // RFC 7208 §4.7: no match and no redirect: neutral, as if the record ended in "?all".
  ev.trace.push({ depth, text: `→ ${domain}: nothing matched and there is no redirect, so neutral (RFC 7208 §4.7)` });
  ev.decidedBy = undefined;
  return 'neutral';
}

/**
 * RFC 7208 §4: check_host(<ip>, <domain>, <sender>). May the host at `ip` send mail with a
 * MAIL FROM in `domain`? Invalid input (an `ip` that is no address) gives permerror with the
 * reason in `problem`, never an exception.
 */
export function checkHost(zones: Zones, ip: string, domain: string, options: CheckHostOptions = {}): SpfEvaluation {
  const name = normalizeName(domain);
  const parsedIp = parseIp(ip);
  // RFC 7208 §4.3: a sender without a local part is checked as postmaster@<domain>.
  const sender = options.sender && options.sender.includes('@') && !options.sender.startsWith('@') ? options.sender : `postmaster@${name}`;
  const base = { ip, domain: name, sender };
  if (!parsedIp) {
    return { ...base, result: 'permerror', lookups: 0, voidLookups: 0, trace: [], problem: `"${ip}" is not an IPv4 or IPv6 address` };
  }
  const ev: Evaluator = { zones, ip: parsedIp, ipText: formatIp(parsedIp), sender, helo: normalizeName(options.helo ?? name), lookups: 0, voids: 0, trace: [] };
  let result: SpfResult;
  let problem: string | undefined;
  try {
    result = evaluateDomain(ev, name, 0);
  } catch (error) {
    if (!(error instanceof Abort)) throw error;
    result = error.result;
    problem = error.problem;
    ev.decidedBy = undefined;
  }
  return {
    ...base,
    result,
    lookups: ev.lookups,
    voidLookups: ev.voids,
    trace: ev.trace,
    ...(ev.decidedBy ? { decidedBy: ev.decidedBy } : {}),
    ...(problem ? { problem } : {}),
  };
}

/** What each SPF result means for the receiver, in one sentence (RFC 7208 §8). */
export function explainSpfResult(result: SpfResult, domain: string, ip: string): string {
  switch (result) {
    case 'pass':
      return `${domain} authorises ${ip} to send its mail (§8.3).`;
    case 'fail':
      return `${domain} says ${ip} may NOT send its mail: a receiver may refuse it, e.g. 550 5.7.23 (§8.4).`;
    case 'softfail':
      return `${domain} says ${ip} is probably not allowed, but asks receivers not to refuse on that alone: accept and treat as suspicious (§8.5).`;
    case 'neutral':
      return `${domain} makes no statement about ${ip}: treat it as if there were no SPF at all (§8.2).`;
    case 'none':
      return `${domain} publishes no SPF record, so SPF cannot say anything (§8.1).`;
    case 'permerror':
      return `${domain}'s SPF cannot be evaluated as published: the domain owner must fix it; receivers usually treat it like a failure (§8.7).`;
    case 'temperror':
      return `A DNS problem stopped the check: the receiver may answer 451 4.4.3 and let the sender try again (§8.6).`;
  }
}

/** The evaluation as terminal lines: the question, the trace indented by depth, the verdict. */
export function formatSpfEvaluation(ev: SpfEvaluation): string[] {
  const sender = ev.sender === `postmaster@${ev.domain}` ? `...@${ev.domain}` : ev.sender;
  const lines = [`SPF (RFC 7208): may ${ev.ip} send mail with MAIL FROM:<${sender}>? check_host(${ev.ip}, ${ev.domain})`];
  for (const step of ev.trace) lines.push(`${'  '.repeat(step.depth + 1)}${step.text}`);
  if (ev.problem) lines.push(`  Problem: ${ev.problem}`);
  lines.push(`  DNS lookups counted: ${ev.lookups} (the limit is ${SPF_LOOKUP_LIMIT})${ev.voidLookups > 0 ? `; lookups that found nothing: ${ev.voidLookups} of ${SPF_VOID_LOOKUP_LIMIT}` : ''}`);
  lines.push(`Result: ${ev.result}. ${explainSpfResult(ev.result, ev.domain, ev.ip)}`);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// DMARC (RFC 7489)

export type DmarcPolicy = 'none' | 'quarantine' | 'reject';
export type DmarcResult = 'pass' | 'fail' | 'none' | 'temperror';
export type AlignmentMode = 'relaxed' | 'strict';

export interface DmarcRecord {
  readonly raw: string;
  readonly policy: DmarcPolicy;
  /** sp=: the policy for subdomains of the domain that published the record. */
  readonly subdomainPolicy?: DmarcPolicy;
  readonly spfAlignment: AlignmentMode;
  readonly dkimAlignment: AlignmentMode;
  /** pct=: the share of failing mail the policy is applied to (RFC 7489 §6.6.4). */
  readonly percent: number;
  readonly reportTo: readonly string[];
}

export type DmarcRecordParse = { readonly ok: true; readonly record: DmarcRecord } | { readonly ok: false; readonly error: string };

const POLICIES: readonly DmarcPolicy[] = ['none', 'quarantine', 'reject'];

/** RFC 7489 §6.3-§6.4: tag=value pairs separated by ";", "v=DMARC1" first; unknown tags are ignored. */
export function parseDmarcRecord(text: string): DmarcRecordParse {
  const pairs = text.split(';').map((p) => p.trim()).filter((p) => p !== '');
  const tags = new Map<string, string>();
  for (const [i, pair] of pairs.entries()) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return { ok: false, error: `"${pair}" is not tag=value` };
    const tag = pair.slice(0, eq).trim().toLowerCase();
    const value = pair.slice(eq + 1).trim();
    if (i === 0 && (tag !== 'v' || value !== 'DMARC1')) return { ok: false, error: 'the record must begin with v=DMARC1' };
    if (!tags.has(tag)) tags.set(tag, value);
  }
  if (!tags.has('v')) return { ok: false, error: 'the record must begin with v=DMARC1' };
  const reportTo = (tags.get('rua') ?? '').split(',').map((u) => u.trim()).filter((u) => /^mailto:[^@\s]+@[^@\s]+$/i.test(u));
  const policyText = tags.get('p')?.toLowerCase();
  let policy: DmarcPolicy;
  if (policyText && (POLICIES as readonly string[]).includes(policyText)) policy = policyText as DmarcPolicy;
  // RFC 7489 §6.6.3: without a valid p=, a record with a usable rua= counts as p=none; otherwise it is ignored.
  else if (reportTo.length > 0) policy = 'none';
  else return { ok: false, error: policyText ? `p=${policyText} is not none, quarantine or reject` : 'p= (the policy) is missing' };
  const sp = tags.get('sp')?.toLowerCase();
  const mode = (tag: string): AlignmentMode => (tags.get(tag)?.toLowerCase() === 's' ? 'strict' : 'relaxed');
  const pctText = tags.get('pct');
  const percent = pctText !== undefined && /^\d{1,3}$/.test(pctText) && Number(pctText) <= 100 ? Number(pctText) : 100;
  return {
    ok: true,
    record: {
      raw: text,
      policy,
      ...(sp && (POLICIES as readonly string[]).includes(sp) ? { subdomainPolicy: sp as DmarcPolicy } : {}),
      spfAlignment: mode('aspf'),
      dkimAlignment: mode('adkim'),
      percent,
      reportTo,
    },
  };
}

/**
 * RFC 7489 §3.2 finds the Organizational Domain with a public suffix list. This world uses only
 * reserved names whose public suffix is the last label (.com, .net, .example, .test), so the
 * Organizational Domain is the last two labels: mail.example.com -> example.com,
 * a.b.grey.example -> grey.example.
 */
export function organizationalDomain(domain: string): string {
  const labels = normalizeName(domain).split('.');
  return labels.slice(-2).join('.');
}

/** RFC 7489 §3.1: strict alignment needs the same name; relaxed, the same Organizational Domain. */
export function isAligned(authenticated: string, fromDomain: string, mode: AlignmentMode): boolean {
  const a = normalizeName(authenticated);
  const f = normalizeName(fromDomain);
  return mode === 'strict' ? a === f : organizationalDomain(a) === organizationalDomain(f);
}

export interface DmarcInput {
  /** The domain of the RFC 5322 From: header, the address the reader sees. */
  readonly fromDomain: string;
  /** The MAIL FROM domain SPF checked, and its SPF result. */
  readonly spf?: { readonly domain: string; readonly result: SpfResult };
  /** The d= of a DKIM signature, and whether it verified. */
  readonly dkim?: { readonly domain: string; readonly result: 'pass' | 'fail' };
}

export interface DmarcEvaluation {
  readonly result: DmarcResult;
  readonly fromDomain: string;
  /** Where the record was found: the From domain or its Organizational Domain. */
  readonly policyDomain?: string;
  readonly record?: DmarcRecord;
  /** The policy that applies to this From domain (sp= for a subdomain found by fallback). */
  readonly policy?: DmarcPolicy;
  /** What the receiver is asked to do with this message: none (deliver), quarantine (spam folder) or reject. */
  readonly disposition: DmarcPolicy;
  readonly spfAligned?: boolean;
  readonly dkimAligned?: boolean;
  readonly trace: readonly string[];
}

interface Discovery {
  domain: string;
  record: DmarcRecord;
}

/** RFC 7489 §6.6.3: the record at _dmarc.<domain>; undefined when none (or several) is published. */
function findRecord(zones: Zones, domain: string, trace: string[]): Discovery | 'servfail' | undefined {
  const name = `_dmarc.${domain}`;
  const res = resolve(zones, name, 'TXT');
  if (res.status === 'SERVFAIL') {
    trace.push(`${name} TXT: lookup failed (SERVFAIL)`);
    return 'servfail';
  }
  const texts = res.answers.map((r) => r.text).filter((t) => /^v\s*=\s*DMARC1\s*(;|$)/.test(t));
  if (texts.length === 0) {
    trace.push(`${name} TXT: ${res.status === 'NXDOMAIN' ? 'no such name' : 'no record starting with v=DMARC1'}`);
    return undefined;
  }
  if (texts.length > 1) {
    trace.push(`${name} TXT: ${texts.length} DMARC records; with more than one, RFC 7489 §6.6.3 says to apply none`);
    return undefined;
  }
  const parsed = parseDmarcRecord(texts[0]!);
  trace.push(`${name} TXT "${texts[0]}"`);
  if (!parsed.ok) {
    trace.push(`  the record is not usable (${parsed.error}), so it is ignored`);
    return undefined;
  }
  return { domain, record: parsed.record };
}

/**
 * RFC 7489 §4.2 and §6.6: does the message pass DMARC, and what does the From domain ask the
 * receiver to do with it? DMARC passes when SPF or DKIM passed for a domain aligned with the
 * From domain; otherwise the published policy applies.
 */
export function evaluateDmarc(zones: Zones, input: DmarcInput): DmarcEvaluation {
  const fromDomain = normalizeName(input.fromDomain);
  const trace: string[] = [];
  let found = findRecord(zones, fromDomain, trace);
  const organizational = organizationalDomain(fromDomain);
  // RFC 7489 §6.6.3: no record at the From domain itself: ask its Organizational Domain.
  if (found === undefined && organizational !== fromDomain) {
    trace.push(`no policy at ${fromDomain}; ask its Organizational Domain, ${organizational} (RFC 7489 §6.6.3)`);
    found = findRecord(zones, organizational, trace);
  }
  if (found === 'servfail') {
    return { result: 'temperror', fromDomain, disposition: 'none', trace: [...trace, 'a DNS error: the receiver may try again later'] };
  }
  if (found === undefined) {
    trace.push(`${fromDomain} publishes no DMARC policy, so DMARC says nothing about this message`);
    return { result: 'none', fromDomain, disposition: 'none', trace };
  }
  const { record } = found;
  const isSubdomain = found.domain !== fromDomain;
  const policy = isSubdomain ? (record.subdomainPolicy ?? record.policy) : record.policy;
  trace.push(
    `policy p=${record.policy}${record.subdomainPolicy ? `, sp=${record.subdomainPolicy}` : ''}; SPF alignment ${record.spfAlignment} (aspf), DKIM alignment ${record.dkimAlignment} (adkim)${isSubdomain ? `; ${fromDomain} is a subdomain, so ${record.subdomainPolicy ? 'sp=' : 'p='} applies: ${policy}` : ''}`,
  );

  const alignmentWords = (mode: AlignmentMode, domain: string, aligned: boolean) =>
    mode === 'strict'
      ? `strict alignment compares the names exactly: ${domain} vs ${fromDomain}, ${aligned ? 'aligned' : 'NOT aligned'}`
      : `relaxed alignment compares Organizational Domains: ${organizationalDomain(domain)} vs ${organizationalDomain(fromDomain)}, ${aligned ? 'aligned' : 'NOT aligned'}`;

  let spfAligned: boolean | undefined;
  if (input.spf) {
    const spfDomain = normalizeName(input.spf.domain);
    const aligned = isAligned(spfDomain, fromDomain, record.spfAlignment);
    spfAligned = input.spf.result === 'pass' && aligned;
    trace.push(
      `SPF: ${input.spf.result} for MAIL FROM domain ${spfDomain}; ${alignmentWords(record.spfAlignment, spfDomain, aligned)}${input.spf.result !== 'pass' ? '; only an SPF pass can count' : ''} -> ${spfAligned ? 'counts' : 'does not count'}`,
    );
  } else trace.push('SPF: no MAIL FROM domain given, nothing to count');

  let dkimAligned: boolean | undefined;
  if (input.dkim) {
    const dkimDomain = normalizeName(input.dkim.domain);
    const aligned = isAligned(dkimDomain, fromDomain, record.dkimAlignment);
    dkimAligned = input.dkim.result === 'pass' && aligned;
    trace.push(
      `DKIM: a ${input.dkim.result === 'pass' ? 'valid' : 'broken'} signature with d=${dkimDomain}; ${alignmentWords(record.dkimAlignment, dkimDomain, aligned)} -> ${dkimAligned ? 'counts' : 'does not count'}`,
    );
  } else trace.push('DKIM: no signature given, nothing to count');

  const pass = spfAligned === true || dkimAligned === true;
  const disposition: DmarcPolicy = pass ? 'none' : policy;
  if (!pass && record.percent < 100) {
    trace.push(`pct=${record.percent}: the policy is meant for ${record.percent}% of failing messages; the rest get the next milder treatment (RFC 7489 §6.6.4)`);
  }
  return {
    result: pass ? 'pass' : 'fail',
    fromDomain,
    policyDomain: found.domain,
    record,
    policy,
    disposition,
    ...(spfAligned === undefined ? {} : { spfAligned }),
    ...(dkimAligned === undefined ? {} : { dkimAligned }),
    trace,
  };
}

const DISPOSITION_WORDS: Readonly<Record<DmarcPolicy, string>> = {
  none: 'deliver as usual (p=none only asks for reports)',
  quarantine: 'treat as suspicious: the spam folder',
  reject: 'refuse it during the SMTP session, typically 550 5.7.26 after the final dot',
};

/** The DMARC evaluation as terminal lines. */
export function formatDmarcEvaluation(ev: DmarcEvaluation): string[] {
  const lines = [`DMARC (RFC 7489): may this message show From: ...@${ev.fromDomain}?`];
  for (const step of ev.trace) lines.push(`  ${step}`);
  switch (ev.result) {
    case 'pass':
      lines.push(`Result: pass. A domain aligned with ${ev.fromDomain} was authenticated, so the policy is not applied: deliver.`);
      break;
    case 'fail':
      lines.push(`Result: fail. Neither SPF nor DKIM vouches for ${ev.fromDomain}; policy ${ev.policy}: ${DISPOSITION_WORDS[ev.disposition]}.`);
      break;
    case 'none':
      lines.push('Result: none. No DMARC policy, so the receiver decides on its own.');
      break;
    case 'temperror':
      lines.push('Result: temperror. The policy could not be read; the receiver may defer the message (4xx).');
      break;
  }
  return lines;
}
