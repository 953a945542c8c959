import { describe, expect, it } from 'vitest';
import { dig, parseDigArgs } from '../../src/sim/dig';
import { defaultZones } from '../../src/sim/topology';

/** Lines with dig's tab alignment collapsed to single spaces. */
function words(text: string): string[] {
  return text.split('\n').map((line) => line.split(/\s+/).filter(Boolean).join(' '));
}

function run(...args: string[]): string {
  const result = dig(defaultZones, args);
  if (!result.ok) throw new Error(`expected output, got error ${result.error}`);
  return result.text;
}

describe('parseDigArgs', () => {
  it.each([
    [['MX', 'example.net'], { name: 'example.net', type: 'MX', short: false }],
    [['example.net', 'mx'], { name: 'example.net', type: 'MX', short: false }],
    [['+short', 'MX', 'example.net'], { name: 'example.net', type: 'MX', short: true }],
    [['mx1.example.net'], { name: 'mx1.example.net', type: 'A', short: false }],
    [['-t', 'AAAA', 'mx1.example.net.'], { name: 'mx1.example.net', type: 'AAAA', short: false }],
    [['@192.0.2.53', 'TXT', 'example.com'], { name: 'example.com', type: 'TXT', short: false }],
  ])('%j', (args, query) => {
    expect(parseDigArgs(args)).toEqual({ ok: true, query });
  });

  it.each([
    [[], /which name/],
    [['MX'], /which name/],
    [['SOA', 'example.net'], /SOA is not served/],
    [['-t'], /-t needs a record type/],
    [['+trace', 'example.net'], /\+trace is not supported/],
    [['-x', '192.0.2.1'], /-x is not supported/],
    [['example.net', 'example.com'], /one name at a time/],
    [['exa mple'], /not a valid domain name/],
    [['bad..name'], /not a valid domain name/],
  ])('%j is refused with a one-line error', (args, message) => {
    const result = parseDigArgs(args);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatch(message);
    expect(result.error).not.toContain('\n');
    expect(dig(defaultZones, args)).toEqual(result);
  });
});

describe('dig output', () => {
  it('prints the MX answer of example.net like dig', () => {
    const lines = words(run('MX', 'example.net'));
    expect(lines.filter((l) => /^;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: \d+$/.test(l))).toHaveLength(1);
    expect(lines).toContain(';; flags: qr rd ra; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 0');
    const question = lines.indexOf(';; QUESTION SECTION:');
    expect(lines[question + 1]).toBe(';example.net. IN MX');
    const answer = lines.indexOf(';; ANSWER SECTION:');
    expect(answer).toBeGreaterThan(question);
    expect(lines.slice(answer + 1, answer + 3)).toEqual(['example.net. 3600 IN MX 10 mx1.example.net.', 'example.net. 3600 IN MX 20 mx2.example.net.']);
  });

  it('separates ANSWER fields with tabs, like dig', () => {
    expect(run('MX', 'example.net')).toContain('3600\tIN\tMX\t10 mx1.example.net.');
  });

  it('prints the same text for the same query', () => {
    expect(run('MX', 'example.net')).toBe(run('MX', 'example.net'));
  });

  it.each([
    [['+short', 'MX', 'example.net'], '10 mx1.example.net.\n20 mx2.example.net.\n'],
    [['+short', 'mx1.example.net'], '192.0.2.20\n'],
    [['+short', 'AAAA', 'mx1.example.net'], '2001:db8::20\n'],
    [['+short', 'TXT', '_dmarc.example.com'], '"v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com"\n'],
    [['+short', 'MX', 'nullmx.example'], '0 .\n'],
    [['+short', 'MX', 'alias.example'], 'example.net.\n10 mx1.example.net.\n20 mx2.example.net.\n'],
    [['+short', 'CNAME', 'www.example.com'], 'example.com.\n'],
    [['+short', 'MX', 'no-such-domain.example'], ''],
    [['+short', 'MX', 'broken-dns.example'], ''],
    [['+short', 'MX', 'a-only.example'], ''],
  ])('dig %j', (args, expected) => {
    expect(run(...args)).toBe(expected);
  });

  it('shows TLSA data in dig presentation', () => {
    const out = words(run('TLSA', '_25._tcp.mx.dane.example'));
    const line = out.find((l) => l.startsWith('_25._tcp.mx.dane.example.'))!;
    expect(line).toMatch(/^_25\._tcp\.mx\.dane\.example\. 3600 IN TLSA 3 1 1 [0-9A-F]{56} [0-9A-F]{8}$/);
  });

  it.each([
    [['no-such-domain.example'], 'NXDOMAIN', ';no-such-domain.example. IN A'],
    [['MX', 'broken-dns.example'], 'SERVFAIL', ';broken-dns.example. IN MX'],
    [['loop-a.example'], 'SERVFAIL', ';loop-a.example. IN A'],
    [['AAAA', 'mx2.example.net'], 'NOERROR', ';mx2.example.net. IN AAAA'],
  ])('dig %j reports %s with no answer section', (args, status, question) => {
    const result = dig(defaultZones, args);
    expect(result.ok && result.status).toBe(status);
    const lines = words(run(...args));
    expect(lines.some((l) => l.includes(`status: ${status},`))).toBe(true);
    expect(lines).toContain(question);
    expect(lines).not.toContain(';; ANSWER SECTION:');
    expect(lines.some((l) => l.includes('ANSWER: 0,'))).toBe(true);
  });

  it('prints the CNAME before the records it leads to', () => {
    const lines = words(run('MX', 'alias.example'));
    const answer = lines.indexOf(';; ANSWER SECTION:');
    expect(lines.slice(answer + 1, answer + 4)).toEqual([
      'alias.example. 3600 IN CNAME example.net.',
      'example.net. 3600 IN MX 10 mx1.example.net.',
      'example.net. 3600 IN MX 20 mx2.example.net.',
    ]);
  });
});
