import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { buildMessage, idleConnections, runLoad } from './loadClient';

/** nodemailer's smtp-server in this process: a real peer that refuses one recipient. */
let server: SMTPServer;
let port: number;
const received: { recipients: string[]; text: string }[] = [];
let connectionsSeen = 0;

beforeAll(async () => {
  server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    disableReverseLookup: true,
    logger: false,
    onConnect(_session, callback) {
      connectionsSeen++;
      callback();
    },
    onRcptTo(address, _session, callback) {
      if (address.address === 'refused@example.net') {
        const error = Object.assign(new Error('no such mailbox'), { responseCode: 550 });
        callback(error);
      } else {
        callback();
      }
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({ recipients: session.envelope.rcptTo.map((r) => r.address), text: Buffer.concat(chunks).toString('latin1') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('runLoad against a real SMTP server', () => {
  it('delivers C x M messages and the server receives each one whole', async () => {
    const before = received.length;
    const result = await runLoad({ port, connections: 3, messagesPerConnection: 4, messageBytes: 600 });
    expect(result).toMatchObject({ delivered: 12, failed: 0, errors: 0, pipelined: false });
    expect(result.errorSamples).toEqual([]);
    expect(result.messagesPerSecond).toBeGreaterThan(0);
    expect(result.latencyMs!.p50).toBeLessThanOrEqual(result.latencyMs!.p95);
    const arrived = received.slice(before);
    expect(arrived).toHaveLength(12);
    // smtp-server hands over the content without the terminating "." line.
    const expected = buildMessage('load@example.com', 'inbox@example.net', 600).slice(0, -'.\r\n'.length);
    for (const message of arrived) {
      expect(message.recipients).toEqual(['inbox@example.net']);
      expect(message.text).toBe(expected);
    }
  });

  it('counts every refused recipient as an error, resets, and carries on', async () => {
    const before = received.length;
    const result = await runLoad({ port, connections: 2, messagesPerConnection: 3, recipient: 'refused@example.net' });
    expect(result.delivered).toBe(0);
    expect(result.failed).toBe(6);
    expect(result.errors).toBe(6);
    expect(result.errorSamples[0]).toMatchObject({ step: 'RCPT', expected: '250|251' });
    expect(result.errorSamples[0]!.got).toMatch(/^550 /);
    expect(result.latencyMs).toBeNull();
    expect(received.length).toBe(before);
  });

  it('pipelines MAIL, RCPT and DATA when asked and offered', async () => {
    const result = await runLoad({ port, connections: 2, messagesPerConnection: 5, pipelining: true });
    expect(result).toMatchObject({ delivered: 10, errors: 0, pipelined: true });
  });

  it('refuses nonsense sizes', async () => {
    await expect(runLoad({ port, connections: 0, messagesPerConnection: 1 })).rejects.toThrow(/connections/);
    await expect(runLoad({ port, connections: 1, messagesPerConnection: 1.5 })).rejects.toThrow(/messagesPerConnection/);
  });
});

describe('runLoad against servers that misbehave', () => {
  it('reports a connection dropped after EHLO as lost messages, not a hang', async () => {
    const rude = net.createServer((socket) => {
      socket.write('220 rude.example.com ESMTP\r\n');
      socket.once('data', () => socket.write('250-rude.example.com\r\n250 PIPELINING\r\n'));
      socket.on('data', (chunk) => {
        if (chunk.toString().startsWith('MAIL')) socket.destroy();
      });
    });
    await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve));
    try {
      const result = await runLoad({ port: (rude.address() as net.AddressInfo).port, connections: 2, messagesPerConnection: 3 });
      expect(result.delivered).toBe(0);
      expect(result.failed).toBe(6);
      expect(result.errors).toBe(2);
      expect(result.errorSamples[0]!.got).toMatch(/closed/);
    } finally {
      rude.close();
    }
  });

  it('counts a banner that is not 220 and text that is not a reply', async () => {
    const odd = net.createServer((socket) => socket.write('hello there\r\n'));
    await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
    try {
      const result = await runLoad({ port: (odd.address() as net.AddressInfo).port, connections: 1, messagesPerConnection: 2 });
      expect(result).toMatchObject({ delivered: 0, failed: 2, errors: 1 });
      expect(result.errorSamples[0]).toMatchObject({ step: 'banner', expected: '220' });
      expect(result.errorSamples[0]!.got).toMatch(/not a reply: "hello there"/);
    } finally {
      odd.close();
    }
  });

  it('reports a refused connection', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const unusedPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await runLoad({ port: unusedPort, connections: 1, messagesPerConnection: 1 });
    expect(result).toMatchObject({ delivered: 0, failed: 1, errors: 1 });
    expect(result.errorSamples[0]!.step).toBe('connect');
  });
});

describe('idleConnections', () => {
  it('leaves n greeted connections open on the server until closed', async () => {
    const seenBefore = connectionsSeen;
    const idle = await idleConnections(port, 20, { batch: 7 });
    expect(idle).toMatchObject({ open: 20, errors: 0 });
    expect(connectionsSeen - seenBefore).toBe(20);
    expect(server.connections.size).toBeGreaterThanOrEqual(20);
    await idle.close();
    await expect.poll(() => server.connections.size).toBe(0);
  });
});
