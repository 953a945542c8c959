/**
 * The bridge's WebSocket wire format, shared by the Node bridge (src/bridge) and the browser's
 * wsLink. One WebSocket carries one SMTP connection; every frame is a UTF-8 text frame holding
 * one JSON object whose `type` field names the message. docs/bridge-protocol.md describes each
 * message, field, error code and limit in prose.
 *
 * This module imports nothing (no Node, no DOM): both sides compile it as it is.
 */
import type { TlsReport } from '../protocol/tls';

/** Bumped when a message changes shape in a way an older peer would misread. */
export const BRIDGE_PROTOCOL_VERSION = 1;

/** Record types the bridge resolves for the terminal's `dig`. */
export const RESOLVE_TYPES = ['MX', 'A', 'AAAA', 'TXT'] as const;
export type ResolveType = (typeof RESOLVE_TYPES)[number];

export type ConnectTls = 'none' | 'implicit';

// ---------------------------------------------------------------------------------------------
// client -> bridge

/** Ask the bridge's resolver for one record type of one name; answered by `resolved` with the same id. */
export interface ResolveMessage {
  type: 'resolve';
  id: string;
  name: string;
  rrtype: ResolveType;
}

/** Open the TCP connection (plain, or TLS from the first byte as on port 465). Once per WebSocket. */
export interface ConnectMessage {
  type: 'connect';
  host: string;
  port: number;
  tls: ConnectTls;
  /** SNI name and the name the certificate is checked against; defaults to `host` when it is a name. */
  servername?: string;
}

/**
 * Upgrade the open connection to TLS. Send it after the server answered 220 to STARTTLS
 * (RFC 3207 section 4: the client begins the handshake only after that 220).
 */
export interface StartTlsMessage {
  type: 'starttls';
  servername?: string;
  /** Default false: the handshake completes and the `tls` report says whether the certificate verified. */
  rejectUnauthorized?: boolean;
}

/** Bytes for the server: `data` is text sent as UTF-8, `base64` is raw bytes. Exactly one of the two. */
export type SendMessage = { type: 'send'; data: string } | { type: 'send'; base64: string };

/** The browser is done: the bridge closes the TCP connection and then the WebSocket. */
export interface CloseMessage {
  type: 'close';
  reason?: string;
}

export type ClientMessage = ResolveMessage | ConnectMessage | StartTlsMessage | SendMessage | CloseMessage;

// ---------------------------------------------------------------------------------------------
// bridge -> client

/** The limits a session runs under, as announced in `hello`. Sizes in bytes, times in milliseconds. */
export interface BridgeLimits {
  maxSessionsPerClient: number;
  maxSessionsTotal: number;
  idleMs: number;
  sessionMs: number;
  connectTimeoutMs: number;
  maxBytesToServer: number;
  maxBytesFromServer: number;
  /** `send` frames per session. */
  maxSendFrames: number;
  /** `resolve` frames per session. */
  maxResolves: number;
  /** Malformed frames tolerated (each answered by a `bad-frame` error) before the session is ended. */
  maxBadFrames: number;
  /** Largest client frame, in bytes of its JSON text. */
  maxFrameBytes: number;
}

/** What the target policy allows, in terms a learner can read in the terminal. */
export interface PolicySummary {
  /** Ports allowed on loopback addresses (the mail ports plus the local smtpd's ports). */
  loopbackPorts: number[];
  allowPublic: boolean;
  /** Ports allowed on public addresses when `allowPublic` is on. */
  publicPorts: number[];
  /** Explicit `HOST:PORT` allowances. */
  allow: string[];
  /** CIDR ranges allowed (on the loopback mail ports). */
  allowCidr: string[];
  /** One sentence per rule, e.g. "private-ipv4: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 are refused". */
  rules: string[];
}

export interface HelloMessage {
  type: 'hello';
  version: number;
  limits: BridgeLimits;
  policy: PolicySummary;
}

export type ResolveAnswer =
  | { rrtype: 'MX'; exchange: string; preference: number }
  | { rrtype: 'A'; address: string; ttl: number }
  | { rrtype: 'AAAA'; address: string; ttl: number }
  | { rrtype: 'TXT'; text: string; chunks: string[] };

/** Why a lookup gave no answers, in the words dig uses (status NXDOMAIN, SERVFAIL, ...). */
export type ResolveErrorCode = 'nxdomain' | 'nodata' | 'servfail' | 'refused' | 'timeout' | 'bad-name' | 'limit' | 'failed';

export type ResolvedMessage =
  | { type: 'resolved'; id: string; name: string; rrtype: ResolveType; answers: ResolveAnswer[] }
  | { type: 'resolved'; id: string; name: string; rrtype: ResolveType; error: { code: ResolveErrorCode; message: string } };

export interface ConnectedMessage {
  type: 'connected';
  /** The address the bridge checked and connected to: never looked up a second time. */
  remoteAddress: string;
  remotePort: number;
  /** The name the browser asked for, when it asked for a name; null for an address literal. */
  resolvedFrom: string | null;
  tls: ConnectTls;
}

/** Bytes from the server, decoded as UTF-8 (a character split across TCP segments is kept whole). */
export interface DataMessage {
  type: 'data';
  text: string;
}

export type { CertificateReport } from '../protocol/tls';

/** The handshake's outcome as the bridge reports it (the shape is `protocol/tls.ts`'s). */
export type TlsMessage = { type: 'tls' } & TlsReport;

export const ERROR_CODES = [
  'refused-by-policy',
  'dns-failed',
  'connect-failed',
  'timeout',
  'tls-failed',
  'limit',
  'bad-frame',
  'not-connected',
] as const;
export type BridgeErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorMessage {
  type: 'error';
  code: BridgeErrorCode;
  /** For `refused-by-policy`: the policy rule that refused; for `limit`: the limit's name. */
  rule?: string;
  /** Plain words for the terminal. */
  message: string;
}

export type ClosedBy = 'server' | 'client' | 'bridge';

export interface ClosedMessage {
  type: 'closed';
  by: ClosedBy;
  reason: string;
}

export type BridgeMessage =
  | HelloMessage
  | ResolvedMessage
  | ConnectedMessage
  | DataMessage
  | TlsMessage
  | ErrorMessage
  | ClosedMessage;

// ---------------------------------------------------------------------------------------------
// validation

export type ParseResult<T> = { ok: true; message: T } | { ok: false; error: string };

/** Longest host name in DNS (RFC 1035 section 2.3.4), plus brackets around an IPv6 literal. */
const MAX_HOST_LENGTH = 255;
const MAX_ID_LENGTH = 64;
const MAX_REASON_LENGTH = 200;
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const CLIENT_FIELDS: Record<ClientMessage['type'], readonly string[]> = {
  resolve: ['type', 'id', 'name', 'rrtype'],
  connect: ['type', 'host', 'port', 'tls', 'servername'],
  starttls: ['type', 'servername', 'rejectUnauthorized'],
  send: ['type', 'data', 'base64'],
  close: ['type', 'reason'],
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? 'a string' : `a ${typeof value}`;
}

function checkShortText(field: string, value: unknown, maxLength: number): string | null {
  if (typeof value !== 'string') return `"${field}" must be a string, got ${describe(value)}`;
  if (value.length === 0) return `"${field}" must not be empty`;
  if (value.length > maxLength) return `"${field}" is longer than ${maxLength} characters`;
  // Control characters in a host or id are never legitimate and would garble the session log.
  if (/[\u0000-\u001f\u007f]/.test(value)) return `"${field}" contains a control character`;
  return null;
}

/**
 * Check one client frame. Never throws: a malformed frame gives `{ok: false, error}` with a
 * sentence naming what is wrong, which the bridge returns to the browser as a `bad-frame` error.
 */
export function parseClientMessage(json: string): ParseResult<ClientMessage> {
  const fail = (error: string): ParseResult<ClientMessage> => ({ ok: false, error });
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return fail('the frame is not valid JSON');
  }
  if (!isPlainObject(value)) return fail(`the frame must be a JSON object, got ${describe(value)}`);
  const type = value.type;
  if (typeof type !== 'string') return fail('the frame has no "type" string');
  if (!Object.prototype.hasOwnProperty.call(CLIENT_FIELDS, type)) {
    return fail(`unknown message type "${type.slice(0, 40)}" (expected one of: ${Object.keys(CLIENT_FIELDS).join(', ')})`);
  }
  const messageType = type as ClientMessage['type'];
  const unknownField = Object.keys(value).find((key) => !CLIENT_FIELDS[messageType].includes(key));
  if (unknownField !== undefined) return fail(`"${messageType}" has an unknown field "${unknownField.slice(0, 40)}"`);

  switch (messageType) {
    case 'resolve': {
      const problem = checkShortText('id', value.id, MAX_ID_LENGTH) ?? checkShortText('name', value.name, MAX_HOST_LENGTH);
      if (problem) return fail(`resolve: ${problem}`);
      if (typeof value.rrtype !== 'string' || !(RESOLVE_TYPES as readonly string[]).includes(value.rrtype)) {
        return fail(`resolve: "rrtype" must be one of ${RESOLVE_TYPES.join(', ')}`);
      }
      return { ok: true, message: { type: 'resolve', id: value.id as string, name: value.name as string, rrtype: value.rrtype as ResolveType } };
    }
    case 'connect': {
      const problem = checkShortText('host', value.host, MAX_HOST_LENGTH);
      if (problem) return fail(`connect: ${problem}`);
      const port = value.port;
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
        return fail('connect: "port" must be a whole number from 1 to 65535');
      }
      if (value.tls !== 'none' && value.tls !== 'implicit') return fail('connect: "tls" must be "none" or "implicit"');
      const message: ConnectMessage = { type: 'connect', host: value.host as string, port, tls: value.tls };
      if (value.servername !== undefined) {
        const nameProblem = checkShortText('servername', value.servername, MAX_HOST_LENGTH);
        if (nameProblem) return fail(`connect: ${nameProblem}`);
        message.servername = value.servername as string;
      }
      return { ok: true, message };
    }
    case 'starttls': {
      const message: StartTlsMessage = { type: 'starttls' };
      if (value.servername !== undefined) {
        const nameProblem = checkShortText('servername', value.servername, MAX_HOST_LENGTH);
        if (nameProblem) return fail(`starttls: ${nameProblem}`);
        message.servername = value.servername as string;
      }
      if (value.rejectUnauthorized !== undefined) {
        if (typeof value.rejectUnauthorized !== 'boolean') return fail('starttls: "rejectUnauthorized" must be true or false');
        message.rejectUnauthorized = value.rejectUnauthorized;
      }
      return { ok: true, message };
    }
    case 'send': {
      const hasData = value.data !== undefined;
      const hasBase64 = value.base64 !== undefined;
      if (hasData === hasBase64) return fail('send: give exactly one of "data" (text) or "base64" (bytes)');
      if (hasData) {
        if (typeof value.data !== 'string') return fail(`send: "data" must be a string, got ${describe(value.data)}`);
        return { ok: true, message: { type: 'send', data: value.data } };
      }
      if (typeof value.base64 !== 'string' || !BASE64_PATTERN.test(value.base64)) {
        return fail('send: "base64" must be standard padded base64 (A-Z a-z 0-9 + /, "=" padding)');
      }
      return { ok: true, message: { type: 'send', base64: value.base64 } };
    }
    case 'close': {
      const message: CloseMessage = { type: 'close' };
      if (value.reason !== undefined) {
        if (typeof value.reason !== 'string' || value.reason.length > MAX_REASON_LENGTH) {
          return fail(`close: "reason" must be a string of at most ${MAX_REASON_LENGTH} characters`);
        }
        message.reason = value.reason;
      }
      return { ok: true, message };
    }
  }
}

const BRIDGE_TYPES: ReadonlySet<string> = new Set(['hello', 'resolved', 'connected', 'data', 'tls', 'error', 'closed']);

/**
 * Read one bridge frame on the browser side. It checks the envelope (JSON object, known `type`)
 * and the fields the browser acts on; the bridge is trusted to fill the rest as typed above.
 */
export function parseBridgeMessage(json: string): ParseResult<BridgeMessage> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { ok: false, error: 'the bridge sent a frame that is not valid JSON' };
  }
  if (!isPlainObject(value) || typeof value.type !== 'string' || !BRIDGE_TYPES.has(value.type)) {
    return { ok: false, error: 'the bridge sent a frame of no known type' };
  }
  if (value.type === 'data' && typeof value.text !== 'string') return { ok: false, error: 'data frame without "text"' };
  if (value.type === 'error' && (typeof value.code !== 'string' || typeof value.message !== 'string')) {
    return { ok: false, error: 'error frame without "code" and "message"' };
  }
  if (value.type === 'closed' && typeof value.by !== 'string') return { ok: false, error: 'closed frame without "by"' };
  return { ok: true, message: value as unknown as BridgeMessage };
}

/** The one way either side writes a frame, so both agree on the encoding. */
export function encodeMessage(message: ClientMessage | BridgeMessage): string {
  return JSON.stringify(message);
}
