// One SMTP connection on a real socket: bytes in through the line framer to the server session
// machine, replies out in order, STARTTLS as a real TLS upgrade of the same TCP connection.
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { createActor, type Actor } from 'xstate';
import { formatReply, type Reply } from '../protocol/reply';
import { Replies } from '../protocol/replies';
import { LineFramer, type FramedLine } from '../protocol/framing';
import { utf8Encode } from '../protocol/utf8';
import { serverMachine, type LineEvent, type ServerEmitted } from '../machines/server';
import type { ServerBackend, TlsInfo, TlsHandshakePlan } from '../machines/backend';
import { silentLogger, type SmtpdLogger } from './log';
import type { MessageStore } from './store';

export interface ConnectionContext {
  id: number;
  backend: ServerBackend;
  /**
   * The certificate for a handshake the persona planned: 'ok' gets the server's own, the
   * 'self-signed' and 'wrong-name' plans one no verifying client accepts.
   */
  secureContextFor(plan: Exclude<TlsHandshakePlan, 'fail'>): Promise<SecureContext>;
  store: MessageStore;
  logger: SmtpdLogger;
  /** How long the server waits for the next line (RFC 5321 §4.5.3.2.7: at least 5 minutes). */
  idleTimeoutMs: number;
  /** How long a TLS handshake may take before the connection is dropped. */
  handshakeTimeoutMs: number;
  onClosed(): void;
}

type ServerActor = Actor<typeof serverMachine>;

type AcceptedEvent = Extract<ServerEmitted, { type: 'accepted' }>;

/**
 * Wires one socket to one `serverMachine` actor.
 *
 * Output goes through a single promise chain, so replies leave in the order the machine gave
 * them (RFC 2920 §3.1: replies to pipelined commands in command order) and a 250 after DATA
 * waits until the message is on disk.
 */
export class SmtpConnection {
  private socket: Socket;
  private tls: boolean;
  private framer = new LineFramer();
  private readonly actor: ServerActor;
  private output: Promise<void> = Promise.resolve();
  /** Tasks in the output chain not yet finished; at 0 a plain reply can be written at once. */
  private outputPending = 0;
  /** False with the silent logger: then no log text is built at all. */
  private readonly logging: boolean;
  /** Set between the STARTTLS 220 and the end of the handshake: input is not read as SMTP. */
  private upgrading = false;
  private closing = false;
  private closed = false;
  /** The store failed for the message just received: its 250 must not be sent. */
  private storeFailure: string | undefined;
  private inData = false;
  private dataLines = 0;
  private dataOctets = 0;
  private readonly peer: { address: string; port: number };
  private readonly onData = (chunk: Buffer) => this.receive(chunk);

  constructor(
    socket: Socket,
    private readonly context: ConnectionContext,
    implicitTls?: TlsInfo,
  ) {
    this.socket = socket;
    this.logging = context.logger !== silentLogger;
    this.tls = implicitTls !== undefined;
    this.peer = { address: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0 };
    const input = implicitTls ? { backend: context.backend, peer: this.peer, implicitTls } : { backend: context.backend, peer: this.peer };
    this.actor = createActor(serverMachine, { input });
    this.actor.on('*', (event) => this.emitted(event));
    // A failure inside the session must end this connection, not the whole server (XState
    // rethrows errors of actors that nobody observes).
    this.actor.subscribe({
      error: (error) => {
        this.log('event', `session error: ${(error as Error).message ?? String(error)}`);
        this.closing = true;
        this.socket.destroy();
      },
    });

    if (this.logging) {
      this.log('event', `connection from ${this.peer.address}:${this.peer.port}${implicitTls ? ` (implicit TLS, ${describeTls(implicitTls)})` : ''}`);
    }
    socket.setNoDelay(true);
    socket.setTimeout(context.idleTimeoutMs, () => this.idleTimeout());
    this.attach(socket);
    this.actor.start();
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('error', (error) => this.log('event', `socket error: ${error.message}`));
    socket.on('close', () => this.finish());
  }

  private receive(chunk: Buffer): void {
    if (this.upgrading || this.closing) return;
    const lines = this.framer.push(chunk);
    // Message lines after the 354 only feed the machine's collector: all those of one read go
    // in as one `lines` event. Nothing is sent while they are gathered, so `upgrading` and
    // `closing` cannot change under them.
    let content: LineEvent[] | undefined;
    // RFC 2920: every command in one read is handled, in order.
    for (const line of lines) {
      if (this.upgrading || this.closing) break;
      const event: LineEvent = { type: 'line', text: line.text, ending: line.ending, tooLong: line.tooLong };
      if (this.inData && line.text !== '.') {
        this.countDataLine(line);
        (content ??= []).push(event);
        continue;
      }
      if (content) {
        this.sendContent(content);
        content = undefined;
      }
      this.logClientLine(line);
      this.actor.send(event);
    }
    if (content) this.sendContent(content);
  }

  private sendContent(lines: LineEvent[]): void {
    this.actor.send(lines.length === 1 ? lines[0]! : { type: 'lines', lines });
  }

  private countDataLine(line: FramedLine): void {
    this.dataLines += 1;
    this.dataOctets += line.octets + (line.ending === 'crlf' ? 2 : 1);
  }

  private logClientLine(line: FramedLine): void {
    if (!this.logging) {
      if (this.inData && line.text === '.') this.inData = false;
      else if (this.inData) this.countDataLine(line);
      return;
    }
    if (this.inData) {
      if (line.text === '.') {
        this.log('client', `[message: ${this.dataLines} lines, ${this.dataOctets} octets]`);
        this.log('client', '.');
        this.inData = false;
      } else {
        this.countDataLine(line);
      }
      return;
    }
    this.log('client', line.ending === 'lf' ? `${line.text} [bare LF]` : line.text);
  }

  // ── Output, in order ──────────────────────────────────────────────────────────────────────

  /**
   * The machine emits synchronously, in wire order, and puts `accepted` after the 250 that
   * acknowledges the message. Emits are gathered until the current turn ends, so the store can
   * be put ahead of that 250: the 250 then goes out only once the message is on disk.
   */
  private batch: ServerEmitted[] = [];

  private emitted(event: ServerEmitted): void {
    // State changes the input loop must see at once, before it feeds the next pipelined line.
    if (event.type === 'starttls') {
      this.upgrading = true;
      // Keep the ClientHello (and anything after it) in the socket's buffer for the TLS layer.
      this.socket.pause();
    }
    if (event.type === 'close') this.closing = true;
    if (event.type === 'reply' && event.reply.code === 354) {
      this.inData = true;
      this.dataLines = 0;
      this.dataOctets = 0;
    }
    if (this.batch.push(event) === 1) queueMicrotask(() => this.flush());
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    if (this.outputPending === 0 && this.storeFailure === undefined && batch.every((event) => event.type === 'reply')) {
      // Nothing is waiting (no message being stored, no TLS upgrade, no close): the replies go
      // out now, in one write, without a turn through the output chain. The socket keeps the
      // order of writes, so anything queued later still follows them.
      let text = '';
      for (const event of batch) text += formatReply((event as Extract<ServerEmitted, { type: 'reply' }>).reply);
      this.writeNow(text);
      return;
    }
    let heldReply: Reply | undefined;
    const releaseReply = () => {
      if (heldReply) this.enqueueReply(heldReply);
      heldReply = undefined;
    };
    for (const event of batch) {
      switch (event.type) {
        case 'reply':
          releaseReply();
          heldReply = event.reply;
          break;
        case 'accepted':
          this.enqueueStore(event);
          releaseReply();
          break;
        case 'starttls':
          releaseReply();
          this.beginStartTls(event.handshake);
          break;
        case 'close':
          releaseReply();
          this.enqueueClose(event.reason);
          break;
      }
    }
    releaseReply();
  }

  private enqueue(task: () => Promise<void> | void): void {
    this.outputPending += 1;
    // Two promises per task rather than three (this runs for every stored message), and no
    // callbacks kept per connection (an idle connection never gets here).
    this.output = this.output.then(task).then(
      () => {
        this.outputPending -= 1;
      },
      (error: unknown) => {
        this.log('event', `internal error: ${(error as Error).message}`);
        this.socket.destroy();
        this.outputPending -= 1;
      },
    );
  }

  private enqueueReply(reply: Reply): void {
    this.enqueue(async () => {
      let sent = reply;
      if (this.storeFailure !== undefined && reply.code >= 200 && reply.code < 300) {
        // The machine accepted the message but it never reached the disk: say so instead of 250.
        sent = Replies.localError(this.storeFailure);
        this.storeFailure = undefined;
      }
      await this.write(formatReply(sent));
    });
  }

  private enqueueStore(accepted: AcceptedEvent): void {
    // The session facts as they were when the message ended (same turn as the emit).
    const facts = this.actor.getSnapshot().context.facts;
    this.enqueue(async () => {
      try {
        const where = await this.context.store.store({
          queueId: accepted.queueId,
          from: accepted.envelope.reversePath,
          recipients: accepted.envelope.recipients.map((r) => r.address),
          // A real MTA stores its Received field on top (RFC 5321 §4.4); the content follows as
          // sent, byte for byte: octets that were not UTF-8 come back from the framer's text
          // (an ISO-8859-1 body under 8BITMIME, RFC 6152), where Buffer's encoder would write U+FFFD.
          content: Buffer.from(utf8Encode(accepted.message.received + accepted.message.text)),
          client: `${this.peer.address}:${this.peer.port}`,
          ...(facts.heloName !== undefined ? { heloName: facts.heloName } : {}),
          ...(facts.tls ? { tls: facts.tlsInfo ? describeTls(facts.tlsInfo) : 'yes' } : {}),
          ...(facts.authenticatedUser !== undefined ? { authenticatedAs: facts.authenticatedUser } : {}),
          receivedAt: new Date(),
        });
        if (this.logging) this.log('event', `message ${accepted.queueId} stored: ${where}`);
      } catch (error) {
        this.storeFailure = 'message could not be stored';
        this.log('event', `message ${accepted.queueId} NOT stored: ${(error as Error).message}`);
      }
    });
  }

  private enqueueClose(reason?: string): void {
    this.enqueue(() => {
      this.log('event', `closing${reason ? `: ${reason}` : ''}`);
      this.socket.end();
      // A client that never closes its side does not keep the socket forever.
      setTimeout(() => this.socket.destroy(), 2000).unref();
    });
  }

  private write(text: string): Promise<void> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.resolve();
    this.logServerText(text);
    return new Promise((resolve) => {
      this.socket.write(text, () => resolve());
    });
  }

  /** `write` for when nothing waits on the write's completion. */
  private writeNow(text: string): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    this.logServerText(text);
    this.socket.write(text);
  }

  private logServerText(text: string): void {
    if (!this.logging) return;
    for (const line of text.split('\r\n').slice(0, -1)) this.log('server', line);
  }

  // ── STARTTLS (RFC 3207) ─────────────────────────────────────────────────────────────────

  private beginStartTls(plan: TlsHandshakePlan): void {
    // RFC 3207 §4.2 / CVE-2011-0411: anything the client pipelined after STARTTLS arrived in
    // plaintext and must not be read as commands of the TLS session (`upgrading` is already set).
    this.enqueue(() => this.upgrade(plan));
  }

  private async upgrade(plan: TlsHandshakePlan): Promise<void> {
    const raw = this.socket;
    raw.removeListener('data', this.onData);
    // The TLS socket keeps its own idle timer from here on.
    raw.setTimeout(0);
    this.framer = new LineFramer();
    if (plan === 'fail') {
      // Bytes that are not a TLS record where the ServerHello should be: the client's
      // handshake fails on its first read. They go out once the ClientHello has come: written
      // at once, they can reach the client in the same read as the 220, and a careful client
      // (curl) then refuses data sent after the STARTTLS reply (CVE-2021-22947) instead of
      // trying the handshake, which is not the failure this persona teaches.
      const answer = () => {
        clearTimeout(timer);
        this.log('event', 'TLS: answering the ClientHello with plaintext (this persona breaks the handshake)');
        raw.end(notTls);
        this.actor.send({ type: 'tls.failed', reason: 'handshake broken on purpose' });
      };
      const timer = setTimeout(() => {
        raw.removeListener('data', answer);
        this.log('event', 'TLS handshake timed out');
        raw.destroy();
        this.actor.send({ type: 'tls.failed', reason: 'no ClientHello in time' });
      }, this.context.handshakeTimeoutMs);
      raw.once('data', answer);
      raw.once('close', () => clearTimeout(timer));
      // Reading may have been paused while the session's replies were written.
      raw.resume();
      return;
    }
    if (plan !== 'ok') this.log('event', `TLS: serving a certificate no client should trust (${plan})`);
    const secureContext = await this.context.secureContextFor(plan);
    if (raw.destroyed) return;
    const secure = new TLSSocket(raw, { isServer: true, secureContext });
    const timer = setTimeout(() => {
      this.log('event', 'TLS handshake timed out');
      secure.destroy();
    }, this.context.handshakeTimeoutMs);
    secure.once('secure', () => {
      clearTimeout(timer);
      const info = tlsInfoOf(secure);
      this.socket = secure;
      this.tls = true;
      this.upgrading = false;
      this.log('event', `TLS established: ${describeTls(info)}`);
      secure.on('data', this.onData);
      secure.on('error', (error) => this.log('event', `TLS error: ${error.message}`));
      secure.setTimeout(this.context.idleTimeoutMs, () => this.idleTimeout());
      this.actor.send({ type: 'tls.established', info });
    });
    secure.once('error', (error) => {
      clearTimeout(timer);
      if (this.socket === secure) return;
      this.log('event', `TLS handshake failed: ${error.message}`);
      this.actor.send({ type: 'tls.failed', reason: error.message });
      secure.destroy();
      raw.destroy();
    });
  }

  private idleTimeout(): void {
    if (this.closing) return;
    this.log('event', 'idle timeout');
    this.closing = true;
    this.stopSession();
    this.enqueue(async () => {
      await this.write(formatReply(Replies.timeout(this.context.backend.hostname)));
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
    });
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopSession();
    this.log('event', 'connection closed');
    this.context.onClosed();
  }

  /** Tells the session the peer is gone (the persona hears of it) and stops it, once. */
  private stopSession(): void {
    if (this.actor.getSnapshot().status !== 'active') return;
    this.actor.send({ type: 'disconnect' });
    this.actor.stop();
  }

  private log(direction: 'client' | 'server' | 'event', text: string): void {
    this.context.logger.line(this.context.id, direction, text, this.tls);
  }

  /** Ends the connection now (server shutdown). */
  destroy(): void {
    this.socket.destroy();
  }
}

/** What a broken TLS server sends instead of a ServerHello. */
export const notTls = 'this is not a TLS handshake\r\n';

export function tlsInfoOf(socket: TLSSocket): TlsInfo {
  const cipher = socket.getCipher();
  const protocol = socket.getProtocol();
  const serverName = (socket as TLSSocket & { servername?: string | false }).servername;
  return {
    ...(protocol ? { protocol } : {}),
    ...(cipher ? { cipher: cipher.standardName ?? cipher.name } : {}),
    ...(typeof serverName === 'string' && serverName ? { serverName } : {}),
  };
}

export function describeTls(info: TlsInfo): string {
  return [info.protocol, info.cipher, info.serverName ? `SNI ${info.serverName}` : undefined].filter(Boolean).join(' ');
}
