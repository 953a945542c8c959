// DSN requests (RFC 3461) at the world's submission server, end to end: what alice finds in her
// mailbox when she asks for RET, ENVID, NOTIFY and ORCPT, through `world.send` and over SMTP;
// and at the bouncer, whose later bounce honours what MAIL and RCPT asked of it.
import { describe, expect, it } from 'vitest';
import { createWorld, type World } from '../../src/sim/world';
import type { ParsedDsn } from '../../src/sim/dsn';
import { headerValue } from '../../src/sim/mailbox';
import { openSubmissionSession } from './submissionSession';
import { formatReply } from '../../src/protocol/reply';
import { finishDsnOptions, noDsnOptions, readDsnOption } from '../../src/lab/dsnOptions';
import { bouncesLoggedBy, reportsTo } from './dsnReports';

const ALICE = 'alice@example.com';
const HOUR = 3_600_000;


function reportedRecipients(reports: ParsedDsn[], action: string): string[] {
  return reports.flatMap((d) => d.recipients.filter((r) => r.action === action).map((r) => r.finalRecipient)).sort();
}

describe('NOTIFY (RFC 3461 §4.1)', () => {
  it('NEVER silences the bounce of that recipient; an unflagged recipient of the same message still bounces', () => {
    const world = createWorld();
    world.send({ from: ALICE, to: ['nobody@strict.example', 'ghost@strict.example'], dsn: { notify: { 'nobody@strict.example': 'NEVER' } } });
    world.runUntilIdle();
    const reports = reportsTo(world);
    expect(reportedRecipients(reports, 'failed')).toEqual(['ghost@strict.example']);
    expect(reports.flatMap((d) => d.recipients.map((r) => r.finalRecipient))).not.toContain('nobody@strict.example');
  });

  it('without FAILURE there is no failure report at all', () => {
    const world = createWorld();
    world.send({ from: ALICE, to: ['nobody@strict.example'], dsn: { notify: { 'nobody@strict.example': ['DELAY'] } } });
    world.runUntilIdle();
    expect(world.deliveries()[0]!.recipients()[0]!.status).toBe('failed');
    expect(reportsTo(world)).toEqual([]);
  });

  it('SUCCESS,FAILURE: a good recipient gets a "relayed" report (the next hop offers no DSN, §5.2.2), a bad one a failure', () => {
    const world = createWorld();
    world.send({
      from: ALICE,
      to: ['bob@example.net', 'carol@example.net', 'nobody@strict.example'],
      dsn: { notify: { 'bob@example.net': ['SUCCESS', 'FAILURE'], 'nobody@strict.example': ['SUCCESS', 'FAILURE'] } },
    });
    world.runUntilIdle();
    expect(world.mailboxes.list('bob@example.net')).toHaveLength(1);
    const reports = reportsTo(world);
    const relayed = reports.filter((d) => d.recipients.some((r) => r.action === 'relayed'));
    expect(relayed).toHaveLength(1);
    expect(relayed[0]!.subject).toBe('Successful Mail Delivery Report');
    // carol gave no NOTIFY: no success report for her (§4.1, the default never includes SUCCESS).
    expect(relayed[0]!.recipients.map((r) => [r.finalRecipient, r.action, r.status, r.remoteMta])).toEqual([['bob@example.net', 'relayed', '2.0.0', 'mx1.example.net']]);
    expect(reportedRecipients(reports, 'failed')).toEqual(['nobody@strict.example']);
  });

  it('one success report covers the recipients of one message accepted at one moment', () => {
    const world = createWorld();
    world.send({ from: ALICE, to: ['bob@example.net', 'carol@example.net'], dsn: { notify: { 'bob@example.net': ['SUCCESS'], 'carol@example.net': ['SUCCESS'] } } });
    world.runUntilIdle();
    const reports = reportsTo(world);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.recipients.map((r) => `${r.finalRecipient} ${r.action}`)).toEqual(['bob@example.net relayed', 'carol@example.net relayed']);
  });

  it('FAILURE only: no delay warning while a greylisted, then dead, destination keeps the message waiting', () => {
    const run = (notify: Record<string, readonly ('SUCCESS' | 'FAILURE' | 'DELAY')[]> | undefined) => {
      const world = createWorld();
      world.send({ from: ALICE, to: ['x@grey.example'], ...(notify ? { dsn: { notify } } : {}) });
      // The first try is greylisted (451 4.7.1); then the host goes away.
      expect(world.deliveries()[0]!.recipients()[0]!.status).toBe('deferred');
      world.setHostDown('mx.grey.example', 'refused');
      world.advance(world.retryPolicy.delayWarningMs + 2 * HOUR);
      return { world, reports: reportsTo(world) };
    };
    // The same story with no NOTIFY warns the sender: the control for the assertion below.
    const unflagged = run(undefined);
    expect(reportedRecipients(unflagged.reports, 'delayed')).toEqual(['x@grey.example']);

    const { world, reports } = run({ 'x@grey.example': ['FAILURE'] });
    expect(world.deliveries()[0]!.recipients()[0]!.status).toBe('deferred');
    expect(reports).toEqual([]);
  });
});

describe('RET (RFC 3461 §4.3)', () => {
  const BODY = 'The secret recipe is in this body.';

  it('HDRS: the bounce carries the original header and not the body', () => {
    const world = createWorld();
    world.send({ from: ALICE, to: ['nobody@strict.example'], subject: 'Recipe', body: BODY, dsn: { ret: 'HDRS' } });
    world.runUntilIdle();
    const [bounce] = reportsTo(world);
    expect(bounce!.returnedContent).toBe('headers');
    expect(headerValue(bounce!.originalHeaders, 'Subject')).toBe('Recipe');
    const raw = world.mailboxes.list(ALICE).find((m) => m.isDsn)!.raw;
    expect(raw).not.toContain(BODY);
  });

  it('FULL: the bounce carries the whole message, body included (message/rfc822)', () => {
    const world = createWorld();
    world.send({ from: ALICE, to: ['nobody@strict.example'], subject: 'Recipe', body: BODY, dsn: { ret: 'FULL' } });
    world.runUntilIdle();
    const [bounce] = reportsTo(world);
    expect(bounce!.returnedContent).toBe('full');
    expect(headerValue(bounce!.originalHeaders, 'Subject')).toBe('Recipe');
    expect(bounce!.returnedBody).toContain(BODY);
  });
});

describe('ENVID and ORCPT (RFC 3464 §2.2.1, §2.3.1)', () => {
  it('come back as Original-Envelope-Id and Original-Recipient', () => {
    const world = createWorld();
    world.send({
      from: ALICE,
      to: ['nobody@strict.example', 'ghost@strict.example'],
      dsn: { envid: 'QQ314159', orcpt: { 'nobody@strict.example': 'rfc822;old-nobody@example.org' } },
    });
    world.runUntilIdle();
    const [bounce] = reportsTo(world);
    expect(bounce!.originalEnvelopeId).toBe('QQ314159');
    const byRecipient = new Map(bounce!.recipients.map((r) => [r.finalRecipient, r]));
    expect(headerValue(byRecipient.get('nobody@strict.example')!.fields, 'Original-Recipient')).toBe('rfc822; old-nobody@example.org');
    expect(byRecipient.get('ghost@strict.example')!.originalRecipient).toBeUndefined();
  });
});

describe('bad DSN options', () => {
  it.each([
    [{ ret: 'ALL' }, /dsn\.ret must be FULL or HDRS/],
    [{ envid: 'x'.repeat(101) }, /dsn\.envid must be 1 to 100/],
    [{ notify: { 'bob@example.net': ['SUCCESS', 'NEVER'] } }, /dsn\.notify for bob@example\.net must be "NEVER" or a list/],
    [{ notify: { 'eve@example.net': 'NEVER' } }, /names "eve@example\.net", which is not a recipient/],
    [{ orcpt: { 'bob@example.net': 'bob@example.net' } }, /dsn\.orcpt for bob@example\.net must be addr-type;address/],
  ])('%j is refused with a clear error, and nothing is queued', (dsn, error) => {
    const world = createWorld();
    expect(() => world.sendAll([{ from: ALICE, to: ['carol@example.net'] }, { from: ALICE, to: ['bob@example.net'], dsn: dsn as never }])).toThrow(error);
    expect(world.deliveries()).toEqual([]);
  });
});

describe('typed at the submission server', () => {
  it('advertises DSN and honours RET=HDRS ENVID=QQ314159 and NOTIFY=FAILURE ORCPT=rfc822;...', () => {
    const world = createWorld();
    const { server, replies } = openSubmissionSession(world);
    const plain = Buffer.from('\0alice@example.com\0s3cr3t').toString('base64');
    server.write(`EHLO laptop.example\r\nAUTH PLAIN ${plain}\r\n`);
    expect(replies.at(-2)!.split(/\r?\n/)).toContain('250 DSN');
    expect(replies.at(-1)).toMatch(/^235 /);

    const mark = replies.length;
    server.write('MAIL FROM:<alice@example.com> RET=HDRS ENVID=QQ314159\r\n');
    // mx1.example.net takes any address at example.net, so this one is delivered: FAILURE only, no report.
    server.write('RCPT TO:<nobody@example.net> NOTIFY=FAILURE ORCPT=rfc822;nobody@example.net\r\n');
    // strict.example refuses unknown mailboxes (550 5.1.1): this one bounces.
    server.write('RCPT TO:<nobody@strict.example> NOTIFY=FAILURE ORCPT=rfc822;nobody@strict.example\r\n');
    server.write('RCPT TO:<bob@example.net> NOTIFY=NEVER\r\n');
    server.write('DATA\r\nSubject: typed by hand\r\n\r\nthis body stays home\r\n.\r\nQUIT\r\n');
    expect(replies.slice(mark).map((r) => r.slice(0, 3))).toEqual(['250', '250', '250', '250', '354', '250', '221']);
    world.runUntilIdle();

    for (const address of ['bob@example.net', 'nobody@example.net']) {
      expect(world.mailboxes.list(address).map((m) => headerValue(m.headers, 'Subject'))).toEqual(['typed by hand']);
    }
    const reports = reportsTo(world);
    expect(reports).toHaveLength(1);
    const [bounce] = reports;
    expect(bounce!.reportingMta).toBe('smtp.example.com');
    expect(bounce!.originalEnvelopeId).toBe('QQ314159');
    expect(bounce!.recipients).toHaveLength(1);
    expect(bounce!.recipients[0]).toMatchObject({ finalRecipient: 'nobody@strict.example', originalRecipient: 'nobody@strict.example', action: 'failed', status: '5.1.1' });
    expect(headerValue(bounce!.recipients[0]!.fields, 'Original-Recipient')).toBe('rfc822; nobody@strict.example');
    expect(bounce!.returnedContent).toBe('headers');
    expect(headerValue(bounce!.originalHeaders, 'Subject')).toBe('typed by hand');
    expect(world.mailboxes.list(ALICE).find((m) => m.isDsn)!.raw).not.toContain('this body stays home');
  });

  it('a DSN about a DSN is never sent: a bounce from <> with NOTIFY=FAILURE stays silent', () => {
    const world = createWorld();
    world.send({ from: '', to: ['nobody@strict.example'], dsn: { notify: { 'nobody@strict.example': ['SUCCESS', 'FAILURE'] } } });
    world.runUntilIdle();
    expect(world.deliveries()[0]!.recipients()[0]!.status).toBe('failed');
    expect(world.deliveries()).toHaveLength(1);
  });
});

describe('send --orcpt, read by the parser the lab and the sim CLI share', () => {
  it('the bounce about that recipient names it as Original-Recipient; the other recipient has none', () => {
    const to = ['nobody@strict.example', 'ghost@strict.example'];
    const values = noDsnOptions();
    expect(readDsnOption(values, '--orcpt', 'nobody@strict.example=rfc822;nobody@old.example')).toBeUndefined();
    const options = finishDsnOptions(values, to);
    if (!options.ok) throw new Error(options.error);
    const world = createWorld();
    world.send({ from: ALICE, to, ...(options.dsn ? { dsn: options.dsn } : {}) });
    world.runUntilIdle();
    const [bounce] = reportsTo(world);
    const byRecipient = new Map(bounce!.recipients.map((r) => [r.finalRecipient, r]));
    expect(headerValue(byRecipient.get('nobody@strict.example')!.fields, 'Original-Recipient')).toBe('rfc822; nobody@old.example');
    expect(headerValue(byRecipient.get('ghost@strict.example')!.fields, 'Original-Recipient')).toBeUndefined();
  });
});

/**
 * A plain session with the bouncer (mx.bounce.example: 250 at the end of DATA, a bounce ten
 * minutes later), the way a learner types one: every reply so far as wire text.
 */
function openBouncerSession(world: World) {
  const opened = world.connect('mx.bounce.example', 25);
  if (!opened.ok) throw new Error(opened.message);
  const server = opened.connection;
  const replies: string[] = [];
  server.onReply((reply) => replies.push(formatReply(reply).trim()));
  server.start();
  return { server, replies };
}

/** One message to the bouncer from alice, with these MAIL and RCPT lines; the session ends with QUIT. */
function sendToBouncer(world: World, mail: string, ...rcpts: string[]): string[] {
  const { server, replies } = openBouncerSession(world);
  server.write(`EHLO laptop.example\r\n${mail}\r\n`);
  for (const rcpt of rcpts) server.write(`${rcpt}\r\n`);
  server.write('DATA\r\nSubject: Minutes\r\n\r\nthe body of the minutes\r\n.\r\nQUIT\r\n');
  world.runUntilIdle();
  return replies;
}

function bouncesLogged(world: World): string[] {
  return bouncesLoggedBy(world, 'mx.bounce.example');
}

describe('the bouncer honours the DSN request it was given (RFC 3461)', () => {
  it('lists DSN in its EHLO reply, so a client may give the parameters (RFC 5321 §4.1.1.11 refuses them otherwise)', () => {
    const replies = sendToBouncer(createWorld(), 'MAIL FROM:<alice@example.com>', 'RCPT TO:<dana@bounce.example>');
    expect(replies[1]!.split(/\r?\n/)).toContain('250 DSN');
  });

  it('NOTIFY=NEVER: the recipient fails all the same, and no report is sent', () => {
    const world = createWorld();
    const replies = sendToBouncer(world, 'MAIL FROM:<alice@example.com> RET=FULL', 'RCPT TO:<dana@bounce.example> NOTIFY=NEVER');
    expect(replies.map((r) => r.slice(0, 3))).toEqual(['220', '250', '250', '250', '354', '250', '221']);
    expect(bouncesLogged(world)).toEqual(['dana@bounce.example']);
    expect(world.mailboxes.list(ALICE)).toEqual([]);
  });

  it('NOTIFY=SUCCESS (no FAILURE): no report; a second recipient without NOTIFY still gets its bounce', () => {
    const world = createWorld();
    sendToBouncer(world, 'MAIL FROM:<alice@example.com>', 'RCPT TO:<dana@bounce.example> NOTIFY=SUCCESS', 'RCPT TO:<eve@bounce.example>', 'RCPT TO:<fay@bounce.example> NOTIFY=DELAY,SUCCESS');
    expect(bouncesLogged(world).sort()).toEqual(['dana@bounce.example', 'eve@bounce.example', 'fay@bounce.example']);
    const reports = reportsTo(world);
    expect(reports.map((d) => d.reportingMta)).toEqual(['mx.bounce.example']);
    expect(reportedRecipients(reports, 'failed')).toEqual(['eve@bounce.example']);
  });

  it('NOTIFY=FAILURE: the bounce is sent', () => {
    const world = createWorld();
    sendToBouncer(world, 'MAIL FROM:<alice@example.com>', 'RCPT TO:<dana@bounce.example> NOTIFY=SUCCESS,FAILURE');
    expect(reportedRecipients(reportsTo(world), 'failed')).toEqual(['dana@bounce.example']);
  });

  it('RET=FULL returns the whole message, body included', () => {
    const world = createWorld();
    sendToBouncer(world, 'MAIL FROM:<alice@example.com> RET=FULL', 'RCPT TO:<dana@bounce.example>');
    const [bounce] = reportsTo(world);
    expect(bounce!.returnedContent).toBe('full');
    expect(bounce!.returnedBody).toContain('the body of the minutes');
  });

  it('RET=HDRS, or no RET: the header only', () => {
    for (const mail of ['MAIL FROM:<alice@example.com> RET=HDRS', 'MAIL FROM:<alice@example.com>']) {
      const world = createWorld();
      sendToBouncer(world, mail, 'RCPT TO:<dana@bounce.example>');
      const [bounce] = reportsTo(world);
      expect(bounce!.returnedContent).toBe('headers');
      expect(headerValue(bounce!.originalHeaders, 'Subject')).toBe('Minutes');
      expect(world.mailboxes.list(ALICE).find((m) => m.isDsn)!.raw).not.toContain('the body of the minutes');
    }
  });

  it('ENVID comes back as Original-Envelope-Id, each ORCPT as that recipient\'s Original-Recipient', () => {
    const world = createWorld();
    sendToBouncer(
      world,
      'MAIL FROM:<alice@example.com> ENVID=QQ+20271828',
      'RCPT TO:<dana@bounce.example> ORCPT=rfc822;dana+2Bold@old.example',
      'RCPT TO:<eve@bounce.example>',
    );
    const reports = reportsTo(world);
    expect(reports).toHaveLength(2);
    for (const report of reports) expect(report.originalEnvelopeId).toBe('QQ 271828');
    const recipients = new Map(reports.flatMap((d) => d.recipients).map((r) => [r.finalRecipient, r]));
    expect(headerValue(recipients.get('dana@bounce.example')!.fields, 'Original-Recipient')).toBe('rfc822; dana+old@old.example');
    expect(headerValue(recipients.get('eve@bounce.example')!.fields, 'Original-Recipient')).toBeUndefined();
  });
});
