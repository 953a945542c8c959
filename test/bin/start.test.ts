/**
 * `npm start` as a learner meets it: the real entry point in its own process, on free ports.
 * It serves the built app and /config.json, runs the bridge for the app's origins only, and a
 * local smtpd that the bridge lets the page talk to; SIGTERM stops it all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RealModeConfig } from '../../src/net/bridgeClient';
import { BridgeClient } from '../bridge/helpers';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = join(root, 'dist');
// The tsx binary itself (what `npx tsx` runs): npm's wrapper does not pass SIGTERM on to it.
const tsx = join(root, 'node_modules', '.bin', 'tsx');

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(args: string[]): Started {
  const child = spawn(tsx, ['src/bin/start.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function waitForLine(started: Started, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = started.stdout().match(pattern);
    if (match) return match;
    if (started.child.exitCode !== null) throw new Error(`start exited (${started.child.exitCode}): ${started.stderr()}`);
    if (Date.now() > deadline) throw new Error(`no line ${pattern} in: ${started.stdout()} ${started.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A raw GET, so paths like /../x reach the server as written (fetch would normalise them). */
function rawGet(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let app: Started;
let appPort: number;
let bridgeUrl: string;

beforeAll(async () => {
  if (!existsSync(join(dist, 'index.html'))) throw new Error('dist/ is missing: run npm run build first');
  app = run(['--port', '0', '--bridge-port', '0', '--smtpd-port', '0']);
  await waitForLine(app, /^Open http:\/\/127\.0\.0\.1:\d+\/ in your browser/m);
  appPort = Number(app.stdout().match(/^app: http:\/\/127\.0\.0\.1:(\d+)\//m)![1]);
  bridgeUrl = app.stdout().match(/^bridge: (ws:\/\/127\.0\.0\.1:\d+\/)/m)![1]!;
});

afterAll(async () => {
  if (app && app.child.exitCode === null) {
    app.child.kill('SIGKILL');
    await app.exited;
  }
});

describe('npm start', () => {
  it('prints one line per service with the real ports, and the URL to open', () => {
    const out = app.stdout();
    expect(appPort).toBeGreaterThan(0);
    expect(out).toMatch(/^bridge: ws:\/\/127\.0\.0\.1:\d+\/ \(origins http:\/\/127\.0\.0\.1:(\d+) http:\/\/localhost:\1\)$/m);
    expect(out).toMatch(/^smtpd: friendly on 127\.0\.0\.1:\d+, implicit TLS on 127\.0\.0\.1:\d+ /m);
    expect(out).toMatch(/^smtpd: submission on 127\.0\.0\.1:\d+ /m);
    expect(out).toContain(`Open http://127.0.0.1:${appPort}/ in your browser.`);
    expect(out).not.toMatch(/:(0|5173|8787|2525|4465|2587)\b/);
  });

  it('serves the built app with the right types', async () => {
    const page = await fetch(`http://127.0.0.1:${appPort}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toBe(readFileSync(join(dist, 'index.html'), 'utf8'));

    const script = readdirSync(join(dist, 'assets')).find((name) => name.endsWith('.js'))!;
    const asset = await fetch(`http://127.0.0.1:${appPort}/assets/${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(Buffer.from(await asset.arrayBuffer()).equals(readFileSync(join(dist, 'assets', script)))).toBe(true);

    const styles = readdirSync(join(dist, 'assets')).find((name) => name.endsWith('.css'));
    if (styles) expect((await fetch(`http://127.0.0.1:${appPort}/assets/${styles}`)).headers.get('content-type')).toBe('text/css; charset=utf-8');

    expect((await fetch(`http://127.0.0.1:${appPort}/no-such-file.js`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${appPort}/`, { method: 'POST' })).status).toBe(405);
  });

  it('never serves a file outside dist/', async () => {
    const secret = readFileSync(join(root, 'package.json'), 'utf8');
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/assets/..%2f..%2fpackage.json', '/%2e%2e%5cpackage.json', '/index.html%00.js']) {
      const response = await rawGet(appPort, path);
      expect([400, 404], path).toContain(response.status);
      expect(response.body).not.toContain(secret.slice(0, 40));
    }
  });

  it('serves /config.json with the bridge URL and the local smtpd servers', async () => {
    const response = await fetch(`http://127.0.0.1:${appPort}/config.json`);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const config = (await response.json()) as RealModeConfig;
    expect(config.bridgeUrl).toBe(bridgeUrl);
    const ports = app.stdout().match(/^smtpd: friendly on 127\.0\.0\.1:(\d+), implicit TLS on 127\.0\.0\.1:(\d+)/m)!;
    const submission = app.stdout().match(/^smtpd: submission on 127\.0\.0\.1:(\d+)/m)!;
    expect(config.localSmtpd).toEqual([
      { host: '127.0.0.1', port: Number(ports[1]), persona: 'friendly', tls: 'none' },
      { host: '127.0.0.1', port: Number(ports[2]), persona: 'friendly', tls: 'implicit' },
      { host: '127.0.0.1', port: Number(submission[1]), persona: 'submission', tls: 'none' },
    ]);
    // A page loaded as localhost gets the bridge under that name too.
    const viaLocalhost = (await (await fetch(`http://localhost:${appPort}/config.json`)).json()) as RealModeConfig;
    expect(viaLocalhost.bridgeUrl).toBe(bridgeUrl.replace('127.0.0.1', 'localhost'));
  });

  it('lets the app talk SMTP to the local smtpd through the bridge', async () => {
    const config = (await (await fetch(`http://127.0.0.1:${appPort}/config.json`)).json()) as RealModeConfig;
    const friendly = config.localSmtpd.find((entry) => entry.persona === 'friendly' && entry.tls === 'none')!;
    const client = await BridgeClient.open(config.bridgeUrl, `http://127.0.0.1:${appPort}`);
    const hello = await client.next('hello');
    expect(hello.policy.loopbackPorts).toEqual(expect.arrayContaining(config.localSmtpd.map((entry) => entry.port)));
    client.send({ type: 'connect', host: friendly.host, port: friendly.port, tls: 'none' });
    await client.next('connected');
    expect((await client.readReply()).code).toBe(220);
    expect((await client.command('EHLO client.example')).code).toBe(250);
    expect((await client.command('MAIL FROM:<learner@example.com>')).code).toBe(250);
    expect((await client.command('RCPT TO:<postmaster@example.net>')).code).toBe(250);
    expect((await client.command('DATA')).code).toBe(354);
    expect((await client.command('Subject: hello\r\n\r\nHi.\r\n.')).code).toBe(250);
    expect((await client.command('QUIT')).code).toBe(221);
    expect((await client.next('closed')).by).toBe('server');
  });

  it('admits the localhost origin of the app and refuses any other', async () => {
    const viaLocalhost = await BridgeClient.open(bridgeUrl, `http://localhost:${appPort}`);
    expect((await viaLocalhost.next('hello')).version).toBe(1);
    viaLocalhost.close();
    await expect(BridgeClient.open(bridgeUrl, 'http://evil.example')).rejects.toThrow('HTTP 403');
    await expect(BridgeClient.open(bridgeUrl, 'http://localhost:5173')).rejects.toThrow('HTTP 403');
  });

  it('stops everything on SIGTERM and exits 0', async () => {
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    expect(app.stdout()).toContain('SIGTERM, stopping');
    await expect(fetch(`http://127.0.0.1:${appPort}/`)).rejects.toThrow();
    await expect(BridgeClient.open(bridgeUrl, `http://127.0.0.1:${appPort}`)).rejects.toThrow();
  });
});

describe('npm start with bad flags', () => {
  for (const [args, message] of [
    [['--port', 'eighty'], '--port needs a port from 0 to 65535, got "eighty"'],
    [['--bridge-port', '70000'], '--bridge-port needs a port from 0 to 65535, got "70000"'],
    [['--verbose'], 'unknown flag --verbose'],
    [['--no-smtpd', '--smtpd-port', '2526'], '--no-smtpd and --smtpd-port contradict each other'],
  ] as const) {
    it(`${args.join(' ')} -> exit 2 with a clear error`, async () => {
      const started = run([...args]);
      expect(await started.exited).toBe(2);
      expect(started.stderr()).toContain(`start: ${message}`);
      expect(started.stdout()).toBe('');
    });
  }
});
