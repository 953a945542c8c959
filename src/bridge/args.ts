/**
 * The bridge's command-line flags: parsed into BridgeOptions, or a UsageError with a sentence
 * for the user. Kept apart from cli.ts so tests can check the parsing without starting anything.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { BridgeLimits } from '../net/wire';
import { DEFAULT_APP_ORIGINS, DEFAULT_BRIDGE_PORT, DEFAULT_LIMITS, startBridge, type BridgeOptions } from './server';

/** Limit flags: flag name -> [limit field, unit multiplier to the field's unit, help]. */
const LIMIT_FLAGS: Record<string, [keyof BridgeLimits, number, string]> = {
  'max-sessions-per-client': ['maxSessionsPerClient', 1, 'sessions open at once from one client address'],
  'max-sessions': ['maxSessionsTotal', 1, 'sessions open at once in total'],
  'idle-seconds': ['idleMs', 1000, 'end a session after this long with no traffic'],
  'session-seconds': ['sessionMs', 1000, 'end a session after this long in any case'],
  'connect-timeout-seconds': ['connectTimeoutMs', 1000, 'give up a TCP/TLS connect after this long'],
  'max-bytes-to-server': ['maxBytesToServer', 1, 'bytes the browser may send per session'],
  'max-bytes-from-server': ['maxBytesFromServer', 1, 'bytes the server may send per session'],
  'max-send-frames': ['maxSendFrames', 1, '"send" frames (commands) per session'],
  'max-resolves': ['maxResolves', 1, 'DNS lookups per session'],
  'max-bad-frames': ['maxBadFrames', 1, 'malformed frames tolerated per session'],
  'max-frame-bytes': ['maxFrameBytes', 1, 'largest frame the browser may send'],
};

export function bridgeUsage(): string {
  const limitLines = Object.entries(LIMIT_FLAGS).map(([flag, [field, unit, help]]) => {
    const left = `  --${flag} N`;
    return `${left.padEnd(34)}${help} (default ${DEFAULT_LIMITS[field] / unit})`;
  });
  return [
    'Usage: npm run bridge -- [flags]',
    '',
    'The smtp-lab WebSocket-to-TCP bridge: lets the browser terminal talk to real SMTP servers,',
    'and only to the ones its policy allows.',
    '',
    'Listening:',
    `  --host ADDRESS                  address to listen on (default 127.0.0.1)`,
    `  --port N                        port to listen on, 0 for any free port (default ${DEFAULT_BRIDGE_PORT})`,
    `  --origin URL                    allowed page origin, repeatable (default ${DEFAULT_APP_ORIGINS.join(' ')})`,
    '  --allow-missing-origin          accept clients that send no Origin header (non-browser tools)',
    '',
    'Target policy (loopback mail ports 25, 465, 587, 2525 are always allowed):',
    '  --local-port N                  a local smtpd port also allowed on loopback, repeatable',
    '  --allow HOST:PORT               allow exactly this target, repeatable ([::1]:2526 for IPv6)',
    '  --allow-cidr CIDR               allow this range on the loopback mail ports, repeatable',
    '  --allow-public                  allow public addresses, on ports 25, 465 and 587 only',
    '',
    'DNS and TLS:',
    '  --dns-server IP[:PORT]          DNS server to resolve with, repeatable (default: the system\'s)',
    '  --dns-timeout-ms N              time for one DNS try (default 5000)',
    '  --ca FILE                       extra PEM CA certificate trusted for verification, repeatable',
    '',
    'Limits:',
    ...limitLines,
    '',
    '  --help                          show this help',
  ].join('\n');
}

export class UsageError extends Error {}

function positiveNumber(flag: string, text: string): number {
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) <= 0) throw new UsageError(`--${flag} needs a positive number, got "${text}"`);
  return Number(text);
}

function port(flag: string, text: string, allowZero: boolean): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535 || (!allowZero && Number(text) === 0)) {
    throw new UsageError(`--${flag} needs a port ${allowZero ? '0' : '1'} to 65535, got "${text}"`);
  }
  return Number(text);
}

/** Turn argv into bridge options; throws UsageError with a sentence for the user. */
export function parseBridgeArgs(argv: string[]): BridgeOptions | 'help' {
  const limitOptions = Object.fromEntries(Object.keys(LIMIT_FLAGS).map((flag) => [flag, { type: 'string' as const }]));
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        host: { type: 'string' },
        port: { type: 'string' },
        origin: { type: 'string', multiple: true },
        'allow-missing-origin': { type: 'boolean' },
        'local-port': { type: 'string', multiple: true },
        allow: { type: 'string', multiple: true },
        'allow-cidr': { type: 'string', multiple: true },
        'allow-public': { type: 'boolean' },
        'dns-server': { type: 'string', multiple: true },
        'dns-timeout-ms': { type: 'string' },
        ca: { type: 'string', multiple: true },
        ...limitOptions,
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const list = (name: string): string[] => (values[name] as string[] | undefined) ?? [];
  const limits: Partial<BridgeLimits> = {};
  for (const [flag, [field, unit]] of Object.entries(LIMIT_FLAGS)) {
    const text = values[flag] as string | undefined;
    if (text !== undefined) limits[field] = positiveNumber(flag, text) * unit;
  }
  const options: BridgeOptions = {
    host: (values.host as string | undefined) ?? '127.0.0.1',
    port: values.port === undefined ? DEFAULT_BRIDGE_PORT : port('port', values.port as string, true),
    allowMissingOrigin: values['allow-missing-origin'] === true,
    policy: {
      localPorts: list('local-port').map((text) => port('local-port', text, false)),
      allow: list('allow'),
      allowCidr: list('allow-cidr'),
      allowPublic: values['allow-public'] === true,
    },
    dnsServers: list('dns-server'),
    limits,
  };
  if (list('origin').length > 0) {
    for (const origin of list('origin')) {
      if (!/^https?:\/\/[^/\s]+\/?$/.test(origin)) throw new UsageError(`--origin "${origin}" must look like http://host:port`);
    }
    options.origins = list('origin');
  }
  if (values['dns-timeout-ms'] !== undefined) options.dnsTimeoutMs = positiveNumber('dns-timeout-ms', values['dns-timeout-ms'] as string);
  if (list('ca').length > 0) {
    options.trustedCa = list('ca').map((file) => {
      try {
        return readFileSync(file, 'utf8');
      } catch (error) {
        throw new UsageError(`--ca ${file}: ${(error as Error).message}`);
      }
    });
  }
  return options;
}

