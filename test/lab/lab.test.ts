// The headless lab: what a learner sees when typing into the terminal, and what the session
// record (the thing lesson goals read) says afterwards.
import { beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab, type OutputLine } from '../../src/lab/lab';
import { loadAuthChecks } from '../../src/lab/authChecks';

// The spf and dmarc commands use checks that load on demand (as in the browser): load them first.
beforeAll(() => loadAuthChecks());

function open(options?: Parameters<typeof createLab>[0]) {
  const lab = createLab(options);
  const out: OutputLine[] = [];
  lab.onOutput((lines) => out.push(...lines));
  return {
    lab,
    out,
    /** Type lines one after another, as a learner does. */
    async type(...lines: string[]) {
      for (const line of lines) await lab.input(line);
    },
    /** Everything printed since the last call. */
    take(): string[] {
      return out.splice(0).map((l) => l.text);
    },
  };
}

function replies(lab: Lab): string[] {
  return lab.record.replies.filter((r) => r.by === 'learner').map((r) => `${r.to} ${r.reply.code}${r.reply.enhanced ? ` ${r.reply.enhanced}` : ''}`);
}

describe('a typed SMTP session', () => {
  it('telnet to an MX host: banner, EHLO, a transaction with one refused recipient, dot-stuffing, QUIT', async () => {
    const t = open();
    await t.type('telnet mx.strict.example 25');
    expect(t.take()).toEqual(expect.arrayContaining([expect.stringMatching(/^220 mx\.strict\.example/)]));
    expect(t.lab.prompt).toBe('smtp');
    await t.type('EHLO client.example.org', 'MAIL FROM:<alice@example.com>', 'RCPT TO:<dave@strict.example>', 'RCPT TO:<nobody@strict.example>', 'DATA');
    expect(t.lab.prompt).toBe('data');
    await t.type('Subject: dots', '', '..a line that starts with a dot', '.');
    expect(t.lab.prompt).toBe('smtp');
    await t.type('QUIT');
    expect(t.lab.prompt).toBe('shell');
    expect(replies(t.lab)).toEqual([
      'BANNER 220',
      'EHLO 250',
      'MAIL 250 2.1.0',
      'RCPT 250 2.1.5',
      'RCPT 550 5.1.1',
      'DATA 354',
      'DATA-END 250 2.0.0',
      'QUIT 221 2.0.0',
    ]);
    // The server un-stuffed the line: the mailbox holds one dot, the wire carried two.
    const stored = t.lab.world.mailboxes.list('dave@strict.example');
    expect(stored).toHaveLength(1);
    expect(stored[0]!.raw).toContain('\n.a line that starts with a dot');
    expect(t.lab.record.wire.some((w) => w.dir === '->' && w.text === '..a line that starts with a dot')).toBe(true);
    const dotted = t.lab.transcript.find((l) => l.text === '..a line that starts with a dot');
    expect(dotted?.explanation).toMatch(/Dot-stuffing/);
  });

  it('STARTTLS: the lab runs the handshake, directions turn to ~> and <~, and EHLO is needed again', async () => {
    const t = open();
    await t.type('telnet mx1.example.net 25', 'EHLO client.example.org', 'STARTTLS');
    const printed = t.take();
    expect(printed).toEqual(expect.arrayContaining([expect.stringMatching(/^220 2\.0\.0/), expect.stringMatching(/Verify return code: 0/)]));
    expect(t.lab.nextSteps().map((s) => s.verb)).toContain('EHLO');
    await t.type('EHLO client.example.org');
    const ehlo = t.lab.record.replies.filter((r) => r.to === 'EHLO' && r.by === 'learner');
    expect(ehlo).toHaveLength(2);
    expect(ehlo[0]!.reply.lines).toContain('STARTTLS');
    expect(ehlo[1]!.reply.lines).not.toContain('STARTTLS');
    const dirs = t.lab.record.wire.filter((w) => w.text.startsWith('EHLO')).map((w) => w.dir);
    expect(dirs).toEqual(['->', '~>']);
    expect(t.lab.record.connections.find((c) => c.by === 'learner')?.tls?.ok).toBe(true);
  });

  it('AUTH PLAIN on the submission server: the transcript decodes the base64', async () => {
    const t = open();
    await t.type('telnet smtp.example.com 587', 'EHLO laptop.example.com', 'STARTTLS', 'EHLO laptop.example.com', 'AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHMzY3IzdA==');
    expect(replies(t.lab)).toContain('AUTH 235 2.7.0');
    const auth = t.lab.transcript.find((l) => l.text.startsWith('AUTH PLAIN'));
    expect(auth?.explanation).toContain('alice@example.com');
    expect(auth?.explanation).toContain('s3cr3t');
  });

  it('commands out of order get the server\'s 503, and the shadow says what may come next', async () => {
    const t = open();
    await t.type('telnet mx1.example.net 25', 'EHLO client.example.org', 'RCPT TO:<bob@example.net>');
    expect(replies(t.lab).at(-1)).toBe('RCPT 503 5.5.1');
    expect(t.lab.nextSteps().map((s) => s.verb)).toContain('MAIL FROM');
  });

  it('a paste goes out as one pipelined write and every reply is matched to its command', async () => {
    const t = open();
    await t.type('telnet mx1.example.net 25', 'EHLO client.example.org');
    await t.lab.inputBatch(['MAIL FROM:<alice@example.com>', 'RCPT TO:<bob@example.net>', 'RCPT TO:<carol@example.net>', 'DATA']);
    expect(replies(t.lab).slice(-4)).toEqual(['MAIL 250 2.1.0', 'RCPT 250 2.1.5', 'RCPT 250 2.1.5', 'DATA 354']);
    expect(t.lab.prompt).toBe('data');
  });

  it('the wire record shows a pasted batch as it crossed the network: all commands, then the replies', async () => {
    const t = open();
    await t.type('telnet mx1.example.net 25', 'EHLO client.example.org');
    await t.lab.inputBatch(['MAIL FROM:<alice@example.com>', 'RCPT TO:<bob@example.net>', 'DATA']);
    const tail = t.lab.record.wire.slice(-6).map((w) => `${w.dir} ${w.text.slice(0, 4)}`);
    expect(tail).toEqual(['-> MAIL', '-> RCPT', '-> DATA', '<- 250 ', '<- 250 ', '<- 354 ']);
  });

  it('openssl s_client -connect host:465: TLS first (RFC 8314), then the banner inside TLS', async () => {
    const t = open();
    await t.type('openssl s_client -connect smtp.example.com:465');
    const printed = t.take().join('\n');
    expect(printed).toMatch(/Verify return code: 0/);
    expect(printed).toMatch(/220 smtp\.example\.com/);
    expect(printed.indexOf('Verify return code')).toBeLessThan(printed.indexOf('220 smtp.example.com'));
    await t.type('EHLO laptop.example.com');
    expect(t.lab.record.wire.at(-1)?.dir).toBe('<~');
    expect(t.lab.record.replies.at(-1)?.reply.lines).toContain('AUTH PLAIN LOGIN');
  });

  it('telnet to port 465 explains why nothing comes', async () => {
    const t = open();
    await t.type('telnet smtp.example.com 465');
    expect(t.take().join('\n')).toMatch(/RFC 8314/);
    expect(t.lab.record.replies).toHaveLength(0);
  });

  it('shows the simulated server machine\'s state as the session moves on', async () => {
    const t = open();
    await t.type('telnet mx1.example.net 25');
    expect(t.lab.serverState).toBe('waitingForHelo');
    const states: (string | undefined)[] = [];
    for (const line of ['EHLO client.example.org', 'MAIL FROM:<alice@example.com>', 'RCPT TO:<bob@example.net>', 'DATA', '.', 'QUIT']) {
      await t.type(line);
      states.push(t.lab.serverState);
    }
    expect(states).toEqual(['ready', 'mail', 'rcpt', 'data', 'ready', undefined]);
  });

  it('Ctrl-] hangs up without QUIT', async () => {
    const t = open();
    await t.type('telnet mx1.example.net 25');
    t.lab.escape();
    await t.type('');
    expect(t.lab.prompt).toBe('shell');
    expect(t.lab.record.connections.find((c) => c.by === 'learner')?.closed).toBeDefined();
  });

  it('a host that is down refuses the connection in plain words', async () => {
    const t = open({ start: { hostsDown: { 'mx1.example.net': 'refused' } } });
    await t.type('telnet mx1.example.net 25');
    expect(t.take().join('\n')).toMatch(/refused/i);
    expect(t.lab.prompt).toBe('shell');
    expect(t.lab.record.shell.at(-1)).toMatchObject({ name: 'telnet', ok: false });
  });

  it('a bounce from a destination that never answered: no Remote-MTA, and a diagnostic marked as the MTA\'s own words', async () => {
    const t = open();
    await t.type('send --from alice@example.com --to bob@down.example', 'clock +5d', 'clock +1h');
    t.take();
    await t.type('mailbox alice@example.com');
    const text = t.take().join('\n');
    expect(text).toMatch(/Action: failed {3}Status: 4\.4\.7/);
    expect(text).toMatch(/Diagnostic-Code: X-smtp-lab; delivery time expired after 5 days; last error: /);
    expect(text).toMatch(/\(X-…: the reporting MTA wrote this itself; no server said it\)/);
    expect(text).not.toMatch(/Remote-MTA:/);
  });

  it('a shell command typed in a session goes to the server as SMTP, and the lab says what was meant', async () => {
    const t = open();
    await t.type('telnet mx.grey.example 25', 'EHLO client.example.com', 'MAIL FROM:<alice@example.com>', 'RCPT TO:<bob@grey.example>');
    const before = t.lab.world.clock.now();
    t.take();
    // Lesson 12's step 1 is done at the 451, before its QUIT; step 2 says: move the clock.
    await t.type('clock +10m');
    const printed = t.take();
    expect(printed[0]).toMatch(/^500 5\.5\.2 .*unknown command "clock"/);
    expect(printed[1]).toBe("(clock is a command of this lab's shell, not SMTP, so the server read it as SMTP. Leave the session first, with QUIT or Ctrl-], then type it at the $ prompt.)");
    expect(t.lab.world.clock.now()).toBe(before);
    expect(t.lab.prompt).toBe('smtp');
    // HELP is SMTP as well: the server's answer stands alone.
    await t.type('HELP');
    expect(t.take().join('\n')).not.toMatch(/lab's shell/);
    await t.type('QUIT', 'clock +10m');
    expect(t.lab.prompt).toBe('shell');
    expect(t.lab.world.clock.now() - before).toBe(10 * 60_000);
  });
});

describe('the shell', () => {
  it('dig answers from the world and is recorded', async () => {
    const t = open();
    await t.type('dig +short MX example.net');
    expect(t.take()).toEqual(['10 mx1.example.net.', '20 mx2.example.net.']);
    expect(t.lab.record.dns.at(-1)).toMatchObject({ name: 'example.net', type: 'MX', status: 'NOERROR' });
  });

  it('a typo gets a short error with a suggestion, never a stack trace', async () => {
    const t = open();
    await t.type('tlenet mx1.example.net 25');
    const printed = t.take().join('\n');
    expect(printed).toMatch(/telnet/);
    expect(printed).not.toMatch(/at .*\.ts:\d+/);
  });

  it('send plays the autopilot; greylisting defers it and clock +10m delivers it', async () => {
    const t = open();
    await t.type('send --from alice@example.com --to carol@grey.example');
    const first = t.take().join('\n');
    expect(first).toMatch(/451 4\.7\.1/);
    expect(first).toMatch(/carol@grey\.example: deferred/);
    expect(t.lab.record.deliveries.at(-1)).toMatchObject({ recipient: 'carol@grey.example', outcome: 'deferred', status: '4.7.1' });
    await t.type('clock +10m');
    expect(t.take().join('\n')).toMatch(/delivered to the mailbox of carol@grey\.example/);
    expect(t.lab.record.deliveries.at(-1)).toMatchObject({ recipient: 'carol@grey.example', outcome: 'delivered' });
    await t.type('mailbox carol@grey.example');
    const mailbox = t.take().join('\n');
    expect(mailbox).toMatch(/1 message for carol@grey\.example/);
    // The trace the servers wrote (RFC 5321 §4.4): final delivery's Return-Path, then Received.
    expect(mailbox).toMatch(/\| Return-Path: <alice@example\.com>\n\s+\| Received: from smtp\.example\.com \(\[192\.0\.2\.25\]\)/);
    expect(mailbox).toMatch(/by mx\.grey\.example \(smtp-lab\) with ESMTPS id/);
  });

  it('clock +5d to a destination that never accepts: the backoff growing, then the same retry a hundred times as one line, then the bounce', async () => {
    const t = open();
    await t.type('send --from alice@example.com --to ann@dane.example');
    t.take();
    await t.type('clock +5d');
    const printed = t.take();
    const attempts = printed.flatMap((line) => /^\[\S+ \S+\] \*\* attempt (\d+) for ann@dane\.example/.exec(line)?.[1] ?? []).map(Number);
    // Attempt 1 came with the send; the waits grow to 2-5, then stay at 4000 s. The delayed-mail
    // warning to alice at 4h35 is another message's round: shown as it is, in its place, and
    // ann's repeats fold around it.
    expect(attempts).toEqual([2, 3, 4, 5, 6, 111]);
    expect(printed).toContainEqual(
      '[+0d 03:28:20] ** attempts 7–110 for ann@dane.example: the same as attempt 6, 104 times, every 1h6m40s, until [+4d 21:55:00] (the Delivery panel lists each)',
    );
    expect(printed).toContainEqual(expect.stringMatching(/^\[\+0d 04:35:00\] \*\* attempt 1 for alice@example\.com via mx\.example\.com:25$/));
    expect(printed.join('\n')).toMatch(/\*\* bounced ann@dane\.example: 4\.4\.7 delivery time expired after 5 days/);
    expect(printed.join('\n')).toMatch(/delivered to the mailbox of alice@example\.com/);
    expect(printed.length).toBeLessThan(400);
    // Printing less changed nothing that happened: the record has all 111 attempts, each deferred.
    expect(t.lab.record.deliveries.filter((d) => d.recipient === 'ann@dane.example' && d.outcome === 'deferred')).toHaveLength(111);
  });

  it('clock +5d with three messages to a dead destination: the probe and the two it holds back fold together', async () => {
    const t = open();
    for (const who of ['ann', 'ben', 'cid']) await t.type(`send --from alice@example.com --to ${who}@down.example`);
    t.take();
    await t.type('clock +5d');
    const printed = t.take();
    // Each run of the queue tries ann's copy and defers ben's and cid's as "temporarily suspended"
    // (Postfix's dead-destination rest): one round, a hundred times the same.
    expect(printed).toContainEqual(expect.stringMatching(/^\[\+0d \S+\] \*\* attempts \d+–110 for ann@down\.example \(and 2 more messages waiting with it\): the same as attempt \d+, \d+ times, every 1h7m10s, until \[\+4d 22:49:30\]/));
    expect(printed.filter((line) => /delivery temporarily suspended/.test(line)).length).toBeLessThan(40);
    expect(printed.join('\n')).toMatch(/\*\* bounced ben@down\.example: 4\.4\.7/);
    expect(printed.length).toBeLessThan(600);
  });

  it("clock +5d with messages at two dead destinations: each one's retries fold on their own schedule", async () => {
    const t = open();
    await t.type('send --from alice@example.com --to ann@dane.example', 'send --from alice@example.com --to bob@down.example');
    t.take();
    await t.type('clock +5d');
    const printed = t.take();
    expect(printed).toContainEqual(expect.stringMatching(/^\[\+0d \S+\] \*\* attempts \d+–110 for ann@dane\.example: the same as attempt \d+, \d+ times, every 1h6m40s, until \[\+4d 21:55:00\]/));
    expect(printed).toContainEqual(expect.stringMatching(/^\[\+0d \S+\] \*\* attempts \d+–110 for bob@down\.example: the same as attempt \d+, \d+ times, every 1h7m10s, until \[\+4d 22:49:30\]/));
    expect(printed.length).toBeLessThan(600);
  });

  it('send --step shows one exchange per Enter', async () => {
    const t = open();
    await t.type('send --from alice@example.com --to bob@example.net --step');
    const shown = t.take();
    expect(shown.join('\n')).toMatch(/Step mode/);
    expect(shown.join('\n')).not.toMatch(/delivered to the mailbox/);
    let steps = 0;
    while (steps < 100 && !t.out.some((l) => /end of the autopilot run/.test(l.text))) {
      await t.type('');
      steps++;
    }
    expect(steps).toBeGreaterThan(5);
    expect(t.take().join('\n')).toMatch(/delivered to the mailbox of bob@example\.net/);
  });

  it('an unknown user bounces at once and the DSN reaches the sender', async () => {
    const t = open();
    await t.type('send --from alice@example.com --to nobody@strict.example');
    expect(t.lab.record.deliveries.filter((d) => d.recipient === 'nobody@strict.example')).toMatchObject([{ outcome: 'bounced', status: '5.1.1' }]);
    // The bounce itself is mail: from the null sender to alice.
    expect(t.lab.record.deliveries.filter((d) => d.recipient === 'alice@example.com')).toMatchObject([{ outcome: 'delivered', from: '' }]);
    const dsn = t.lab.record.mailbox.find((m) => m.address === 'alice@example.com' && m.isDsn);
    expect(dsn?.dsn?.[0]).toMatchObject({ recipient: 'nobody@strict.example', action: 'failed', status: '5.1.1' });
  });

  it('send with DSN requests: shows them as MAIL and RCPT carry them; the success report says relayed and quotes the ENVID', async () => {
    const t = open();
    await t.type('send --from alice@example.com --to bob@example.net --notify bob@example.net=SUCCESS,FAILURE --ret HDRS --envid QQ314159');
    const sent = t.take();
    expect(sent).toContain('   MAIL FROM:<alice@example.com> RET=HDRS ENVID=QQ314159');
    expect(sent).toContain('   RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE');
    const report = t.lab.record.mailbox.find((m) => m.address === 'alice@example.com' && m.isDsn);
    expect(report).toMatchObject({ originalEnvelopeId: 'QQ314159', returnedContent: 'headers', dsn: [{ recipient: 'bob@example.net', action: 'relayed', status: '2.0.0' }] });
    await t.type('mailbox alice@example.com');
    const shown = t.out.splice(0);
    const text = shown.map((l) => l.text).join('\n');
    expect(text).toMatch(/This is a success report \(a DSN, RFC 3464\)/);
    expect(text).toMatch(/Original-Envelope-Id: QQ314159/);
    expect(text).toMatch(/Diagnostic-Code: smtp; 250 /);
    expect(text).not.toMatch(/X-…: the reporting MTA wrote this itself/);
    expect(text).toMatch(/returns the original header only \(Subject: Hello\), not the body/);
    // Success is shown in the colour of a 2xx reply, not as a failure.
    expect(shown.find((l) => /Action: relayed/.test(l.text))?.tone).toBe('positive');
  });

  it('send --notify NEVER: the message bounces and no report reaches the sender', async () => {
    const t = open();
    await t.type('send --from alice@example.com --to nobody@strict.example --notify nobody@strict.example=NEVER');
    expect(t.lab.record.deliveries.filter((d) => d.recipient === 'nobody@strict.example')).toMatchObject([{ outcome: 'bounced', status: '5.1.1' }]);
    expect(t.lab.record.mailbox.filter((m) => m.address === 'alice@example.com')).toEqual([]);
    await t.type('mailbox alice@example.com');
    expect(t.take().at(-1)).toBe('No mail for alice@example.com (yet).');
  });

  it('send --ret FULL: the bounce returns the whole message, and mailbox shows its body', async () => {
    const t = open();
    await t.type('send --from alice@example.com --to nobody@strict.example --subject "Quarterly figures" --ret FULL', 'mailbox alice@example.com');
    const text = t.take().join('\n');
    expect(text).toMatch(/This is a bounce \(a DSN, RFC 3464\)/);
    expect(text).toMatch(/It returns the whole original message, body included:\n\s+\| Subject: Quarterly figures\n\s+\|\n\s+\| \S/);
    expect(t.lab.record.mailbox.find((m) => m.isDsn)).toMatchObject({ returnedContent: 'full' });
  });

  it('send --orcpt: RCPT carries ORCPT, and the bounce names the Original-Recipient', async () => {
    const t = open();
    await t.type('send --from alice@example.com --to nobody@strict.example --orcpt nobody@strict.example=rfc822;nobody+old@old.example');
    expect(t.take()).toContain('   RCPT TO:<nobody@strict.example> ORCPT=rfc822;nobody+2Bold@old.example');
    const report = t.lab.record.mailbox.find((m) => m.address === 'alice@example.com' && m.isDsn);
    expect(report?.dsn?.[0]).toMatchObject({ recipient: 'nobody@strict.example', action: 'failed', status: '5.1.1' });
    await t.type('mailbox alice@example.com');
    const text = t.take().join('\n');
    expect(text).toMatch(/Original-Recipient: nobody\+old@old\.example/);
  });

  it('send with a bad DSN request: the error names the option, and nothing is queued', async () => {
    const t = open();
    await t.type('send --from alice@example.com --to bob@example.net --notify carol@example.net=SUCCESS');
    expect(t.take()).toEqual(['--notify names "carol@example.net", which is not a recipient (to: bob@example.net).']);
    expect(t.lab.world.deliveries()).toEqual([]);
    expect(t.lab.record.shell.at(-1)).toMatchObject({ name: 'error', ok: false });
  });

  it('reset empties the world', async () => {
    const t = open();
    await t.type('send --from alice@example.com --to bob@example.net');
    expect(t.lab.world.mailboxes.list('bob@example.net')).toHaveLength(1);
    await t.type('reset');
    expect(t.lab.world.mailboxes.list('bob@example.net')).toHaveLength(0);
  });

  it('real mode without a bridge says why', async () => {
    const t = open();
    await t.type('mode real');
    expect(t.take().join('\n')).toMatch(/bridge/);
    expect(t.lab.mode).toBe('sim');
  });
});

describe('typing bytes SMTP forbids', () => {
  it('\\n and \\r in a session line become a bare LF and CR; \\\\ is a backslash', async () => {
    const { unescapeLine } = await import('../../src/lab/lab');
    expect(unescapeLine('Hi.\\n.\\nMAIL FROM:<x@example.com>')).toBe('Hi.\n.\nMAIL FROM:<x@example.com>');
    expect(unescapeLine('a\\rb')).toBe('a\rb');
    expect(unescapeLine('C:\\\\new')).toBe('C:\\new');
    expect(unescapeLine('plain text')).toBe('plain text');
  });
});

describe('spf and dmarc in the lab', () => {
  it('spf prints the trace and the verdict, and the record keeps the verdict', async () => {
    const t = open();
    await t.type('spf 203.0.113.99 newsletter.example');
    const printed = t.take();
    expect(printed[0]).toMatch(/^SPF \(RFC 7208\): may 203\.0\.113\.99 send mail/);
    expect(printed).toContain('  newsletter.example TXT "v=spf1 include:mailer.example ~all"');
    expect(printed.at(-1)).toMatch(/^Result: softfail\./);
    expect(t.out.length).toBe(0);
    expect(t.lab.record.shell.at(-1)).toMatchObject({ name: 'spf', ok: true, outcome: 'softfail' });
  });

  it('the verdict line has the tone of its result', async () => {
    const t = open();
    await t.type('spf 192.0.2.25 example.com');
    const pass = t.out.splice(0);
    await t.type('spf 203.0.113.99 example.com');
    const fail = t.out.splice(0);
    expect(pass.at(-1)).toMatchObject({ tone: 'positive' });
    expect(fail.at(-1)).toMatchObject({ tone: 'permanent' });
    expect(pass.slice(0, -1).every((l) => l.tone === 'plain')).toBe(true);
  });

  it('dmarc with --ip checks SPF for real first, then alignment and policy', async () => {
    const t = open();
    await t.type('dmarc example.com --spf-domain mailer.example --ip 198.51.100.140');
    const printed = t.take().join('\n');
    expect(printed).toMatch(/Result: pass\. mailer\.example authorises 198\.51\.100\.140/);
    expect(printed).toMatch(/_dmarc\.example\.com TXT "v=DMARC1; p=reject/);
    expect(printed).toMatch(/Result: fail\. Neither SPF nor DKIM vouches for example\.com; policy reject/);
    expect(t.lab.record.shell.at(-1)).toMatchObject({ name: 'dmarc', outcome: 'fail' });
    await t.type('dmarc example.com --spf-domain bounce.example.com --ip 198.51.100.140');
    expect(t.lab.record.shell.at(-1)).toMatchObject({ name: 'dmarc', outcome: 'pass' });
    // An address outside the provider's list: SPF fails, so alignment cannot help.
    await t.type('dmarc example.com --spf-domain bounce.example.com --ip 203.0.113.99');
    expect(t.take().join('\n')).toMatch(/SPF: fail for MAIL FROM domain bounce\.example\.com/);
    expect(t.lab.record.shell.at(-1)).toMatchObject({ outcome: 'fail' });
  });

  it('a typo in spf is an error with usage; nothing is recorded as a verdict', async () => {
    const t = open();
    await t.type('spf example.com 192.0.2.25');
    expect(t.take()).toEqual(['Give the IP address first, then the domain: spf 192.0.2.25 example.com']);
    expect(t.lab.record.shell.at(-1)).toMatchObject({ name: 'error', ok: false });
    expect(t.lab.record.shell.at(-1)).not.toHaveProperty('outcome');
  });
});

describe('mailq', () => {
  it('lists what waits per destination, the queue machine\'s state, the reason, and a dead destination\'s rest', async () => {
    const t = open();
    await t.type('mailq');
    expect(t.take()).toEqual(['Mail queue is empty: everything sent so far was delivered or bounced.']);
    await t.type('send --from alice@example.com --to carol@grey.example --to bob@down.example');
    t.take();
    await t.type('clock +1m', 'mailq');
    const first = t.take();
    expect(first).toContain('grey.example (from smtp.example.com): waiting');
    expect(first).toContain('      (451 4.7.1 Greylisted, please try again later)');
    expect(first.some((l) => /^ {2}q1 {2}queued \+0d 00:00:00 {2}<alice@example\.com> {2}1 attempt, next \+0d 00:05:00 \(in 4m\)$/.test(l))).toBe(true);
    expect(first.at(-1)).toBe('-- 1 message waiting for 2 destinations; clock +10m moves time on');
    // Every host of down.example failed: the destination rests, and mailq says until when and why.
    const down = first.find((l) => l.startsWith('down.example'));
    expect(down).toMatch(/^down\.example \(from smtp\.example\.com\): waiting; suspended until \+0d 00:05:30 \(connect to mx2\.down\.example\[[0-9.]+\]:25: Connection timed out\)$/);
    await t.type('clock +10m', 'mailq');
    const later = t.take();
    expect(later.some((l) => l.startsWith('grey.example'))).toBe(false);
    expect(later.some((l) => l.startsWith('down.example'))).toBe(true);
  });
});

describe('checks that load on demand', () => {
  it('until the SPF checker has loaded, spf says so, and typing it again works', async () => {
    // A fresh module graph, in which the checks have not been loaded yet (as in a new page).
    const { vi } = await import('vitest');
    vi.resetModules();
    const fresh = await import('../../src/lab/lab');
    const checks = await import('../../src/lab/authChecks');
    expect(checks.authChecks()).toBeUndefined();
    const lab = fresh.createLab();
    const out: string[] = [];
    lab.onOutput((lines) => out.push(...lines.map((l) => l.text)));
    await lab.input('spf 198.51.100.140 mailer.example');
    expect(out.join('\n')).toMatch(/still loading; run the command again/);
    expect(lab.record.shell.at(-1)).toMatchObject({ name: 'spf', ok: false });
    await checks.loadAuthChecks();
    out.length = 0;
    await lab.input('spf 198.51.100.140 mailer.example');
    expect(out.at(-1)).toMatch(/pass/);
    expect(lab.record.shell.at(-1)).toMatchObject({ name: 'spf', ok: true, outcome: 'pass' });
  });
});
