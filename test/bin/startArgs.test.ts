import { describe, expect, it } from 'vitest';
import { parseStartArgs, startUsage, UsageError } from '../../src/bin/startArgs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appOrigins, fileForPath, start, StartFailure } from '../../src/bin/start';

describe('parseStartArgs', () => {
  it('defaults: app 5173, bridge 8787, smtpd 2525 with TLS 4465 and submission 2587, loopback', () => {
    expect(parseStartArgs([])).toEqual({
      help: false,
      host: '127.0.0.1',
      port: 5173,
      bridgePort: 8787,
      smtpd: { port: 2525, tlsPort: 4465, submissionPort: 2587 },
      dnsServers: [],
    });
  });

  it('--dns-server points the bridge at DNS servers (repeatable); a bad one is a usage error', () => {
    expect(parseStartArgs(['--dns-server', '127.0.0.1:5353', '--dns-server', '[::1]:53'])).toMatchObject({ dnsServers: ['127.0.0.1:5353', '[::1]:53'] });
    expect(() => parseStartArgs(['--dns-server', 'resolver.example'])).toThrow(/--dns-server: DNS server "resolver\.example" must be an IP address/);
    expect(startUsage()).toContain('--dns-server IP[:PORT]');
  });

  it('--smtpd-port 0 makes the companion ports free ports too, unless they are given', () => {
    expect(parseStartArgs(['--smtpd-port', '0']).help === false && parseStartArgs(['--smtpd-port', '0'])).toMatchObject({ smtpd: { port: 0, tlsPort: 0, submissionPort: 0 } });
    expect(parseStartArgs(['--smtpd-port', '0', '--submission-port', '3587'])).toMatchObject({ smtpd: { port: 0, tlsPort: 0, submissionPort: 3587 } });
  });

  it('--no-smtpd starts no mail server; --host takes an address', () => {
    expect(parseStartArgs(['--no-smtpd', '--host', '::1'])).toMatchObject({ smtpd: null, host: '::1' });
    expect(parseStartArgs(['--host', '[::1]'])).toMatchObject({ host: '::1' });
    expect(parseStartArgs(['--help'])).toEqual({ help: true });
    expect(startUsage()).toContain('--bridge-port N');
  });

  for (const [args, message] of [
    [['--port', '-1'], '--port needs a value (to give one that starts with "-", write --port=VALUE)'],
    [['--port=-1'], '--port needs a port from 0 to 65535, got "-1"'],
    [['--port', '65536'], '--port needs a port from 0 to 65535, got "65536"'],
    [['--port'], '--port needs a value'],
    [['--host', 'my laptop'], '--host needs an IP address to listen on (e.g. 127.0.0.1, ::1, 0.0.0.0), got "my laptop"'],
    [['--bridge-port', '5173'], '--port and --bridge-port are both 5173: each service needs its own port'],
    [['--no-smtpd', '--submission-port', '1'], '--no-smtpd and --submission-port contradict each other'],
    [['serve'], 'unexpected argument "serve" (flags start with --)'],
  ] as const) {
    it(`${args.join(' ')} is a usage error`, () => {
      expect(() => parseStartArgs([...args])).toThrow(UsageError);
      expect(() => parseStartArgs([...args])).toThrow(message);
    });
  }
});

describe('the static server helpers', () => {
  const root = '/srv/app/dist';

  it('maps / to index.html and paths to files under the root', () => {
    expect(fileForPath(root, '/')).toBe('/srv/app/dist/index.html');
    expect(fileForPath(root, '/assets/index-1.js')).toBe('/srv/app/dist/assets/index-1.js');
    expect(fileForPath(root, '/a%20b.txt')).toBe('/srv/app/dist/a b.txt');
  });

  it('keeps every path inside the root', () => {
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/assets/../../x', '/..%2f..%2fetc/passwd']) {
      const file = fileForPath(root, path);
      expect(file === null || file.startsWith(`${root}/`), path).toBe(true);
    }
    expect(fileForPath(root, '/%E0%A4%A')).toBeNull();
    expect(fileForPath(root, '/index.html%00.js')).toBeNull();
    expect(fileForPath(root, '/..%5c..%5cpackage.json')).toBeNull();
  });

  it('derives the allowed origins from the port the app really got', () => {
    expect(appOrigins('127.0.0.1', 41234)).toEqual(['http://127.0.0.1:41234', 'http://localhost:41234']);
    expect(appOrigins('::1', 5173)).toEqual(['http://127.0.0.1:5173', 'http://localhost:5173', 'http://[::1]:5173']);
  });
});

describe('start without a build', () => {
  it('refuses to start and says to run the build, starting nothing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'smtp-lab-nodist-'));
    const printed: string[] = [];
    try {
      const attempt = start({ host: '127.0.0.1', port: 0, bridgePort: 0, smtpd: { port: 0, tlsPort: 0, submissionPort: 0 }, dnsServers: [] }, (line) => printed.push(line), empty);
      await expect(attempt).rejects.toThrow(StartFailure);
      await expect(attempt).rejects.toThrow('run npm run build first');
      expect(printed).toEqual([]);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
