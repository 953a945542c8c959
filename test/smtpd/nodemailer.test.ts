// nodemailer, the most used Node mail client, against smtpd on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startSmtpd, type RunningSmtpd } from '../../src/smtpd/server';
import { deliveredMessages, temporaryMaildir } from './helpers';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function serve(persona: string): Promise<{ server: RunningSmtpd; maildir: string }> {
  const dir = await temporaryMaildir();
  const server = await startSmtpd({ persona, port: 0, maildir: dir.path });
  cleanups.push(dir.remove, () => server.close());
  return { server, maildir: dir.path };
}

describe('nodemailer → friendly (STARTTLS required)', () => {
  let friendly: { server: RunningSmtpd; maildir: string };
  beforeAll(async () => {
    friendly = await serve('friendly');
  });

  it('upgrades to TLS, sends, and the message lands in the maildir byte for byte', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: friendly.server.port,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      name: 'client.example',
    });
    cleanups.push(async () => transport.close());
    // A message given whole (nodemailer's `raw`), so the stored copy can be compared byte for
    // byte: leading dots that nodemailer must stuff and smtpd un-stuff, 8-bit UTF-8, a long line.
    const raw = Buffer.from(
      [
        'From: Alice <alice@example.com>',
        'To: Bob <bob@example.net>',
        'Subject: Lunch on Friday',
        'Message-ID: <lunch-1@example.com>',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        'Hello Bob,',
        '.this line starts with a dot',
        '..and this one with two',
        '.',
        'Grüße aus Köln',
        'x'.repeat(900),
        '',
      ].join('\r\n'),
      'utf8',
    );
    const info = await transport.sendMail({ envelope: { from: 'alice@example.com', to: ['bob@example.net'] }, raw });
    expect(info.accepted).toEqual(['bob@example.net']);
    expect(info.rejected).toEqual([]);
    expect(info.response).toMatch(/^250 /);

    const messages = await deliveredMessages(friendly.maildir);
    expect(messages).toHaveLength(1);
    const [message] = messages;
    expect(message!.envelope.from).toEqual(['<alice@example.com>']);
    expect(message!.envelope.to).toEqual(['<bob@example.net>']);
    expect(message!.envelope.tls?.[0]).toMatch(/^TLSv1\.[23] /);
    expect(message!.content.toString('utf8')).toBe(raw.toString('utf8'));
    expect(message!.content.equals(raw)).toBe(true);
    // RFC 5321 §4.4: the server's trace on top, naming the TLS protocol it was received with.
    expect(message!.received).toMatch(/^Received: from \S+ \(\[127\.0\.0\.1\]\)\r\n\tby \S+ \(smtp-lab\) with ESMTPS id [0-9A-F]{10}\r\n\t\(TLSv1\.[23] /);
    expect(message!.received).toMatch(/for <bob@example\.net>; \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n$/);
  });
});

describe('nodemailer → submission (AUTH)', () => {
  let submission: { server: RunningSmtpd; maildir: string };
  beforeAll(async () => {
    submission = await serve('submission');
  });

  const transport = (method: 'PLAIN' | 'LOGIN', pass: string) => {
    const t = nodemailer.createTransport({
      host: '127.0.0.1',
      port: submission.server.port,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'alice@example.com', pass },
      authMethod: method,
      name: 'laptop.example',
    });
    cleanups.push(async () => t.close());
    return t;
  };

  it.each(['PLAIN', 'LOGIN'] as const)('AUTH %s with the right password sends the message', async (method) => {
    const before = (await deliveredMessages(submission.maildir)).length;
    const info = await transport(method, 's3cr3t').sendMail({
      from: 'alice@example.com',
      to: 'bob@example.net',
      subject: `sent with AUTH ${method}`,
      text: 'Hi Bob\n',
    });
    expect(info.accepted).toEqual(['bob@example.net']);
    const messages = await deliveredMessages(submission.maildir);
    expect(messages).toHaveLength(before + 1);
    const latest = messages.at(-1)!;
    expect(latest.content.toString()).toContain(`Subject: sent with AUTH ${method}\r\n`);
    expect(latest.envelope.auth).toEqual(['alice@example.com']);
  });

  it.each(['PLAIN', 'LOGIN'] as const)('AUTH %s with a wrong password fails with 535 and sends nothing', async (method) => {
    const before = (await deliveredMessages(submission.maildir)).length;
    const error = await transport(method, 'wrong-password')
      .sendMail({ from: 'alice@example.com', to: 'bob@example.net', subject: 'never', text: 'never\n' })
      .then(
        () => undefined,
        (e: Error & { responseCode?: number; code?: string; response?: string }) => e,
      );
    expect(error).toBeDefined();
    expect(error!.code).toBe('EAUTH');
    expect(error!.responseCode).toBe(535);
    expect(error!.response).toMatch(/^535 5\.7\.8 /);
    expect(await deliveredMessages(submission.maildir)).toHaveLength(before);
  });
});
