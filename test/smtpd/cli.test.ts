// `npm run smtpd` as a user runs it: a child process, its one listening line, its log, signals.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from './helpers';
import { SmtpProbe } from './probe';

const root = fileURLToPath(new URL('../..', import.meta.url));
// `npx tsx src/smtpd/cli.ts`, minus npm's wrapper process, so signals reach tsx (which passes
// them on to the server) and the exit code is the server's own.
const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
const cli = ['src/smtpd/cli.ts'];
const children: ChildProcessWithoutNullStreams[] = [];
/**
 * Stop what is still running the way a user would (SIGTERM, which tsx passes on to the server)
 * and wait for it: a SIGKILL would stop only tsx and leave the server it started running.
 */
afterAll(async () => {
  const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
  await Promise.all(
    running.map(
      (child) =>
        new Promise<void>((resolve) => {
          const stubborn = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 5000);
          child.once('exit', () => {
            clearTimeout(stubborn);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
});

function start(args: string[]): { child: ChildProcessWithoutNullStreams; output: () => string; line: (pattern: RegExp) => Promise<RegExpExecArray> } {
  const child = spawn(tsx, [...cli, ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  const listeners: Array<() => void> = [];
  const onData = (d: Buffer) => {
    output += d.toString();
    for (const l of listeners) l();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return {
    child,
    output: () => output,
    line: (pattern) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match);
          }
        };
        const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} in: ${output}`)), 20_000);
        listeners.push(check);
        child.once('exit', () => setTimeout(() => reject(new Error(`exited without ${pattern}: ${output}`)), 50));
        check();
      }),
  };
}

const npx = (...args: string[]) => run(tsx, [...cli, ...args], { timeoutMs: 30_000 });

describe('smtpd CLI', () => {
  it('listens on a free loopback port, prints one listening line, logs the dialogue and stops cleanly on SIGTERM', async () => {
    const server = start(['--persona', 'friendly', '--port', '0']);
    const [listening, host, port] = await server.line(/smtpd: friendly listening on ([^\s:]+):(\d+)\n/);
    expect(host).toBe('127.0.0.1');
    expect(server.output().match(/listening on/g)).toHaveLength(1);
    expect(listening).toMatch(/^smtpd: friendly listening on 127\.0\.0\.1:\d+\n$/);

    const probe = await SmtpProbe.open(Number(port));
    expect((await probe.reply()).code).toBe(220);
    probe.write('EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n');
    expect((await probe.replies(4)).map((r) => r.code)).toEqual([250, 250, 250, 354]);
    probe.write('Subject: via the CLI\r\n\r\nhello\r\n.\r\nQUIT\r\n');
    expect((await probe.replies(2)).map((r) => r.code)).toEqual([250, 221]);

    // No maildir: a summary line, and one log line per command and reply line, marked like swaks.
    await server.line(/smtpd: accepted [0-9A-F]+ from <alice@example\.com> to <bob@example\.net> \(\d+ octets, subject "via the CLI"\)/);
    const log = server.output();
    expect(log).toMatch(/#1 -> EHLO client\.example\n/);
    expect(log).toMatch(/#1 <- 220 /);
    expect(log).toMatch(/#1 <- 250-/);
    expect(log).toMatch(/#1 -> \[message: 3 lines, \d+ octets\]\n#1 -> \.\n/);
    expect(log).toMatch(/#1 \*\* connection from 127\.0\.0\.1:\d+/);
    await server.line(/#1 \*\* connection closed/);

    server.child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => server.child.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(server.output()).toMatch(/smtpd: SIGTERM, closing\n/);
  });

  it('also listens for implicit TLS and stays quiet with --quiet', async () => {
    const server = start(['--persona', 'friendly', '--port', '0', '--tls-port', '0', '--quiet']);
    const [, port, tlsPort] = await server.line(/listening on 127\.0\.0\.1:(\d+) tls on 127\.0\.0\.1:(\d+)\n/);
    expect(port).not.toBe(tlsPort);
    const probe = await SmtpProbe.open(Number(port));
    expect((await probe.reply()).code).toBe(220);
    probe.write('QUIT\r\n');
    expect((await probe.reply()).code).toBe(221);
    server.child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => server.child.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(server.output()).not.toMatch(/ -> | <- /);
  });

  it('--help lists the flags and every persona with its description', async () => {
    const result = await npx('--help');
    expect(result.code).toBe(0);
    for (const persona of ['friendly', 'greylisting', 'strict', 'tls-broken', 'submission']) {
      expect(result.stdout).toMatch(new RegExp(`\\n  ${persona} +\\S.*`));
    }
    expect(result.stdout).toMatch(/--greylist-delay/);
    expect(result.stdout).toMatch(/variants: refuse, handshake, untrusted/);
  });

  it('bad flags and unknown personas exit 2 with a clear error and nothing on stdout', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--persona', 'nobody'], /smtpd: unknown persona 'nobody'; one of: .*friendly/],
      [['--persona', 'friendly', '--prot', '25'], /smtpd: Unknown option '--prot'/],
      [['--port', '0'], /smtpd: --persona is required/],
      [['--persona', 'friendly', '--port', 'x'], /smtpd: --port 'x' is not a port/],
    ];
    const results = await Promise.all(cases.map(([args]) => npx(...args)));
    results.forEach((result, i) => {
      expect(result.code, cases[i]![0].join(' ')).toBe(2);
      expect(result.stderr).toMatch(cases[i]![1]);
      expect(result.stderr).toMatch(/--help/);
      expect(result.stdout).toBe('');
    });
  });

  it('a port already taken is a clear error, exit 1', async () => {
    const first = start(['--persona', 'friendly', '--port', '0', '--quiet']);
    const [, port] = await first.line(/listening on 127\.0\.0\.1:(\d+)\n/);
    const second = await npx('--persona', 'friendly', '--port', port!);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`smtpd: cannot start: address in use: .*127\\.0\\.0\\.1:${port}`));
    first.child.kill('SIGTERM');
  });
});
