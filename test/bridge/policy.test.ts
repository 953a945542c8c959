/** The target policy as pure functions: spellings, ranges, allowances, and the CLI's flags. */
import fc from 'fast-check';
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseBridgeArgs, UsageError } from '../../src/bridge/args';
import {
  createPolicy,
  formatIpAddress,
  judgeTarget,
  parseIpAddress,
  parseTargetHost,
  type IpAddress,
} from '../../src/bridge/policy';

function judge(host: string, port: number, options = {}): { allowed: boolean; rule: string } {
  const policy = createPolicy(options);
  const parsed = parseTargetHost(host);
  if (parsed.kind === 'refused') return { allowed: false, rule: parsed.rule };
  if (parsed.kind === 'name') throw new Error(`${host} is a name`);
  const decision = judgeTarget(policy, host, parsed.address, port);
  return { allowed: decision.allowed, rule: decision.rule };
}

describe('host spellings', () => {
  it.each([
    ['2130706433', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['0x7f.0.0.1', '127.0.0.1'],
    ['0x7F000001', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['10.1', '10.0.0.1'],
    ['0', '0.0.0.0'],
    ['012.0.0.1', '10.0.0.1'],
    ['127.000.000.001', '127.0.0.1'],
  ])('%s is refused as an unusual spelling of %s', (host, meant) => {
    const parsed = parseTargetHost(host);
    expect(parsed).toMatchObject({ kind: 'refused', rule: 'ipv4-spelling' });
    expect(parsed.kind === 'refused' && parsed.message).toContain(meant);
  });

  it.each(['256.0.0.1', '1.2.3.4.5', '0x', '99999999999', 'a..b', '-lead.test', 'sp ace.test', 'caf\u00e9.test', '[::1', '1:2:3:4:5:6:7:8:9', '::1::'])('%s is refused as invalid', (host) => {
    expect(parseTargetHost(host)).toMatchObject({ kind: 'refused' });
  });

  it('accepts canonical literals and names, lower-casing names', () => {
    expect(parseTargetHost('MX.Mail.Test.')).toEqual({ kind: 'name', name: 'mx.mail.test' });
    expect(parseTargetHost('_dmarc.example.com')).toEqual({ kind: 'name', name: '_dmarc.example.com' });
    const v6 = parseTargetHost('[2001:DB8:0:0:0:0:0:1]');
    expect(v6.kind === 'address' && formatIpAddress(v6.address)).toBe('2001:db8::1');
  });

  it('parses and prints every IPv4 and IPv6 address as Node does', () => {
    const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((bytes) => bytes.join('.'));
    const v6 = fc.ipV6();
    fc.assert(
      fc.property(fc.oneof(v4, v6), (text) => {
        const address = parseIpAddress(text) as IpAddress;
        expect(address).not.toBeNull();
        const printed = formatIpAddress(address);
        expect(isIP(printed)).toBe(address.family);
        expect(parseIpAddress(printed)).toEqual(address);
        // Node's URL parser agrees on which address the canonical text means.
        const host = address.family === 6 ? `[${printed}]` : printed;
        expect(new URL(`http://${host}/`).hostname).toBe(host);
      }),
      { numRuns: 2000, seed: 7 },
    );
  });
});

describe('ranges and ports', () => {
  it.each([
    ['127.0.0.1', 25],
    ['127.0.0.1', 465],
    ['127.0.0.1', 587],
    ['127.0.0.1', 2525],
    ['127.8.9.10', 25],
    ['::1', 587],
  ])('allows loopback %s on mail port %i', (host, port) => {
    expect(judge(host, port)).toEqual({ allowed: true, rule: 'loopback-mail-port' });
  });

  it('allows a configured local smtpd port on loopback only', () => {
    expect(judge('127.0.0.1', 2526, { localPorts: [2526] })).toEqual({ allowed: true, rule: 'loopback-mail-port' });
    expect(judge('127.0.0.1', 2526)).toEqual({ allowed: false, rule: 'loopback-port' });
    expect(judge('10.0.0.1', 2526, { localPorts: [2526] })).toEqual({ allowed: false, rule: 'private-ipv4' });
  });

  it('keeps public addresses off unless enabled, then only on 25, 465, 587', () => {
    expect(judge('93.184.216.34', 25)).toEqual({ allowed: false, rule: 'public-disabled' });
    expect(judge('93.184.216.34', 25, { allowPublic: true })).toEqual({ allowed: true, rule: 'public-mail-port' });
    expect(judge('93.184.216.34', 2525, { allowPublic: true })).toEqual({ allowed: false, rule: 'public-port' });
    expect(judge('2a00:1450::1', 80, { allowPublic: true })).toEqual({ allowed: false, rule: 'public-port' });
    expect(judge('10.0.0.1', 25, { allowPublic: true })).toEqual({ allowed: false, rule: 'private-ipv4' });
  });

  it.each([
    ['10.255.255.255', 'private-ipv4'],
    ['172.15.255.255', 'public-disabled'],
    ['172.16.0.0', 'private-ipv4'],
    ['172.32.0.0', 'public-disabled'],
    ['192.168.0.1', 'private-ipv4'],
    ['100.63.255.255', 'public-disabled'],
    ['100.64.0.0', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['169.254.169.254', 'cloud-metadata'],
    ['fd00:ec2::254', 'cloud-metadata'],
    ['169.254.0.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'site-local-ipv6'],
    ['fc00::', 'unique-local-ipv6'],
    ['fdff:ffff::1', 'unique-local-ipv6'],
    ['224.0.0.251', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff05::2', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['250.1.1.1', 'reserved-ipv4'],
    ['::ffff:127.0.0.1', 'ipv4-mapped-ipv6'],
    ['::ffff:8.8.8.8', 'ipv4-mapped-ipv6'],
    ['::127.0.0.1', 'ipv4-compatible-ipv6'],
    ['64:ff9b::a00:1', 'nat64'],
    ['64:ff9b:1::1', 'nat64'],
    ['2002:a00:1::1', '6to4'],
    ['2001:0:4136:e378::1', 'teredo'],
    ['2001:db8:1::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.200', 'documentation'],
    ['198.18.0.0', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['2001:2::1', 'benchmarking'],
    ['192.0.0.8', 'ietf-protocol-assignments'],
    ['192.88.99.1', '6to4-relay'],
    ['100::1', 'discard-only'],
    ['2001:10::1', 'orchid'],
    ['4000::1', 'reserved-ipv6'],
  ])('%s on port 25 is refused by %s (public enabled or not)', (host, rule) => {
    const expected = rule === 'public-disabled' ? { allowed: false, rule } : { allowed: false, rule };
    expect(judge(host, 25)).toEqual(expected);
    if (rule !== 'public-disabled') expect(judge(host, 25, { allowPublic: true })).toEqual(expected);
  });

  it('names the embedded IPv4 address of a mapped address', () => {
    const parsed = parseTargetHost('::ffff:10.0.0.1');
    const decision = parsed.kind === 'address' && judgeTarget(createPolicy(), '::ffff:10.0.0.1', parsed.address, 25);
    expect(decision && decision.message).toContain('10.0.0.1, itself refused as private-ipv4');
  });
});

describe('allowances', () => {
  it('--allow HOST:PORT opens exactly that target', () => {
    const options = { allow: ['10.1.2.3:2526', '[::1]:8025', 'relay.example.com:26'] };
    expect(judge('10.1.2.3', 2526, options)).toEqual({ allowed: true, rule: 'allow-entry' });
    expect(judge('10.1.2.3', 2527, options)).toEqual({ allowed: false, rule: 'private-ipv4' });
    expect(judge('10.1.2.4', 2526, options)).toEqual({ allowed: false, rule: 'private-ipv4' });
    expect(judge('::1', 8025, options)).toEqual({ allowed: true, rule: 'allow-entry' });
    const policy = createPolicy(options);
    expect(judgeTarget(policy, 'Relay.Example.com.', parseIpAddress('203.0.113.5')!, 26).allowed).toBe(true);
    expect(judgeTarget(policy, 'other.example.com', parseIpAddress('203.0.113.5')!, 26).allowed).toBe(false);
  });

  it('--allow-cidr lifts range rules on the mail ports, but never for unspecified, multicast or broadcast', () => {
    const options = { allowCidr: ['10.0.0.0/8', '0.0.0.0/0', 'fd00::/8'] };
    expect(judge('10.9.9.9', 25, options)).toEqual({ allowed: true, rule: 'allow-cidr' });
    expect(judge('10.9.9.9', 8080, options)).toEqual({ allowed: false, rule: 'cidr-port' });
    expect(judge('fd12::1', 587, options)).toEqual({ allowed: true, rule: 'allow-cidr' });
    expect(judge('0.0.0.0', 25, options)).toEqual({ allowed: false, rule: 'unspecified' });
    expect(judge('224.0.0.1', 25, options)).toEqual({ allowed: false, rule: 'multicast' });
    expect(judge('255.255.255.255', 25, options)).toEqual({ allowed: false, rule: 'broadcast' });
  });

  it('rejects bad configuration with the entry named', () => {
    expect(() => createPolicy({ allow: ['10.0.0.1'] })).toThrow('"10.0.0.1" is not HOST:PORT');
    expect(() => createPolicy({ allow: ['0177.0.0.1:25'] })).toThrow('unusual spelling of 127.0.0.1');
    expect(() => createPolicy({ allowCidr: ['10.0.0.0/33'] })).toThrow('--allow-cidr "10.0.0.0/33"');
    expect(() => createPolicy({ localPorts: [70000] })).toThrow('local port 70000');
  });
});

describe('command-line flags', () => {
  it('reads repeatable flags and limits', () => {
    const options = parseBridgeArgs(['--port', '0', '--origin', 'http://localhost:8080', '--origin', 'https://lab.example', '--allow', '127.0.0.1:8025', '--allow-cidr', '10.0.0.0/8', '--allow-public', '--dns-server', '127.0.0.1:5353', '--local-port', '2526', '--idle-seconds', '30', '--max-send-frames', '50']);
    expect(options).toMatchObject({
      port: 0,
      host: '127.0.0.1',
      origins: ['http://localhost:8080', 'https://lab.example'],
      policy: { allow: ['127.0.0.1:8025'], allowCidr: ['10.0.0.0/8'], allowPublic: true, localPorts: [2526] },
      dnsServers: ['127.0.0.1:5353'],
      limits: { idleMs: 30_000, maxSendFrames: 50 },
    });
    expect(parseBridgeArgs(['--help'])).toBe('help');
  });

  it.each([
    [['--bogus'], "Unknown option '--bogus'"],
    [['--port', 'eighty'], '--port needs a port'],
    [['--idle-seconds=-1'], '--idle-seconds needs a positive number'],
    [['--max-sessions', 'many'], '--max-sessions needs a positive number'],
    [['--origin', 'localhost'], '--origin "localhost" must look like http://host:port'],
    [['--local-port', '0'], '--local-port needs a port 1 to 65535'],
    [['stray'], 'stray'],
  ])('%j is a usage error', (argv, words) => {
    expect(() => parseBridgeArgs(argv)).toThrow(UsageError);
    expect(() => parseBridgeArgs(argv)).toThrow(words);
  });
});
