// Python's smtplib (the standard library's client) against the greylisting persona.
import { beforeAll, describe, expect, it } from 'vitest';
import { startSmtpd, type RunningSmtpd } from '../../src/smtpd/server';
import { deliveredMessages, requireCommand, run, temporaryMaildir } from './helpers';

/** One attempt per line of output, as JSON: {"ok": true} or {"code": 451, "message": "..."}. */
const attemptScript = String.raw`
import json, smtplib, sys, time
port, attempts, pause = int(sys.argv[1]), sys.argv[2].split(','), float(sys.argv[3])
message = "From: alice@example.com\r\nTo: bob@example.net\r\nSubject: greylisting\r\n\r\nKnock knock.\r\n"
for index, when in enumerate(attempts):
    if when == 'later':
        time.sleep(pause)
    try:
        with smtplib.SMTP('127.0.0.1', port, local_hostname='client.example', timeout=10) as smtp:
            smtp.ehlo()
            refused = smtp.sendmail('alice@example.com', ['bob@example.net'], message)
            print(json.dumps({"ok": True, "refused": {k: v[0] for k, v in refused.items()}}), flush=True)
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        print(json.dumps({"code": code, "message": text.decode()}), flush=True)
    except smtplib.SMTPResponseException as e:
        print(json.dumps({"code": e.smtp_code, "message": e.smtp_error.decode()}), flush=True)
`;

/** smtpd with `options` on an ephemeral port and a fresh maildir, for one describe block. */
function serveForSmtplib(options: Omit<Parameters<typeof startSmtpd>[0], 'port' | 'maildir'>): { server: () => RunningSmtpd; maildir: () => string } {
  let server: RunningSmtpd | undefined;
  let maildir: string | undefined;
  beforeAll(async () => {
    requireCommand('python3', 'python3');
    const dir = await temporaryMaildir();
    maildir = dir.path;
    const running = await startSmtpd({ ...options, port: 0, maildir });
    server = running;
    return async () => {
      await running.close();
      await dir.remove();
    };
  });
  return { server: () => server!, maildir: () => maildir! };
}

describe('Python smtplib → greylisting', () => {
  const served = serveForSmtplib({ persona: 'greylisting', greylistDelayMs: 1000 });

  it('is deferred with 450/451 4.7.1, again on an immediate retry, and accepted after the delay', async () => {
    const result = await run('python3', ['-c', attemptScript, String(served.server().port), 'now,now,later', '1.5'], { timeoutMs: 30_000 });
    expect(result.stderr).toBe('');
    const attempts = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { ok?: boolean; code?: number; message?: string });
    expect(attempts).toHaveLength(3);
    const [first, early, later] = attempts;
    expect([450, 451]).toContain(first!.code);
    expect(first!.message).toMatch(/^4\.7\.1 /);
    // Still inside the delay: the same triplet is deferred again.
    expect([450, 451]).toContain(early!.code);
    expect(later).toEqual({ ok: true, refused: {} });

    const messages = await deliveredMessages(served.maildir());
    expect(messages).toHaveLength(1);
    expect(messages[0]!.content.toString()).toContain('Subject: greylisting\r\n');
  });
});

/** An ISO-8859-1 message, as bytes, with BODY=8BITMIME (RFC 6152): not UTF-8 anywhere. */
const latin1Script = String.raw`
import smtplib, sys
port = int(sys.argv[1])
message = "From: alice@example.com\r\nTo: bob@example.net\r\nSubject: menu\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCaf\u00e9 cr\u00e8me, cr\u00eape \u00e0 la fran\u00e7aise.\r\n".encode('latin-1')
with smtplib.SMTP('127.0.0.1', port, local_hostname='client.example', timeout=10) as smtp:
    smtp.ehlo()
    smtp.sendmail('alice@example.com', ['bob@example.net'], message, mail_options=['BODY=8BITMIME'])
`;

describe('Python smtplib → friendly, an 8-bit body in ISO-8859-1', () => {
  const served = serveForSmtplib({ persona: 'friendly' });

  it('stores the body byte for byte: the octets that are not UTF-8 are kept, not turned into U+FFFD', async () => {
    const result = await run('python3', ['-c', latin1Script, String(served.server().port)], { timeoutMs: 30_000 });
    expect(result.stderr).toBe('');
    const messages = await deliveredMessages(served.maildir());
    expect(messages).toHaveLength(1);
    const stored = messages[0]!.content;
    const body = Buffer.from('Café crème, crêpe à la française.\r\n', 'latin1');
    expect(stored.subarray(stored.length - body.length)).toEqual(body);
    expect(stored.includes(Buffer.from('\uFFFD', 'utf8'))).toBe(false);
  });
});
