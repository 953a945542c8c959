// Exact bytes on a bare socket: pipelining, transparency (dot-stuffing), the end-of-data
// sequence and STARTTLS, where a polite client would hide what smtpd does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpd, type RunningSmtpd } from '../../src/smtpd/server';
import { deliveredMessages, temporaryMaildir } from './helpers';
import { SmtpProbe } from './probe';

let server: RunningSmtpd;
let maildir: { path: string; remove(): Promise<void> };
const probes: SmtpProbe[] = [];

beforeAll(async () => {
  maildir = await temporaryMaildir();
  server = await startSmtpd({ persona: 'friendly', port: 0, maildir: maildir.path });
});
afterAll(async () => {
  for (const probe of probes) probe.close();
  await server.close();
  await maildir.remove();
});

async function open(): Promise<SmtpProbe> {
  const probe = await SmtpProbe.open(server.port);
  probes.push(probe);
  expect((await probe.reply()).code).toBe(220);
  return probe;
}

/** Opens a transaction with every command in one write (RFC 2920) and waits for the 354. */
async function startData(probe: SmtpProbe, from = 'alice@example.com', to = 'bob@example.net'): Promise<void> {
  probe.write(`EHLO client.example\r\nMAIL FROM:<${from}>\r\nRCPT TO:<${to}>\r\nDATA\r\n`);
  const replies = await probe.replies(4);
  expect(replies.map((r) => r.code)).toEqual([250, 250, 250, 354]);
}

async function newMessages(before: number) {
  const all = await deliveredMessages(maildir.path);
  return all.slice(before);
}

describe('smtpd on the wire (friendly)', () => {
  it('answers a whole pipelined session sent in one write, in order', async () => {
    const before = (await deliveredMessages(maildir.path)).length;
    const probe = await open();
    probe.write(
      'EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\n' +
        'DATA\r\nSubject: one write\r\n\r\nhello\r\n.\r\nNOOP\r\nQUIT\r\n',
    );
    const replies = await probe.replies(8);
    expect(replies.map((r) => r.code)).toEqual([250, 250, 250, 250, 354, 250, 250, 221]);
    expect(replies[1]!.enhanced).toBe('2.1.0');
    expect(replies[2]!.enhanced).toBe('2.1.5');
    expect(await probe.waitClosed()).toBe(true);
    const [message] = await newMessages(before);
    expect(message!.content.toString()).toBe('Subject: one write\r\n\r\nhello\r\n');
  });

  it('refuses an address whose octets are not UTF-8 (RFC 6531 §3.3), and keeps an 8-bit body byte for byte', async () => {
    const before = (await deliveredMessages(maildir.path)).length;
    const probe = await open();
    probe.write('EHLO client.example\r\n');
    expect((await probe.reply()).code).toBe(250);
    // "café" in ISO-8859-1: the é is the single octet E9, which is not UTF-8.
    probe.write(Buffer.concat([Buffer.from('MAIL FROM:<caf'), Buffer.from([0xe9]), Buffer.from('@example.com> SMTPUTF8\r\n')]));
    const refused = await probe.reply();
    expect(refused.code).toBeGreaterThanOrEqual(500);
    expect(refused.lines.join(' ')).toMatch(/not UTF-8/);
    probe.write('MAIL FROM:<alice@example.com> BODY=8BITMIME\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n');
    expect((await probe.replies(3)).map((r) => r.code)).toEqual([250, 250, 354]);
    const body = Buffer.from('Subject: menu\r\n\r\nCr\u00eape \u00e0 la fran\u00e7aise\r\n', 'latin1');
    probe.write(Buffer.concat([body, Buffer.from('.\r\n')]));
    expect((await probe.reply()).code).toBe(250);
    const [message] = await newMessages(before);
    expect(message!.content.equals(body)).toBe(true);
  });

  it('un-stuffs lines that begin with a dot, and keeps them otherwise intact', async () => {
    const before = (await deliveredMessages(maildir.path)).length;
    const probe = await open();
    await startData(probe);
    // RFC 5321 §4.5.2: the client doubles a leading dot; the server removes one.
    probe.write('Subject: dots\r\n\r\n..one dot\r\n...two dots\r\n..\r\n. space\r\nend\r\n.\r\n');
    const done = await probe.reply();
    expect(done.code).toBe(250);
    const [message] = await newMessages(before);
    expect(message!.content.toString()).toBe('Subject: dots\r\n\r\n.one dot\r\n..two dots\r\n.\r\n space\r\nend\r\n');
  });

  it('a message split across many small writes arrives whole', async () => {
    const before = (await deliveredMessages(maildir.path)).length;
    const probe = await open();
    await startData(probe);
    const text = 'Subject: trickle\r\n\r\n' + Array.from({ length: 50 }, (_, i) => `line ${i} ${'z'.repeat(i)}`).join('\r\n') + '\r\n';
    const wire = Buffer.from(text + '.\r\n');
    for (let i = 0; i < wire.length; i += 7) {
      probe.write(wire.subarray(i, i + 7));
      await new Promise((r) => setImmediate(r));
    }
    expect((await probe.reply()).code).toBe(250);
    const [message] = await newMessages(before);
    expect(message!.content.toString()).toBe(text);
  });

  it('<LF>.<LF> inside a message does not end it (RFC 5321 §4.1.1.4; SMTP smuggling)', async () => {
    const before = (await deliveredMessages(maildir.path)).length;
    const probe = await open();
    await startData(probe);
    // What a smuggler sends: a bare-LF "end of data", then a second transaction, hoping the
    // receiver sees two messages where the sending server saw one.
    const smuggled =
      'Subject: outer\r\n\r\nfirst part\n.\nMAIL FROM:<mallory@example.com>\r\nRCPT TO:<carol@example.net>\r\nDATA\r\n' +
      'Subject: smuggled\r\n\r\nnot a message of its own\r\n';
    probe.write(smuggled + '.\r\n');
    const done = await probe.reply();
    expect(done.code).toBe(250);
    // Exactly one reply to all of that: nothing after the bare-LF dot was read as a command.
    probe.write('NOOP\r\n');
    expect((await probe.reply()).code).toBe(250);
    expect(probe.pending()).toEqual([]);

    const messages = await newMessages(before);
    expect(messages).toHaveLength(1);
    const text = messages[0]!.content.toString();
    expect(messages[0]!.envelope.to).toEqual(['<bob@example.net>']);
    // The bare-LF line is message text: the lone "." keeps its dot (RFC 5321 §4.5.2 removes a
    // dot only when other characters follow it), and the bare LFs are stored as CRLF, as
    // Postfix's smtpd_forbid_bare_newline=normalize does.
    expect(text).toMatch(/^Subject: outer\r\n\r\nfirst part\r\n\.\r\nMAIL FROM:<mallory@example\.com>\r\nRCPT TO:<carol@example\.net>\r\nDATA\r\n/);
    expect(text.endsWith('Subject: smuggled\r\n\r\nnot a message of its own\r\n')).toBe(true);
  });

  it('<CR><LF>.<LF> does not end a message either', async () => {
    const before = (await deliveredMessages(maildir.path)).length;
    const probe = await open();
    await startData(probe);
    probe.write('Subject: crlf-dot-lf\r\n\r\nabove\r\n.\nbelow\r\n.\r\n');
    expect((await probe.reply()).code).toBe(250);
    const [message] = await newMessages(before);
    expect(message!.content.toString()).toBe('Subject: crlf-dot-lf\r\n\r\nabove\r\n.\r\nbelow\r\n');
  });

  it('drops commands pipelined behind STARTTLS instead of running them inside TLS (RFC 3207 §4.2)', async () => {
    const probe = await open();
    probe.write('EHLO client.example\r\n');
    const ehlo = await probe.reply();
    expect(ehlo.lines).toContain('STARTTLS');
    // The injection of CVE-2011-0411: plaintext commands sent in the same packet as STARTTLS.
    probe.write('STARTTLS\r\nMAIL FROM:<injected@example.com>\r\n');
    const ready = await probe.reply();
    expect(ready.code).toBe(220);
    const secure = await probe.startTls();
    expect(secure.getProtocol()).toMatch(/^TLSv1\.[23]$/);
    probe.write('EHLO client.example\r\n');
    const again = await probe.reply();
    // The first thing heard inside TLS answers the EHLO sent inside TLS.
    expect(again.code).toBe(250);
    expect(again.lines[0]).toMatch(/Hello client\.example/);
    expect(again.lines).not.toContain('STARTTLS');
    // And no transaction was started by the injected MAIL: RCPT is out of sequence.
    probe.write('RCPT TO:<bob@example.net>\r\n');
    expect((await probe.reply()).code).toBe(503);
  });

  it('closes after QUIT and keeps serving others', async () => {
    const a = await open();
    const b = await open();
    a.write('QUIT\r\n');
    expect((await a.reply()).code).toBe(221);
    expect(await a.waitClosed()).toBe(true);
    b.write('NOOP\r\n');
    expect((await b.reply()).code).toBe(250);
  });
});
