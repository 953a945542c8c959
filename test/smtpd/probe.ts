// A bare socket for the tests that need exact bytes on the wire (what no polite client sends).
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { ReplyParser, type Reply } from '../../src/protocol/reply';

export class SmtpProbe {
  private parser = new ReplyParser();
  private received: Reply[] = [];
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(private socket: Socket) {
    this.listen(socket);
  }

  static open(port: number): Promise<SmtpProbe> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new SmtpProbe(socket)));
      socket.once('error', reject);
    });
  }

  private listen(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.received.push(...this.parser.push(chunk.toString('utf8')));
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  write(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** The next `count` replies; rejects after `timeoutMs` or when the server closes first. */
  async replies(count: number, timeoutMs = 5000): Promise<Reply[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (this.closed) throw new Error(`connection closed after ${this.received.length} of ${count} replies: ${JSON.stringify(this.received)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${count} replies, got ${JSON.stringify(this.received)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received.splice(0, count);
  }

  async reply(timeoutMs?: number): Promise<Reply> {
    return (await this.replies(1, timeoutMs))[0]!;
  }

  /** Replies that came and were not taken yet. */
  pending(): Reply[] {
    return [...this.received];
  }

  /** Starts TLS on the same connection (after the server's 220 to STARTTLS). */
  async startTls(): Promise<TLSSocket> {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    this.parser = new ReplyParser();
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ socket: this.socket, rejectUnauthorized: false, servername: 'localhost' }, () => resolve(s));
      s.once('error', reject);
    });
    this.socket = secure;
    this.listen(secure);
    return secure;
  }

  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}
