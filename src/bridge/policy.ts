/**
 * The bridge's target policy: which (address, port) the bridge may open a TCP connection to.
 *
 * Pure functions, no I/O. The bridge parses the host the browser asked for with
 * `parseTargetHost`, resolves a name itself once, parses every answer with the same
 * `parseIpAddress`, judges each address with `judgeTarget`, and connects to the canonical text of
 * exactly the address it judged (`formatIpAddress`), so no other parser (getaddrinfo, inet_aton,
 * a URL parser) ever reinterprets what was checked.
 *
 * A WebSocket-to-TCP bridge is an open proxy unless it is built not to be: by default only the
 * mail ports on loopback are reachable; everything else is opt-in.
 */
import type { PolicySummary } from '../net/wire';

export type IpAddress = { family: 4; bytes: number[] } | { family: 6; bytes: number[] };

/** Ports the mail system uses: SMTP relay (RFC 5321), submissions (RFC 8314), submission (RFC 6409), and the common alternate. */
export const MAIL_PORTS: readonly number[] = [25, 465, 587, 2525];
/** On public addresses only the three standard mail ports: 2525 is not a standard port. */
export const PUBLIC_MAIL_PORTS: readonly number[] = [25, 465, 587];

export interface PolicyOptions {
  /** Ports of the local smtpd, allowed on loopback in addition to MAIL_PORTS. */
  localPorts?: number[];
  /** Explicit `HOST:PORT` allowances (HOST an IP literal or a name, as the browser will write it). */
  allow?: string[];
  /** CIDR ranges whose addresses are allowed on the loopback mail ports despite their range rule. */
  allowCidr?: string[];
  /** Allow public (globally routable) addresses, on PUBLIC_MAIL_PORTS only. */
  allowPublic?: boolean;
}

export interface AllowEntry {
  host: string;
  port: number;
}

export interface Cidr {
  text: string;
  address: IpAddress;
  prefix: number;
}

/** A policy with every option parsed once, so judging a target cannot fail on configuration. */
export interface TargetPolicy {
  loopbackPorts: number[];
  allow: AllowEntry[];
  allowCidr: Cidr[];
  allowPublic: boolean;
}

export type Decision =
  | { allowed: true; rule: string; message: string }
  | { allowed: false; rule: string; message: string };

export type HostParse =
  | { kind: 'address'; address: IpAddress }
  | { kind: 'name'; name: string }
  | { kind: 'refused'; rule: string; message: string };

// ---------------------------------------------------------------------------------------------
// addresses

const CANONICAL_IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Only the canonical dotted-quad form: four decimal numbers 0-255 without leading zeros. */
export function parseIpv4(text: string): IpAddress | null {
  const match = CANONICAL_IPV4.exec(text);
  if (!match) return null;
  return { family: 4, bytes: [1, 2, 3, 4].map((group) => Number(match[group])) };
}

/** RFC 4291 section 2.2 text forms, including `::` and a dotted-quad tail. No zone id. */
export function parseIpv6(text: string): IpAddress | null {
  if (text.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(text)) return null;
  let head = text;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (!v4) return null;
    tail.push((v4.bytes[0]! << 8) | v4.bytes[1]!, (v4.bytes[2]! << 8) | v4.bytes[3]!);
    head = text.slice(0, lastColon + 1);
    // "::1.2.3.4" leaves "::"; "1::1.2.3.4" leaves "1::" — keep a trailing "::" intact, drop a lone ':'.
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const parseGroups = (part: string): number[] | null => {
    if (part === '') return [];
    const groups = part.split(':');
    const values: number[] = [];
    for (const group of groups) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(group)) return null;
      values.push(parseInt(group, 16));
    }
    return values;
  };
  const doubleColon = head.indexOf('::');
  let groups: number[];
  if (doubleColon === -1) {
    const parsed = parseGroups(head);
    if (!parsed) return null;
    groups = [...parsed, ...tail];
    if (groups.length !== 8) return null;
  } else {
    if (head.indexOf('::', doubleColon + 1) !== -1) return null;
    const left = parseGroups(head.slice(0, doubleColon));
    const right = parseGroups(head.slice(doubleColon + 2));
    if (!left || !right) return null;
    const present = left.length + right.length + tail.length;
    if (present > 7) return null;
    groups = [...left, ...new Array<number>(8 - present).fill(0), ...right, ...tail];
  }
  const bytes: number[] = [];
  for (const group of groups) bytes.push(group >> 8, group & 0xff);
  return { family: 6, bytes };
}

export function parseIpAddress(text: string): IpAddress | null {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as `::`). */
export function formatIpAddress(address: IpAddress): string {
  if (address.family === 4) return address.bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((address.bytes[i]! << 8) | address.bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    // RFC 5952 section 4.2.2: a single zero group is not shortened.
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  if (slash === -1) return null;
  const address = parseIpAddress(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!address || !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > address.bytes.length * 8) return null;
  return { text: `${formatIpAddress(address)}/${prefix}`, address, prefix };
}

export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  if (cidr.address.family !== address.family) return false;
  let remaining = cidr.prefix;
  for (let i = 0; remaining > 0; i++, remaining -= 8) {
    const mask = remaining >= 8 ? 0xff : (0xff << (8 - remaining)) & 0xff;
    if ((cidr.address.bytes[i]! & mask) !== (address.bytes[i]! & mask)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// host spellings

/**
 * inet_aton(3) accepts 1 to 4 parts, each decimal, octal (leading 0) or hex (0x), the last part
 * filling the remaining bytes. Browsers' URL parsers and getaddrinfo follow it, so "2130706433",
 * "0177.0.0.1", "0x7f.1" and "127.1" all mean 127.0.0.1 to them. We decode it only to say which
 * address such a spelling means; the spelling itself is refused.
 */
function inetAton(text: string): IpAddress | null {
  const parts = text.split('.');
  if (parts.length > 4) return null;
  const values: number[] = [];
  for (const part of parts) {
    let value: number;
    if (/^0[xX][0-9A-Fa-f]*$/.test(part)) value = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
    else if (/^0[0-7]+$/.test(part)) value = parseInt(part, 8);
    else if (/^\d+$/.test(part)) value = Number(part);
    else return null;
    if (!Number.isSafeInteger(value)) return null;
    values.push(value);
  }
  const last = values.pop()!;
  if (values.some((value) => value > 255)) return null;
  if (last >= 2 ** (8 * (4 - values.length))) return null;
  let number = last;
  values.forEach((value, index) => {
    number += value * 2 ** (8 * (3 - index));
  });
  return { family: 4, bytes: [number >>> 24, (number >>> 16) & 0xff, (number >>> 8) & 0xff, number & 0xff] };
}

const LABEL = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/;

/** True for a DNS name the bridge will look up: LDH labels (plus `_` for names like _dmarc), at most 253 characters. */
export function isValidHostName(name: string): boolean {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  if (bare.length === 0 || bare.length > 253) return false;
  const labels = bare.split('.');
  // WHATWG URL host parsing treats a name whose last label is numeric as an IPv4 address.
  const last = labels[labels.length - 1]!;
  if (/^(\d+|0[xX][0-9A-Fa-f]*)$/.test(last)) return false;
  return labels.every((label) => LABEL.test(label));
}

/**
 * Read the host the browser asked for. An IPv6 literal may be bracketed. A canonical IPv4 or
 * IPv6 literal is an address; a valid DNS name is a name; anything a resolver might read as an
 * address in some other spelling is refused with the address it would have meant.
 */
export function parseTargetHost(host: string): HostParse {
  let text = host.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  if (text.includes('%')) {
    return { kind: 'refused', rule: 'ipv6-zone', message: `"${host}" carries an IPv6 zone id; link-local targets are refused` };
  }
  if (text.includes(':')) {
    const address = parseIpv6(text);
    if (!address) return { kind: 'refused', rule: 'invalid-host', message: `"${host}" is not a valid IPv6 address` };
    return { kind: 'address', address };
  }
  const v4 = parseIpv4(text);
  if (v4) return { kind: 'address', address: v4 };
  const bare = text.endsWith('.') ? text.slice(0, -1) : text;
  const labels = bare.split('.');
  if (/^(\d+|0[xX][0-9A-Fa-f]*)$/.test(labels[labels.length - 1] ?? '')) {
    const meant = inetAton(bare);
    if (meant) {
      return {
        kind: 'refused',
        rule: 'ipv4-spelling',
        message: `"${host}" is an unusual spelling of ${formatIpAddress(meant)}; only the dotted form with decimal numbers (like 192.0.2.1) is accepted`,
      };
    }
    return { kind: 'refused', rule: 'invalid-host', message: `"${host}" is neither an IPv4 address nor a host name` };
  }
  if (!isValidHostName(bare)) {
    return { kind: 'refused', rule: 'invalid-host', message: `"${host}" is not a valid host name (letters, digits, hyphens and dots; use punycode for international names)` };
  }
  return { kind: 'name', name: bare.toLowerCase() };
}

/** RFC 6761 section 6.3: "localhost" and names under it are the loopback host and are not sent to DNS. */
export function isLocalhostName(name: string): boolean {
  return name === 'localhost' || name.endsWith('.localhost');
}

// ---------------------------------------------------------------------------------------------
// ranges

interface RangeRule {
  rule: string;
  cidrs: string[];
  why: string;
  /** A CIDR allow-list entry cannot lift these: a TCP connection to them either reaches this host by a back door or makes no sense. */
  absolute?: boolean;
}

/**
 * Special-purpose ranges (IANA IPv4 and IPv6 Special-Purpose Address Registries, RFC 6890),
 * checked in order: the first match names the rule. Loopback is not here: it is the one special
 * range allowed by default, on mail ports only.
 */
const RANGE_RULES: RangeRule[] = [
  { rule: 'unspecified', cidrs: ['0.0.0.0/8', '::/128'], why: '"this host" addresses, which a TCP connect turns into the local machine', absolute: true },
  { rule: 'ipv4-mapped-ipv6', cidrs: ['::ffff:0:0/96'], why: 'IPv4-mapped IPv6 addresses (RFC 4291 section 2.5.5.2) would smuggle an IPv4 target past the IPv4 rules' },
  { rule: 'ipv4-compatible-ipv6', cidrs: ['::/96'], why: 'deprecated IPv4-compatible IPv6 addresses (RFC 4291 section 2.5.5.1)' },
  { rule: 'private-ipv4', cidrs: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'], why: 'private networks (RFC 1918)' },
  { rule: 'cgnat', cidrs: ['100.64.0.0/10'], why: 'carrier-grade NAT shared space (RFC 6598)' },
  { rule: 'cloud-metadata', cidrs: ['169.254.169.254/32', 'fd00:ec2::254/128'], why: 'cloud instance metadata services, which hand out credentials' },
  { rule: 'link-local', cidrs: ['169.254.0.0/16', 'fe80::/10'], why: 'link-local addresses (RFC 3927, RFC 4291)' },
  { rule: 'ietf-protocol-assignments', cidrs: ['192.0.0.0/24'], why: 'IETF protocol assignments (RFC 6890)' },
  { rule: 'documentation', cidrs: ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/32', '3fff::/20'], why: 'documentation examples (RFC 5737, RFC 3849, RFC 9637)' },
  { rule: 'benchmarking', cidrs: ['198.18.0.0/15', '2001:2::/48'], why: 'benchmarking networks (RFC 2544, RFC 5180)' },
  { rule: '6to4-relay', cidrs: ['192.88.99.0/24'], why: 'the deprecated 6to4 relay anycast (RFC 7526)' },
  { rule: 'multicast', cidrs: ['224.0.0.0/4', 'ff00::/8'], why: 'multicast groups, which TCP cannot connect to', absolute: true },
  { rule: 'broadcast', cidrs: ['255.255.255.255/32'], why: 'the limited broadcast address', absolute: true },
  { rule: 'reserved-ipv4', cidrs: ['240.0.0.0/4'], why: 'reserved for future use (RFC 1112)' },
  { rule: 'nat64', cidrs: ['64:ff9b::/96', '64:ff9b:1::/48'], why: 'NAT64 prefixes (RFC 6052, RFC 8215) that embed an IPv4 target' },
  { rule: 'discard-only', cidrs: ['100::/64'], why: 'the discard-only prefix (RFC 6666)' },
  { rule: 'teredo', cidrs: ['2001::/32'], why: 'Teredo tunnels (RFC 4380) that embed an IPv4 target' },
  { rule: 'orchid', cidrs: ['2001:10::/28', '2001:20::/28'], why: 'ORCHID identifiers (RFC 7343), not routable' },
  { rule: '6to4', cidrs: ['2002::/16'], why: '6to4 addresses (RFC 3056) that embed an IPv4 target' },
  { rule: 'unique-local-ipv6', cidrs: ['fc00::/7'], why: 'unique local IPv6 addresses, the IPv6 private networks (RFC 4193)' },
  { rule: 'site-local-ipv6', cidrs: ['fec0::/10'], why: 'deprecated site-local IPv6 addresses (RFC 3879)' },
];

const COMPILED_RULES = RANGE_RULES.map((rule) => ({ ...rule, ranges: rule.cidrs.map((text) => parseCidr(text)!) }));
const LOOPBACK = [parseCidr('127.0.0.0/8')!, parseCidr('::1/128')!];
/** IPv6 global unicast (RFC 4291 section 2.4); the rest of the IPv6 space is unassigned or special. */
const GLOBAL_UNICAST_IPV6 = parseCidr('2000::/3')!;

export type AddressClass = { kind: 'loopback' } | { kind: 'public' } | { kind: 'special'; rule: string; why: string; absolute: boolean };

export function classifyAddress(address: IpAddress): AddressClass {
  if (LOOPBACK.some((range) => cidrContains(range, address))) return { kind: 'loopback' };
  for (const rule of COMPILED_RULES) {
    if (rule.ranges.some((range) => cidrContains(range, address))) {
      return { kind: 'special', rule: rule.rule, why: rule.why, absolute: rule.absolute === true };
    }
  }
  if (address.family === 6 && !cidrContains(GLOBAL_UNICAST_IPV6, address)) {
    return { kind: 'special', rule: 'reserved-ipv6', why: 'IPv6 space outside global unicast (2000::/3)', absolute: false };
  }
  return { kind: 'public' };
}

// ---------------------------------------------------------------------------------------------
// the policy

function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

/** Read `HOST:PORT` or `[IPV6]:PORT`. The host is normalised as parseTargetHost would. */
export function parseAllowEntry(text: string): AllowEntry | { error: string } {
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d+)$/.exec(text.trim());
  if (!match) return { error: `"${text}" is not HOST:PORT (write an IPv6 host in brackets: [::1]:2526)` };
  const port = parsePort(match[2]!);
  if (port === null) return { error: `"${text}": the port must be 1 to 65535` };
  const host = parseTargetHost(match[1]!);
  if (host.kind === 'refused') return { error: `"${text}": ${host.message}` };
  return { host: host.kind === 'address' ? formatIpAddress(host.address) : host.name, port };
}

/** Build a policy; throws an Error naming the bad entry (the CLI turns it into exit status 2). */
export function createPolicy(options: PolicyOptions = {}): TargetPolicy {
  const localPorts = options.localPorts ?? [];
  for (const port of localPorts) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`local port ${port} is not 1 to 65535`);
  }
  const allow = (options.allow ?? []).map((text) => {
    const entry = parseAllowEntry(text);
    if ('error' in entry) throw new Error(`--allow ${entry.error}`);
    return entry;
  });
  const allowCidr = (options.allowCidr ?? []).map((text) => {
    const cidr = parseCidr(text.trim());
    if (!cidr) throw new Error(`--allow-cidr "${text}" is not a CIDR range like 10.0.0.0/8 or fd00::/8`);
    return cidr;
  });
  const loopbackPorts = [...new Set([...MAIL_PORTS, ...localPorts])].sort((a, b) => a - b);
  return { loopbackPorts, allow, allowCidr, allowPublic: options.allowPublic === true };
}

/**
 * Judge one target: `requestedHost` is what the browser wrote (a name or a literal), `address`
 * the address the bridge will connect to. The first matching rule decides, in this order:
 * explicit HOST:PORT allowance; absolute ranges; CIDR allow-list; loopback mail ports;
 * special ranges; public addresses.
 */
export function judgeTarget(policy: TargetPolicy, requestedHost: string, address: IpAddress, port: number): Decision {
  const shown = formatIpAddress(address);
  const target = address.family === 6 ? `[${shown}]:${port}` : `${shown}:${port}`;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return { allowed: false, rule: 'invalid-port', message: `port ${port} is not 1 to 65535` };
  }
  const requested = requestedHost.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (policy.allow.some((entry) => entry.port === port && (entry.host === requested || entry.host === shown))) {
    return { allowed: true, rule: 'allow-entry', message: `${target} is allowed by --allow` };
  }
  const addressClass = classifyAddress(address);
  if (addressClass.kind === 'special' && addressClass.absolute) {
    return { allowed: false, rule: addressClass.rule, message: `${target} is refused: ${shown} is in ${addressClass.why}` };
  }
  const cidr = policy.allowCidr.find((range) => cidrContains(range, address));
  if (cidr) {
    if (policy.loopbackPorts.includes(port)) return { allowed: true, rule: 'allow-cidr', message: `${target} is allowed by --allow-cidr ${cidr.text}` };
    return {
      allowed: false,
      rule: 'cidr-port',
      message: `${target} is refused: ${cidr.text} is allowed only on ports ${policy.loopbackPorts.join(', ')}`,
    };
  }
  if (addressClass.kind === 'loopback') {
    if (policy.loopbackPorts.includes(port)) return { allowed: true, rule: 'loopback-mail-port', message: `${target} is a mail port on this machine` };
    return {
      allowed: false,
      rule: 'loopback-port',
      message: `${target} is refused: on this machine only the mail ports ${policy.loopbackPorts.join(', ')} are reachable`,
    };
  }
  if (addressClass.kind === 'special') {
    let detail = '';
    if (addressClass.rule === 'ipv4-mapped-ipv6') {
      const embedded: IpAddress = { family: 4, bytes: address.bytes.slice(12) };
      const inner = classifyAddress(embedded);
      detail = ` (it stands for ${formatIpAddress(embedded)}${inner.kind === 'special' ? `, itself refused as ${inner.rule}` : ''}; write the IPv4 address instead)`;
    }
    return { allowed: false, rule: addressClass.rule, message: `${target} is refused: ${shown} is in ${addressClass.why}${detail}` };
  }
  if (!policy.allowPublic) {
    return { allowed: false, rule: 'public-disabled', message: `${target} is refused: public addresses are off (start the bridge with --allow-public)` };
  }
  if (!PUBLIC_MAIL_PORTS.includes(port)) {
    return { allowed: false, rule: 'public-port', message: `${target} is refused: public addresses only on ports ${PUBLIC_MAIL_PORTS.join(', ')}` };
  }
  return { allowed: true, rule: 'public-mail-port', message: `${target} is a public mail port` };
}

export function summarisePolicy(policy: TargetPolicy): PolicySummary {
  return {
    loopbackPorts: policy.loopbackPorts,
    allowPublic: policy.allowPublic,
    publicPorts: [...PUBLIC_MAIL_PORTS],
    allow: policy.allow.map((entry) => (entry.host.includes(':') ? `[${entry.host}]:${entry.port}` : `${entry.host}:${entry.port}`)),
    allowCidr: policy.allowCidr.map((cidr) => cidr.text),
    rules: [
      `loopback-port: 127.0.0.0/8 and ::1 only on ports ${policy.loopbackPorts.join(', ')}`,
      policy.allowPublic
        ? `public-port: public addresses only on ports ${PUBLIC_MAIL_PORTS.join(', ')}`
        : 'public-disabled: public addresses are refused',
      'ipv4-spelling: decimal, octal, hex and shortened IPv4 spellings are refused',
      ...RANGE_RULES.map((rule) => `${rule.rule}: ${rule.cidrs.join(', ')} refused (${rule.why})${rule.absolute ? ', always' : ''}`),
      'reserved-ipv6: IPv6 outside 2000::/3 refused',
    ],
  };
}

/** Every rule name a refusal can carry, for documentation and tests. */
export const REFUSAL_RULES: readonly string[] = [
  'invalid-host',
  'invalid-port',
  'ipv6-zone',
  'ipv4-spelling',
  'loopback-port',
  'cidr-port',
  'public-disabled',
  'public-port',
  'reserved-ipv6',
  ...RANGE_RULES.map((rule) => rule.rule),
];
