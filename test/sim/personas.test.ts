// Each persona driven through the real server machine, as a client would see it.
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { createBackend, personas, PERSONA_IDS, type MessageSink, type PersonaEnv, type PersonaId } from '../../src/sim/personas';
import { VirtualClock } from '../../src/sim/clock';
import { defaultZones } from '../../src/sim/topology';
import { encodePlain } from '../../src/protocol/sasl';
import { codes, startSession, type Clock } from '../machines/serverHarness';

const HOST = 'mx1.example.net';

function world(clock: { now(): number } = { now: () => 0 }, withDns = true) {
  const delivered: Array<{ mailbox: string; text: string }> = [];
  const sink: MessageSink = { deliver: (mailbox, message) => delivered.push({ mailbox, text: message.text }) };
  const env: PersonaEnv = { hostname: HOST, now: () => clock.now(), sink, ...(withDns ? { zones: defaultZones } : {}) };
  return { env, delivered };
}

function session(id: PersonaId, settings: Record<string, unknown> = {}, opts: { clock?: Clock; now?: () => number; peer?: string; tls?: boolean; noDns?: boolean } = {}) {
  const w = world({ now: opts.now ?? (() => 0) }, !opts.noDns);
  const backend = createBackend(id, settings, w.env);
  const s = startSession({ backend, ...(opts.peer ? { peer: { address: opts.peer, port: 1 } } : {}), ...(opts.tls ? { implicitTls: true } : {}) }, opts.clock);
  return { ...s, backend, delivered: w.delivered };
}

const TRANSACTION = ['EHLO client.example', 'MAIL FROM:<alice@example.com>', 'RCPT TO:<bob@example.net>', 'DATA', 'Subject: hello', '', 'hi', '.'];

describe('the catalogue', () => {
  it('has every persona of the design except down, each with a title, description and defaults', () => {
    expect(PERSONA_IDS.sort()).toEqual(
      [
        'friendly', 'greylisting', 'strict', 'tls-broken', 'overloaded', 'tarpit', 'content-filter', 'bouncer', 'submission',
        'closed-relay', 'mailbox-full', 'flaky', 'legacy', 'rate-limited', 'smuggling-vulnerable',
      ].sort(),
    );
    for (const id of PERSONA_IDS) {
      const p = personas[id];
      expect(p.id).toBe(id);
      expect(p.title.length).toBeGreaterThan(3);
      expect(p.description.length).toBeGreaterThan(20);
      for (const spec of p.settingSpecs) expect(Object.keys(p.defaults)).toContain(spec.name);
    }
  });

  it('bad settings get a clear error', () => {
    const { env } = world();
    expect(() => createBackend('greylisting', { delay: 5 }, env)).toThrow(/no setting "delay".*delayMs/);
    expect(() => createBackend('greylisting', { delayMs: 'soon' }, env)).toThrow(/must be a number/);
    expect(() => createBackend('tls-broken', { variant: 'melted' }, env)).toThrow(/one of refuse, handshake/);
    expect(() => createBackend('nope' as PersonaId, {}, env)).toThrow(/unknown persona "nope"/);
  });
});

describe('friendly', () => {
  it('advertises the usual extensions and delivers to its domain', () => {
    const s = session('friendly');
    const replies = s.send(...TRANSACTION);
    expect(codes(replies)).toEqual(['220', '250', '250 2.1.0', '250 2.1.5', '354', '250 2.0.0']);
    expect(replies[1]!.lines.slice(1)).toEqual(['PIPELINING', 'SIZE 10485760', 'STARTTLS', 'ENHANCEDSTATUSCODES', '8BITMIME', 'SMTPUTF8']);
    // Final delivery: Return-Path and the server's Received on top (RFC 5321 §4.4), then the content as sent.
    expect(s.delivered).toHaveLength(1);
    expect(s.delivered[0]!.mailbox).toBe('bob@example.net');
    const text = s.delivered[0]!.text;
    expect(text.startsWith('Return-Path: <alice@example.com>\r\nReceived: from client.example ([192.0.2.10])\r\n\tby ')).toBe(true);
    expect(text).toMatch(/ with ESMTP id [0-9A-F]+\r\n\tfor <bob@example\.net>; Thu, 1 Jan 1970 00:00:00 \+0000\r\n/);
    expect(text.endsWith('\r\nSubject: hello\r\n\r\nhi\r\n')).toBe(true);
  });

  it('refuses to relay for other domains (554 5.7.1)', () => {
    const s = session('friendly');
    expect(codes(s.send('EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<x@elsewhere.example>'))).toEqual(['220', '250', '250 2.1.0', '554 5.7.1']);
  });

  it('serves the domains it is told to', () => {
    const s = session('friendly', { domains: ['example.org'] });
    expect(codes(s.send('EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<bob@example.net>', 'RCPT TO:<bob@example.org>')).slice(3)).toEqual([
      '554 5.7.1',
      '250 2.1.5',
    ]);
  });
});

describe('smuggling-vulnerable', () => {
  it('ends DATA at <LF>.<LF>, where a correct server would not', () => {
    const lf = (text: string) => ({ type: 'line' as const, text, ending: 'lf' as const });
    const smuggle = ['EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<bob@example.net>', 'DATA', lf('hi'), lf('.'), lf('MAIL FROM:<forged@example.com>')];
    const vulnerable = session('smuggling-vulnerable');
    expect(codes(vulnerable.send(...smuggle)).slice(-2)).toEqual(['250 2.0.0', '250 2.1.0']);
    const correct = session('friendly');
    expect(codes(correct.send(...smuggle)).slice(-1)).toEqual(['354']);
    expect(correct.state()).toBe('data');
  });
});

describe('greylisting', () => {
  it('451 4.7.1 on first sight, still too early at 4 minutes, accepted after 5 (virtual time)', () => {
    const clock = new VirtualClock();
    const w = world(clock);
    const backend = createBackend('greylisting', {}, w.env);
    const attempt = () => {
      const s = startSession({ backend, peer: { address: '198.51.100.7', port: 1 } });
      return codes(s.send('EHLO c.example', 'MAIL FROM:<alice@example.com>', 'RCPT TO:<bob@example.net>')).at(-1);
    };
    expect(attempt()).toBe('451 4.7.1');
    clock.advance(4 * 60_000);
    expect(attempt()).toBe('451 4.7.1');
    clock.advance(60_000);
    expect(attempt()).toBe('250 2.1.5');
    // Once passed, the triplet stays welcome.
    clock.advance(24 * 3600_000);
    expect(attempt()).toBe('250 2.1.5');
  });

  it('a different sender, recipient or client address is a new triplet', () => {
    const clock = new VirtualClock();
    const backend = createBackend('greylisting', { delayMs: 1000 }, world(clock).env);
    const attempt = (ip: string, from: string, to: string) =>
      codes(startSession({ backend, peer: { address: ip, port: 1 } }).send('EHLO c', `MAIL FROM:<${from}>`, `RCPT TO:<${to}>`)).at(-1);
    expect(attempt('192.0.2.1', 'a@example.com', 'bob@example.net')).toBe('451 4.7.1');
    clock.advance(1000);
    expect(attempt('192.0.2.1', 'a@example.com', 'bob@example.net')).toBe('250 2.1.5');
    expect(attempt('192.0.2.2', 'a@example.com', 'bob@example.net')).toBe('451 4.7.1');
    expect(attempt('192.0.2.1', 'b@example.com', 'bob@example.net')).toBe('451 4.7.1');
    expect(attempt('192.0.2.1', 'a@example.com', 'carol@example.net')).toBe('451 4.7.1');
  });

  it('can answer 450 instead', () => {
    expect(codes(session('greylisting', { code: 450 }).send('EHLO c', 'MAIL FROM:<a@example.com>', 'RCPT TO:<bob@example.net>')).at(-1)).toBe('450 4.7.1');
  });
});

describe('strict', () => {
  it('550 5.1.1 for unknown mailboxes, 250 for known ones', () => {
    const s = session('strict');
    expect(codes(s.send('EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<nobody@example.net>', 'RCPT TO:<Bob@example.net>')).slice(3)).toEqual([
      '550 5.1.1',
      '250 2.1.5',
    ]);
  });

  it('553 5.1.3 for an unqualified domain, 501 for a malformed address, 504 for a bare HELO name', () => {
    const s = session('strict');
    expect(codes(s.send('EHLO localhost'))).toEqual(['220', '504 5.5.4']);
    const replies = s.send('EHLO c.example', 'MAIL FROM:<a@localhost>', 'MAIL FROM:<a@@example.com>', 'MAIL FROM:<a@example.com>', 'RCPT TO:<bob@intranet>');
    expect(codes(replies)).toEqual(['250', '553 5.1.3', codes([replies[2]!])[0], '250 2.1.0', '553 5.1.3']);
    expect(replies[2]!.code).toBe(501);
  });
});

describe('tls-broken', () => {
  it('refuse: 454 4.7.0 and the session carries on in plaintext', () => {
    const s = session('tls-broken', { variant: 'refuse' });
    expect(codes(s.send('EHLO c.example', 'STARTTLS', 'MAIL FROM:<a@example.com>'))).toEqual(['220', '250', '454 4.7.0', '250 2.1.0']);
  });

  it('handshake / untrusted / wrong-name: 220, then the transport is told how the handshake goes', () => {
    for (const [variant, plan] of [
      ['handshake', 'fail'],
      ['untrusted', 'self-signed'],
      ['wrong-name', 'wrong-name'],
    ] as const) {
      const s = session('tls-broken', { variant });
      expect(codes(s.send('EHLO c.example', 'STARTTLS'))).toEqual(['220', '250', '220 2.0.0']);
      expect(s.emitted.at(-1)).toEqual({ type: 'starttls', handshake: plan });
    }
  });
});

describe('overloaded', () => {
  it('421 4.3.2 at the banner, then close', () => {
    const s = session('overloaded');
    expect(codes(s.newReplies())).toEqual(['421 4.3.2']);
    expect(s.emitted.at(-1)).toEqual({ type: 'close', reason: 'server' });
  });
});

describe('tarpit', () => {
  it('the banner and replies come late, on the simulated clock', () => {
    const clock = new SimulatedClock();
    const s = session('tarpit', { bannerDelayMs: 60_000, replyDelayMs: 20_000 }, { clock });
    expect(s.newReplies()).toEqual([]);
    clock.increment(59_999);
    expect(s.newReplies()).toEqual([]);
    clock.increment(1);
    expect(codes(s.newReplies())).toEqual(['220']);
    expect(s.send('EHLO c.example', 'MAIL FROM:<a@example.com>')).toEqual([]);
    clock.increment(20_000);
    expect(codes(s.newReplies())).toEqual(['250']);
    clock.increment(20_000);
    expect(codes(s.newReplies())).toEqual(['250 2.1.0']);
  });
});

describe('content-filter', () => {
  it('content: accepts the envelope, 554 5.7.1 at the end of data', () => {
    const s = session('content-filter', { variant: 'content' });
    expect(codes(s.send(...TRANSACTION)).slice(-3)).toEqual(['250 2.1.5', '354', '554 5.7.1']);
    expect(s.delivered).toEqual([]);
  });

  it('content with a trigger refuses only messages that contain it', () => {
    const s = session('content-filter', { variant: 'content', trigger: 'BUY NOW' });
    expect(codes(s.send(...TRANSACTION)).at(-1)).toBe('250 2.0.0');
    expect(codes(s.send('MAIL FROM:<a@example.com>', 'RCPT TO:<bob@example.net>', 'DATA', 'BUY NOW', '.')).at(-1)).toBe('554 5.7.1');
  });

  it('size: 552 5.3.4 past its own limit, although SIZE advertised more', () => {
    const s = session('content-filter', { variant: 'size', filterSizeLimit: 50 });
    expect(codes(s.send(...TRANSACTION)).at(-1)).toBe('250 2.0.0');
    expect(codes(s.send('MAIL FROM:<a@example.com>', 'RCPT TO:<bob@example.net>', 'DATA', 'x'.repeat(80), '.')).at(-1)).toBe('552 5.3.4');
  });

  /** A message whose envelope sender and From: are `from`, as the world's MTA (or anyone) sends it. */
  const messageFrom = (from: string) => ['EHLO client.example', `MAIL FROM:<${from}>`, 'RCPT TO:<bob@example.net>', 'DATA', `From: <${from}>`, 'Subject: hello', '', 'hi', '.'];
  // The world's sending MTA: example.com's SPF lists it (ip4:192.0.2.25).
  const WORLD_MTA = '192.0.2.25';

  it('dmarc: mail that SPF authenticates for its own From: domain passes and is delivered', () => {
    const s = session('content-filter', { variant: 'dmarc' }, { peer: WORLD_MTA });
    expect(codes(s.send(...messageFrom('alice@example.com'))).at(-1)).toBe('250 2.0.0');
    expect(s.delivered).toHaveLength(1);
  });

  it('dmarc: 550 5.7.26 when the From: domain says p=reject and nothing aligned passes', () => {
    // example.com from an address its SPF does not list: SPF fails, so DMARC fails.
    const spoofed = session('content-filter', { variant: 'dmarc' }, { peer: '203.0.113.99' }).send(...messageFrom('alice@example.com'));
    expect(codes(spoofed).at(-1)).toBe('550 5.7.26');
    expect(spoofed.at(-1)!.lines.join(' ')).toMatch(/DMARC policy of example\.com is reject; From: example\.com is not aligned .*SPF fail for example\.com from 203\.0\.113\.99/);
    // bank.example publishes no SPF at all: "none" authenticates nothing.
    const bank = session('content-filter', { variant: 'dmarc' }, { peer: WORLD_MTA }).send(...messageFrom('ceo@bank.example'));
    expect(codes(bank).at(-1)).toBe('550 5.7.26');
  });

  it('dmarc: p=none only asks for reports, so the message is accepted', () => {
    const s = session('content-filter', { variant: 'dmarc' }, { peer: '203.0.113.99' });
    expect(codes(s.send(...messageFrom('news@newsletter.example'))).at(-1)).toBe('250 2.0.0');
  });

  it('spf: 550 5.7.23 only when the MAIL FROM domain does not list the sending address', () => {
    expect(codes(session('content-filter', { variant: 'spf' }, { peer: WORLD_MTA }).send(...TRANSACTION)).at(-1)).toBe('250 2.0.0');
    const refused = session('content-filter', { variant: 'spf' }, { peer: '203.0.113.99' }).send(...TRANSACTION);
    expect(codes(refused).at(-1)).toBe('550 5.7.23');
    expect(refused.at(-1)!.lines.join(' ')).toMatch(/example\.com does not list 203\.0\.113\.99/);
  });

  it('spf and dmarc without any DNS to read refuse, and say why', () => {
    for (const [variant, code] of [
      ['dmarc', '550 5.7.26'],
      ['spf', '550 5.7.23'],
    ] as const) {
      const replies = session('content-filter', { variant }, { noDns: true }).send(...TRANSACTION);
      expect(codes(replies).at(-1)).toBe(code);
      expect(replies.at(-1)!.lines.join(' ')).toMatch(/no DNS to check/);
    }
  });
});

describe('bouncer', () => {
  it('250 at the end of data, then a bounce owed to the sender later', () => {
    const s = session('bouncer', { bounceAfterMs: 600_000 }, { now: () => 1_000 });
    const replies = s.send(...TRANSACTION);
    expect(codes(replies).at(-1)).toBe('250 2.0.0');
    expect(s.backend.laterBounces).toHaveLength(1);
    const bounce = s.backend.laterBounces[0]!;
    expect(bounce).toMatchObject({ dueAt: 601_000, recipient: 'bob@example.net' });
    expect(bounce.envelope.reversePath).toBe('alice@example.com');
    expect(codes([bounce.reason])).toEqual(['552 5.2.2']);
    expect(replies.at(-1)!.lines[0]).toContain(bounce.queueId);
  });

  it('lists DSN and owes the sender a report only when NOTIFY asks for FAILURE (RFC 3461 §4.1)', () => {
    const s = session('bouncer');
    const replies = s.send(
      'EHLO c.example',
      'MAIL FROM:<alice@example.com> RET=FULL ENVID=QQ1',
      'RCPT TO:<bob@example.net> NOTIFY=NEVER',
      'RCPT TO:<carol@example.net> NOTIFY=SUCCESS,DELAY',
      'RCPT TO:<postmaster@example.net> NOTIFY=FAILURE ORCPT=rfc822;pm@old.example',
      'RCPT TO:<dan@example.net>',
      'DATA', 'Subject: hello', '', 'hi', '.',
    );
    expect(replies[1]!.lines).toContain('DSN');
    expect(codes(replies).slice(2)).toEqual(['250 2.1.0', '250 2.1.5', '250 2.1.5', '250 2.1.5', '250 2.1.5', '354', '250 2.0.0']);
    expect(s.backend.laterBounces.map((b) => [b.recipient, b.notifySender])).toEqual([
      ['bob@example.net', false],
      ['carol@example.net', false],
      ['postmaster@example.net', true],
      ['dan@example.net', true],
    ]);
    // What the report will carry rides in the envelope, as MAIL and RCPT gave it.
    const bounce = s.backend.laterBounces[2]!;
    expect(bounce.envelope.mailParams).toMatchObject({ ret: 'FULL', envid: 'QQ1' });
    expect(bounce.envelope.recipients[2]!.params.orcpt).toEqual({ addressType: 'rfc822', address: 'pm@old.example' });
  });

  it('never bounces a bounce (null reverse-path)', () => {
    const s = session('bouncer');
    s.send('EHLO c.example', 'MAIL FROM:<>', 'RCPT TO:<bob@example.net>', 'DATA', '.');
    expect(s.backend.laterBounces).toEqual([]);
  });
});

describe('submission', () => {
  it('before STARTTLS: no AUTH offered, AUTH and MAIL get 530 5.7.0', () => {
    const s = session('submission');
    const replies = s.send('EHLO c.example', 'AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHMzY3IzdA==', 'MAIL FROM:<alice@example.com>');
    expect(codes(replies)).toEqual(['220', '250', '530 5.7.0', '530 5.7.0']);
    expect(replies[1]!.lines.join(' ')).not.toMatch(/AUTH/);
  });

  it('after TLS: AUTH PLAIN with the documented example succeeds, then mail may go anywhere', () => {
    const s = session('submission');
    s.send('EHLO c.example', 'STARTTLS');
    s.actor.send({ type: 'tls.established' });
    const [ehlo] = s.send('EHLO c.example');
    expect(ehlo!.lines).toContain('AUTH PLAIN LOGIN');
    expect(codes(s.send('MAIL FROM:<alice@example.com>'))).toEqual(['530 5.7.0']);
    expect(codes(s.send('AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHMzY3IzdA=='))).toEqual(['235 2.7.0']);
    expect(codes(s.send('MAIL FROM:<alice@example.com>', 'RCPT TO:<friend@elsewhere.example>', 'DATA', 'hi', '.'))).toEqual([
      '250 2.1.0',
      '250 2.1.5',
      '354',
      '250 2.0.0',
    ]);
    expect(s.delivered.map((d) => d.mailbox)).toEqual(['friend@elsewhere.example']);
  });

  it('bad credentials: 535 5.7.8 (PLAIN and LOGIN)', () => {
    const s = session('submission', {}, { tls: true });
    expect(codes(s.send('EHLO c.example', `AUTH PLAIN ${encodePlain('alice@example.com', 'guess')}`))).toEqual(['220', '250', '535 5.7.8']);
    expect(codes(s.send('AUTH LOGIN', btoa('mallory@example.com'), btoa('s3cr3t')))).toEqual(['334', '334', '535 5.7.8']);
  });
});

describe('closed-relay', () => {
  it('554 5.7.1 for foreign domains, 550 5.1.1 for unknown local mailboxes, 250 for known ones', () => {
    const s = session('closed-relay');
    expect(
      codes(s.send('EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<x@elsewhere.example>', 'RCPT TO:<ghost@example.net>', 'RCPT TO:<carol@example.net>')).slice(3),
    ).toEqual(['554 5.7.1', '550 5.1.1', '250 2.1.5']);
  });
});

describe('mailbox-full', () => {
  it('452 4.2.2 for full mailboxes, others accepted in the same transaction', () => {
    const s = session('mailbox-full');
    const replies = s.send('EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<carol@example.net>', 'RCPT TO:<bob@example.net>', 'DATA', 'x', '.');
    expect(codes(replies).slice(3)).toEqual(['452 4.2.2', '250 2.1.5', '354', '250 2.0.0']);
    expect(s.delivered.map((d) => d.mailbox)).toEqual(['bob@example.net']);
  });
});

describe('flaky', () => {
  it('drops the connection silently at the chosen point, then works on the next connection', () => {
    const w = world();
    const backend = createBackend('flaky', { dropAt: 'rcpt', failures: 1 }, w.env);
    const first = startSession({ backend });
    expect(codes(first.send('EHLO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<bob@example.net>'))).toEqual(['220', '250', '250 2.1.0']);
    expect(first.emitted.at(-1)).toEqual({ type: 'close', reason: 'dropped' });
    const second = startSession({ backend });
    expect(codes(second.send(...TRANSACTION)).at(-1)).toBe('250 2.0.0');
  });

  it('data-end: the message is stored but the reply never comes', () => {
    const s = session('flaky', { dropAt: 'data-end', failures: 0 });
    expect(codes(s.send(...TRANSACTION)).at(-1)).toBe('354');
    expect(s.emitted.at(-1)).toEqual({ type: 'close', reason: 'dropped' });
    expect(s.delivered).toHaveLength(1);
  });
});

describe('legacy', () => {
  it('502 to EHLO (no enhanced codes), HELO works, no extensions', () => {
    const s = session('legacy');
    expect(codes(s.send('EHLO c.example', 'HELO c.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<bob@example.net>', 'DATA', 'x', '.'))).toEqual([
      '220',
      '502',
      '250',
      '250',
      '250',
      '354',
      '250',
    ]);
    expect(codes(s.send('STARTTLS', 'MAIL FROM:<a@example.com> BODY=8BITMIME'))).toEqual(['502', '555']);
  });

  it('or 500', () => {
    expect(codes(session('legacy', { ehloReply: 500 }).send('EHLO c.example'))).toEqual(['220', '500']);
  });
});

describe('rate-limited', () => {
  it('messages: 451 4.7.1 at MAIL after N messages in the window; the window slides in virtual time', () => {
    const clock = new VirtualClock();
    const backend = createBackend('rate-limited', { limit: 'messages', maxPerWindow: 2, windowMs: 3_600_000 }, world(clock).env);
    const s = startSession({ backend });
    const one = ['MAIL FROM:<a@example.com>', 'RCPT TO:<bob@example.net>', 'DATA', 'x', '.'];
    s.send('EHLO c.example');
    expect(codes(s.send(...one)).at(-1)).toBe('250 2.0.0');
    expect(codes(s.send(...one)).at(-1)).toBe('250 2.0.0');
    expect(codes(s.send('MAIL FROM:<a@example.com>'))).toEqual(['451 4.7.1']);
    clock.advance(3_600_001);
    expect(codes(s.send('MAIL FROM:<a@example.com>'))).toEqual(['250 2.1.0']);
  });

  it('connections: 421 4.7.0 at the banner after N connections', () => {
    const clock = new VirtualClock();
    const backend = createBackend('rate-limited', { limit: 'connections', maxPerWindow: 2 }, world(clock).env);
    const banner = () => {
      const s = startSession({ backend });
      return codes(s.newReplies());
    };
    expect(banner()).toEqual(['220']);
    expect(banner()).toEqual(['220']);
    expect(banner()).toEqual(['421 4.7.0']);
  });
});
