import { describe, expect, it } from 'vitest';
import { mulberry32, mtaStsPolicy, resolve, routeMail, tlsaRecords } from '../../src/sim/dns';
import { PERSONA_IDS, defaultHosts, defaultZones, describeWorld, withHostDown, worldDomains } from '../../src/sim/topology';

const RESERVED = /(^|\.)(example\.com|example\.net|example|test)$/;

function inDocumentationRange(address: string): boolean {
  if (address.includes(':')) return address.toLowerCase().startsWith('2001:db8:');
  return /^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d{1,3}$/.test(address);
}

describe('default world', () => {
  it('uses reserved names and documentation addresses only', () => {
    for (const record of defaultZones.records) {
      expect(record.name).toMatch(RESERVED);
      if (record.type === 'A' || record.type === 'AAAA') expect(inDocumentationRange(record.address), record.address).toBe(true);
      if (record.type === 'MX' && record.exchange !== '.') expect(record.exchange).toMatch(RESERVED);
      if (record.type === 'CNAME') expect(record.target).toMatch(RESERVED);
    }
    for (const [name, host] of Object.entries(defaultHosts)) {
      expect(name).toMatch(RESERVED);
      expect(host.addresses.every(inDocumentationRange)).toBe(true);
    }
  });

  it('places every persona behind at least one host', () => {
    const used = new Set(Object.values(defaultHosts).map((h) => h.persona));
    expect([...used].sort()).toEqual([...PERSONA_IDS].sort());
  });

  it('gives every host DNS addresses that match its table entry', () => {
    for (const [name, host] of Object.entries(defaultHosts)) {
      const v4 = resolve(defaultZones, name, 'A').answers.map((r) => r.address);
      const v6 = resolve(defaultZones, name, 'AAAA').answers.map((r) => r.address);
      expect([...v4, ...v6].sort()).toEqual([...host.addresses].sort());
      expect(host.ports.length).toBeGreaterThan(0);
    }
  });

  it('has the article cast: alice submits on smtp.example.com, bob and carol receive at example.net', () => {
    expect(defaultHosts['smtp.example.com']).toMatchObject({ persona: 'submission', ports: [587, 465] });
    const route = routeMail(defaultZones, 'example.net', mulberry32(1));
    expect(route.kind === 'hosts' && route.hosts.map((h) => `${h.preference} ${h.host}`)).toEqual(['10 mx1.example.net', '20 mx2.example.net']);
    expect(defaultHosts['mx1.example.net']!.persona).toBe('friendly');
    expect(defaultHosts['mx2.example.net']!.persona).toBe('friendly');
    // DSNs to alice must have somewhere to go.
    expect(routeMail(defaultZones, 'example.com', mulberry32(1)).kind).toBe('hosts');
  });

  it('offers the three tls-broken variants and three content-filter variants', () => {
    const variants = (persona: string) =>
      Object.values(defaultHosts)
        .filter((h) => h.persona === persona)
        .map((h) => h.settings['variant']);
    expect(new Set(variants('tls-broken'))).toEqual(new Set(['refuse', 'handshake', 'untrusted']));
    expect(new Set(variants('content-filter'))).toEqual(new Set(['content', 'size', 'dmarc']));
  });

  it('routes every persona domain to its own mx host', () => {
    for (const [name, host] of Object.entries(defaultHosts)) {
      if (!name.startsWith('mx.') || name === 'mx.example.com') continue;
      const domain = name.slice(3);
      const route = routeMail(defaultZones, domain, mulberry32(1));
      expect(route.kind === 'hosts' && route.hosts.map((h) => h.host), domain).toEqual([name]);
      expect(host.ports).toEqual([25]);
    }
  });

  it('has the DNS lesson domains', () => {
    const kind = (d: string) => routeMail(defaultZones, d, mulberry32(1)).kind;
    expect(kind('nullmx.example')).toBe('null-mx');
    expect(kind('no-such-domain.example')).toBe('permanent');
    expect(kind('broken-dns.example')).toBe('temporary');
    expect(kind('ghost-mx.example')).toBe('permanent');
    const implicit = routeMail(defaultZones, 'a-only.example', mulberry32(1));
    expect(implicit.kind === 'hosts' && implicit.implicit).toBe(true);
    expect(mtaStsPolicy(defaultZones, 'sts-enforce.example')?.mode).toBe('enforce');
    expect(mtaStsPolicy(defaultZones, 'sts-testing.example')?.mode).toBe('testing');
    expect(defaultHosts['mx.sts-testing.example']!.persona).toBe('tls-broken');
    expect(tlsaRecords(defaultZones, 'mx.dane.example')).toHaveLength(1);
    expect(defaultHosts['mx.dane.example']!.persona).toBe('tls-broken');
    const downModes = ['mx1.down.example', 'mx2.down.example'].map((h) => defaultHosts[h]!.down);
    expect(downModes).toEqual(['refused', 'timeout']);
  });

  it('switches a host down and back without touching the original table', () => {
    const down = withHostDown(defaultHosts, 'mx1.example.net', 'refused');
    expect(down['mx1.example.net']!.down).toBe('refused');
    expect(defaultHosts['mx1.example.net']!.down).toBeUndefined();
    const up = withHostDown(down, 'MX1.example.net', undefined);
    expect(up['mx1.example.net']!.down).toBeUndefined();
    expect('down' in up['mx1.example.net']!).toBe(false);
    expect(withHostDown(defaultHosts, 'nothing.example', 'timeout')).toBe(defaultHosts);
  });

  it('describes each domain in one line for the world command', () => {
    const lines = describeWorld();
    for (const { domain } of worldDomains) {
      expect(lines.filter((l) => l.startsWith(`${domain} — `))).toHaveLength(1);
    }
    expect(lines.find((l) => l.startsWith('example.net — '))).toContain('MX 10 mx1.example.net (friendly), 20 mx2.example.net (friendly)');
    expect(lines.find((l) => l.startsWith('smtp.example.com — '))).toContain('587, 465');
    const down = describeWorld(defaultZones, withHostDown(defaultHosts, 'mx1.example.net', 'timeout'));
    expect(down.find((l) => l.startsWith('example.net — '))).toContain('mx1.example.net (friendly, down: timeout)');
    expect(lines.every((l) => !l.includes('\n'))).toBe(true);
  });
});
