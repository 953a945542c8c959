// One scenario per failure the reference article walks through, asserting what a learner sees:
// the recipient's outcome, the attempts on the timeline, the mailboxes and the DSN.
import { describe, expect, it } from 'vitest';
import { createWorld, dsnsIn, type DeliveryHandle, type World } from '../../src/sim/world';
import { parseDsn } from '../../src/sim/dsn';
import { DEFAULT_RETRY_POLICY } from '../../src/machines/delivery';

const ALICE = 'alice@example.com';
const MINUTE = 60_000;
const DAY = 86_400_000;

function statusOf(handle: DeliveryHandle, address: string) {
  const r = handle.recipients().find((x) => x.address === address);
  if (!r) throw new Error(`no recipient ${address}`);
  return r;
}

function failedDsns(world: World) {
  return dsnsIn(world.mailboxes, ALICE).map((m) => {
    const parsed = parseDsn(m.raw);
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.dsn;
  });
}

describe('MX fallback', () => {
  it('delivers through mx2 when the primary mx1 refuses connections', () => {
    const world = createWorld();
    world.setHostDown('mx1.example.net', 'refused');
    const handle = world.send({ from: ALICE, to: ['bob@example.net'] });
    expect(statusOf(handle, 'bob@example.net').status).toBe('delivered');
    const hosts = handle.timeline().filter((t) => t.host).map((t) => [t.host, t.outcome]);
    expect(hosts).toEqual([
      ['mx1.example.net', 'refused'],
      ['mx2.example.net', 'delivered'],
    ]);
    expect(world.mailboxes.list('bob@example.net')).toHaveLength(1);
    expect(world.mailboxes.list('bob@example.net')[0]!.deliveredBy).toBe('mx2.example.net');
  });

  it('also falls back when mx1 times out, and the timeout costs virtual time', () => {
    const world = createWorld();
    world.setHostDown('mx1.example.net', 'timeout');
    const handle = world.send({ from: ALICE, to: ['carol@example.net'] });
    expect(handle.done).toBe(false); // the connect is still waiting for its timeout
    world.advance(MINUTE);
    expect(statusOf(handle, 'carol@example.net').status).toBe('delivered');
    const delivered = world.mailboxes.list('carol@example.net')[0]!;
    expect(delivered.deliveredAt - handle.arrivalAt).toBe(30_000);
  });
});

describe('greylisting', () => {
  it('is deferred with 451 4.7.1 first, then delivered on the retry five minutes later', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['erin@grey.example'] });
    const first = statusOf(handle, 'erin@grey.example');
    expect(first.status).toBe('deferred');
    expect(first.last?.reply?.code).toBe(451);
    expect(first.last?.status).toBe('4.7.1');
    expect(world.mailboxes.list('erin@grey.example')).toHaveLength(0);
    world.advance(DEFAULT_RETRY_POLICY.minimalBackoffMs);
    expect(statusOf(handle, 'erin@grey.example').status).toBe('delivered');
    expect(statusOf(handle, 'erin@grey.example').attempts).toBe(2);
    expect(world.mailboxes.list('erin@grey.example')).toHaveLength(1);
    expect(failedDsns(world)).toHaveLength(0);
  });
});

describe('550 5.1.1 user unknown', () => {
  it('bounces at once, with a DSN naming the recipient and the remote reply', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['nobody@strict.example'] });
    expect(handle.done).toBe(true);
    expect(statusOf(handle, 'nobody@strict.example')).toMatchObject({ status: 'failed', statusCode: '5.1.1', attempts: 1 });
    const [dsn] = failedDsns(world);
    expect(dsn?.recipients).toEqual([
      expect.objectContaining({ finalRecipient: 'nobody@strict.example', action: 'failed', status: '5.1.1', remoteMta: 'mx.strict.example' }),
    ]);
    expect(dsn?.recipients[0]?.diagnosticCode).toMatch(/^550 5\.1\.1 /);
    // The reply is the server's: typed "smtp" (RFC 3464 §2.3.6), with the server as Remote-MTA.
    const raw = dsnsIn(world.mailboxes, ALICE)[0]!.raw;
    expect(raw).toMatch(/^Remote-MTA: dns; mx\.strict\.example$/m);
    expect(raw).toMatch(/^Diagnostic-Code: smtp; 550 5\.1\.1 /m);
  });
});

describe('rejection at the end of DATA', () => {
  it('accepts the envelope, refuses the message with 554 5.7.1, and the sender gets a DSN', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['frank@filter-content.example'] });
    const r = statusOf(handle, 'frank@filter-content.example');
    expect(r.status).toBe('failed');
    expect(r.last?.reply).toMatchObject({ code: 554, enhanced: '5.7.1' });
    // The RCPT was accepted: the refusal came only after the whole message was sent.
    const commands = world.log.ofKind('command').filter((e) => e.host === 'mx.filter-content.example').map((e) => e.line);
    expect(commands).toContain('RCPT TO:<frank@filter-content.example>');
    expect(commands).toContain('.');
    expect(world.mailboxes.list('frank@filter-content.example')).toHaveLength(0);
    expect(failedDsns(world)[0]?.recipients[0]?.status).toBe('5.7.1');
  });
});

describe('accepted, then bounced', () => {
  it('gets 250 at the end of DATA, yet a DSN from the receiving host arrives later', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['gina@bounce.example'] });
    expect(statusOf(handle, 'gina@bounce.example').status).toBe('delivered');
    expect(failedDsns(world)).toHaveLength(0);
    world.advance(10 * MINUTE);
    const dsns = failedDsns(world);
    expect(dsns).toHaveLength(1);
    expect(dsns[0]!.reportingMta).toBe('mx.bounce.example');
    expect(dsns[0]!.recipients[0]).toMatchObject({ finalRecipient: 'gina@bounce.example', action: 'failed', status: '5.2.2' });
    expect(world.mailboxes.list('gina@bounce.example')).toHaveLength(0);
  });
});

describe('TLS failure', () => {
  it('opportunistic: a failed handshake is retried in plaintext and the downgrade is recorded', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['hank@tls-handshake.example'] });
    expect(statusOf(handle, 'hank@tls-handshake.example').status).toBe('delivered');
    const trials = handle.timeline().filter((t) => t.host === 'mx.tls-handshake.example');
    expect(trials.map((t) => t.outcome)).toEqual(['tls-failed', 'delivered']);
    expect(trials.every((t) => t.downgraded)).toBe(true);
    expect(world.log.ofKind('tls').some((e) => e.step === 'failed')).toBe(true);
  });

  it('opportunistic: 454 to STARTTLS goes on in plaintext on the same connection', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['ivy@tls-refuse.example'] });
    expect(statusOf(handle, 'ivy@tls-refuse.example').status).toBe('delivered');
    expect(handle.timeline().find((t) => t.host)?.downgraded).toBe(true);
  });

  it('MTA-STS enforce: an untrusted certificate means no delivery, deferral, then a bounce after the retry period', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['jo@sts-enforce.example'] });
    const first = statusOf(handle, 'jo@sts-enforce.example');
    expect(first.status).toBe('deferred');
    expect(first.last?.diagnostic).toMatch(/TLS is required/);
    expect(first.last?.diagnostic).toMatch(/DEPTH_ZERO_SELF_SIGNED_CERT/);
    // Nothing was sent after the failed verification but QUIT.
    const commands = world.log.ofKind('command').filter((e) => e.host === 'mx.sts-enforce.example').map((e) => e.line);
    expect(commands.some((c) => c.startsWith('MAIL'))).toBe(false);
    world.advance(5 * DAY);
    expect(statusOf(handle, 'jo@sts-enforce.example').status).toBe('failed');
    expect(world.mailboxes.list('jo@sts-enforce.example')).toHaveLength(0);
    const failed = failedDsns(world).filter((d) => d.recipients[0]!.action === 'failed');
    expect(failed).toHaveLength(1);
  });

  it('MTA-STS testing: the same broken certificate still gets the mail through', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['kim@sts-testing.example'] });
    expect(statusOf(handle, 'kim@sts-testing.example').status).toBe('delivered');
  });
});

describe('every MX down', () => {
  it('defers with backoff, warns after 4 hours, and bounces after 5 days with a DSN', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['lee@down.example'] });
    world.advance(DAY);
    const r = statusOf(handle, 'lee@down.example');
    expect(r.status).toBe('deferred');
    const retries = handle.timeline().filter((t) => t.outcome === 'retry-scheduled').map((t) => t.retryAt! - t.at);
    expect(retries.slice(0, 5)).toEqual([300_000, 600_000, 1_200_000, 2_400_000, 4_000_000]);
    const delayed = failedDsns(world).filter((d) => d.recipients[0]!.action === 'delayed');
    expect(delayed).toHaveLength(1);
    world.advance(4 * DAY + MINUTE); // the last attempt starts at 5 days; mx2's connect timeout ends it
    expect(handle.done).toBe(true);
    const final = statusOf(handle, 'lee@down.example');
    expect(final).toMatchObject({ status: 'failed', statusCode: '4.4.7', expired: true });
    const bounce = failedDsns(world).find((d) => d.recipients[0]!.action === 'failed');
    expect(bounce?.recipients[0]?.diagnosticCode).toMatch(/delivery time expired/);
    // No host ever answered: neither report names a Remote-MTA, and their diagnostics are the
    // sending MTA's own words, not an SMTP reply (RFC 3464 §2.3.5, §2.3.6).
    for (const raw of dsnsIn(world.mailboxes, ALICE).map((m) => m.raw)) {
      expect(raw).not.toMatch(/^Remote-MTA:/m);
      expect(raw).toMatch(/^Diagnostic-Code: X-smtp-lab; (connect to mx2\.down\.example|delivery time expired after 5 days; last error: delivery temporarily suspended: connect to)/m);
      expect(raw).not.toMatch(/^Diagnostic-Code: smtp;/m);
    }
    // The bounce came when the 5-day retry period ended (after that last attempt), not before.
    const bounceEvent = world.log.ofKind('bounce').find((e) => e.messageId === handle.id)!;
    expect(bounceEvent.at - handle.arrivalAt).toBeGreaterThanOrEqual(5 * DAY);
    expect(bounceEvent.at - handle.arrivalAt).toBeLessThan(5 * DAY + MINUTE);
  });
});

describe('Null MX', () => {
  it('bounces at once with 5.1.10 without connecting anywhere', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['max@nullmx.example'] });
    expect(statusOf(handle, 'max@nullmx.example')).toMatchObject({ status: 'failed', statusCode: '5.1.10' });
    expect(world.log.ofKind('delivery-attempt').filter((e) => e.messageId === handle.id)).toHaveLength(0);
    expect(failedDsns(world)[0]?.recipients[0]?.status).toBe('5.1.10');
  });
});

describe('a mixed message', () => {
  it('delivers to some recipients, bounces one, defers another, in one DSN per failure', () => {
    const world = createWorld();
    const handle = world.send({ from: ALICE, to: ['bob@example.net', 'dave@strict.example', 'nobody@strict.example', 'erin@full.example', 'ned@grey.example'] });
    const status = Object.fromEntries(handle.recipients().map((r) => [r.address, r.status]));
    expect(status).toEqual({
      'bob@example.net': 'delivered',
      'dave@strict.example': 'delivered',
      'nobody@strict.example': 'failed',
      'erin@full.example': 'deferred',
      'ned@grey.example': 'deferred',
    });
    expect(failedDsns(world).map((d) => d.recipients.map((r) => r.finalRecipient))).toEqual([['nobody@strict.example']]);
    world.advance(DEFAULT_RETRY_POLICY.minimalBackoffMs);
    expect(statusOf(handle, 'ned@grey.example').status).toBe('delivered');
    expect(statusOf(handle, 'erin@full.example').status).toBe('deferred');
    // Retries only go to the recipients still waiting: bob has exactly one copy.
    expect(world.mailboxes.list('bob@example.net')).toHaveLength(1);
  });
});
