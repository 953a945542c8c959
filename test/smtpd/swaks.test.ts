// swaks, the SMTP test tool mail administrators use, with PIPELINING (RFC 2920).
import { beforeAll, describe, expect, it } from 'vitest';
import { startSmtpd, type RunningSmtpd } from '../../src/smtpd/server';
import { deliveredMessages, requireCommand, run, serverLines, temporaryMaildir } from './helpers';

async function serve(persona: string) {
  const dir = await temporaryMaildir();
  const server = await startSmtpd({ persona, port: 0, maildir: dir.path });
  return { server, maildir: dir.path, stop: async () => (await server.close(), await dir.remove()) };
}

const swaks = (server: RunningSmtpd, ...args: string[]) =>
  run('swaks', ['--server', `127.0.0.1:${server.port}`, '--helo', 'client.example', '--from', 'alice@example.com', '--pipeline', ...args], {
    timeoutMs: 20_000,
  });

describe('swaks --pipeline', () => {
  beforeAll(() => requireCommand('swaks', 'swaks'));

  it('sends through friendly, pipelining MAIL, RCPT and DATA', async () => {
    const { server, maildir, stop } = await serve('friendly');
    try {
      const result = await swaks(server, '--to', 'bob@example.net,carol@example.net', '--header', 'Subject: pipelined', '--body', 'Sent by swaks.');
      expect(result.code, result.stdout + result.stderr).toBe(0);
      const replies = serverLines(result.stdout);
      expect(replies.some((l) => /^250[- ]PIPELINING$/.test(l))).toBe(true);
      // swaks sends MAIL, both RCPTs and DATA in one write when the server offers PIPELINING.
      expect(result.stdout).toMatch(/ -> MAIL FROM:<alice@example\.com>\n\s* -> RCPT TO:<bob@example\.net>\n\s* -> RCPT TO:<carol@example\.net>\n\s* -> DATA\n/);
      expect(replies.filter((l) => /^250 /.test(l)).length).toBeGreaterThanOrEqual(4);
      expect(replies.some((l) => l.startsWith('354 '))).toBe(true);
      expect(replies.at(-1)).toMatch(/^221 /);

      const messages = await deliveredMessages(maildir);
      expect(messages).toHaveLength(1);
      expect(messages[0]!.envelope.to).toEqual(['<bob@example.net>', '<carol@example.net>']);
      expect(messages[0]!.content.toString()).toMatch(/\r\nSubject: pipelined\r\n[\s\S]*\r\n\r\nSent by swaks\.\r\n/);
    } finally {
      await stop();
    }
  });

  it('shows 550 5.1.1 from strict for an unknown user and delivers nothing', async () => {
    const { server, maildir, stop } = await serve('strict');
    try {
      const result = await swaks(server, '--to', 'nobody@example.net');
      // swaks exit 24: no recipient was accepted.
      expect(result.code).toBe(24);
      const refusal = serverLines(result.stdout).find((l) => l.startsWith('550'));
      expect(refusal).toMatch(/^550 5\.1\.1 /);
      expect(await deliveredMessages(maildir)).toEqual([]);
    } finally {
      await stop();
    }
  });

  it('strict still takes mail for a mailbox it has', async () => {
    const { server, maildir, stop } = await serve('strict');
    try {
      const result = await swaks(server, '--to', 'carol@example.net');
      expect(result.code, result.stdout).toBe(0);
      expect(await deliveredMessages(maildir)).toHaveLength(1);
    } finally {
      await stop();
    }
  });
});
