/**
 * The browser's side of the bridge's wire format (docs/bridge-protocol.md), below the Link:
 * open one WebSocket, wait for the bridge's `hello`, exchange typed frames, and put every error
 * the bridge can report into plain words for the terminal.
 *
 * The page learns where the bridge is from `/config.json` (served by `npm start`): see
 * RealModeConfig.
 */
import { encodeMessage, parseBridgeMessage, type BridgeMessage, type ClientMessage, type ConnectTls, type ErrorMessage, type HelloMessage } from './wire';

/** What `/config.json` tells the page about real-network mode. */
export interface RealModeConfig {
  /** e.g. "ws://127.0.0.1:8787/". */
  bridgeUrl: string;
  /** The SMTP servers `npm start` runs on this machine, reachable through the bridge. */
  localSmtpd: LocalSmtpdEntry[];
}

export interface LocalSmtpdEntry {
  host: string;
  port: number;
  /** Persona id, e.g. "friendly". */
  persona: string;
  /** "implicit" for a port that speaks TLS from the first byte (RFC 8314). */
  tls: ConnectTls;
}

/**
 * The part of the WebSocket API used here. The browser's WebSocket has it; in Node 20 (which has
 * no global WebSocket) the `ws` package's WebSocket has it too.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number }) => void): void;
  addEventListener(type: 'open' | 'error', listener: () => void): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface BridgeSocketOptions {
  /** The WebSocket class to use; the global one by default. */
  WebSocketImpl?: WebSocketConstructor;
  /** How long to wait for the bridge's `hello`; 10 s by default. */
  openTimeoutMs?: number;
}

/**
 * The timers every browser and Node have, typed here so this folder compiles with neither DOM
 * nor Node types (the lab, a core folder, may import it).
 */
export const timers = globalThis as unknown as {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  queueMicrotask(callback: () => void): void;
};

/** WebSocket readyState OPEN, spelled out because a WebSocket class is not needed to read it. */
const OPEN = 1;
const DEFAULT_OPEN_TIMEOUT_MS = 10_000;

/** A failure the terminal prints as it is: `message` is plain words, `code`/`rule` say what the bridge reported. */
export class BridgeError extends Error {
  override name = 'BridgeError';
  constructor(
    message: string,
    /** A wire error code, or "bridge-unreachable" / "bridge-closed" / "protocol" for failures of the WebSocket itself. */
    readonly code: ErrorMessage['code'] | 'bridge-unreachable' | 'bridge-closed' | 'protocol',
    readonly rule?: string,
  ) {
    super(message);
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** Node's connect errors as a learner would say them. */
function connectFailureWords(target: string, detail: string): string {
  if (/ECONNREFUSED/.test(detail)) return `connection refused: nothing is listening on ${target}`;
  if (/ETIMEDOUT/.test(detail)) return `${target} did not answer (the connection attempt timed out)`;
  if (/EHOSTUNREACH|ENETUNREACH/.test(detail)) return `${target} cannot be reached from the bridge's network`;
  if (/ECONNRESET/.test(detail)) return `${target} reset the connection`;
  return `cannot connect to ${target}: ${detail.replace(/^cannot connect to \S+: /, '')}`;
}

/**
 * One bridge error in words for the terminal. `target` is "host:port" as the learner typed it.
 * The bridge's own message already names the address and the rule; this adds what it means.
 */
export function describeBridgeError(error: Pick<ErrorMessage, 'code' | 'rule' | 'message'>, target = 'the server'): string {
  // The bridge's sentences start by naming the target again; the terminal has just named it.
  const words = error.message.replace(/^\S+ is refused: /, '').replace(/^\S+ has no address: /, '');
  switch (error.code) {
    case 'refused-by-policy':
      return `The bridge refused to connect to ${target}: ${words} (policy rule: ${error.rule ?? 'unnamed'}).`;
    case 'dns-failed':
      return `Cannot find ${target.replace(/:\d+$/, '')}: ${words}.`;
    case 'connect-failed':
      return `No connection: ${connectFailureWords(target, error.message)}.`;
    case 'timeout':
      if (error.rule === 'idle') return `The bridge closed the connection: ${error.message} (idle limit).`;
      if (error.rule === 'session-length') return `The bridge closed the connection: ${error.message} (session length limit).`;
      return `Timed out: ${error.message}.`;
    case 'tls-failed':
      return `TLS failed: ${error.message}.`;
    case 'limit':
      return `The bridge ended the session because a limit was reached (${error.rule ?? 'limit'}): ${error.message}.`;
    case 'bad-frame':
      return `The bridge did not understand a request: ${error.message}.`;
    case 'not-connected':
      return `Not connected: ${error.message}.`;
  }
}

/** WebSocket close codes the bridge uses (docs/bridge-protocol.md, Transport). */
function closeCodeWords(code: number, bridgeUrl: string): string {
  switch (code) {
    case 1008:
      return 'the bridge ended the session because a limit was reached';
    case 1009:
      return 'the bridge refused a frame that was too large';
    case 1013:
      return 'the bridge is full right now; try again in a moment';
    default:
      return `the connection to the bridge at ${bridgeUrl} closed (code ${code})`;
  }
}

export type FrameHandler = (message: BridgeMessage) => void;

/** One open WebSocket to the bridge, after its `hello`. */
export interface BridgeSocket {
  readonly hello: HelloMessage;
  send(message: ClientMessage): void;
  /** Every bridge frame after `hello`, in order. */
  onFrame(handler: FrameHandler): void;
  /** Called once when the WebSocket is gone, with words for the reason. */
  onGone(handler: (words: string, code: number) => void): void;
  /** Close the WebSocket without a word to the bridge (use a `close` frame for an orderly end). */
  drop(): void;
  readonly isOpen: boolean;
}

/**
 * Open a WebSocket to the bridge and wait for `hello`. Rejects with a BridgeError in plain
 * words when the bridge cannot be reached: a browser is not told why an upgrade failed, so a
 * stopped bridge and a refused Origin look the same from here and the message names both.
 */
export function openBridgeSocket(bridgeUrl: string, options: BridgeSocketOptions = {}): Promise<BridgeSocket> {
  const Impl = options.WebSocketImpl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (Impl === undefined) {
    return Promise.reject(new BridgeError('this environment has no WebSocket: real-network mode needs a browser', 'bridge-unreachable'));
  }
  let ws: WebSocketLike;
  try {
    ws = new Impl(bridgeUrl);
  } catch (error) {
    return Promise.reject(new BridgeError(`the bridge address ${bridgeUrl} is not a WebSocket URL (${(error as Error).message})`, 'bridge-unreachable'));
  }
  return new Promise<BridgeSocket>((resolve, reject) => {
    let hello: HelloMessage | null = null;
    const frameHandlers: FrameHandler[] = [];
    const goneHandlers: Array<(words: string, code: number) => void> = [];
    /** Frames that came before anyone listened (several frames can arrive in one read). */
    const early: BridgeMessage[] = [];
    let gone: { words: string; code: number } | null = null;
    let lastError: ErrorMessage | null = null;

    const timer = timers.setTimeout(() => {
      if (hello) return;
      fail(new BridgeError(`no answer from the bridge at ${bridgeUrl} within ${seconds(options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS)}`, 'bridge-unreachable'));
      ws.close();
    }, options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS);

    let settled = false;
    const fail = (error: BridgeError): void => {
      if (settled) return;
      settled = true;
      timers.clearTimeout(timer);
      reject(error);
    };

    const socket: BridgeSocket = {
      get hello() {
        return hello!;
      },
      get isOpen() {
        return gone === null && ws.readyState === OPEN;
      },
      send(message) {
        if (gone !== null || ws.readyState !== OPEN) throw new BridgeError('the connection to the bridge is closed', 'bridge-closed');
        ws.send(encodeMessage(message));
      },
      onFrame(handler) {
        frameHandlers.push(handler);
        while (early.length > 0) {
          const frame = early.shift()!;
          for (const each of frameHandlers) each(frame);
        }
      },
      onGone(handler) {
        goneHandlers.push(handler);
        if (gone !== null) handler(gone.words, gone.code);
      },
      drop() {
        ws.close(1000);
      },
    };

    ws.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') return; // the bridge sends text frames only
      const parsed = parseBridgeMessage(event.data);
      if (!parsed.ok) return; // an unreadable frame carries nothing to act on
      const frame = parsed.message;
      if (frame.type === 'error') lastError = frame;
      if (hello === null) {
        if (frame.type === 'hello') {
          hello = frame;
          settled = true;
          timers.clearTimeout(timer);
          resolve(socket);
        }
        // Before hello the bridge only refuses a session (sessions limits), with error + closed.
        return;
      }
      // A snapshot: a handler added while this frame is dispatched starts with the next frame.
      if (frameHandlers.length === 0) early.push(frame);
      else for (const handler of [...frameHandlers]) handler(frame);
    });

    ws.addEventListener('close', (event) => {
      const words = lastError ? describeBridgeError(lastError) : closeCodeWords(event.code, bridgeUrl);
      if (hello === null) {
        fail(
          lastError
            ? new BridgeError(words, lastError.code, lastError.rule)
            : new BridgeError(
                `cannot reach the bridge at ${bridgeUrl}: is it running (npm start starts it), and was this page loaded from an origin it allows?`,
                'bridge-unreachable',
              ),
        );
      }
      gone = { words, code: event.code };
      for (const handler of goneHandlers) handler(words, event.code);
    });

    // An 'error' event is always followed by 'close', which reports it.
    ws.addEventListener('error', () => undefined);
  });
}
