/**
 * The terminal's shell: parses the commands people really type (`dig`, `telnet`, `nc`,
 * `openssl s_client`, ...) into typed values. Pure: it runs nothing and knows no world; the
 * caller decides who answers each command. Errors are one or two short lines a learner can act
 * on, with a "did you mean" when a name is close to a known one.
 */
import { parseIp } from '../sim/spfBasics';
import type { SendDsnOptions } from '../sim/world';
import { finishDsnOptions, noDsnOptions, readDsnOption } from './dsnOptions';
import { DNS_TYPES, SEND_OPTIONS, SHELL_COMMAND_NAMES, type DnsType, type ShellCommandName } from './shellNames';

// The word lists live in shellNames.ts so that tab completion can load them without the parsers.
export { DNS_TYPES, SEND_OPTIONS, type DnsType, type ShellCommandName };

export type ConnectTool = 'telnet' | 'nc' | 'openssl';
/** How TLS starts: never, after the STARTTLS command (RFC 3207), or at once (RFC 8314, port 465). */
export type TlsStart = 'none' | 'starttls' | 'implicit';

export type SendPace = { readonly mode: 'step' } | { readonly mode: 'play'; readonly speed: number };

export type ShellCommand =
  | { readonly name: 'empty' }
  | { readonly name: 'dig'; readonly short: boolean; readonly type: DnsType; readonly domain: string; readonly server?: string }
  | {
      readonly name: 'connect';
      readonly tool: ConnectTool;
      readonly host: string;
      readonly port: number;
      readonly tls: TlsStart;
      /** Whether line ends are sent as CRLF (telnet always does; `nc -C` and `openssl -crlf` ask for it). */
      readonly crlf: boolean;
      readonly servername?: string;
      /** A hint shown before connecting, when the command will probably not do what was meant. */
      readonly warning?: string;
    }
  | {
      readonly name: 'send';
      readonly from: string;
      readonly to: readonly string[];
      readonly subject?: string;
      readonly pace: SendPace;
      /** DSN requests (RFC 3461): --notify, --ret, --envid, --orcpt, read as `npm run sim -- send` reads them. */
      readonly dsn?: SendDsnOptions;
    }
  | { readonly name: 'personas' }
  | { readonly name: 'world' }
  | { readonly name: 'mailq' }
  /** `advanceMs` null: show the virtual clock without moving it. */
  | { readonly name: 'clock'; readonly advanceMs: number | null }
  | { readonly name: 'mailbox'; readonly address: string }
  /** check_host(ip, domain) of RFC 7208; `sender` when a whole MAIL FROM address was given. */
  | { readonly name: 'spf'; readonly ip: string; readonly domain: string; readonly sender?: string }
  /**
   * DMARC for a From: domain. `spfDomain` is the MAIL FROM domain; with `ip` its SPF is checked,
   * without it SPF is taken as passed for that domain. `dkimDomain` is the d= of a valid signature.
   */
  | { readonly name: 'dmarc'; readonly fromDomain: string; readonly spfDomain?: string; readonly ip?: string; readonly dkimDomain?: string }
  | { readonly name: 'help'; readonly topic?: string }
  | { readonly name: 'clear' }
  | { readonly name: 'reset' }
  | { readonly name: 'mode'; readonly mode: 'sim' | 'real' }
  | { readonly name: 'history' }
  | { readonly name: 'export' };

/** The names a learner types for the commands above; the check below makes the compiler refuse any difference from shellNames.ts. */
type TypedCommandName = Exclude<ShellCommand['name'], 'empty' | 'connect'> | 'telnet' | 'nc' | 'openssl';
type NameMismatch = Exclude<TypedCommandName, ShellCommandName> | Exclude<ShellCommandName, TypedCommandName>;
const commandNamesAgree: [NameMismatch] extends [never] ? true : NameMismatch = true;

export type ShellParse =
  | { readonly ok: true; readonly command: ShellCommand }
  | { readonly ok: false; readonly error: string; readonly suggestion?: string };

interface CommandSpec {
  readonly syntax: string;
  readonly summary: string;
  readonly example: string;
  readonly parse: (args: readonly string[]) => ShellParse;
}

const ok = (command: ShellCommand): ShellParse => ({ ok: true, command });
const fail = (error: string, suggestion?: string): ShellParse =>
  suggestion === undefined ? { ok: false, error } : { ok: false, error, suggestion };

// ---------------------------------------------------------------------------------------------
// Words

/** Splits a line into words as a POSIX shell would for these commands: quotes and backslashes. */
export function tokenize(line: string): { readonly words: string[] } | { readonly error: string } {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length && /["\\$`]/.test(line[i + 1])) word += line[++i];
      else word += ch;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) return { error: `A ${quote === '"' ? 'double' : 'single'} quote is not closed.` };
  if (inWord) words.push(word);
  return { words };
}

/** Edit distance counting a swap of two neighbours as one edit (typists swap letters: "dgi"). */
export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest known word within two edits (one for very short words), if any. */
export function closest(word: string, known: readonly string[]): string | undefined {
  const limit = word.length <= 3 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Values

const HOST = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

export function isHostName(text: string): boolean {
  return HOST.test(text) || IPV4.test(text);
}

function parsePort(text: string, example: string): number | string {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    return `"${text}" is not a port: a port is a number from 1 to 65535 (mail uses 25, 465 and 587). Example: ${example}`;
  }
  return Number(text);
}

/** A mailbox the way people write it on the command line: `local@domain`, angle brackets allowed. */
function parseAddress(text: string, option: string): string | { error: string } {
  const address = text.replace(/^<(.*)>$/, '$1');
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1 || /\s/.test(address)) {
    return { error: `${option} needs an address like alice@example.com, not "${text}".` };
  }
  const domain = address.slice(at + 1);
  // RFC 5321 §4.1.3: an address literal such as [192.0.2.1] is also a domain.
  if (!isHostName(domain) && !/^\[[^\]]+\]$/.test(domain) && !/^[^\x00-\x7f.]+(\.[^\x00-\x7f.]+|\.[A-Za-z0-9-]+)*$/.test(domain)) {
    return { error: `"${domain}" is not a domain name (in ${text}).` };
  }
  return address;
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** `+30m`, `+5d`, `+1h30m` in milliseconds, or an error. */
export function parseDuration(text: string): number | { error: string } {
  const body = text.replace(/^\+/, '');
  if (/^\d+$/.test(body)) {
    return { error: `"${text}" needs a unit: s, m, h, d or w. Example: clock +${body}m` };
  }
  if (!/^(\d+[smhdw])+$/.test(body)) {
    return { error: `"${text}" is not a duration. Examples: clock +30m, clock +5d, clock +1h30m` };
  }
  let total = 0;
  for (const [, amount, unit] of body.matchAll(/(\d+)([smhdw])/g)) total += Number(amount) * DURATION_UNITS[unit];
  if (total > 60 * DURATION_UNITS.d) return { error: 'The clock moves at most 60 days at a time.' };
  return total;
}

// ---------------------------------------------------------------------------------------------
// Commands

function parseDig(args: readonly string[]): ShellParse {
  let short = false;
  let type: DnsType | undefined;
  let server: string | undefined;
  const names: string[] = [];
  const usage = 'Example: dig MX example.net';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const upper = arg.toUpperCase();
    if (arg === '+short') short = true;
    else if (arg.startsWith('+')) {
      return fail(`dig here knows only the +short option, not ${arg}.`, closest(arg, ['+short']));
    } else if (arg === '-t') {
      const next = args[++i];
      if (!next) return fail(`-t needs a record type: ${DNS_TYPES.join(', ')}.`);
      if (!(DNS_TYPES as readonly string[]).includes(next.toUpperCase())) {
        return fail(`This world's DNS answers ${DNS_TYPES.join(', ')} records, not ${next}.`);
      }
      type = next.toUpperCase() as DnsType;
    } else if (arg.startsWith('@')) server = arg.slice(1);
    else if (arg.startsWith('-')) return fail(`dig here does not take ${arg}. ${usage}`);
    else if ((DNS_TYPES as readonly string[]).includes(upper) && (type === undefined || names.length > 0 || i < args.length - 1)) {
      if (type !== undefined) return fail(`Give one record type, not ${type} and ${upper}. ${usage}`);
      type = upper as DnsType;
    } else if (['NS', 'SOA', 'CNAME', 'PTR', 'SRV', 'CAA', 'ANY', 'SPF', 'DS', 'DNSKEY', 'HTTPS', 'SVCB'].includes(upper)) {
      return fail(`This world's DNS answers ${DNS_TYPES.join(', ')} records, not ${upper}.`);
    } else names.push(arg);
  }
  if (names.length === 0) return fail(`dig needs a name to look up. ${usage}`);
  if (names.length > 1) return fail(`dig looks up one name at a time, not ${names.join(' and ')}. ${usage}`);
  const domain = names[0];
  if (!isHostName(domain)) return fail(`"${domain}" is not a domain name. ${usage}`);
  return ok({ name: 'dig', short, type: type ?? 'A', domain, ...(server ? { server } : {}) });
}

function hostAndPort(tool: 'telnet' | 'nc', args: readonly string[], crlf: boolean): ShellParse {
  const example = `${tool} mx.example.net 25`;
  if (args.length === 0) return fail(`${tool} needs a host and a port. Example: ${example}`);
  if (args.length === 1) {
    const [host] = args;
    const colon = /^([^:]+):(\d+)$/.exec(host);
    if (colon) return fail(`${tool} takes the host and the port as two words: ${tool} ${colon[1]} ${colon[2]}`);
    return fail(`${tool} needs a port too: SMTP listens on 25 (relay), 587 (submission) or 465 (TLS). Example: ${tool} ${host} 25`);
  }
  if (args.length > 2) return fail(`${tool} takes a host and a port, nothing more. Example: ${example}`);
  const [host, portText] = args;
  if (!isHostName(host) && !IPV6.test(host)) return fail(`"${host}" is not a host name. Example: ${example}`);
  const port = parsePort(portText, example);
  if (typeof port === 'string') return fail(port);
  return ok({
    name: 'connect',
    tool,
    host,
    port,
    tls: 'none',
    crlf,
    ...(port === 465
      ? { warning: `Port 465 expects TLS from the first byte (RFC 8314); ${tool} speaks plain text. Try: openssl s_client -connect ${host}:465` }
      : {}),
  });
}

function parseTelnet(args: readonly string[]): ShellParse {
  // telnet sends CRLF at the end of each line (RFC 854's NVT), which SMTP requires.
  return hostAndPort('telnet', args, true);
}

function parseNc(args: readonly string[]): ShellParse {
  let crlf = false;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '-C' || arg === '--crlf') crlf = true;
    else if (arg === '-v' || arg === '-vv' || arg === '-n') continue;
    else if (arg === '-w' || arg === '-q' || arg === '-i') {
      if (!/^\d+$/.test(args[i + 1] ?? '')) return fail(`${arg} needs a number of seconds.`);
      i += 1;
    } else if (/^-[Cvn]+$/.test(arg)) crlf = crlf || arg.includes('C');
    else if (arg.startsWith('-')) return fail(`nc here takes -C (send CRLF line ends), -v, -n, -w N; not ${arg}.`, closest(arg, ['-C', '-v']));
    else rest.push(arg);
  }
  return hostAndPort('nc', rest, crlf);
}

function parseOpenssl(args: readonly string[]): ShellParse {
  const example = 'openssl s_client -starttls smtp -connect mx.example.net:25';
  if (args[0] !== 's_client') {
    const hint = args[0] ? closest(args[0], ['s_client']) : undefined;
    return fail(`Only "openssl s_client" is available here. Example: ${example}`, hint ? `openssl ${[hint, ...args.slice(1)].join(' ')}` : undefined);
  }
  let connect: string | undefined;
  let starttls: string | undefined;
  let crlf = false;
  let servername: string | undefined;
  const known = ['-connect', '-starttls', '-crlf', '-servername', '-quiet', '-brief', '-showcerts', '-verify_return_error', '-ign_eof', '-CAfile'];
  for (let i = 1; i < args.length; i++) {
    const arg = args[i];
    const value = () => args[++i];
    switch (arg) {
      case '-connect':
        connect = value();
        if (!connect) return fail(`-connect needs host:port. Example: ${example}`);
        break;
      case '-starttls':
        starttls = value();
        if (!starttls) return fail('-starttls needs a protocol: -starttls smtp');
        if (starttls !== 'smtp') return fail(`This terminal speaks SMTP: use -starttls smtp, not -starttls ${starttls}.`);
        break;
      case '-servername':
        servername = value();
        if (!servername || !isHostName(servername)) return fail('-servername needs a host name (it is sent as SNI).');
        break;
      case '-CAfile':
        if (!value()) return fail('-CAfile needs a file name.');
        break;
      case '-crlf':
        crlf = true;
        break;
      case '-quiet':
      case '-brief':
      case '-showcerts':
      case '-verify_return_error':
      case '-ign_eof':
        break;
      default: {
        const hint = closest(arg, known);
        return fail(`openssl s_client here does not take ${arg}.`, hint ? [...args.slice(0, i), hint, ...args.slice(i + 1)].join(' ').replace(/^/, 'openssl ') : undefined);
      }
    }
  }
  if (!connect) return fail(`openssl s_client needs -connect host:port. Example: ${example}`);
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:]+):(\d+)$/.exec(connect);
  if (!match) {
    return fail(`-connect takes host:port in one word, like mx.example.net:25, not "${connect}".`);
  }
  const host = match[1].replace(/^\[(.*)\]$/, '$1');
  if (!isHostName(host) && !IPV6.test(host)) return fail(`"${host}" is not a host name.`);
  const port = parsePort(match[2], example);
  if (typeof port === 'string') return fail(port);
  const tls: TlsStart = starttls ? 'starttls' : 'implicit';
  let warning: string | undefined;
  if (tls === 'implicit' && (port === 25 || port === 587)) {
    warning = `Port ${port} starts in plain text and upgrades with STARTTLS. Did you mean: openssl s_client -starttls smtp -connect ${connect}`;
  } else if (tls === 'starttls' && port === 465) {
    warning = `Port 465 speaks TLS from the first byte, without STARTTLS. Did you mean: openssl s_client -connect ${connect}`;
  }
  return ok({
    name: 'connect',
    tool: 'openssl',
    host,
    port,
    tls,
    crlf,
    ...(servername ? { servername } : {}),
    ...(warning ? { warning } : {}),
  });
}

const DSN_EXAMPLES: Readonly<Record<string, string>> = {
  '--notify': '--notify bob@example.net=SUCCESS,FAILURE (or =NEVER)',
  '--ret': '--ret HDRS (the header only) or --ret FULL (the whole message)',
  '--envid': '--envid QQ314159',
  '--orcpt': '--orcpt bob@example.net=rfc822;bob@old.example',
};

/** `--name=value` or a plain word: the option's name, and a value written into it. */
function splitOption(arg: string): { name: string; inline?: string } {
  const eq = arg.indexOf('=');
  return arg.startsWith('--') && eq > 0 ? { name: arg.slice(0, eq), inline: arg.slice(eq + 1) } : { name: arg };
}

function parseSend(args: readonly string[]): ShellParse {
  const example = 'send --from alice@example.com --to bob@example.net';
  let from: string | undefined;
  const to: string[] = [];
  let subject: string | undefined;
  // By default the autopilot plays through at four times a readable pace; --step waits for Enter at each exchange.
  let pace: SendPace = { mode: 'play', speed: 4 };
  const dsn = noDsnOptions();
  const options = SEND_OPTIONS;
  for (let i = 0; i < args.length; i++) {
    const { name: arg, inline } = splitOption(args[i]!);
    const value = (): string | undefined => inline ?? args[++i];
    switch (arg) {
      case '--from': {
        const v = value();
        if (!v) return fail(`--from needs an address. Example: ${example}`);
        const address = parseAddress(v, '--from');
        if (typeof address !== 'string') return fail(address.error);
        from = address;
        break;
      }
      case '--to': {
        const v = value();
        if (!v) return fail(`--to needs an address. Example: ${example}`);
        for (const part of v.split(',').filter(Boolean)) {
          const address = parseAddress(part, '--to');
          if (typeof address !== 'string') return fail(address.error);
          to.push(address);
        }
        break;
      }
      case '--subject': {
        const v = value();
        if (v === undefined) return fail('--subject needs text; quote it if it has spaces: --subject "Hello there"');
        subject = v;
        break;
      }
      case '--step':
        pace = { mode: 'step' };
        break;
      case '--speed': {
        const v = value();
        const speed = Number(v);
        if (!v || !Number.isFinite(speed) || speed <= 0 || speed > 100) {
          return fail('--speed needs a number above 0 and at most 100 (1 = real pace, 10 = ten times faster).');
        }
        pace = { mode: 'play', speed };
        break;
      }
      case '--notify':
      case '--ret':
      case '--envid':
      case '--orcpt': {
        const v = value();
        if (!v) return fail(`${arg} needs a value. Example: ${DSN_EXAMPLES[arg]}`);
        const error = readDsnOption(dsn, arg, v);
        if (error !== undefined) return fail(`${error}.`);
        break;
      }
      default: {
        const hint = closest(arg, options);
        if (!arg.startsWith('-') && from === undefined && arg.includes('@')) {
          return fail(`Name each address: --from for the sender, --to for each recipient. Example: ${example}`);
        }
        return fail(`send does not take ${arg}. Options: ${options.join(', ')}.`, hint ? `send ${[...args.slice(0, i), hint, ...args.slice(i + 1)].join(' ')}` : undefined);
      }
    }
  }
  if (!from) return fail(`send needs --from (the envelope sender). Example: ${example}`);
  if (to.length === 0) return fail(`send needs at least one --to (a recipient). Example: ${example}`);
  const requests = finishDsnOptions(dsn, to);
  if (!requests.ok) return fail(`${requests.error}.`);
  return ok({ name: 'send', from, to, ...(subject !== undefined ? { subject } : {}), pace, ...(requests.dsn ? { dsn: requests.dsn } : {}) });
}

function noArguments(name: 'personas' | 'world' | 'mailq' | 'clear' | 'reset' | 'history' | 'export') {
  return (args: readonly string[]): ShellParse =>
    args.length === 0 ? ok({ name }) : fail(`${name} takes no arguments.`);
}

function parseClock(args: readonly string[]): ShellParse {
  if (args.length === 0) return ok({ name: 'clock', advanceMs: null });
  if (args.length > 1) return fail('clock takes one duration. Examples: clock +30m, clock +5d');
  if (args[0].startsWith('-')) return fail('The clock only moves forward. Example: clock +30m');
  const ms = parseDuration(args[0]);
  if (typeof ms !== 'number') return fail(ms.error);
  return ok({ name: 'clock', advanceMs: ms });
}

function parseMailbox(args: readonly string[]): ShellParse {
  if (args.length !== 1) return fail('mailbox takes one address. Example: mailbox bob@example.net');
  const address = parseAddress(args[0], 'mailbox');
  if (typeof address !== 'string') return fail(address.error);
  return ok({ name: 'mailbox', address });
}

/** A domain, or the domain of an address (the part after the last @). */
function domainOrAddress(text: string, what: string, example: string): { domain: string; address?: string } | { error: string } {
  const bare = text.replace(/^<(.*)>$/, '$1');
  if (bare.includes('@')) {
    const address = parseAddress(bare, what);
    if (typeof address !== 'string') return address;
    return { domain: address.slice(address.lastIndexOf('@') + 1).toLowerCase(), address };
  }
  if (!HOST.test(bare) || IPV4.test(bare)) return { error: `"${text}" is not a domain name. Example: ${example}` };
  return { domain: bare.toLowerCase().replace(/\.$/, '') };
}

const SPF_EXAMPLE = 'spf 192.0.2.25 example.com';

function parseSpf(args: readonly string[]): ShellParse {
  const usage = `spf takes the connecting IP address and the MAIL FROM domain (or address). Example: ${SPF_EXAMPLE}`;
  if (args.length === 0) return fail(usage);
  if (args.length === 1) {
    return fail(parseIp(args[0]) ? `Which domain? ${usage}` : `Which IP address is connecting? ${usage}`);
  }
  if (args.length > 2) return fail(`spf takes two words, not ${args.length}. ${usage}`);
  const [ipText, domainText] = args;
  if (!parseIp(ipText)) {
    if (parseIp(domainText)) return fail(`Give the IP address first, then the domain: spf ${domainText} ${ipText}`);
    return fail(`"${ipText}" is not an IPv4 or IPv6 address. ${usage}`);
  }
  const target = domainOrAddress(domainText, 'spf', SPF_EXAMPLE);
  if ('error' in target) return fail(target.error);
  return ok({ name: 'spf', ip: ipText, domain: target.domain, ...(target.address ? { sender: target.address } : {}) });
}

const DMARC_EXAMPLE = 'dmarc example.com --spf-domain bounce.example.com --ip 198.51.100.140';
const DMARC_OPTIONS = ['--spf-domain', '--ip', '--dkim-domain'];

function parseDmarc(args: readonly string[]): ShellParse {
  const usage = `Usage: dmarc <From: domain> [--spf-domain <MAIL FROM domain> [--ip <address>]] [--dkim-domain <d= domain>]. Example: ${DMARC_EXAMPLE}`;
  let fromDomain: string | undefined;
  let spfDomain: string | undefined;
  let ip: string | undefined;
  let dkimDomain: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const { name: arg, inline } = splitOption(args[i]!);
    const value = (): string | undefined => inline ?? args[++i];
    switch (arg) {
      case '--spf-domain':
      case '--dkim-domain': {
        const v = value();
        if (!v) return fail(`${arg} needs a domain. ${usage}`);
        const target = domainOrAddress(v, arg, DMARC_EXAMPLE);
        if ('error' in target) return fail(target.error);
        if (arg === '--spf-domain') spfDomain = target.domain;
        else dkimDomain = target.domain;
        break;
      }
      case '--ip': {
        const v = value();
        if (!v || !parseIp(v)) return fail(`--ip needs the connecting IPv4 or IPv6 address${v ? `, not "${v}"` : ''}. ${usage}`);
        ip = v;
        break;
      }
      default: {
        if (arg.startsWith('-')) {
          const hint = closest(arg, DMARC_OPTIONS);
          return fail(`dmarc does not take ${arg}. Options: ${DMARC_OPTIONS.join(', ')}.`, hint ? `dmarc ${[...args.slice(0, i), hint, ...args.slice(i + 1)].join(' ')}` : undefined);
        }
        if (fromDomain !== undefined) return fail(`dmarc checks one From: domain, not ${fromDomain} and ${arg}. ${usage}`);
        const target = domainOrAddress(arg, 'dmarc', DMARC_EXAMPLE);
        if ('error' in target) return fail(target.error);
        fromDomain = target.domain;
      }
    }
  }
  if (fromDomain === undefined) return fail(`dmarc needs the domain of the From: header. ${usage}`);
  if (ip !== undefined && spfDomain === undefined) return fail(`--ip is checked against the MAIL FROM domain: add --spf-domain. ${usage}`);
  return ok({
    name: 'dmarc',
    fromDomain,
    ...(spfDomain ? { spfDomain } : {}),
    ...(ip ? { ip } : {}),
    ...(dkimDomain ? { dkimDomain } : {}),
  });
}

function parseHelp(args: readonly string[]): ShellParse {
  if (args.length > 1) return fail('help takes one topic at most. Try: help, or help dig');
  return ok(args[0] ? { name: 'help', topic: args[0].toLowerCase() } : { name: 'help' });
}

function parseMode(args: readonly string[]): ShellParse {
  const mode = args[0]?.toLowerCase();
  if (args.length !== 1 || (mode !== 'sim' && mode !== 'real')) {
    return fail('mode takes sim (the simulated world) or real (real servers through the bridge). Example: mode sim');
  }
  return ok({ name: 'mode', mode });
}

/** The shell's commands: syntax and summary for help, and the parser for each, in SHELL_COMMAND_NAMES order. */
export const SHELL_COMMANDS: Readonly<Record<ShellCommandName, CommandSpec>> = {
  dig: {
    syntax: 'dig [+short] [MX|A|AAAA|TXT|TLSA] <name>',
    summary: 'look a name up in DNS (MX tells where mail for a domain goes)',
    example: 'dig MX example.net',
    parse: parseDig,
  },
  telnet: {
    syntax: 'telnet <host> <port>',
    summary: 'open a raw SMTP session; type the commands yourself',
    example: 'telnet mx.example.net 25',
    parse: parseTelnet,
  },
  nc: {
    syntax: 'nc [-C] <host> <port>',
    summary: 'like telnet; -C sends CRLF line ends, as SMTP requires',
    example: 'nc -C mx.example.net 25',
    parse: parseNc,
  },
  openssl: {
    syntax: 'openssl s_client [-starttls smtp] -connect <host>:<port> [-crlf] [-servername <name>]',
    summary: 'open an SMTP session over TLS and show the handshake',
    example: 'openssl s_client -starttls smtp -connect mx.example.net:25',
    parse: parseOpenssl,
  },
  send: {
    syntax: 'send --from <addr> --to <addr> [--to <addr>] [--subject <text>] [--step | --speed <n>] [--notify <addr>=<when>] [--ret FULL|HDRS] [--envid <id>] [--orcpt <addr>=rfc822;<original>]',
    summary: 'let the sending server deliver a message while you watch each line',
    example: 'send --from alice@example.com --to bob@example.net',
    parse: parseSend,
  },
  personas: { syntax: 'personas', summary: 'list the kinds of mail server in the world', example: 'personas', parse: noArguments('personas') },
  world: { syntax: 'world', summary: 'list the domains and which server answers for each', example: 'world', parse: noArguments('world') },
  mailq: {
    syntax: 'mailq',
    summary: "the sending server's queue: what waits where, and why",
    example: 'mailq',
    parse: noArguments('mailq'),
  },
  clock: {
    syntax: 'clock [+<duration>]',
    summary: 'show or advance the virtual clock (deferred mail is retried)',
    example: 'clock +30m',
    parse: parseClock,
  },
  spf: {
    syntax: 'spf <ip> <domain|address>',
    summary: 'check SPF: may this IP send mail for this MAIL FROM domain?',
    example: SPF_EXAMPLE,
    parse: parseSpf,
  },
  dmarc: {
    syntax: 'dmarc <from-domain> [--spf-domain D [--ip IP]] [--dkim-domain D]',
    summary: 'check DMARC: does the From: domain align with SPF or DKIM?',
    example: DMARC_EXAMPLE,
    parse: parseDmarc,
  },
  mailbox: { syntax: 'mailbox <addr>', summary: 'read mail delivered to an address, bounces included', example: 'mailbox alice@example.com', parse: parseMailbox },
  help: { syntax: 'help [topic]', summary: 'this list, or more on one command (help dig, help keys)', example: 'help telnet', parse: parseHelp },
  clear: { syntax: 'clear', summary: 'clear the screen (Ctrl-L does too)', example: 'clear', parse: noArguments('clear') },
  reset: { syntax: 'reset', summary: 'start the world afresh', example: 'reset', parse: noArguments('reset') },
  mode: { syntax: 'mode sim|real', summary: 'talk to the simulated world or to real servers', example: 'mode sim', parse: parseMode },
  history: { syntax: 'history', summary: 'the lines you typed (Up and Down recall them)', example: 'history', parse: noArguments('history') },
  export: { syntax: 'export', summary: 'save the transcript as text', example: 'export', parse: noArguments('export') },
};

const ALIASES: Readonly<Record<string, ShellCommandName>> = {
  ncat: 'nc',
  netcat: 'nc',
  cls: 'clear',
  '?': 'help',
};

/**
 * Tools a learner knows from a real machine, done here by a command of another name. Each says
 * which one, and turns the line typed into it when the arguments allow, so `swaks --to
 * bob@example.net` is answered with the `send` line that does the same, not a bare "not found".
 */
type FamiliarJob = 'telnet' | 'send' | 'dig' | 'mailq';

const FAMILIAR_TOOLS: Readonly<Record<string, { readonly use: FamiliarJob; readonly suggest: (args: readonly string[]) => string }>> = {
  connect: { use: 'telnet', suggest: telnetLine },
  smtp: { use: 'telnet', suggest: telnetLine },
  swaks: { use: 'send', suggest: sendLine },
  sendmail: { use: 'send', suggest: sendLine },
  mail: { use: 'send', suggest: sendLine },
  mailx: { use: 'send', suggest: sendLine },
  nslookup: { use: 'dig', suggest: digLine },
  host: { use: 'dig', suggest: digLine },
  drill: { use: 'dig', suggest: digLine },
  postqueue: { use: 'mailq', suggest: () => 'mailq' },
};

/** What the command here does for such a tool: every `use` above has its sentence (the type says so). */
const FAMILIAR_JOBS: Readonly<Record<FamiliarJob, string>> = {
  telnet: 'To talk SMTP by hand here, open a session with telnet (or nc -C).',
  send: 'Here, send does that job: the sending server of example.com delivers the message while you watch every line.',
  dig: 'Here, dig looks names up: dig MX <domain> asks where mail for the domain goes.',
  mailq: "Here, mailq shows the sending server's queue.",
};

/** `connect mx1.example.net 587` → `telnet mx1.example.net 587` (port 25 when none is given). */
function telnetLine(args: readonly string[]): string {
  const [host = 'mx1.example.net', port = '25'] = args.filter((a) => !a.startsWith('-'));
  return `telnet ${host} ${port}`;
}

const ADDRESS = /^[^\s@<>]+@[^\s@<>]+$/;

/**
 * swaks (`--to`/`-t`, `--from`/`-f`, `--header "Subject: …"`), sendmail and mail (`-s subject`,
 * recipients as arguments, `-f sender`) as the `send` line that does the same.
 */
function sendLine(args: readonly string[]): string {
  let from = 'alice@example.com';
  let subject: string | undefined;
  const to: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = args[i + 1];
    if ((arg === '--to' || arg === '-t') && value !== undefined) {
      to.push(...value.split(',').filter((a) => ADDRESS.test(a)));
      i += 1;
    } else if ((arg === '--from' || arg === '-f') && value !== undefined) {
      if (ADDRESS.test(value)) from = value;
      i += 1;
    } else if (arg === '-s' && value !== undefined) {
      subject = value;
      i += 1;
    } else if (arg === '--header' && value !== undefined) {
      const match = /^subject:\s*(.*)$/i.exec(value);
      if (match) subject = match[1];
      i += 1;
    } else if (ADDRESS.test(arg)) to.push(arg);
  }
  if (to.length === 0) to.push('bob@example.net');
  const quoted = subject === undefined ? '' : ` --subject ${/^[\w.-]+$/.test(subject) ? subject : `"${subject.replace(/["\\]/g, '\\$&')}"`}`;
  return `send --from ${from}${to.map((a) => ` --to ${a}`).join('')}${quoted}`;
}

/** `nslookup -type=mx example.net`, `host -t mx example.net`, `drill example.net mx` → `dig MX example.net`. */
function digLine(args: readonly string[]): string {
  let type: string | undefined;
  let name: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const option = /^-(?:type|query|querytype|q)=(.+)$/i.exec(arg);
    if (option) type = option[1];
    else if (arg === '-t' && args[i + 1] !== undefined) type = args[++i];
    else if ((DNS_TYPES as readonly string[]).includes(arg.toUpperCase())) type = arg;
    else if (!arg.startsWith('-') && name === undefined) name = arg;
  }
  return `dig ${(type ?? 'A').toUpperCase()} ${name ?? 'example.net'}`;
}

/** SMTP verbs typed at the shell prompt: the learner meant to be in a session. */
export const SMTP_VERBS = ['EHLO', 'HELO', 'MAIL', 'RCPT', 'DATA', 'RSET', 'NOOP', 'QUIT', 'VRFY', 'EXPN', 'HELP', 'STARTTLS', 'AUTH', 'BDAT'] as const;

/**
 * The other way round: a line typed in a session whose first word is a shell command (`clock
 * +10m` after a 451). It went to the server as SMTP, and the server refused it as the unknown
 * command it is (RFC 5321 §4.2.4: 500); this says what the learner meant. HELP is SMTP too
 * (§4.1.1.8), so it gets no hint.
 */
export function shellCommandTypedInSession(verb: string): string | undefined {
  const word = verb.toLowerCase();
  const name = ALIASES[word] ?? (SHELL_COMMAND_NAMES as readonly string[]).find((n) => n === word);
  if (name === undefined || (SMTP_VERBS as readonly string[]).includes(verb.toUpperCase())) return undefined;
  return `(${word} is a command of this lab's shell, not SMTP, so the server read it as SMTP. Leave the session first, with QUIT or Ctrl-], then type it at the $ prompt.)`;
}

export function parseShellLine(line: string): ShellParse {
  const tokens = tokenize(line);
  if ('error' in tokens) return fail(tokens.error);
  const [head, ...args] = tokens.words;
  if (head === undefined) return ok({ name: 'empty' });
  const name = (ALIASES[head] ?? head) as ShellCommandName;
  if (Object.hasOwn(SHELL_COMMANDS, name)) return SHELL_COMMANDS[name].parse(args);
  if (/^(exit|quit|logout)$/i.test(head)) {
    return fail('You are at the shell, not in a session: there is nothing to leave. Type help to see what you can do.');
  }
  // "mail FROM:<…>" is SMTP typed at the prompt (below); "mail -s hi bob@example.net" is the tool.
  const familiar = Object.hasOwn(FAMILIAR_TOOLS, head) && !/^from:/i.test(args[0] ?? '') ? FAMILIAR_TOOLS[head] : undefined;
  if (familiar) return fail(`${head}: command not found. ${FAMILIAR_JOBS[familiar.use]}`, familiar.suggest(args));
  const upper = head.toUpperCase();
  if ((SMTP_VERBS as readonly string[]).includes(upper) && upper !== 'HELP') {
    return fail(
      `${upper} is an SMTP command, and no session is open. Connect to a mail server first, for example: telnet mx.example.net 25`,
    );
  }
  const suggestion = closest(head, [...SHELL_COMMAND_NAMES, ...Object.keys(ALIASES)]);
  const resolved = suggestion ? (ALIASES[suggestion] ?? suggestion) : undefined;
  return fail(
    `${head}: command not found. Type help for the list.`,
    resolved ? [resolved, ...args].join(' ') : undefined,
  );
}
