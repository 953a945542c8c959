/**
 * The flags of `npm start`: parsed into StartOptions, or a UsageError with a sentence for the
 * user. Kept apart from start.ts so the rules are testable without starting anything.
 */
import { checkDnsServer } from '../bridge/server';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';

export const DEFAULT_APP_PORT = 5173;
export const DEFAULT_BRIDGE_PORT = 8787;
/** The local smtpd: `friendly` on 2525 with implicit TLS (RFC 8314) on 4465, `submission` on 2587. */
export const DEFAULT_SMTPD_PORT = 2525;
export const DEFAULT_SMTPD_TLS_PORT = 4465;
export const DEFAULT_SUBMISSION_PORT = 2587;
export const DEFAULT_HOST = '127.0.0.1';

export interface StartOptions {
  /** Address the app's web server and the bridge listen on. */
  host: string;
  /** Web server port; 0 picks a free one. */
  port: number;
  bridgePort: number;
  /** null with --no-smtpd: no local mail server is started. */
  smtpd: { port: number; tlsPort: number; submissionPort: number } | null;
  /** DNS servers the bridge resolves with (`dig` in real mode); empty: the system's. */
  dnsServers: string[];
}

export type ParsedStartArgs = { help: true } | ({ help: false } & StartOptions);

/** A mistake on the command line: start.ts prints it and exits with status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function startUsage(): string {
  return [
    'Usage: npm start -- [flags]',
    '',
    'Serves the built app (dist/), starts the WebSocket-to-TCP bridge for real-network mode and a',
    'local SMTP server to talk to through it, so real mode works without internet.',
    '',
    `  --host ADDRESS          address the app and the bridge listen on (default ${DEFAULT_HOST})`,
    `  --port N                the app's port, 0 for any free port (default ${DEFAULT_APP_PORT})`,
    `  --bridge-port N         the bridge's port, 0 for any free port (default ${DEFAULT_BRIDGE_PORT})`,
    `  --smtpd-port N          the local smtpd (persona friendly) port (default ${DEFAULT_SMTPD_PORT});`,
    `                          0 also picks free ports for its implicit-TLS and submission servers`,
    `  --smtpd-tls-port N      its implicit-TLS port (default ${DEFAULT_SMTPD_TLS_PORT}, or 0 with --smtpd-port 0)`,
    `  --submission-port N     the submission persona's port (default ${DEFAULT_SUBMISSION_PORT}, or 0 with --smtpd-port 0)`,
    '  --no-smtpd              start no local SMTP server',
    '  --dns-server IP[:PORT]  DNS server the bridge asks (dig in real mode), repeatable (default: the system\'s)',
    '  --help                  show this help',
  ].join('\n');
}

const flags = {
  host: { type: 'string' },
  port: { type: 'string' },
  'bridge-port': { type: 'string' },
  'smtpd-port': { type: 'string' },
  'smtpd-tls-port': { type: 'string' },
  'submission-port': { type: 'string' },
  'no-smtpd': { type: 'boolean' },
  'dns-server': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

function portFlag(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new UsageError(`--${flag} needs a port from 0 to 65535, got "${text}"`);
  return Number(text);
}

/** Node's parseArgs words its errors for programmers; say the same for a person typing flags. */
function cleanParseError(message: string): string {
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown) return `unknown flag ${unknown[1]}`;
  const missing = /Option '([^']+?)(?: <value>)?' argument missing/.exec(message);
  if (missing) return `${missing[1]!.replace(/^-\w, /, '')} needs a value`;
  const ambiguous = /Option '([^']+)' argument is ambiguous/.exec(message);
  if (ambiguous) return `${ambiguous[1]} needs a value (to give one that starts with "-", write ${ambiguous[1]}=VALUE)`;
  const positional = /Unexpected argument '([^']+)'/.exec(message);
  if (positional) return `unexpected argument "${positional[1]}" (flags start with --)`;
  return message.replace(/\. To specify.*$/s, '');
}

/** argv without node and the script; throws UsageError with a sentence for the user. */
export function parseStartArgs(argv: readonly string[]): ParsedStartArgs {
  let values: { [K in keyof typeof flags]?: (typeof flags)[K] extends { multiple: true } ? string[] : (typeof flags)[K]['type'] extends 'boolean' ? boolean : string };
  try {
    ({ values } = parseArgs({ args: [...argv], options: flags, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError(cleanParseError((error as Error).message));
  }
  if (values.help) return { help: true };

  const host = values.host ?? DEFAULT_HOST;
  if (isIP(host.replace(/^\[(.*)\]$/, '$1')) === 0 && host !== 'localhost') {
    throw new UsageError(`--host needs an IP address to listen on (e.g. 127.0.0.1, ::1, 0.0.0.0), got "${host}"`);
  }
  const noSmtpd = values['no-smtpd'] === true;
  const smtpdFlags = (['smtpd-port', 'smtpd-tls-port', 'submission-port'] as const).filter((flag) => values[flag] !== undefined);
  if (noSmtpd && smtpdFlags.length > 0) throw new UsageError(`--no-smtpd and --${smtpdFlags[0]} contradict each other`);

  const smtpdPort = portFlag('smtpd-port', values['smtpd-port'], DEFAULT_SMTPD_PORT);
  // "--smtpd-port 0" asks for free ports: the fixed companions would then be the one port that
  // could still collide, so they follow it unless given.
  const ephemeral = smtpdPort === 0;
  const dnsServers = (values['dns-server'] ?? []).map((server) => {
    try {
      return checkDnsServer(server);
    } catch (error) {
      throw new UsageError(`--dns-server: ${(error as Error).message}`);
    }
  });
  const options: StartOptions = {
    dnsServers,
    host: host.replace(/^\[(.*)\]$/, '$1'),
    port: portFlag('port', values.port, DEFAULT_APP_PORT),
    bridgePort: portFlag('bridge-port', values['bridge-port'], DEFAULT_BRIDGE_PORT),
    smtpd: noSmtpd
      ? null
      : {
          port: smtpdPort,
          tlsPort: portFlag('smtpd-tls-port', values['smtpd-tls-port'], ephemeral ? 0 : DEFAULT_SMTPD_TLS_PORT),
          submissionPort: portFlag('submission-port', values['submission-port'], ephemeral ? 0 : DEFAULT_SUBMISSION_PORT),
        },
  };
  const fixed = [
    ['--port', options.port],
    ['--bridge-port', options.bridgePort],
    ...(options.smtpd
      ? ([
          ['--smtpd-port', options.smtpd.port],
          ['--smtpd-tls-port', options.smtpd.tlsPort],
          ['--submission-port', options.smtpd.submissionPort],
        ] as const)
      : []),
  ] as const;
  for (let i = 0; i < fixed.length; i++) {
    for (let j = i + 1; j < fixed.length; j++) {
      if (fixed[i]![1] !== 0 && fixed[i]![1] === fixed[j]![1]) {
        throw new UsageError(`${fixed[i]![0]} and ${fixed[j]![0]} are both ${fixed[i]![1]}: each service needs its own port`);
      }
    }
  }
  return { help: false, ...options };
}
