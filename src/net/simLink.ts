/**
 * A `Link` to a host of the simulated world. The server end is the world's (a server session
 * machine with the host's persona backend, on the world's virtual clock); this adds what a
 * socket adds: the server's output arrives asynchronously (a microtask later), a host that is
 * down refuses at once or times out (after the connect timeout, in virtual time), and TLS is a
 * handshake whose certificate may or may not verify.
 *
 * Virtual time: when the server holds a reply back (a tarpit, a slow banner), the link moves the
 * world's clock on to when it is due, unless `autoAdvance: false` (then the UI advances time).
 */
import type { ServerEnd, World } from '../sim/world';
import { ConnectError, LinkEmitter, type Link, type LinkEvents, type LinkFactory, type TlsReport } from './link';

export interface SimLinkOptions {
  /** The client's address as servers see it (default: the learner's). */
  peerAddress?: string;
  /** Move virtual time on while the server holds a reply back (default true). */
  autoAdvance?: boolean;
  /** How long a connection to a host that is down and silent takes to fail (default 30s virtual). */
  connectTimeoutMs?: number;
  /** Longest single wait the link advances the clock for (default 1 hour virtual). */
  maxAutoAdvanceMs?: number;
  /** TLS from the first byte (RFC 8314); default on port 465. Call startTls() at once. */
  implicitTls?: boolean;
}

class SimLink implements Link {
  readonly host: string;
  readonly port: number;
  private readonly server: ServerEnd;
  private readonly world: World;
  private readonly options: SimLinkOptions;
  private readonly events = new LinkEmitter();
  private isClosed = false;
  private isSecure = false;
  /** Data and close from before the first listener, so the banner is never lost. */
  private early: Array<{ event: 'data'; text: string } | { event: 'close'; payload: LinkEvents['close'] }> = [];
  private anyListener = false;

  constructor(world: World, server: ServerEnd, options: SimLinkOptions) {
    this.world = world;
    this.server = server;
    this.host = server.host;
    this.port = server.port;
    this.options = options;
    server.onReply((_reply, wire) => this.later(() => this.deliver({ event: 'data', text: wire })));
    server.onClose((by, reason) => this.later(() => this.finish(by, reason)));
    server.start();
    this.nudgeClock();
  }

  get secure(): boolean {
    return this.isSecure;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get serverState(): string {
    return this.server.isClosed ? 'closed' : this.server.machineState;
  }

  send(text: string): void {
    if (this.isClosed) return;
    this.server.write(text);
    this.nudgeClock();
  }

  startTls(): Promise<TlsReport> {
    return new Promise((resolve, reject) => {
      if (this.isClosed) {
        reject(new Error('the connection is closed'));
        return;
      }
      this.server.startHandshake((result) => {
        this.later(() => {
          if (result.ok) {
            this.isSecure = true;
            this.events.emit('tls', result.report);
            resolve(result.report);
          } else {
            reject(new Error(result.reason));
            this.finish('server', result.reason);
          }
        });
      });
    });
  }

  close(): void {
    if (this.isClosed) return;
    this.server.disconnect('client closed the connection');
    this.finish('client', 'closed by the client');
  }

  on<E extends keyof LinkEvents>(event: E, listener: (payload: LinkEvents[E]) => void): () => void {
    const off = this.events.on(event, listener);
    if (!this.anyListener && (event === 'data' || event === 'close')) {
      this.anyListener = true;
      const early = this.early;
      this.early = [];
      void Promise.resolve().then(() => {
        for (const item of early) {
          if (item.event === 'data') this.events.emit('data', item.text);
          else this.events.emit('close', item.payload);
        }
      });
    }
    return off;
  }

  private deliver(item: { event: 'data'; text: string }): void {
    if (!this.anyListener) this.early.push(item);
    else this.events.emit('data', item.text);
  }

  private finish(by: 'server' | 'client', reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const payload = { by, reason };
    if (!this.anyListener) this.early.push({ event: 'close', payload });
    else this.events.emit('close', payload);
  }

  private later(fn: () => void): void {
    void Promise.resolve().then(fn);
  }

  /** Let virtual time pass while the server holds a reply back, as the wall clock would. */
  private nudgeClock(): void {
    if (this.options.autoAdvance === false) return;
    const limit = this.options.maxAutoAdvanceMs ?? 3_600_000;
    void Promise.resolve().then(() => {
      const start = this.world.clock.now();
      while (this.server.waitingOnServer) {
        const next = this.world.clock.nextDueAt();
        if (next === undefined || next - start > limit) break;
        this.world.clock.advanceTo(Math.max(next, this.world.clock.now()));
      }
    });
  }
}

/** Connect to `host:port` in `world` (a name or an address). Rejects with a `ConnectError`. */
export function connectSim(world: World, host: string, port: number, options: SimLinkOptions = {}): Promise<Link> {
  const timeoutMs = options.connectTimeoutMs ?? 30_000;
  const result = world.connect(host, port, {
    ...(options.peerAddress ? { peerAddress: options.peerAddress } : {}),
    ...(options.implicitTls !== undefined ? { implicitTls: options.implicitTls } : {}),
    timeoutMs,
  });
  if (result.ok) return Promise.resolve(new SimLink(world, result.connection, options));
  if (result.error === 'timeout') {
    // A silent host: nothing happens until the connect timeout runs out, in virtual time.
    if (options.autoAdvance !== false) world.advance(timeoutMs);
    return Promise.reject(new ConnectError('timeout', result.message));
  }
  return Promise.reject(new ConnectError(result.error, result.message));
}

/** A `LinkFactory` over the world, for code that does not care which transport it gets. */
export function simLinkFactory(world: World, options: SimLinkOptions = {}): LinkFactory {
  return (host, port) => connectSim(world, host, port, options);
}
