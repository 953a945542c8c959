// The world as a whole: hosts, connections, dig, and the "nothing lost" property over random
// worlds: every recipient of every message ends delivered exactly once, or bounced with a DSN to
// the sender, or is still deferred inside the retry period.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createWorld, type World } from '../../src/sim/world';
import { parseDsn, type ParsedDsn } from '../../src/sim/dsn';
import { headerValue } from '../../src/sim/mailbox';
import { ReplyParser } from '../../src/protocol/reply';
import { openSubmissionSession } from './submissionSession';

const ALICE = 'alice@example.com';
const DAY = 86_400_000;

describe('the world', () => {
  it('routes connections to the persona behind a host, by name or address, and logs them', () => {
    const world = createWorld();
    const opened = world.connect('192.0.2.20', 25);
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    const replies: string[] = [];
    opened.connection.onReply((_r, wire) => replies.push(wire));
    opened.connection.start();
    opened.connection.write('EHLO learner.example\r\n');
    const parsed = new ReplyParser().push(replies.join(''));
    expect(parsed[0]).toMatchObject({ code: 220 });
    expect(parsed[0]!.lines[0]).toContain('mx1.example.net');
    expect(parsed[1]!.lines).toContain('STARTTLS');
    expect(world.log.ofKind('command').map((e) => e.line)).toEqual(['EHLO learner.example']);
  });

  it('refuses or times out connections to hosts that are down, and to closed ports', () => {
    const world = createWorld();
    world.setHostDown('mx1.example.net', 'refused');
    expect(world.connect('mx1.example.net', 25)).toMatchObject({ ok: false, error: 'refused' });
    world.setHostDown('mx1.example.net', 'timeout');
    expect(world.connect('mx1.example.net', 25)).toMatchObject({ ok: false, error: 'timeout' });
    world.setHostDown('mx1.example.net', undefined);
    expect(world.connect('mx1.example.net', 25).ok).toBe(true);
    expect(world.connect('mx1.example.net', 587)).toMatchObject({ ok: false, error: 'refused' });
    expect(world.connect('nowhere.example', 25)).toMatchObject({ ok: false, error: 'unknown-host' });
    expect(() => world.setHostDown('nowhere.example', 'refused')).toThrow(/no host/);
  });

  it('logs a refusal at once and a silent host when the client stops waiting, for a learner and for the MTA', () => {
    const world = createWorld();
    const start = world.clock.now();
    world.setHostDown('mx1.example.net', 'refused');
    world.connect('mx1.example.net', 25);
    expect(world.log.ofKind('connection').map((e) => [e.outcome, e.at - start])).toEqual([['refused', 0]]);
    world.setHostDown('mx1.example.net', 'timeout');
    world.connect('mx1.example.net', 25, { timeoutMs: 75_000 });
    // Nothing is known yet: the client is still waiting for an answer that never comes.
    expect(world.log.ofKind('connection')).toHaveLength(1);
    world.advance(75_000);
    expect(world.log.ofKind('connection').map((e) => [e.outcome, e.at - start])).toEqual([['refused', 0], ['timeout', 75_000]]);

    // The sending MTA waits its connect timeout (30 s, Postfix's smtp_connect_timeout) at the
    // silent mx2 of down.example, and defers in the same moment as it logs the timeout.
    const mta = createWorld();
    const sent = mta.clock.now();
    mta.send({ from: 'alice@example.com', to: ['bob@down.example'], subject: 'silence' });
    mta.advance(60_000);
    const timeout = mta.log.ofKind('connection').find((e) => e.outcome === 'timeout');
    expect(timeout && [timeout.host, timeout.at - sent]).toEqual(['mx2.down.example', 30_000]);
    expect(mta.log.ofKind('deferral')[0]!.at - sent).toBe(30_000);
  });

  it('answers dig from its zones and logs the query', () => {
    const world = createWorld();
    const result = world.dig(['+short', 'MX', 'example.net']);
    expect(result.ok && result.text.trim().split('\n')).toEqual(['10 mx1.example.net.', '20 mx2.example.net.']);
    expect(world.log.ofKind('dns-query').at(-1)).toMatchObject({ name: 'example.net', type: 'MX', status: 'NOERROR' });
  });

  it('serves each domain from the hosts its MX records name', () => {
    const world = createWorld();
    expect(world.domainsOf('mx1.example.net')).toEqual(['alias.example', 'example.net']);
    expect(world.domainsOf('a-only.example')).toEqual(['a-only.example']);
  });

  it('keeps one backend per host, so greylisting remembers across connections', () => {
    const world = createWorld();
    expect(world.backendOf('mx.grey.example')).toBe(world.backendOf('MX.GREY.EXAMPLE'));
  });

  it('orders equal-preference MX hosts reproducibly for a seed', () => {
    const order = (seed: number) => {
      const world = createWorld({ seed });
      const handle = world.send({ from: ALICE, to: ['x@balanced.example'] });
      return handle.timeline().find((t) => t.host)!.host;
    };
    expect(order(7)).toBe(order(7));
    const seen = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(order));
    expect(seen.size).toBeGreaterThan(1);
  });

  it('relays what its submission server accepts: AUTH, then the queue delivers', () => {
    const world = createWorld();
    const { server, replies } = openSubmissionSession(world, '198.51.100.77');
    const [user, password] = Object.entries(world.hosts()['smtp.example.com']!.settings.users as Record<string, string>)[0]!;
    const plain = Buffer.from(`\0${user}\0${password}`).toString('base64');
    server.write(`EHLO laptop.example\r\nAUTH PLAIN ${plain}\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<carol@example.net>\r\nDATA\r\n`);
    server.write('Subject: relayed\r\n\r\nhi\r\n.\r\nQUIT\r\n');
    expect(replies.some((r) => r.startsWith('235'))).toBe(true);
    expect(world.mailboxes.list('carol@example.net').map((m) => headerValue(m.headers, 'Subject'))).toEqual(['relayed']);
  });
});

// ─── nothing lost ────────────────────────────────────────────────────────────────────────────

const POOL = [
  'bob@example.net',
  'carol@example.net',
  'x@grey.example',
  'dave@strict.example',
  'nobody@strict.example',
  'a@tls-refuse.example',
  'b@tls-handshake.example',
  'c@sts-enforce.example',
  'c@sts-testing.example',
  'd@overloaded.example',
  'e@filter-content.example',
  'f@bounce.example',
  'erin@full.example',
  'g@full.example',
  'h@flaky.example',
  'i@legacy.example',
  'j@ratelimit.example',
  'k@nullmx.example',
  'l@a-only.example',
  'm@balanced.example',
  'n@down.example',
  'o@ghost-mx.example',
  'p@broken-dns.example',
  'q@no-such-domain.example',
  'r@alias.example',
  's@dane.example',
  't@tarpit.example',
  'u@relay.example',
];

const SWITCHABLE = ['mx1.example.net', 'mx2.example.net', 'mx.grey.example', 'mx.strict.example', 'mx.full.example', 'mx.legacy.example', 'mx.bounce.example'];

interface Outage {
  host: string;
  mode: 'refused' | 'timeout';
  /** Back up after this long (ms), or never. */
  upAfter: number | null;
}

/** The sender's failed-action DSNs, parsed once per check and found by the Message-ID they report on. */
function failedDsnsByMessage(world: World): (messageId: string) => ParsedDsn[] {
  const parsed = world.mailboxes
    .list(ALICE)
    .filter((m) => m.isDsn)
    .map((m) => parseDsn(m.raw))
    .flatMap((r) => (r.ok ? [r.dsn] : []));
  return (messageId) =>
    parsed.filter((d) => headerValue(d.originalHeaders, 'Message-ID') === messageId && d.recipients.some((r) => r.action === 'failed'));
}

function copiesOf(world: World, recipient: string, messageId: string): number {
  return world.mailboxes.list(recipient).filter((m) => headerValue(m.headers, 'Message-ID') === messageId).length;
}

function check(world: World, settled: boolean): void {
  const lifetime = world.retryPolicy.maximalLifetimeMs;
  const failedDsnsAbout = failedDsnsByMessage(world);
  for (const handle of world.deliveries()) {
    if (handle.from === '') continue; // DSNs themselves: covered through the messages they report on
    const dsns = failedDsnsAbout(handle.messageId);
    const bouncedFor = new Set(dsns.flatMap((d) => d.recipients.filter((r) => r.action === 'failed').map((r) => r.finalRecipient)));
    for (const r of handle.recipients()) {
      const copies = copiesOf(world, r.address, handle.messageId);
      expect(copies, `${r.address} got ${handle.messageId} more than once`).toBeLessThanOrEqual(1);
      if (r.status === 'delivered') {
        // Delivered means in the mailbox, or accepted by a server that bounces later (its DSN is due).
        const acceptedThenBounced = r.address.endsWith('@bounce.example');
        if (!acceptedThenBounced) expect(copies, `${r.address} reported delivered but not in the mailbox`).toBe(1);
        else if (settled) expect(bouncedFor.has(r.address), `no later DSN for ${r.address}`).toBe(true);
      } else if (r.status === 'failed') {
        expect(copies).toBe(0);
        expect(bouncedFor.has(r.address), `${r.address} failed without a DSN to the sender`).toBe(true);
      } else {
        expect(settled, `${r.address} still ${r.status} after the queue settled`).toBe(false);
        // An attempt that started inside the period may still be running (a tarpit takes minutes).
        expect(world.clock.now() - handle.arrivalAt).toBeLessThanOrEqual(lifetime + 30 * 60_000);
        expect(copies).toBe(0);
      }
    }
  }
}

describe('the queue', () => {
  it('runs the destinations of a batch in the order their last message was queued, one run each', () => {
    const world = createWorld();
    world.sendAll([
      { from: ALICE, to: ['bob@example.net'] },
      { from: ALICE, to: ['someone@nullmx.example'] },
      { from: ALICE, to: ['carol@example.net'] },
    ]);
    // Each run starts with the MX lookup of its destination (example.com's is the bounce going home).
    const lookups = world.log.ofKind('dns-query').filter((e) => e.type === 'MX').map((e) => e.name);
    expect(lookups).toEqual(['nullmx.example', 'example.net', 'example.com']);
    // bob and carol shared example.net's one run and its connection.
    const sessions = world.log.ofKind('connection').filter((e) => e.outcome === 'connected' && e.host === 'mx1.example.net');
    expect(sessions).toHaveLength(1);
    expect(world.mailboxes.list('bob@example.net')).toHaveLength(1);
    expect(world.mailboxes.list('carol@example.net')).toHaveLength(1);
  });

  it('shows the entries of a run in flight while it talks to the next hop', () => {
    const world = createWorld();
    const seen: ReturnType<World['queues']>[] = [];
    const unsubscribe = world.log.subscribe((e) => {
      if (e.kind === 'delivery-attempt') seen.push(world.queues());
    });
    const handles = world.sendAll([
      { from: ALICE, to: ['bob@example.net'] },
      { from: ALICE, to: ['carol@example.net'] },
    ]);
    unsubscribe();
    expect(seen).toHaveLength(2);
    const during = seen[0]!.find((q) => q.destination === 'example.net')!;
    expect(during.state).toBe('delivering');
    expect(during.entries.map((e) => e.id)).toEqual(handles.map((h) => h.id));
    // In flight: no next attempt time while the run has them.
    expect(during.entries.every((e) => e.dueAt === undefined)).toBe(true);
    expect(handles.map((h) => h.nextAttemptFor(h.to[0]!))).toEqual([undefined, undefined]);
    expect(world.queues()).toEqual([]);
  });
});

describe('nothing lost', () => {
  // The retry period is a setting; the property must hold for any. One day (instead of five)
  // keeps a thousand worlds quick while still crossing backoff, the delay warning and expiry.
  const retry = { maximalLifetimeMs: DAY };
  it('every recipient ends delivered once, bounced with a DSN, or deferred inside the retry period', () => {
    const outage = fc.record({
      host: fc.constantFrom(...SWITCHABLE),
      mode: fc.constantFrom('refused' as const, 'timeout' as const),
      upAfter: fc.option(fc.integer({ min: 0, max: 2 * DAY }), { nil: null }),
    });
    const message = fc.record({
      to: fc.uniqueArray(fc.constantFrom(...POOL), { minLength: 1, maxLength: 4 }),
      sendAfter: fc.integer({ min: 0, max: 2 * 3_600_000 }),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.array(outage, { maxLength: 3 }),
        fc.array(message, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 2 * DAY }),
        // Queued together (sendAll: first attempts share connections) or one by one.
        fc.boolean(),
        (seed, outages: Outage[], messages, checkAt, together) => {
          const world = createWorld({ seed, retry });
          for (const o of outages) {
            world.setHostDown(o.host, o.mode);
            if (o.upAfter !== null) world.clock.schedule(world.clock.now() + o.upAfter, () => world.setHostDown(o.host, undefined));
          }
          if (together) {
            world.advance(messages[0]!.sendAfter);
            world.sendAll(messages.map((m) => ({ from: ALICE, to: m.to })));
          } else {
            for (const m of messages) {
              world.advance(m.sendAfter);
              world.send({ from: ALICE, to: m.to });
            }
          }
          world.advance(checkAt);
          check(world, false);
          world.runUntilIdle();
          expect(world.busy()).toBe(false);
          check(world, true);
        },
      ),
      { numRuns: 1000 },
    );
  }, 300_000);
});

describe('DSNs in the queue say what they are', () => {
  it('a bounce, a delay warning and a receiving host’s later bounce carry their Action; mail a learner sent carries none', () => {
    const world = createWorld({ seed: 5 });
    world.sendAll([
      { from: 'alice@example.com', to: ['nobody@nullmx.example'] },
      { from: 'alice@example.com', to: ['ann@dane.example'] },
      { from: 'alice@example.com', to: ['ann@bounce.example'] },
    ]);
    world.advance(5 * 3_600_000);
    const byFrom = world.deliveries().map((h) => ({ from: h.from, report: h.report, to: h.to.join(',') }));
    expect(byFrom.filter((h) => h.from !== '').every((h) => h.report === undefined)).toBe(true);
    const reports = byFrom.filter((h) => h.from === '').map((h) => h.report);
    // Null MX: bounced at once; DANE: a delay warning after 4 hours; the bouncer: failed after acceptance.
    expect(reports.sort()).toEqual(['delayed', 'failed', 'failed']);
    expect(byFrom.filter((h) => h.from === '').every((h) => h.to === 'alice@example.com')).toBe(true);
  });
});
