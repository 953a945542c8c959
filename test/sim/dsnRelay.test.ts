// The world's MTA relaying DSN requests (RFC 3461 §5.2): to mx.bounce.example, which lists DSN,
// RET/ENVID/NOTIFY/ORCPT go on with MAIL and RCPT, and reporting becomes that host's business;
// to mx1.example.net, which does not, the lines are plain and NOTIFY=SUCCESS gets "relayed".
import { describe, expect, it } from 'vitest';
import { createWorld, type World } from '../../src/sim/world';
import { headerValue } from '../../src/sim/mailbox';
import { openSubmissionSession } from './submissionSession';
import { bouncesLoggedBy, reportsTo } from './dsnReports';

const ALICE = 'alice@example.com';
const BODY = 'The minutes, with every figure in this body.';


/** The MAIL and RCPT lines `host` received. */
function envelopeLinesAt(world: World, host: string): string[] {
  return world.log
    .ofKind('command')
    .filter((e) => e.host === host && /^(MAIL|RCPT) /i.test(e.line))
    .map((e) => e.line);
}

/** The keywords `host` listed in its EHLO replies. */
function ehloKeywordsOf(world: World, host: string): string[] {
  return world.log
    .ofKind('reply')
    .filter((e) => e.host === host && e.reply.code === 250 && /Hello/.test(e.reply.lines[0] ?? ''))
    .flatMap((e) => e.reply.lines.slice(1).map((line) => line.split(' ', 1)[0]!));
}


describe('to a next hop that lists DSN (mx.bounce.example): the requests go on (RFC 3461 §5.2.1)', () => {
  it('NOTIFY=NEVER is on the RCPT; the later bounce is logged, and no DSN reaches the sender', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['dana@bounce.example'], subject: 'Minutes', body: BODY, dsn: { notify: { 'dana@bounce.example': 'NEVER' } } });
    world.runUntilIdle();
    expect(ehloKeywordsOf(world, 'mx.bounce.example')).toContain('DSN');
    expect(envelopeLinesAt(world, 'mx.bounce.example')).toEqual(['MAIL FROM:<alice@example.com>', 'RCPT TO:<dana@bounce.example> NOTIFY=NEVER']);
    // The MTA handed the message over (250); the bouncer failed it afterwards, silently.
    expect(handle.recipients()[0]!.status).toBe('delivered');
    expect(bouncesLoggedBy(world, 'mx.bounce.example')).toEqual(['dana@bounce.example']);
    expect(handle.dsns).toEqual([]);
    expect(reportsTo(world)).toEqual([]);
  });

  it('the same message without NOTIFY brings the bouncer\'s bounce (the control for the test above)', () => {
    const world = createWorld();
    world.send({ from: ALICE, to: ['dana@bounce.example'], subject: 'Minutes', body: BODY });
    world.runUntilIdle();
    expect(envelopeLinesAt(world, 'mx.bounce.example')).toEqual(['MAIL FROM:<alice@example.com>', 'RCPT TO:<dana@bounce.example>']);
    expect(reportsTo(world).map((d) => [d.reportingMta, d.recipients.map((r) => r.action).join()])).toEqual([['mx.bounce.example', 'failed']]);
  });

  it("the bouncer's DSN dates the message's arrival when it was accepted, not when the bounce went out (RFC 3464 §2.2.5)", () => {
    const world = createWorld();
    const acceptedAt = world.clock.now();
    world.send({ from: ALICE, to: ['dana@bounce.example'], subject: 'Minutes', body: BODY });
    world.runUntilIdle();
    const [report] = reportsTo(world);
    const bounced = world.log.ofKind('bounce').find((e) => e.host === 'mx.bounce.example')!;
    expect(bounced.at - acceptedAt).toBe(10 * 60_000);
    expect(report!.arrivalDate).toBe(acceptedAt);
  });

  it("the message's handle lists the later bounce: delivered to the MTA, failed at the next hop", () => {
    const world = createWorld();
    const reported = world.send({ from: ALICE, to: ['dana@bounce.example'], subject: 'Minutes', body: BODY });
    const silent = world.send({ from: ALICE, to: ['eve@bounce.example'], subject: 'Minutes', body: BODY, dsn: { notify: { 'eve@bounce.example': 'NEVER' } } });
    const elsewhere = world.send({ from: ALICE, to: ['bob@example.net'], subject: 'Minutes', body: BODY });
    expect(reported.laterBounces()).toEqual([]);
    world.runUntilIdle();
    expect(reported.recipients()[0]!.status).toBe('delivered');
    expect(reported.laterBounces()).toEqual([expect.objectContaining({ recipient: 'dana@bounce.example', host: 'mx.bounce.example', status: '5.2.2', reportSent: true })]);
    expect(silent.laterBounces()).toEqual([expect.objectContaining({ recipient: 'eve@bounce.example', reportSent: false })]);
    expect(elsewhere.laterBounces()).toEqual([]);
  });

  it('NOTIFY=FAILURE, RET=FULL, ENVID and ORCPT: the bouncer\'s DSN carries Original-Envelope-Id, Original-Recipient and the whole message', () => {
    const world = createWorld();
    world.send({
      from: ALICE,
      to: ['dana@bounce.example'],
      subject: 'Minutes',
      body: BODY,
      dsn: { ret: 'FULL', envid: 'QQ 271=828', notify: { 'dana@bounce.example': ['FAILURE'] }, orcpt: { 'dana@bounce.example': 'rfc822;dana+old@old.example' } },
    });
    world.runUntilIdle();
    expect(envelopeLinesAt(world, 'mx.bounce.example')).toEqual([
      'MAIL FROM:<alice@example.com> RET=FULL ENVID=QQ+20271+3D828',
      'RCPT TO:<dana@bounce.example> NOTIFY=FAILURE ORCPT=rfc822;dana+2Bold@old.example',
    ]);
    const reports = reportsTo(world);
    expect(reports).toHaveLength(1);
    const [bounce] = reports;
    // Written by the host that had the requests, not by the world's MTA.
    expect(bounce!.reportingMta).toBe('mx.bounce.example');
    expect(bounce!.originalEnvelopeId).toBe('QQ 271=828');
    expect(bounce!.recipients.map((r) => [r.finalRecipient, r.action])).toEqual([['dana@bounce.example', 'failed']]);
    expect(headerValue(bounce!.recipients[0]!.fields, 'Original-Recipient')).toBe('rfc822; dana+old@old.example');
    expect(bounce!.returnedContent).toBe('full');
    expect(headerValue(bounce!.originalHeaders, 'Subject')).toBe('Minutes');
    expect(bounce!.returnedBody).toContain(BODY);
  });

  it('NOTIFY=SUCCESS: no "relayed" report from the world\'s MTA, since the bouncer was given the request', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['dana@bounce.example'], dsn: { notify: { 'dana@bounce.example': ['SUCCESS'] } } });
    world.runUntilIdle();
    expect(envelopeLinesAt(world, 'mx.bounce.example')).toEqual(['MAIL FROM:<alice@example.com>', 'RCPT TO:<dana@bounce.example> NOTIFY=SUCCESS']);
    expect(handle.recipients()[0]!.status).toBe('delivered');
    expect(handle.dsns).toEqual([]);
    // The bouncer fails it later, and SUCCESS alone asked for no failure report.
    expect(bouncesLoggedBy(world, 'mx.bounce.example')).toEqual(['dana@bounce.example']);
    expect(reportsTo(world)).toEqual([]);
  });

  it('typed at the submission server, the requests travel on to the bouncer too', () => {
    const world = createWorld();
    const { server, replies } = openSubmissionSession(world);
    const plain = Buffer.from('\0alice@example.com\0s3cr3t').toString('base64');
    server.write(`EHLO laptop.example\r\nAUTH PLAIN ${plain}\r\n`);
    expect(replies.at(-1)).toMatch(/^235 /);
    const mark = replies.length;
    server.write('MAIL FROM:<alice@example.com> RET=HDRS ENVID=QQ314159\r\n');
    server.write('RCPT TO:<dana@bounce.example> NOTIFY=FAILURE ORCPT=rfc822;dana@bounce.example\r\n');
    server.write('RCPT TO:<eve@bounce.example> NOTIFY=NEVER\r\n');
    server.write('DATA\r\nSubject: typed\r\n\r\nthis body stays home\r\n.\r\nQUIT\r\n');
    expect(replies.slice(mark).map((r) => r.slice(0, 3))).toEqual(['250', '250', '250', '354', '250', '221']);
    world.runUntilIdle();
    expect(envelopeLinesAt(world, 'mx.bounce.example')).toEqual([
      'MAIL FROM:<alice@example.com> RET=HDRS ENVID=QQ314159',
      'RCPT TO:<dana@bounce.example> NOTIFY=FAILURE ORCPT=rfc822;dana@bounce.example',
      'RCPT TO:<eve@bounce.example> NOTIFY=NEVER',
    ]);
    expect(bouncesLoggedBy(world, 'mx.bounce.example').sort()).toEqual(['dana@bounce.example', 'eve@bounce.example']);
    const reports = reportsTo(world);
    expect(reports.map((d) => [d.reportingMta, d.originalEnvelopeId, d.returnedContent, d.recipients.map((r) => r.finalRecipient).join()])).toEqual([
      ['mx.bounce.example', 'QQ314159', 'headers', 'dana@bounce.example'],
    ]);
  });
});

describe('to a next hop without DSN (mx1.example.net): plain lines, and "relayed" (RFC 3461 §5.2.2)', () => {
  it('NOTIFY=SUCCESS: MAIL and RCPT carry no parameter, and the world\'s MTA reports "relayed"', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['bob@example.net'], dsn: { ret: 'HDRS', envid: 'QQ314159', notify: { 'bob@example.net': ['SUCCESS', 'FAILURE'] } } });
    world.runUntilIdle();
    expect(ehloKeywordsOf(world, 'mx1.example.net')).not.toContain('DSN');
    expect(envelopeLinesAt(world, 'mx1.example.net')).toEqual(['MAIL FROM:<alice@example.com>', 'RCPT TO:<bob@example.net>']);
    expect(handle.dsns.map((d) => [d.action, d.reportingMta, d.recipients.join()])).toEqual([['relayed', 'smtp.example.com', 'bob@example.net']]);
    const reports = reportsTo(world);
    expect(reports.map((d) => [d.originalEnvelopeId, d.recipients.map((r) => `${r.finalRecipient} ${r.action}`).join()])).toEqual([['QQ314159', 'bob@example.net relayed']]);
  });

  it('one message to both kinds of host: "relayed" for the recipient at mx1.example.net only', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['bob@example.net', 'dana@bounce.example'], dsn: { notify: { 'bob@example.net': ['SUCCESS'], 'dana@bounce.example': ['SUCCESS'] } } });
    world.runUntilIdle();
    expect(envelopeLinesAt(world, 'mx1.example.net')).toEqual(['MAIL FROM:<alice@example.com>', 'RCPT TO:<bob@example.net>']);
    expect(envelopeLinesAt(world, 'mx.bounce.example')).toEqual(['MAIL FROM:<alice@example.com>', 'RCPT TO:<dana@bounce.example> NOTIFY=SUCCESS']);
    expect(handle.dsns.map((d) => [d.action, d.recipients.join()])).toEqual([['relayed', 'bob@example.net']]);
  });
});
