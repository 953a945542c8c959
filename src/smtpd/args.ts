// Command-line flags of `npm run smtpd`. Parsing is separate from the CLI so the rules (and
// their error messages) are testable without starting a process.
import { parseArgs } from 'node:util';

export interface SmtpdArguments {
  persona: string;
  port: number;
  tlsPort?: number;
  host: string;
  greylistDelayMs?: number;
  maildir?: string;
  certFile?: string;
  keyFile?: string;
  variant?: string;
  hostname?: string;
  quiet: boolean;
}

export type ParsedArguments = { help: true } | ({ help: false } & SmtpdArguments);

/** A mistake on the command line: the CLI prints it with a pointer to --help and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const defaultPort = 2525;
export const defaultHost = '127.0.0.1';

const flags = {
  persona: { type: 'string', short: 'p' },
  port: { type: 'string' },
  'tls-port': { type: 'string' },
  host: { type: 'string' },
  'greylist-delay': { type: 'string' },
  maildir: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  variant: { type: 'string' },
  hostname: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface PersonaSummary {
  id: string;
  description: string;
  /** Values `--variant` accepts for this persona; empty when it has none. */
  variants: readonly string[];
}

/**
 * Parses argv (without node and the script). `personas` is what the server can serve: an
 * unknown id or a variant the persona does not have is a usage error that lists the choices.
 */
export function parseSmtpdArguments(argv: readonly string[], personas: readonly PersonaSummary[]): ParsedArguments {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: flags, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(cleanParseError((error as Error).message));
  }
  const v = parsed.values;
  if (v.help) return { help: true };

  if (v.persona === undefined) throw new UsageError(`--persona is required; one of: ${personas.map((p) => p.id).join(', ')}`);
  const persona = personas.find((p) => p.id === v.persona);
  if (!persona) throw new UsageError(`unknown persona '${v.persona}'; one of: ${personas.map((p) => p.id).join(', ')}`);

  if (v.variant !== undefined) {
    if (persona.variants.length === 0) throw new UsageError(`persona '${persona.id}' has no variants (--variant ${v.variant})`);
    if (!persona.variants.includes(v.variant)) {
      throw new UsageError(`persona '${persona.id}' has no variant '${v.variant}'; one of: ${persona.variants.join(', ')}`);
    }
  }
  if ((v.cert === undefined) !== (v.key === undefined)) throw new UsageError('--cert and --key go together: give both or neither');
  if (v.hostname !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(v.hostname)) {
    throw new UsageError(`--hostname '${v.hostname}' is not a host name`);
  }
  if (v.host !== undefined && v.host.trim() === '') throw new UsageError('--host needs an address, e.g. 127.0.0.1');
  if (v.maildir !== undefined && v.maildir.trim() === '') throw new UsageError('--maildir needs a directory');

  return {
    help: false,
    persona: persona.id,
    port: v.port === undefined ? defaultPort : parsePort(v.port, '--port'),
    ...(v['tls-port'] === undefined ? {} : { tlsPort: parsePort(v['tls-port'], '--tls-port') }),
    host: v.host ?? defaultHost,
    ...(v['greylist-delay'] === undefined ? {} : { greylistDelayMs: parseDuration(v['greylist-delay'], '--greylist-delay') }),
    ...(v.maildir === undefined ? {} : { maildir: v.maildir }),
    ...(v.cert === undefined ? {} : { certFile: v.cert }),
    ...(v.key === undefined ? {} : { keyFile: v.key }),
    ...(v.variant === undefined ? {} : { variant: v.variant }),
    ...(v.hostname === undefined ? {} : { hostname: v.hostname }),
    quiet: v.quiet ?? false,
  };
}

/** 0 asks the system for a free port. */
export function parsePort(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new UsageError(`${flag} '${text}' is not a port (0-65535; 0 picks a free one)`);
  return Number(text);
}

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `60s`, `1.5s`, `500ms`, `5m`, `1h`; a bare number is seconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new UsageError(`${flag} '${text}' is not a duration (e.g. 60s, 500ms, 5m)`);
  return Math.round(Number(match[1]) * units[match[2] ?? 's']!);
}

export function usage(personas: readonly PersonaSummary[]): string {
  const width = Math.max(...personas.map((p) => p.id.length), 8);
  return [
    'Usage: npm run smtpd -- --persona <id> [options]',
    '',
    'Serves one smtp-lab persona as a real SMTP server (plain SMTP with STARTTLS, and implicit TLS',
    'on --tls-port), for real clients: swaks, curl, Python smtplib, nodemailer, a mail app.',
    '',
    'Options:',
    '  -p, --persona <id>        the persona to serve (required; see below)',
    `      --port <n>            SMTP port (default ${defaultPort}; 0 picks a free port)`,
    '      --tls-port <n>        also serve implicit TLS ("smtps") on this port (0 picks one)',
    `      --host <address>      address to listen on (default ${defaultHost}, loopback only)`,
    '      --greylist-delay <t>  how long greylisting defers a new triplet (e.g. 1s, 60s, 5m)',
    '      --maildir <dir>       store accepted messages as files in a maildir (else: a summary on stdout)',
    '      --cert <file>         PEM certificate for TLS (with --key; default: self-signed, generated at start)',
    '      --key <file>          PEM private key for --cert',
    '      --variant <v>         the variant of a persona that has several (e.g. tls-broken: refuse, handshake, untrusted)',
    '      --hostname <name>     the name the server gives in its banner and certificate',
    '  -q, --quiet               no protocol log (the listening line and message summaries still print)',
    '  -h, --help                this help',
    '',
    'Personas:',
    ...personas.map(
      (p) => `  ${p.id.padEnd(width)}  ${p.description}${p.variants.length ? ` (variants: ${p.variants.join(', ')})` : ''}`,
    ),
    '',
    'Once listening it prints one line: "smtpd: <persona> listening on <host>:<port>[ tls on <host>:<port>]".',
  ].join('\n');
}

function cleanParseError(message: string): string {
  // Node's messages are good but long; keep the first sentence.
  const first = message.split(/\. (?=[A-Z])/)[0]!.replace(/\.$/, '');
  return first.replace(/^TypeError \[[A-Z_]+\]: /, '');
}
