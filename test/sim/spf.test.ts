/**
 * SPF (RFC 7208) and DMARC (RFC 7489) evaluated over DNS zones: the default world's records, as
 * the lesson uses them, and small zones made for one rule each.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_TTL, type DnsRecord, type Zones } from '../../src/sim/dns';
import { defaultZones } from '../../src/sim/topology';
import {
  SPF_LOOKUP_LIMIT,
  checkHost,
  evaluateDmarc,
  expandMacros,
  formatIp,
  formatSpfEvaluation,
  inNetwork,
  isAligned,
  organizationalDomain,
  parseDmarcRecord,
  parseIp,
  parseSpfRecord,
  type SpfResult,
} from '../../src/sim/spf';

function zones(records: Array<[string, 'TXT' | 'A' | 'AAAA' | 'MX', string]>, servfail: string[] = []): Zones {
  const out: DnsRecord[] = records.map(([name, type, data]) => {
    if (type === 'TXT') return { name, ttl: DEFAULT_TTL, type, text: data };
    if (type === 'MX') {
      const [preference, exchange] = data.split(' ');
      return { name, ttl: DEFAULT_TTL, type, preference: Number(preference), exchange: exchange! };
    }
    return { name, ttl: DEFAULT_TTL, type, address: data };
  });
  return { records: out, servfail, mtaSts: {} };
}

const spf = (z: Zones, ip: string, domain: string) => checkHost(z, ip, domain).result;

describe('IP addresses and networks', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['2001:DB8::25', '2001:db8::25'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::', '::'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8::192.0.2.1', '2001:db8::c000:201'],
  ])('%s reads as %s', (text, shown) => {
    expect(formatIp(parseIp(text)!)).toBe(shown);
  });

  it.each(['192.0.2', '192.0.2.256', '192.0.2.01', '2001:db8:::1', '1:2:3:4:5:6:7:8:9', 'example.com', ''])('refuses %j', (text) => {
    expect(parseIp(text)).toBeUndefined();
  });

  it('compares prefixes bit by bit, at the edges of a /25 and across byte boundaries', () => {
    const net = parseIp('198.51.100.128')!;
    expect(inNetwork(parseIp('198.51.100.127')!, net, 25)).toBe(false);
    expect(inNetwork(parseIp('198.51.100.128')!, net, 25)).toBe(true);
    expect(inNetwork(parseIp('198.51.100.255')!, net, 25)).toBe(true);
    expect(inNetwork(parseIp('203.0.113.1')!, parseIp('0.0.0.0')!, 0)).toBe(true);
    expect(inNetwork(parseIp('192.0.3.1')!, parseIp('192.0.2.0')!, 23)).toBe(true);
    expect(inNetwork(parseIp('192.0.4.1')!, parseIp('192.0.2.0')!, 23)).toBe(false);
    expect(inNetwork(parseIp('2001:db8:5:ffff::1')!, parseIp('2001:db8:5::')!, 48)).toBe(true);
    expect(inNetwork(parseIp('2001:db8:6::1')!, parseIp('2001:db8:5::')!, 48)).toBe(false);
    expect(inNetwork(parseIp('192.0.2.1')!, parseIp('2001:db8::')!, 0)).toBe(false);
  });
});

describe('parsing SPF records (RFC 7208 §4.6, §12)', () => {
  it('reads qualifiers, mechanisms, CIDR lengths and modifiers', () => {
    const parsed = parseSpfRecord('v=spf1 -ip4:192.0.2.0/24 ~a:mail.example/28//64 ?mx/30 +include:x.example redirect=y.example foo=bar');
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.terms.map((t) => (t.kind === 'mechanism' ? `${t.qualifier}${t.name}` : `${t.name}=`))).toEqual(['-ip4', '~a', '?mx', '+include', 'redirect=', 'foo=']);
    expect(parsed.terms[1]).toMatchObject({ domainSpec: 'mail.example', ip4Prefix: 28, ip6Prefix: 64 });
    expect(parsed.terms[2]).toMatchObject({ ip4Prefix: 30 });
  });

  it.each([
    ['v=spf1 ip4:192.0.2', /not an IPv4 address/],
    ['v=spf1 ip4:192.0.2.0/33', /0-32/],
    ['v=spf1 ip6:2001:db8::/129', /0-128/],
    ['v=spf1 include', /needs a domain/],
    ['v=spf1 all:x', /no argument/],
    ['v=spf1 a:', /empty/],
    ['v=spf1 bogus:x', /not a mechanism/],
    ['v=spf1 redirect=a.example redirect=b.example', /more than once/],
    ['v=spf10 -all', /v=spf1/],
  ])('refuses %j', (record, error) => {
    const parsed = parseSpfRecord(record);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(error);
  });
});

describe('check_host() on the default world', () => {
  it.each<[string, string, SpfResult]>([
    // example.com: v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 -all
    ['192.0.2.25', 'example.com', 'pass'],
    ['2001:db8::25', 'example.com', 'pass'],
    ['::ffff:192.0.2.25', 'example.com', 'pass'],
    ['192.0.2.26', 'example.com', 'fail'],
    ['203.0.113.99', 'example.com', 'fail'],
    // example.net: v=spf1 mx -all (mx1 192.0.2.20 and 2001:db8::20, mx2 192.0.2.21)
    ['192.0.2.21', 'example.net', 'pass'],
    ['2001:db8::20', 'example.net', 'pass'],
    ['192.0.2.25', 'example.net', 'fail'],
    // newsletter.example: include:mailer.example ~all; mailer.example: ip4:198.51.100.128/25 ip6:2001:db8:5::/48 -all
    ['198.51.100.140', 'newsletter.example', 'pass'],
    ['198.51.100.128', 'newsletter.example', 'pass'],
    ['198.51.100.255', 'newsletter.example', 'pass'],
    ['198.51.100.127', 'newsletter.example', 'softfail'],
    ['2001:db8:5:1::9', 'newsletter.example', 'pass'],
    ['203.0.113.99', 'newsletter.example', 'softfail'],
    // promo.example: redirect=mailer.example, so mailer's -all is final
    ['198.51.100.200', 'promo.example', 'pass'],
    ['203.0.113.99', 'promo.example', 'fail'],
    // bounce.example.com: include:mailer.example -all
    ['198.51.100.140', 'bounce.example.com', 'pass'],
    ['192.0.2.25', 'bounce.example.com', 'fail'],
    // No SPF record at all, or no such domain
    ['192.0.2.25', 'grey.example', 'none'],
    ['192.0.2.25', 'no-such-domain.example', 'none'],
    // DNS servers failing
    ['192.0.2.25', 'broken-dns.example', 'temperror'],
  ])('%s for %s: %s', (ip, domain, result) => {
    expect(spf(defaultZones, ip, domain)).toBe(result);
  });

  it('names the term that decided, and the record it is in', () => {
    expect(checkHost(defaultZones, '198.51.100.140', 'newsletter.example').decidedBy).toEqual({ domain: 'newsletter.example', term: 'include:mailer.example' });
    expect(checkHost(defaultZones, '203.0.113.99', 'newsletter.example').decidedBy).toEqual({ domain: 'newsletter.example', term: '~all' });
    expect(checkHost(defaultZones, '203.0.113.99', 'promo.example').decidedBy).toEqual({ domain: 'mailer.example', term: '-all' });
  });

  it('toomany.example needs an eleventh lookup for an unlisted address: permerror', () => {
    const evaluation = checkHost(defaultZones, '198.51.100.140', 'toomany.example');
    expect(evaluation.result).toBe('permerror');
    expect(evaluation.lookups).toBe(SPF_LOOKUP_LIMIT + 1);
    expect(evaluation.problem).toMatch(/more than 10 DNS lookups/);
    expect(evaluation.trace.at(-1)?.text).toMatch(/lookup number 11/);
  });

  it('toomany.example still passes an address found before the limit (the limit counts as evaluation goes)', () => {
    const early = checkHost(defaultZones, '203.0.113.70', 'toomany.example');
    expect(early.result).toBe('pass');
    expect(early.lookups).toBe(2);
    // mx1.example.net's address is found by the helpdesk's a: term, the sixth lookup.
    expect(checkHost(defaultZones, '192.0.2.20', 'toomany.example')).toMatchObject({ result: 'pass', lookups: 6 });
  });

  it('counts include and redirect as lookups, ip4 and all not', () => {
    expect(checkHost(defaultZones, '192.0.2.25', 'example.com').lookups).toBe(0);
    expect(checkHost(defaultZones, '198.51.100.140', 'newsletter.example').lookups).toBe(1);
    expect(checkHost(defaultZones, '203.0.113.99', 'promo.example').lookups).toBe(1);
    expect(checkHost(defaultZones, '192.0.2.21', 'example.net').lookups).toBe(1);
  });

  it('prints a trace a learner can follow, ending in the verdict', () => {
    const lines = formatSpfEvaluation(checkHost(defaultZones, '203.0.113.99', 'newsletter.example'));
    expect(lines[0]).toMatch(/may 203\.0\.113\.99 send mail/);
    expect(lines).toContain('  newsletter.example TXT "v=spf1 include:mailer.example ~all"');
    expect(lines.some((l) => /^ {4}ip4:198\.51\.100\.128\/25: 203\.0\.113\.99 is outside/.test(l))).toBe(true);
    expect(lines.some((l) => /mailer\.example says fail, which for an include only means "no match"/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^Result: softfail\./);
  });

  it('uses the whole MAIL FROM address when given, postmaster@ otherwise (RFC 7208 §4.3)', () => {
    expect(checkHost(defaultZones, '192.0.2.25', 'example.com').sender).toBe('postmaster@example.com');
    expect(checkHost(defaultZones, '192.0.2.25', 'example.com', { sender: 'alice@example.com' }).sender).toBe('alice@example.com');
  });

  it('an address that is not one is a permerror with the reason, not an exception', () => {
    expect(checkHost(defaultZones, 'nonsense', 'example.com')).toMatchObject({ result: 'permerror', problem: expect.stringMatching(/not an IPv4 or IPv6 address/) });
  });
});

describe('check_host() rules on zones made for them', () => {
  it('neutral when nothing matches and there is no redirect (RFC 7208 §4.7); ?all is neutral too', () => {
    expect(spf(zones([['n.test', 'TXT', 'v=spf1 ip4:192.0.2.1']]), '192.0.2.2', 'n.test')).toBe('neutral');
    expect(spf(zones([['n.test', 'TXT', 'v=spf1 ?all']]), '192.0.2.2', 'n.test')).toBe('neutral');
  });

  it('two SPF records, or a syntax error anywhere, are permerror; other TXT records are ignored', () => {
    expect(spf(zones([['d.test', 'TXT', 'v=spf1 -all'], ['d.test', 'TXT', 'v=spf1 +all']]), '192.0.2.1', 'd.test')).toBe('permerror');
    // The error is after the matching term, yet the whole record is rejected first (RFC 7208 §4.6).
    expect(spf(zones([['d.test', 'TXT', 'v=spf1 +all ip4:999.0.0.1']]), '192.0.2.1', 'd.test')).toBe('permerror');
    expect(spf(zones([['d.test', 'TXT', 'google-site-verification=abc'], ['d.test', 'TXT', 'v=spf1 +all']]), '192.0.2.1', 'd.test')).toBe('pass');
    expect(spf(zones([['d.test', 'TXT', 'v=spf1x -all']]), '192.0.2.1', 'd.test')).toBe('none');
  });

  it('include: a target without SPF is permerror; its temperror passes through (RFC 7208 §5.2)', () => {
    const z = zones([
      ['i.test', 'TXT', 'v=spf1 include:nothing.test -all'],
      ['nothing.test', 'A', '192.0.2.9'],
      ['j.test', 'TXT', 'v=spf1 include:down.test -all'],
    ], ['down.test']);
    expect(spf(z, '192.0.2.1', 'i.test')).toBe('permerror');
    expect(spf(z, '192.0.2.1', 'j.test')).toBe('temperror');
  });

  it('redirect: used only when nothing matched, ignored beside all, permerror to a domain without SPF (§5.1, §6.1)', () => {
    const z = zones([
      ['r.test', 'TXT', 'v=spf1 ip4:192.0.2.1 redirect=target.test'],
      ['target.test', 'TXT', 'v=spf1 ip4:192.0.2.2 ~all'],
      ['withall.test', 'TXT', 'v=spf1 redirect=target.test ?all'],
      ['empty.test', 'TXT', 'v=spf1 redirect=nothing.test'],
      ['nothing.test', 'A', '192.0.2.9'],
    ]);
    expect(spf(z, '192.0.2.1', 'r.test')).toBe('pass');
    expect(spf(z, '192.0.2.2', 'r.test')).toBe('pass');
    expect(spf(z, '192.0.2.3', 'r.test')).toBe('softfail');
    expect(spf(z, '192.0.2.2', 'withall.test')).toBe('neutral');
    expect(spf(z, '192.0.2.2', 'empty.test')).toBe('permerror');
  });

  it('a and mx compare prefixes when a CIDR length is given', () => {
    const z = zones([
      ['c.test', 'TXT', 'v=spf1 a/24 -all'],
      ['c.test', 'A', '192.0.2.10'],
      ['m.test', 'TXT', 'v=spf1 mx:c.test//64 -all'],
      ['c.test', 'MX', '10 mail.c.test'],
      ['mail.c.test', 'AAAA', '2001:db8:1:2::25'],
    ]);
    expect(spf(z, '192.0.2.200', 'c.test')).toBe('pass');
    expect(spf(z, '192.0.3.1', 'c.test')).toBe('fail');
    expect(spf(z, '2001:db8:1:2::ffff', 'm.test')).toBe('pass');
    expect(spf(z, '2001:db8:1:3::25', 'm.test')).toBe('fail');
  });

  it('more than two lookups that find nothing are a permerror (RFC 7208 §4.6.4)', () => {
    const two = zones([['v.test', 'TXT', 'v=spf1 a:gone1.test a:gone2.test -all']]);
    const three = zones([['v.test', 'TXT', 'v=spf1 a:gone1.test a:gone2.test a:gone3.test -all']]);
    expect(checkHost(two, '192.0.2.1', 'v.test')).toMatchObject({ result: 'fail', voidLookups: 2 });
    expect(checkHost(three, '192.0.2.1', 'v.test')).toMatchObject({ result: 'permerror', voidLookups: 3 });
  });

  it('an include loop stops at the lookup limit', () => {
    const z = zones([['loop.test', 'TXT', 'v=spf1 include:loop.test -all']]);
    expect(checkHost(z, '192.0.2.1', 'loop.test')).toMatchObject({ result: 'permerror', lookups: SPF_LOOKUP_LIMIT + 1 });
  });

  it('mx with more than ten MX hosts is a permerror', () => {
    const records: Array<[string, 'TXT' | 'MX' | 'A', string]> = [['big.test', 'TXT', 'v=spf1 mx -all']];
    for (let i = 1; i <= 11; i++) records.push(['big.test', 'MX', `${i} mx${i}.big.test`], [`mx${i}.big.test`, 'A', `192.0.2.${i}`]);
    expect(spf(zones(records), '192.0.2.200', 'big.test')).toBe('permerror');
  });

  it('exists with macros: a per-address DNS list (RFC 7208 §5.7, §7)', () => {
    const z = zones([
      ['e.test', 'TXT', 'v=spf1 exists:%{ir}.%{l1r-}.allow.e.test -all'],
      ['1.2.0.192.alice.allow.e.test', 'A', '127.0.0.2'],
    ]);
    expect(checkHost(z, '192.0.2.1', 'e.test', { sender: 'alice@e.test' }).result).toBe('pass');
    expect(checkHost(z, '192.0.2.1', 'e.test', { sender: 'bob@e.test' }).result).toBe('fail');
    expect(checkHost(z, '192.0.2.9', 'e.test', { sender: 'alice@e.test' }).result).toBe('fail');
  });

  it('expands the macros of RFC 7208 §7.4 examples', () => {
    const context = { ip: parseIp('192.0.2.3')!, sender: 'strong-bad@email.example.com', domain: 'email.example.com', helo: 'mx.example.org' };
    expect(expandMacros('%{s}', context)).toBe('strong-bad@email.example.com');
    expect(expandMacros('%{o}', context)).toBe('email.example.com');
    expect(expandMacros('%{d4}', context)).toBe('email.example.com');
    expect(expandMacros('%{d2}', context)).toBe('example.com');
    expect(expandMacros('%{dr}', context)).toBe('com.example.email');
    expect(expandMacros('%{l-}', context)).toBe('strong.bad');
    expect(expandMacros('%{lr-}', context)).toBe('bad.strong');
    expect(expandMacros('%{ir}.%{v}._spf.%{d2}', context)).toBe('3.2.0.192.in-addr._spf.example.com');
    expect(expandMacros('%{d0}', context)).toBeUndefined();
    expect(expandMacros('%{x}', context)).toBeUndefined();
    const v6 = { ...context, ip: parseIp('2001:db8::cb01')! };
    expect(expandMacros('%{ir}.%{v}._spf.%{d2}', v6)).toBe('1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com');
  });
});

describe('DMARC (RFC 7489)', () => {
  it('parses records; unknown tags are ignored; a record without p= counts as p=none only with a rua=', () => {
    const parsed = parseDmarcRecord('v=DMARC1; p=quarantine; sp=reject; aspf=s; pct=50; x=y; rua=mailto:r@example.net');
    expect(parsed).toMatchObject({ ok: true, record: { policy: 'quarantine', subdomainPolicy: 'reject', spfAlignment: 'strict', dkimAlignment: 'relaxed', percent: 50 } });
    expect(parseDmarcRecord('v=DMARC1; rua=mailto:r@example.net')).toMatchObject({ ok: true, record: { policy: 'none' } });
    expect(parseDmarcRecord('v=DMARC1; p=maybe').ok).toBe(false);
    expect(parseDmarcRecord('p=reject; v=DMARC1').ok).toBe(false);
  });

  it('finds the Organizational Domain of reserved names and aligns relaxed or strict', () => {
    expect(organizationalDomain('bounce.example.com')).toBe('example.com');
    expect(organizationalDomain('a.b.grey.example')).toBe('grey.example');
    expect(isAligned('bounce.example.com', 'example.com', 'relaxed')).toBe(true);
    expect(isAligned('bounce.example.com', 'example.com', 'strict')).toBe(false);
    expect(isAligned('EXAMPLE.com.', 'example.com', 'strict')).toBe(true);
    expect(isAligned('mailer.example', 'example.com', 'relaxed')).toBe(false);
  });

  it.each<[string, string, { spf?: [string, SpfResult]; dkim?: string }, string, string]>([
    // From domain, SPF-authenticated domain, result, disposition
    ['SPF pass for the From domain itself', 'example.com', { spf: ['example.com', 'pass'] }, 'pass', 'none'],
    ['SPF pass for a subdomain, relaxed', 'example.com', { spf: ['bounce.example.com', 'pass'] }, 'pass', 'none'],
    ['SPF pass for another domain (the provider)', 'example.com', { spf: ['mailer.example', 'pass'] }, 'fail', 'reject'],
    ['aligned, but SPF softfail', 'example.com', { spf: ['example.com', 'softfail'] }, 'fail', 'reject'],
    ['p=quarantine at example.net', 'example.net', { spf: ['mailer.example', 'pass'] }, 'fail', 'quarantine'],
    ['p=none at newsletter.example', 'newsletter.example', {}, 'fail', 'none'],
    ['strict SPF alignment refuses a subdomain', 'bank.example', { spf: ['mail.bank.example', 'pass'] }, 'fail', 'reject'],
    ['strict DKIM alignment with the exact d=', 'bank.example', { spf: ['mail.bank.example', 'pass'], dkim: 'bank.example' }, 'pass', 'none'],
    ['DKIM alone, relaxed', 'example.com', { dkim: 'mail.example.com' }, 'pass', 'none'],
    ['a subdomain without a record falls back to the organizational record', 'news.example.com', { spf: ['mailer.example', 'pass'] }, 'fail', 'reject'],
    ['no DMARC record anywhere', 'grey.example', { spf: ['mailer.example', 'pass'] }, 'none', 'none'],
  ])('%s', (_, fromDomain, auth, result, disposition) => {
    const evaluation = evaluateDmarc(defaultZones, {
      fromDomain,
      ...(auth.spf ? { spf: { domain: auth.spf[0], result: auth.spf[1] } } : {}),
      ...(auth.dkim ? { dkim: { domain: auth.dkim, result: 'pass' as const } } : {}),
    });
    expect({ result: evaluation.result, disposition: evaluation.disposition }).toEqual({ result, disposition });
  });

  it('with SPF checked for real: the provider passes SPF and still fails DMARC for example.com', () => {
    const spfCheck = checkHost(defaultZones, '198.51.100.140', 'mailer.example');
    const dmarc = evaluateDmarc(defaultZones, { fromDomain: 'example.com', spf: { domain: 'mailer.example', result: spfCheck.result } });
    expect(spfCheck.result).toBe('pass');
    expect(dmarc).toMatchObject({ result: 'fail', policy: 'reject', policyDomain: 'example.com', spfAligned: false });
    expect(dmarc.trace.join('\n')).toMatch(/mailer\.example vs example\.com, NOT aligned/);
  });

  it('a DNS failure on the policy is temperror', () => {
    const z = zones([], ['example.com']);
    expect(evaluateDmarc(z, { fromDomain: 'example.com' }).result).toBe('temperror');
  });

  it('uses sp= for a subdomain found through the Organizational Domain', () => {
    const z = zones([['_dmarc.org.test', 'TXT', 'v=DMARC1; p=reject; sp=quarantine']]);
    expect(evaluateDmarc(z, { fromDomain: 'org.test' })).toMatchObject({ result: 'fail', disposition: 'reject' });
    expect(evaluateDmarc(z, { fromDomain: 'sub.org.test' })).toMatchObject({ result: 'fail', disposition: 'quarantine', policyDomain: 'org.test' });
  });
});
