import { describe, expect, it } from 'vitest';
import { parseDuration, parseSmtpdArguments, usage, UsageError } from '../../src/smtpd/args';

const personas = [
  { id: 'friendly', description: 'accepts everything', variants: [] },
  { id: 'tls-broken', description: 'advertises STARTTLS, then fails', variants: ['refuse', 'handshake', 'untrusted'] },
];

const parse = (...argv: string[]) => parseSmtpdArguments(argv, personas);

describe('smtpd command line', () => {
  it('defaults to loopback and port 2525', () => {
    expect(parse('--persona', 'friendly')).toEqual({ help: false, persona: 'friendly', port: 2525, host: '127.0.0.1', quiet: false });
  });

  it('reads every flag', () => {
    expect(
      parse(
        '--persona=tls-broken', '--port', '0', '--tls-port', '4465', '--host', '::1', '--greylist-delay', '1.5s',
        '--maildir', 'mail', '--cert', 'c.pem', '--key', 'k.pem', '--variant', 'untrusted', '--hostname', 'mx.example.net', '--quiet',
      ),
    ).toEqual({
      help: false, persona: 'tls-broken', port: 0, tlsPort: 4465, host: '::1', greylistDelayMs: 1500, maildir: 'mail',
      certFile: 'c.pem', keyFile: 'k.pem', variant: 'untrusted', hostname: 'mx.example.net', quiet: true,
    });
  });

  it('--help wins over everything else', () => {
    expect(parse('--help')).toEqual({ help: true });
    expect(parse('-h', '--persona', 'nobody')).toEqual({ help: true });
  });

  it.each([
    [[], /--persona is required; one of: friendly, tls-broken/],
    [['--persona', 'nobody'], /unknown persona 'nobody'; one of: friendly, tls-broken/],
    [['--persona', 'friendly', '--bogus'], /Unknown option '--bogus'/],
    [['--persona', 'friendly', 'stray'], /Unexpected argument 'stray'/],
    [['--persona', 'friendly', '--port', '65536'], /--port '65536' is not a port/],
    [['--persona', 'friendly', '--port', 'twenty'], /--port 'twenty' is not a port/],
    [['--persona', 'friendly', '--greylist-delay', 'soon'], /--greylist-delay 'soon' is not a duration/],
    [['--persona', 'friendly', '--variant', 'refuse'], /persona 'friendly' has no variants/],
    [['--persona', 'tls-broken', '--variant', 'sometimes'], /no variant 'sometimes'; one of: refuse, handshake, untrusted/],
    [['--persona', 'friendly', '--cert', 'c.pem'], /--cert and --key go together/],
    [['--persona', 'friendly', '--hostname', 'not a name'], /--hostname 'not a name' is not a host name/],
    [['--persona'], /argument missing/],
  ])('rejects %j with a clear message', (argv, message) => {
    expect(() => parse(...argv)).toThrow(UsageError);
    expect(() => parse(...argv)).toThrow(message);
  });

  it.each([
    ['60s', 60_000],
    ['1s', 1000],
    ['500ms', 500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['2', 2000],
    ['0.25s', 250],
  ])('duration %s is %i ms', (text, ms) => {
    expect(parseDuration(text, '--x')).toBe(ms);
  });

  it('help lists every flag and every persona with its description', () => {
    const text = usage(personas);
    for (const flag of ['--persona', '--port', '--tls-port', '--host', '--greylist-delay', '--maildir', '--cert', '--key', '--variant', '--hostname', '--quiet', '--help']) {
      expect(text).toContain(flag);
    }
    expect(text).toMatch(/friendly\s+accepts everything/);
    expect(text).toMatch(/tls-broken\s+advertises STARTTLS, then fails \(variants: refuse, handshake, untrusted\)/);
  });
});
