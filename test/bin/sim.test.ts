// `npm run sim`: spawned as a user would run it, checking what it prints and its exit codes.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sim(...args: string[]) {
  const result = spawnSync('npx', ['tsx', 'src/bin/sim.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

describe('sim CLI', () => {
  it('send: prints the transcript with timestamps and arrows, the outcome and the DSN', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
    const body = join(dir, 'body.txt');
    writeFileSync(body, 'Hi Bob,\n.a line with a leading dot\n');
    const { code, out } = sim('send', '--from', 'alice@example.com', '--to', 'bob@example.net', '--to', 'nobody@strict.example', '--subject', 'Lunch', '--body-file', body);
    expect(code).toBe(0);
    expect(out).toMatch(/^\+0d 00:00:00 <- 220 mx1\.example\.net/m);
    expect(out).toMatch(/^\+0d 00:00:00 -> STARTTLS$/m);
    expect(out).toMatch(/^\+0d 00:00:00 ~> MAIL FROM:<alice@example\.com>$/m);
    expect(out).toMatch(/^\+0d 00:00:00 <~ 550 5\.1\.1 /m);
    expect(out).toMatch(/^\+0d 00:00:00 ~> \.\.a line with a leading dot$/m);
    expect(out).toMatch(/^bob@example\.net: delivered/m);
    expect(out).toMatch(/^nobody@strict\.example: bounced 5\.1\.1/m);
    expect(out).toContain('Content-Type: message/delivery-status');
    expect(out).toContain('Final-Recipient: rfc822; nobody@strict.example');
  });

  it('send: greylisting shows the retry five minutes later', () => {
    const { code, out } = sim('send', '--from', 'alice@example.com', '--to', 'erin@grey.example');
    expect(code).toBe(0);
    expect(out).toMatch(/^\+0d 00:00:00 <~ 451 4\.7\.1 /m);
    expect(out).toMatch(/^\+0d 00:05:00 == attempt 2/m);
    expect(out).toMatch(/^erin@grey\.example: delivered/m);
  });

  it('send --days 1 --json: a destination that is down stays deferred', () => {
    const { code, out } = sim('send', '--from', 'alice@example.com', '--to', 'x@down.example', '--days', '1', '--json');
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report.recipients).toEqual([expect.objectContaining({ address: 'x@down.example', status: 'deferred' })]);
    expect(report.dsns.map((d: { action: string }) => d.action)).toEqual(['delayed']);
    expect(report.timeline.length).toBeGreaterThan(10);
  });

  it('send --days 5 to a destination that never accepts: the same retry, a hundred times, is one line; --every-attempt prints each', () => {
    const args = ['send', '--from', 'alice@example.com', '--to', 'ann@dane.example', '--days', '5'];
    const folded = sim(...args);
    expect(folded.code).toBe(0);
    const attemptsShown = [...folded.out.matchAll(/^\+\S+ \S+ == attempt (\d+):/gm)].map((m) => Number(m[1]));
    // The growing backoff (5, 10, 20, 40 minutes) stays in view, then the longest wait repeats.
    expect(attemptsShown).toEqual([1, 2, 3, 4, 5, 111]);
    expect(folded.out).toMatch(/^\+0d 02:21:40 \.\. attempts 6–110 for ann@dane\.example: the same as attempt 5, 105 times, every 1h6m40s, until \+4d 21:55:00 \(--every-attempt prints them\)$/m);
    expect(folded.out).toMatch(/^ann@dane\.example: bounced 4\.4\.7 /m);
    expect(folded.out.split('\n').length).toBeLessThan(250);

    const every = sim(...args, '--every-attempt');
    expect(every.code).toBe(0);
    const everyAttempt = [...every.out.matchAll(/^\+\S+ \S+ == attempt (\d+):/gm)].map((m) => Number(m[1]));
    expect(everyAttempt).toEqual(Array.from({ length: 111 }, (_, i) => i + 1));
    expect(every.out).not.toContain('the same as attempt');
    // Folding changes what is printed, not what happened: the outcome and the DSNs are the same.
    const tail = (out: string) => out.slice(out.indexOf('\noutcome at '));
    expect(tail(folded.out)).toBe(tail(every.out));
  });

  it("send --days 5 to two dead destinations: each one's retries fold on their own schedule, between the other's", () => {
    const { code, out } = sim('send', '--from', 'alice@example.com', '--to', 'ann@dane.example', '--to', 'bob@down.example', '--days', '5');
    expect(code).toBe(0);
    // dane.example refuses after STARTTLS, down.example does not answer (30 s timeout): the waits differ.
    expect(out).toMatch(/^\+0d 02:21:40 \.\. attempts 6–110 for ann@dane\.example: the same as attempt 5, 105 times, every 1h6m40s, until \+4d 21:55:00 /m);
    expect(out).toMatch(/^\+0d 02:24:10 \.\. attempts 6–110 for bob@down\.example: the same as attempt 5, 105 times, every 1h7m10s, until \+4d 22:49:30 /m);
    expect(out).toMatch(/^\+4d 23:01:40 == attempt 111: connect to mx\.dane\.example:25 for ann@dane\.example$/m);
    expect(out).toMatch(/^\+4d 23:56:40 == attempt 111: connect to mx2\.down\.example:25 for bob@down\.example$/m);
    expect(out).toMatch(/^ann@dane\.example: bounced 4\.4\.7 /m);
    expect(out).toMatch(/^bob@down\.example: bounced 4\.4\.7 /m);
    expect(out.split('\n').filter((line) => line.startsWith('+')).length).toBeLessThan(200);
  });

  it('send to the bouncer: accepted, bounced ten minutes later, and the report shown unless NOTIFY asked for none', () => {
    const sent = sim('send', '--from', 'alice@example.com', '--to', 'ann@bounce.example');
    expect(sent.code).toBe(0);
    expect(sent.out).toMatch(/^\+0d 00:00:00 <~ 250 2\.0\.0 OK: queued as /m);
    expect(sent.out).toMatch(/^\+0d 00:10:00 \*\* mx\.bounce\.example bounced ann@bounce\.example after accepting it: 5\.2\.2 .*; a DSN goes back to alice@example\.com$/m);
    expect(sent.out).toMatch(/^ann@bounce\.example: delivered \(250 .*\), then bounced 5\.2\.2 by mx\.bounce\.example$/m);
    expect(sent.out).toMatch(/^--- DSN \(failed\) from mx\.bounce\.example, in alice@example\.com's mailbox at \+0d 00:10:00 ---$/m);
    expect(sent.out).toContain('Reporting-MTA: dns; mx.bounce.example');

    const never = sim('send', '--from', 'alice@example.com', '--to', 'ann@bounce.example', '--notify', 'ann@bounce.example=NEVER');
    expect(never.code).toBe(0);
    expect(never.out).toMatch(/~> RCPT TO:<ann@bounce\.example> NOTIFY=NEVER$/m);
    expect(never.out).toMatch(/bounced ann@bounce\.example after accepting it: .*; no report: the sender's NOTIFY asked for none/);
    expect(never.out).not.toContain('--- DSN');
  });

  it('send --down: MX fallback', () => {
    const { code, out } = sim('send', '--from', 'alice@example.com', '--to', 'bob@example.net', '--down', 'mx1.example.net');
    expect(code).toBe(0);
    expect(out).toMatch(/!! mx1\.example\.net:25 connection refused/);
    expect(out).toMatch(/<- 220 mx2\.example\.net/);
  });

  it('send --down =timeout: the timeout is printed when the 30 s wait ends, then the next host is tried', () => {
    const { code, out } = sim('send', '--from', 'alice@example.com', '--to', 'bob@example.net', '--down', 'mx1.example.net=timeout');
    expect(code).toBe(0);
    const lines = out.split('\n');
    const timedOut = lines.findIndex((l) => /!! mx1\.example\.net:25 connection timed out$/.test(l));
    expect(lines[timedOut]).toMatch(/^\+0d 00:00:30 /);
    expect(lines[timedOut + 1]).toMatch(/^\+0d 00:00:30 == attempt 1: connect to mx2\.example\.net:25/);
  });

  it('send --notify --envid: the DSN requests of RFC 3461 decide which reports alice gets', () => {
    const { code, out } = sim(
      'send', '--from', 'alice@example.com', '--to', 'bob@example.net', '--to', 'nobody@strict.example',
      '--notify', 'bob@example.net=SUCCESS', '--notify', 'nobody@strict.example=NEVER', '--envid', 'QQ314159',
    );
    expect(code).toBe(0);
    expect(out).toMatch(/^nobody@strict\.example: bounced 5\.1\.1/m);
    // One report, the success bob asked for; none for the bounce NOTIFY=NEVER declined.
    expect(out.match(/^--- DSN \((\w+)\)/gm)).toEqual(['--- DSN (relayed)']);
    expect(out).toContain('Original-Envelope-Id: QQ314159');
    expect(out).toMatch(/^Final-Recipient: rfc822; bob@example\.net\nAction: relayed\nStatus: 2\.0\.0$/m);
    expect(out).not.toContain('Final-Recipient: rfc822; nobody@strict.example');
    const wrong = sim('send', '--from', 'alice@example.com', '--to', 'bob@example.net', '--notify', 'carol@example.net=NEVER');
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/^sim: --notify names "carol@example\.net", which is not a recipient/);
  });

  it('send --orcpt: the bounce names the Original-Recipient; a bad value is a usage error naming the option', () => {
    const { code, out } = sim('send', '--from', 'alice@example.com', '--to', 'nobody@strict.example', '--orcpt', 'nobody@strict.example=rfc822;nobody@old.example');
    expect(code).toBe(0);
    expect(out).toMatch(/^Original-Recipient: rfc822; nobody@old\.example\nFinal-Recipient: rfc822; nobody@strict\.example$/m);
    const wrong = sim('send', '--from', 'alice@example.com', '--to', 'bob@example.net', '--orcpt', 'bob@example.net=rfc 822;bob@old.example');
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/^sim: --orcpt bob@example\.net=rfc 822;bob@old\.example: "rfc 822" is not an address type/);
  });

  it('dig MX example.net and world', () => {
    const dig = sim('dig', '+short', 'MX', 'example.net');
    expect(dig.code).toBe(0);
    expect(dig.out.trim().split('\n')).toEqual(['10 mx1.example.net.', '20 mx2.example.net.']);
    const world = sim('world');
    expect(world.code).toBe(0);
    expect(world.out).toMatch(/^nullmx\.example — /m);
  });

  it('bad arguments: a clear message and exit 2', () => {
    for (const args of [[], ['send'], ['send', '--from', 'alice'], ['send', '--from', 'alice@example.com'], ['send', '--from', 'a@example.com', '--to', 'b@example.net', '--days', 'x'], ['send', '--bogus'], ['frobnicate'], ['dig'], ['send', '--from', 'a@example.com', '--to', 'b@example.net', '--world', 'mars'], ['send', '--from', 'a@example.com', '--to', 'b@example.net', '--ret', 'ALL'], ['send', '--from', 'a@example.com', '--to', 'b@example.net', '--notify', 'b@example.net=SOMETIMES']]) {
      const { code, err } = sim(...args);
      expect(code, args.join(' ')).toBe(2);
      expect(err, args.join(' ')).toMatch(/^sim: .+\nusage:/);
    }
  }, 120_000);
});
