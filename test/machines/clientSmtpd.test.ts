// The same client machine that drives the simulated world, driving a real TCP connection to
// smtpd (the server machine on real sockets), through a real STARTTLS handshake.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { createActor } from 'xstate';
import { clientMachine, type ClientReport } from '../../src/machines/client';
import { ReplyParser } from '../../src/protocol/reply';
import { startSmtpd, type RunningSmtpd } from '../../src/smtpd/server';

let smtpd: RunningSmtpd;
const accepted: string[] = [];

beforeAll(async () => {
  smtpd = await startSmtpd({ persona: 'friendly', port: 0, host: '127.0.0.1', hostname: 'mx1.example.net', summary: (line) => accepted.push(line) });
});

afterAll(async () => {
  await smtpd?.close();
});

/** Drive one delivery over a real socket; resolves with the machine's report and the wire log. */
function deliver(content: string): Promise<{ report: ClientReport; wire: string[] }> {
  return new Promise((resolve, reject) => {
    const wire: string[] = [];
    const parser = new ReplyParser();
    const client = createActor(clientMachine, {
      input: {
        clientName: 'client.example',
        tls: 'opportunistic',
        messages: [{ from: 'alice@example.com', recipients: ['bob@example.net', 'carol@example.net'], content }],
      },
    });
    let socket: Socket | TLSSocket = connect(smtpd.port, '127.0.0.1');
    const onData = (chunk: Buffer) => {
      wire.push(`<- ${chunk.toString('utf8').trimEnd()}`);
      for (const reply of parser.push(chunk.toString('utf8'))) client.send({ type: 'reply', reply });
    };
    socket.on('data', onData);
    socket.on('error', reject);
    client.on('send', ({ text }) => {
      wire.push(`-> ${text.trimEnd()}`);
      socket.write(text);
    });
    client.on('starttls', () => {
      const plain = socket as Socket;
      plain.removeListener('data', onData);
      const secure = tlsConnect({ socket: plain, servername: 'mx1.example.net', rejectUnauthorized: false });
      secure.on('data', onData);
      secure.on('error', (error) => client.send({ type: 'tls.failed', reason: error.message }));
      secure.once('secureConnect', () => {
        socket = secure;
        client.send({
          type: 'tls.established',
          report: {
            protocol: secure.getProtocol() ?? undefined,
            cipher: secure.getCipher()?.name,
            authorized: secure.authorized,
            ...(secure.authorizationError ? { authorizationError: String(secure.authorizationError) } : {}),
          },
        });
      });
    });
    client.on('close', () => socket.end());
    socket.on('close', () => client.send({ type: 'closed' }));
    client.subscribe({
      complete: () => resolve({ report: client.getSnapshot().output!, wire }),
      error: reject,
    });
    client.start();
  });
}

describe('client machine against smtpd over a real socket', () => {
  it('delivers to friendly through STARTTLS, with pipelining', async () => {
    const { report, wire } = await deliver('Subject: over a real socket\r\n\r\n.a line that starts with a dot\r\n');
    expect(report.tls).toBe('established');
    // smtpd's certificate is self-signed: opportunistic TLS uses it anyway, and says so.
    expect(report.tlsReport?.authorized).toBe(false);
    expect(report.tlsReport?.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(report.pipelined).toBe(true);
    expect(report.messages[0]!.recipients.map((r) => r.status)).toEqual(['delivered', 'delivered']);
    expect(report.endedBy).toBe('quit');
    expect(wire.filter((l) => l.startsWith('-> EHLO'))).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 50));
    expect(accepted.some((line) => line.includes('<bob@example.net>') && line.includes('"over a real socket"'))).toBe(true);
  });
});
