/**
 * `dig` for the simulated world: the terminal types `dig MX example.net` and sees what BIND's
 * dig would print against a resolver serving these zones.
 */
import { RECORD_TYPES, normalizeName, resolve, type DnsRecord, type DnsStatus, type RecordType, type Zones } from './dns';

export interface DigQuery {
  name: string;
  type: RecordType;
  /** `+short`: print only the data of each answer. */
  short: boolean;
}

export type DigArgsResult = { ok: true; query: DigQuery } | { ok: false; error: string };

export type DigResult =
  | { ok: true; text: string; status: DnsStatus; query: DigQuery }
  | { ok: false; error: string };

/** The resolver the simulated dig claims to ask (a documentation address, RFC 5737). */
export const SIMULATED_RESOLVER = '192.0.2.53';

const TYPE_BY_NAME = new Map(RECORD_TYPES.map((t) => [t.toLowerCase(), t] as const));
/** Types real dig knows but this world does not serve, so the error can say so plainly. */
const OTHER_KNOWN_TYPES = new Set(['ns', 'soa', 'ptr', 'srv', 'caa', 'any', 'ds', 'dnskey', 'https', 'svcb', 'spf']);
const IGNORED_OPTIONS = new Set(['+nocmd', '+nostats', '+noquestion', '+nocomments', '+noall', '+answer', '+norec', '+rec', '+tcp', '+notcp', '+dnssec']);

/**
 * Read dig arguments: `[@server] [-t TYPE] [+short] [TYPE] NAME` in any order, as dig accepts.
 * Type names are case-insensitive; a name that is also a type name must be given with `-t`
 * for the type, exactly like dig.
 */
export function parseDigArgs(args: readonly string[]): DigArgsResult {
  let name: string | undefined;
  let type: RecordType | undefined;
  let short = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '') continue;
    if (arg.startsWith('@')) continue; // the simulated world has one resolver; @server is accepted and ignored
    if (arg === '+short') {
      short = true;
      continue;
    }
    if (IGNORED_OPTIONS.has(arg.toLowerCase())) continue;
    if (arg.startsWith('+')) return { ok: false, error: `dig: option ${arg} is not supported here (try +short)` };
    if (arg === '-t') {
      const value = args[i + 1];
      if (value === undefined) return { ok: false, error: 'dig: -t needs a record type, e.g. -t MX' };
      const t = TYPE_BY_NAME.get(value.toLowerCase());
      if (!t) return { ok: false, error: unsupportedType(value) };
      type = t;
      i++;
      continue;
    }
    if (arg.startsWith('-')) return { ok: false, error: `dig: option ${arg} is not supported here (usage: dig [+short] [TYPE] NAME)` };
    const asType = TYPE_BY_NAME.get(arg.toLowerCase());
    if (asType && type === undefined) {
      type = asType;
      continue;
    }
    if (OTHER_KNOWN_TYPES.has(arg.toLowerCase()) && type === undefined) {
      return { ok: false, error: unsupportedType(arg) };
    }
    if (name !== undefined) {
      return { ok: false, error: `dig: one name at a time please (got "${name}" and "${arg}")` };
    }
    if (!/^[A-Za-z0-9_.-]+$/.test(arg) || arg.includes('..') || arg.length > 253) {
      return { ok: false, error: `dig: "${arg}" is not a valid domain name` };
    }
    name = arg;
  }
  if (name === undefined) return { ok: false, error: 'dig: which name? usage: dig [+short] [TYPE] NAME, e.g. dig MX example.net' };
  return { ok: true, query: { name: normalizeName(name), type: type ?? 'A', short } };
}

function unsupportedType(text: string): string {
  return `dig: record type ${text.toUpperCase()} is not served by this simulated world (use ${RECORD_TYPES.join(', ')})`;
}

function fqdn(name: string): string {
  const n = normalizeName(name);
  return n === '' ? '.' : `${n}.`;
}

/** The RDATA as dig prints it. */
export function recordData(record: DnsRecord): string {
  switch (record.type) {
    case 'A':
    case 'AAAA':
      return record.address;
    case 'MX':
      return `${record.preference} ${fqdn(record.exchange)}`;
    case 'TXT':
      return `"${record.text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    case 'CNAME':
      return fqdn(record.target);
    case 'TLSA': {
      // dig splits long hex data into 56-character groups.
      const hex = record.certificateData.toUpperCase();
      const groups = hex.match(/.{1,56}/g) ?? [''];
      return `${record.usage} ${record.selector} ${record.matchingType} ${groups.join(' ')}`;
    }
  }
}

/** One ANSWER SECTION line: owner, TTL, class, type, data separated by tabs like dig. */
export function recordLine(record: DnsRecord): string {
  const owner = fqdn(record.name);
  const ownerField = owner.length < 24 ? owner + '\t'.repeat(Math.ceil((24 - owner.length) / 8)) : owner + '\t';
  return `${ownerField}${record.ttl}\tIN\t${record.type}\t${recordData(record)}`;
}

/** A stable 16-bit query id so identical queries print identical output. */
function queryId(query: DigQuery): number {
  let hash = 2166136261;
  for (const ch of `${query.type} ${query.name}`) {
    hash ^= ch.charCodeAt(0);
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  return hash & 0xffff;
}

/** Run dig against the zones. Never throws: bad arguments come back as `{ ok: false, error }`. */
export function dig(zones: Zones, args: readonly string[]): DigResult {
  const parsed = parseDigArgs(args);
  if (!parsed.ok) return parsed;
  const { query } = parsed;
  const res = resolve(zones, query.name, query.type);
  const answers: DnsRecord[] = res.status === 'NOERROR' || res.status === 'NXDOMAIN' ? [...res.cnameChain, ...res.answers] : [];

  if (query.short) {
    // +short prints the data only; an NXDOMAIN or SERVFAIL answer prints nothing at all.
    const text = answers.map((r) => recordData(r)).join('\n');
    return { ok: true, text: text === '' ? '' : `${text}\n`, status: res.status, query };
  }

  const shownArgs = args.filter((a) => a !== '').join(' ');
  const lines = [
    '',
    `; <<>> DiG 9.18 (simulated) <<>> ${shownArgs}`,
    ';; global options: +cmd',
    ';; Got answer:',
    `;; ->>HEADER<<- opcode: QUERY, status: ${res.status}, id: ${queryId(query)}`,
    `;; flags: qr rd ra; QUERY: 1, ANSWER: ${answers.length}, AUTHORITY: 0, ADDITIONAL: 0`,
    '',
    ';; QUESTION SECTION:',
    `;${fqdn(query.name)}\t\tIN\t${query.type}`,
  ];
  if (answers.length > 0) {
    lines.push('', ';; ANSWER SECTION:', ...answers.map(recordLine));
  }
  lines.push('', ';; Query time: 0 msec', `;; SERVER: ${SIMULATED_RESOLVER}#53(${SIMULATED_RESOLVER}) (UDP)`, '');
  return { ok: true, text: lines.join('\n') + '\n', status: res.status, query };
}
