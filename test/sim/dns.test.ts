import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TTL,
  mulberry32,
  mtaStsPolicy,
  mxMatchesPattern,
  resolve,
  routeMail,
  shuffled,
  spfRecord,
  dmarcRecord,
  tlsaRecords,
  type DnsRecord,
  type Zones,
} from '../../src/sim/dns';
import { defaultZones } from '../../src/sim/topology';

const ttl = DEFAULT_TTL;
function zones(records: DnsRecord[], servfail: string[] = []): Zones {
  return { records, servfail, mtaSts: {} };
}

describe('resolve', () => {
  it.each([
    ['example.net', 'MX', 'NOERROR', 2],
    ['EXAMPLE.NET.', 'MX', 'NOERROR', 2],
    ['mx1.example.net', 'A', 'NOERROR', 1],
    ['mx1.example.net', 'AAAA', 'NOERROR', 1],
    ['mx2.example.net', 'AAAA', 'NOERROR', 0],
    ['no-such-domain.example', 'A', 'NXDOMAIN', 0],
    ['broken-dns.example', 'MX', 'SERVFAIL', 0],
    ['www.broken-dns.example', 'A', 'SERVFAIL', 0],
    ['_25._tcp.mx.dane.example', 'TLSA', 'NOERROR', 1],
  ] as const)('%s %s -> %s with %i answers', (name, type, status, count) => {
    const res = resolve(defaultZones, name, type);
    expect(res.status).toBe(status);
    expect(res.answers).toHaveLength(count);
    expect(res.answers.every((r) => r.type === type)).toBe(true);
  });

  it('answers NOERROR with no data for an empty non-terminal, not NXDOMAIN', () => {
    // _tcp.mx.dane.example owns nothing but has a child record.
    const res = resolve(defaultZones, '_tcp.mx.dane.example', 'A');
    expect(res.status).toBe('NOERROR');
    expect(res.answers).toEqual([]);
  });

  it('follows a CNAME and reports the chain', () => {
    const res = resolve(defaultZones, 'www.example.com', 'MX');
    expect(res.status).toBe('NOERROR');
    expect(res.cnameChain.map((c) => [c.name, c.target])).toEqual([['www.example.com', 'example.com']]);
    expect(res.answers.map((r) => r.exchange)).toEqual(['mx.example.com']);
  });

  it('returns the CNAME itself when CNAME is asked', () => {
    const res = resolve(defaultZones, 'alias.example', 'CNAME');
    expect(res.cnameChain).toEqual([]);
    expect(res.answers.map((r) => r.target)).toEqual(['example.net']);
  });

  it.each([
    ['two-name loop', [{ name: 'a.test', ttl, type: 'CNAME', target: 'b.test' }, { name: 'b.test', ttl, type: 'CNAME', target: 'a.test' }]],
    ['self loop', [{ name: 'a.test', ttl, type: 'CNAME', target: 'a.test' }]],
  ] as const)('stops a CNAME %s with SERVFAIL', (_label, records) => {
    const res = resolve(zones([...records] as DnsRecord[]), 'a.test', 'A');
    expect(res.status).toBe('SERVFAIL');
    expect(res.problem).toBe('cname-loop');
  });

  it('gives up on an overly long CNAME chain', () => {
    const records: DnsRecord[] = [];
    for (let i = 0; i < 12; i++) records.push({ name: `c${i}.test`, ttl, type: 'CNAME', target: `c${i + 1}.test` });
    records.push({ name: 'c12.test', ttl, type: 'A', address: '192.0.2.1' });
    const res = resolve(zones(records), 'c0.test', 'A');
    expect(res.status).toBe('SERVFAIL');
    expect(res.problem).toBe('cname-chain-too-long');
    const short = resolve(zones(records), 'c8.test', 'A');
    expect(short.status).toBe('NOERROR');
    expect(short.answers.map((r) => r.address)).toEqual(['192.0.2.1']);
  });
});

describe('mulberry32 and shuffled', () => {
  it('repeats its sequence for the same seed and differs for another', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const seqA = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(seqA);
    expect(Array.from({ length: 5 }, c)).not.toEqual(seqA);
    expect(seqA.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('shuffles a copy and keeps every item', () => {
    const items = [1, 2, 3, 4, 5, 6];
    const out = shuffled(items, mulberry32(7));
    expect(items).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...out].sort()).toEqual(items);
  });
});

describe('routeMail (RFC 5321 §5.1)', () => {
  const hostsOf = (domain: string, seed = 1, z: Zones = defaultZones) => {
    const route = routeMail(z, domain, mulberry32(seed));
    return route.kind === 'hosts' ? route.hosts.map((h) => h.host) : route.kind;
  };

  it.each([
    ['example.net', 'hosts', ['mx1.example.net', 'mx2.example.net']],
    ['EXAMPLE.net.', 'hosts', ['mx1.example.net', 'mx2.example.net']],
    ['alias.example', 'hosts', ['mx1.example.net', 'mx2.example.net']],
    ['a-only.example', 'hosts', ['a-only.example']],
    ['grey.example', 'hosts', ['mx.grey.example']],
    ['down.example', 'hosts', ['mx1.down.example', 'mx2.down.example']],
  ] as const)('%s -> %s %j', (domain, kind, hosts) => {
    const route = routeMail(defaultZones, domain, mulberry32(1));
    expect(route.kind).toBe(kind);
    if (route.kind !== 'hosts') return;
    expect(route.hosts.map((h) => h.host)).toEqual(hosts);
    expect(route.hosts.every((h) => h.addresses.length > 0)).toBe(true);
    expect(route.explanation.length).toBeGreaterThan(1);
  });

  it.each([
    ['nullmx.example', 'null-mx', 556, '5.1.10'],
    ['no-such-domain.example', 'permanent', 550, '5.1.2'],
    ['ghost-mx.example', 'permanent', 550, '5.4.4'],
    ['broken-dns.example', 'temporary', 451, '4.4.3'],
    ['loop-a.example', 'temporary', 451, '4.4.3'],
  ] as const)('%s -> %s %i %s', (domain, kind, code, enhanced) => {
    const route = routeMail(defaultZones, domain, mulberry32(1));
    expect(route.kind).toBe(kind);
    if (route.kind === 'hosts') return;
    expect(route.failure.code).toBe(code);
    expect(route.failure.enhanced).toBe(enhanced);
    expect(route.explanation.join(' ')).toContain(enhanced);
  });

  it('marks the implicit MX and explains it', () => {
    const route = routeMail(defaultZones, 'a-only.example', mulberry32(1));
    expect(route.kind).toBe('hosts');
    if (route.kind !== 'hosts') return;
    expect(route.implicit).toBe(true);
    expect(route.hosts[0]).toMatchObject({ host: 'a-only.example', preference: 0, implicit: true, addresses: ['203.0.113.10'] });
    expect(route.explanation.join(' ')).toMatch(/implicit MX/);
  });

  it('explains the Null MX and tries no host', () => {
    const route = routeMail(defaultZones, 'nullmx.example', mulberry32(1));
    expect(route.kind).toBe('null-mx');
    expect(route.explanation.join(' ')).toMatch(/RFC 7505/);
  });

  it('lists IPv4 addresses before IPv6 for a dual-stack host', () => {
    const route = routeMail(defaultZones, 'example.net', mulberry32(1));
    expect(route.kind === 'hosts' && route.hosts[0]!.addresses).toEqual(['192.0.2.20', '2001:db8::20']);
  });

  const custom = zones(
    [
      { name: 'mixed.test', ttl, type: 'MX', preference: 30, exchange: 'late.mixed.test' },
      { name: 'mixed.test', ttl, type: 'MX', preference: 10, exchange: 'gone.mixed.test' },
      { name: 'mixed.test', ttl, type: 'MX', preference: 20, exchange: 'noaddr.mixed.test' },
      { name: 'mixed.test', ttl, type: 'MX', preference: 25, exchange: 'alias.mixed.test' },
      { name: 'noaddr.mixed.test', ttl, type: 'TXT', text: 'no address here' },
      { name: 'alias.mixed.test', ttl, type: 'CNAME', target: 'late.mixed.test' },
      { name: 'late.mixed.test', ttl, type: 'A', address: '198.51.100.99' },
      { name: 'sick.test', ttl, type: 'MX', preference: 10, exchange: 'mx.broken.test' },
      { name: 'sick.test', ttl, type: 'MX', preference: 20, exchange: 'nowhere.sick.test' },
      { name: 'both.test', ttl, type: 'MX', preference: 0, exchange: '.' },
      { name: 'both.test', ttl, type: 'MX', preference: 10, exchange: 'late.mixed.test' },
      { name: 'empty.test', ttl, type: 'TXT', text: 'v=spf1 -all' },
    ],
    ['broken.test'],
  );

  it('skips MX hosts that do not exist or have no address, in preference order', () => {
    const route = routeMail(custom, 'mixed.test', mulberry32(1));
    expect(route.kind).toBe('hosts');
    if (route.kind !== 'hosts') return;
    expect(route.hosts.map((h) => `${h.preference} ${h.host}`)).toEqual(['25 alias.mixed.test', '30 late.mixed.test']);
    const text = route.explanation.join('\n');
    expect(text).toMatch(/gone\.mixed\.test is skipped: .*does not exist/);
    expect(text).toMatch(/noaddr\.mixed\.test is skipped: .*no A or AAAA/);
    expect(text).toMatch(/RFC 2181 §10\.3/);
  });

  it('defers when the only usable-looking MX failed to resolve temporarily', () => {
    const route = routeMail(custom, 'sick.test', mulberry32(1));
    expect(route.kind).toBe('temporary');
    expect(route.kind !== 'hosts' && route.failure.enhanced).toBe('4.4.3');
  });

  it('ignores a "0 ." entry mixed with real MX records', () => {
    expect(hostsOf('both.test', 1, custom)).toEqual(['late.mixed.test']);
  });

  it('fails permanently for a domain with neither MX nor address', () => {
    const route = routeMail(custom, 'empty.test', mulberry32(1));
    expect(route.kind).toBe('permanent');
    expect(route.kind !== 'hosts' && route.failure.enhanced).toBe('5.1.2');
  });

  it('gives the same order for the same seed', () => {
    for (let seed = 0; seed < 20; seed++) {
      expect(hostsOf('balanced.example', seed)).toEqual(hostsOf('balanced.example', seed));
    }
  });

  it('spreads equal-preference hosts evenly over many seeds, keeping lower preferences first', () => {
    const firsts = new Map<string, number>();
    const orders = new Set<string>();
    const runs = 3000;
    for (let seed = 0; seed < runs; seed++) {
      const hosts = hostsOf('balanced.example', seed) as string[];
      expect([...hosts].sort()).toEqual(['mx1.balanced.example', 'mx2.balanced.example', 'mx3.balanced.example']);
      firsts.set(hosts[0]!, (firsts.get(hosts[0]!) ?? 0) + 1);
      orders.add(hosts.join(','));
      // Different preferences are never shuffled.
      expect(hostsOf('example.net', seed)).toEqual(['mx1.example.net', 'mx2.example.net']);
    }
    expect(orders.size).toBe(6);
    for (const count of firsts.values()) {
      expect(count / runs).toBeGreaterThan(0.29);
      expect(count / runs).toBeLessThan(0.38);
    }
  });
});

describe('mail TXT, MTA-STS and TLSA helpers', () => {
  it('finds SPF and DMARC', () => {
    expect(spfRecord(defaultZones, 'example.com')).toMatch(/^v=spf1 /);
    expect(dmarcRecord(defaultZones, 'example.com')).toMatch(/^v=DMARC1; p=reject/);
    expect(spfRecord(defaultZones, 'grey.example')).toBeUndefined();
  });

  it.each([
    ['sts-enforce.example', 'enforce'],
    ['sts-testing.example', 'testing'],
    ['example.net', 'enforce'],
    ['grey.example', undefined],
  ])('MTA-STS policy of %s is %s', (domain, mode) => {
    expect(mtaStsPolicy(defaultZones, domain)?.mode).toBe(mode);
  });

  it('ignores a policy document without its TXT record', () => {
    const z: Zones = { records: [], servfail: [], mtaSts: { 'x.test': { mode: 'enforce', mx: ['mx.x.test'], maxAgeSeconds: 1 } } };
    expect(mtaStsPolicy(z, 'x.test')).toBeUndefined();
  });

  it.each([
    ['mx1.example.net', '*.example.net', true],
    ['a.b.example.net', '*.example.net', false],
    ['example.net', '*.example.net', false],
    ['MX1.example.net.', 'mx1.example.net', true],
    ['mx2.example.net', 'mx1.example.net', false],
  ])('%s matches %s: %s', (host, pattern, expected) => {
    expect(mxMatchesPattern(host, pattern)).toBe(expected);
  });

  it('finds the TLSA record of the DANE host only', () => {
    expect(tlsaRecords(defaultZones, 'mx.dane.example').map((r) => [r.usage, r.selector, r.matchingType])).toEqual([[3, 1, 1]]);
    expect(tlsaRecords(defaultZones, 'mx1.example.net')).toEqual([]);
  });
});
