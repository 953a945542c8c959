// DSN requests (RFC 3461) at the world's submission server, end to end: what alice finds in her
// mailbox when she asks for RET, ENVID, NOTIFY and ORCPT, through `world.send` and over SMTP.
import { describe, expect, it } from 'vitest';
import { createWorld, type World } from '../../src/sim/world';
import { parseDsn, type ParsedDsn } from '../../src/sim/dsn';
import { headerValue } from '../../src/sim/mailbox';
import { openSubmissionSession } from './submissionSession';

const ALICE = 'alice@example.com';
const HOUR = 3_600_000;

/** Every DSN in alice's mailbox, parsed (a message that is not a DSN fails the test). */
function reportsTo(world: World): ParsedDsn[] {
  return world.mailboxes
    .list(ALICE)
    .filter((m) => m.isDsn)
    .map((m) => {
      const parsed = parseDsn(m.raw);
      if (!parsed.ok) throw new Error(parsed.error);
      return parsed.dsn;
    });
}

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
