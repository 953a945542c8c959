/** Builds session records by hand, the way the lab would fill them, for goal and runner tests. */
import type { Reply } from '../../src/protocol/reply';
import { emptyRecord, type SessionRecord, type WireDirection } from '../../src/lab/record';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K] };

export class RecordBuilder {
  readonly record: Mutable<SessionRecord> = { ...(emptyRecord() as Mutable<SessionRecord>) };
  private connection = 0;
  private host = '';

  constructor() {
    const r = this.record;
    r.typed = [];
    r.shell = [];
    r.wire = [];
    r.replies = [];
    r.connections = [];
    r.dns = [];
    r.deliveries = [];
    r.mailbox = [];
    r.states = [];
  }

  get now(): number {
    return this.record.clock;
  }

  tick(ms: number): this {
    this.record.clock += ms;
    return this;
  }

  shell(line: string, ok = true, outcome?: string): this {
    this.record.typed.push({ at: this.now, text: line, context: 'shell' });
    this.record.shell.push({ at: this.now, name: line.split(' ')[0]!, line, ok, ...(outcome === undefined ? {} : { outcome }) });
    return this;
  }

  connect(host: string, port = 25, by: 'learner' | 'autopilot' = 'learner', banner: Reply = { code: 220, lines: [`${host} ESMTP`] }): this {
    this.connection += 1;
    this.host = host;
    if (by === 'learner') this.shell(`telnet ${host} ${port}`);
    this.record.connections.push({ id: this.connection, host, port, openedAt: this.now, by });
    this.serverSays('BANNER', banner, by);
    return this;
  }

  tls(ok = true, authorized = true): this {
    const i = this.record.connections.findIndex((c) => c.id === this.connection);
    this.record.connections[i] = { ...this.record.connections[i]!, tls: { at: this.now, ok, authorized } };
    return this;
  }

  /** The client sends a command line and the server answers it. */
  command(line: string, reply: Reply, by: 'learner' | 'autopilot' = 'learner', tls = false): this {
    if (by === 'learner') this.record.typed.push({ at: this.now, text: line, context: 'smtp' });
    this.record.wire.push({ at: this.now, connection: this.connection, host: this.host, dir: tls ? '~>' : '->', text: line });
    const verb = line.split(/[\s:]/, 1)[0]!.toUpperCase();
    this.serverSays(verb, reply, by, tls);
    return this;
  }

  /** Lines of message content after 354, then the lone dot and the server's answer. */
  data(lines: string[], reply: Reply, by: 'learner' | 'autopilot' = 'learner'): this {
    for (const text of [...lines, '.']) {
      if (by === 'learner') this.record.typed.push({ at: this.now, text, context: 'data' });
      this.record.wire.push({ at: this.now, connection: this.connection, host: this.host, dir: '->', text });
    }
    this.serverSays('DATA-END', reply, by);
    return this;
  }

  /** Client lines sent together, before any reply (pipelining), then the replies in order. */
  pipeline(lines: string[], replies: Reply[]): this {
    for (const text of lines) {
      this.record.typed.push({ at: this.now, text, context: 'smtp' });
      this.record.wire.push({ at: this.now, connection: this.connection, host: this.host, dir: '->', text });
    }
    replies.forEach((reply, i) => this.serverSays(lines[i]!.split(/[\s:]/, 1)[0]!.toUpperCase(), reply, 'learner'));
    return this;
  }

  private serverSays(to: string, reply: Reply, by: 'learner' | 'autopilot', tls = false): void {
    this.record.replies.push({ at: this.now, connection: this.connection, host: this.host, to, reply, by });
    this.record.wire.push({
      at: this.now,
      connection: this.connection,
      host: this.host,
      dir: tls ? '<~' : '<-',
      text: `${reply.code} ${reply.enhanced ? `${reply.enhanced} ` : ''}${reply.lines[0] ?? ''}`,
    });
  }

  dns(name: string, type = 'MX', answers: string[] = []): this {
    this.record.dns.push({ at: this.now, name, type, status: 'NOERROR', answers });
    return this;
  }

  delivery(recipient: string, outcome: 'delivered' | 'bounced' | 'deferred', status?: string, host?: string): this {
    this.record.deliveries.push({
      at: this.now,
      from: 'alice@example.com',
      recipient,
      outcome,
      ...(status ? { status } : {}),
      ...(host ? { host } : {}),
    });
    return this;
  }

  mail(address: string, subject: string, raw = `Subject: ${subject}\r\n\r\nHello\r\n`): this {
    this.record.mailbox.push({ at: this.now, address, subject, isDsn: false, raw });
    return this;
  }

  /** A DSN for `address` about `recipient`; `report` gives the per-message fields (Original-Envelope-Id, what came back). */
  dsn(
    address: string,
    recipient: string,
    action: string,
    status: string,
    report: { originalEnvelopeId?: string; returnedContent?: 'headers' | 'full' | 'none' } = {},
  ): this {
    this.record.mailbox.push({
      at: this.now,
      address,
      subject: 'Undelivered Mail Returned to Sender',
      isDsn: true,
      dsn: [{ recipient: `rfc822;${recipient}`, action, status }],
      ...report,
      raw: `Action: ${action}\r\nStatus: ${status}\r\n`,
    });
    return this;
  }

  state(machine: 'server' | 'client' | 'delivery', state: string): this {
    this.record.states.push({ at: this.now, machine, state });
    return this;
  }
}

export const ok250 = (enhanced = '2.0.0', text = 'OK'): Reply => ({ code: 250, enhanced, lines: [text] });
export const r = (code: number, enhanced?: string, text = 'text'): Reply => (enhanced ? { code, enhanced, lines: [text] } : { code, lines: [text] });
