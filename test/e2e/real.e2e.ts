/**
 * Real-network mode in Chromium, as a learner meets it.
 *
 * 1. `npm start` (src/bin/start.ts in its own process, on free ports): the learner flips the
 *    visible sim | real switch and types a whole transaction to the local smtpd through the
 *    bridge: EHLO, STARTTLS (the certificate report: its subject, and that it is self-signed and
 *    not verified), EHLO again, MAIL, RCPT, DATA with a dot-stuffed line, the final dot, QUIT. A
 *    private address is refused by the bridge, in words naming the rule.
 * 2. The same pieces started here with a real DNS server (Debian's dnsmasq) behind the bridge:
 *    `dig MX` returns its records, `telnet` to the MX host reaches the local smtpd, and a name
 *    the server does not know comes back NXDOMAIN.
 * Screenshots go to test-results/screens/real-*.png.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticServer } from '../../src/bin/start';
import { startBridge, type BridgeHandle } from '../../src/bridge/server';
import { startSmtpd, type RunningSmtpd } from '../../src/smtpd/server';
import { startDnsmasq, type DnsServer } from '../bridge/helpers';
import { distDir, launchBrowser, openApp, screenshot, terminalText, transcriptLines, typeInTerminal, waitForLab, waitForTerminal } from './harness';

const root = fileURLToPath(new URL('../..', import.meta.url));
// The tsx binary itself: npm's wrapper would not pass SIGTERM on.
const tsx = join(root, 'node_modules', '.bin', 'tsx');

/** How many times `pattern` (global, multiline) matches the terminal's text. */
async function countInTerminal(page: Page, pattern: RegExp): Promise<number> {
  return (await terminalText(page)).match(pattern)?.length ?? 0;
}

/** Types one line and waits until the terminal shows `pattern` one more time than before. */
async function typeAndWait(page: Page, line: string, pattern: RegExp, timeout = 15_000): Promise<string> {
  const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
  const before = await countInTerminal(page, global);
  await typeInTerminal(page, `${line}\n`);
  await page.waitForFunction(
    ([source, flags, n]) => ((window as any).smtpLab.terminalText().match(new RegExp(source, flags))?.length ?? 0) > n,
    [global.source, global.flags, before] as const,
    { timeout },
  );
  return terminalText(page);
}

/**
 * The terminal wraps long lines at spaces to fit its width: the text from the line starting
 * with `start` up to (not including) the next line matching `next`, unwrapped into one line.
 */
function unwrapped(text: string, start: RegExp, next: RegExp): string {
  const lines = text.split('\n');
  const first = lines.findLastIndex((line) => start.test(line));
  if (first < 0) return '';
  let end = first + 1;
  while (end < lines.length && !next.test(lines[end]!)) end++;
  return lines.slice(first, end).join(' ');
}

/** Flips the header's sim | real switch, as a person would, and waits for the lab to say so. */
async function switchToReal(page: Page): Promise<void> {
  const real = page.getByRole('radio', { name: 'real' });
  await real.check();
  await waitForTerminal(page, /^Real network: dig, telnet, nc and openssl now go through the bridge/m);
  expect(await real.isChecked()).toBe(true);
  expect(await page.getByRole('radio', { name: 'sim' }).isChecked()).toBe(false);
}

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(join(distDir, 'index.html'))) throw new Error('dist/index.html is missing: run npm run build first');
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

describe('real mode through npm start', () => {
  let launcher: ChildProcess;
  let exited: Promise<number | null>;
  let stdout = '';
  let stderr = '';
  let appUrl: string;
  let smtpdPort: number;

  beforeAll(async () => {
    launcher = spawn(tsx, ['src/bin/start.ts', '--port', '0', '--bridge-port', '0', '--smtpd-port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    launcher.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    launcher.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    exited = new Promise((resolve) => launcher.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!/^Open http:\/\/127\.0\.0\.1:\d+\/ in your browser/m.test(stdout)) {
      if (launcher.exitCode !== null) throw new Error(`npm start exited (${launcher.exitCode}): ${stderr}`);
      if (Date.now() > deadline) throw new Error(`npm start printed no URL: ${stdout} ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    appUrl = stdout.match(/^app: (http:\/\/127\.0\.0\.1:\d+\/)/m)![1]!;
    smtpdPort = Number(stdout.match(/^smtpd: friendly on 127\.0\.0\.1:(\d+)/m)![1]);
  });

  afterAll(async () => {
    if (launcher && launcher.exitCode === null) {
      launcher.kill('SIGTERM');
      await exited;
    }
  });

  it('types a whole transaction to the local smtpd through the bridge and sees the 250 after the dot', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await openApp(page, appUrl);
    await waitForLab(page);
    await switchToReal(page);

    let text = await typeAndWait(page, `telnet 127.0.0.1 ${smtpdPort}`, /^220 mx1\.example\.net ESMTP/m);
    expect(text).toContain(`Trying 127.0.0.1 port ${smtpdPort}...`);
    expect(text).toContain('Connected to 127.0.0.1.');

    text = await typeAndWait(page, 'EHLO learner.example', /^250 SMTPUTF8$/m);
    expect(text).toMatch(/^250-STARTTLS$/m);

    // The certificate report: TLS version and cipher, then why it does not verify, naming it.
    text = await typeAndWait(page, 'STARTTLS', /^Verify return code: /m);
    expect(text).toMatch(/^220 2\.0\.0 Ready to start TLS$/m);
    expect(text).toMatch(/^New, TLSv1\.[23], Cipher is \S+$/m);
    const verify = unwrapped(text, /^Verify return code: /, /^\(A real telnet|^smtp> /);
    expect(verify).toContain('self-signed');
    expect(verify).toContain('certificate CN=mx1.example.net');
    expect(verify).toContain('[DEPTH_ZERO_SELF_SIGNED_CERT]');
    await screenshot(page, 'real-starttls');

    // After TLS the server forgets the greeting (RFC 3207 §4.2): greet again; no STARTTLS offered now.
    text = await typeAndWait(page, 'EHLO learner.example', /^250 SMTPUTF8$/m);
    const afterTls = text.slice(text.lastIndexOf('smtp> EHLO learner.example'));
    expect(afterTls).not.toMatch(/^250-STARTTLS$/m);

    await typeAndWait(page, 'MAIL FROM:<learner@example.com>', /^250 2\.1\.0 /m);
    await typeAndWait(page, 'RCPT TO:<postmaster@example.net>', /^250 2\.1\.5 /m);
    await typeAndWait(page, 'DATA', /^354 /m);
    expect(await page.evaluate(() => (window as any).smtpLab.prompt())).toBe('data');
    await typeInTerminal(page, 'Subject: real mode from the browser\n\n..a line the learner dot-stuffed\n');
    text = await typeAndWait(page, '.', /^250 2\.0\.0 OK: queued as \w+$/m);
    // The 250 answers the dot: it is the first thing after the "data> ." line.
    const dot = text.lastIndexOf('data> .\n');
    expect(dot).toBeGreaterThan(0);
    expect(text.slice(dot + 'data> .\n'.length).split('\n')[0]).toMatch(/^250 2\.0\.0 OK: queued as \w+$/);
    const queued = text.match(/^250 2\.0\.0 OK: queued as (\w+)$/m)![1]!;

    text = await typeAndWait(page, 'QUIT', /^Connection closed by foreign host\.$/m);
    expect(text).toMatch(/^221 2\.0\.0 /m);
    await waitForTerminal(page, /^\$ ?$/m);

    const transcript = await transcriptLines(page);
    expect(transcript[0]).toBe(`** connected to 127.0.0.1:${smtpdPort} (client: you)`);
    expect(transcript).toContain('-> STARTTLS');
    const tlsNote = transcript.find((line) => line.startsWith('** TLS started'));
    expect(tlsNote).toMatch(/certificate NOT trusted \(self-signed.*CN=mx1\.example\.net/);
    // Encrypted from there on (~> and <~), the dot-stuffed line as it went on the wire, then the 250.
    const stuffed = transcript.indexOf('~> ..a line the learner dot-stuffed');
    expect(stuffed).toBeGreaterThan(transcript.indexOf(tlsNote!));
    expect(transcript[stuffed + 1]).toBe('~> .');
    expect(transcript[stuffed + 2]).toBe(`<~ 250 2.0.0 OK: queued as ${queued}`);
    expect(transcript).toContain('~> QUIT');
    expect(transcript.at(-1)).toMatch(/^\*\* connection to 127\.0\.0\.1 closed/);
    await screenshot(page, 'real-transaction');

    // The bridge logged one line for the session, with TLS and how it ended.
    await expect.poll(() => stdout, { timeout: 5000 }).toMatch(new RegExp(`127\\.0\\.0\\.1:${smtpdPort}.*tls`, 'i'));
    await page.close();
  });

  it('shows the bridge refusing a private address, in plain words naming the rule', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await openApp(page, appUrl);
    await waitForLab(page);
    await switchToReal(page);
    const text = await typeAndWait(page, 'telnet 10.0.0.1 25', /^telnet: .*$/m);
    const refusal = unwrapped(text, /^telnet: /, /^\$ /);
    expect(refusal).toMatch(/^telnet: The bridge refused to connect to 10\.0\.0\.1:25: .*private.*\(policy rule: private-ipv4\)\.$/);
    expect(await page.evaluate(() => (window as any).smtpLab.prompt())).toBe('shell');
    // A port the policy does not allow on loopback is refused too, with its own rule.
    const other = await typeAndWait(page, 'telnet 127.0.0.1 22', /^telnet: .*127\.0\.0\.1:22/m);
    expect(unwrapped(other, /^telnet: .*127\.0\.0\.1:22/, /^\$ /)).toMatch(/refused.*\(policy rule: [\w-]+\)\.$/);
    await screenshot(page, 'real-refused');
    await page.close();
  });
});

describe('real mode with a DNS server behind the bridge', () => {
  let dns: DnsServer;
  let smtpd: RunningSmtpd;
  let web: Server;
  let bridge: BridgeHandle;
  let appUrl: string;

  beforeAll(async () => {
    dns = await startDnsmasq([
      '--mx-host=mail.test,mx.mail.test,10',
      '--mx-host=mail.test,mx2.mail.test,20',
      '--host-record=mx.mail.test,127.0.0.1',
      '--host-record=mx2.mail.test,127.0.0.1',
      '--local=/test/',
    ]);
    smtpd = await startSmtpd({ persona: 'friendly', port: 0, summary: () => undefined });
    let bridgeUrl = '';
    web = await startStaticServer({
      root: distDir,
      host: '127.0.0.1',
      port: 0,
      config: () => ({ bridgeUrl, localSmtpd: [{ host: '127.0.0.1', port: smtpd.port, persona: 'friendly', tls: 'none' }] }),
    });
    const address = web.address();
    const webPort = typeof address === 'object' && address ? address.port : 0;
    appUrl = `http://127.0.0.1:${webPort}/`;
    bridge = await startBridge({
      host: '127.0.0.1',
      port: 0,
      origins: [`http://127.0.0.1:${webPort}`],
      policy: { localPorts: [smtpd.port] },
      dnsServers: [dns.server],
      dnsTimeoutMs: 2000,
      log: () => undefined,
    });
    bridgeUrl = bridge.url;
  });

  afterAll(async () => {
    await bridge?.close();
    if (web) {
      web.closeAllConnections();
      await new Promise<void>((resolve) => web.close(() => resolve()));
    }
    await smtpd?.close();
    await dns?.close();
  });

  it('dig MX answers from the DNS server, and telnet to the MX host reaches the local smtpd', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await openApp(page, appUrl);
    await waitForLab(page);
    await switchToReal(page);

    let text = await typeAndWait(page, 'dig MX mail.test', /^;; SERVER: /m);
    expect(text).toMatch(/status: NOERROR/);
    expect(text).toMatch(/^mail\.test\.\s+\d+\s+IN\s+MX\s+10 mx\.mail\.test\.$/m);
    expect(text).toMatch(/^mail\.test\.\s+\d+\s+IN\s+MX\s+20 mx2\.mail\.test\.$/m);

    text = await typeAndWait(page, 'dig +short MX mail.test', /^20 mx2\.mail\.test\.$/m);
    expect(text).toMatch(/^10 mx\.mail\.test\.$/m);

    // The lowest preference first, as a sender would try them: the bridge resolves the name itself.
    text = await typeAndWait(page, `telnet mx.mail.test ${smtpd.port}`, /^220 mx1\.example\.net ESMTP/m);
    await typeAndWait(page, 'QUIT', /^Connection closed by foreign host\.$/m);
    const transcript = await transcriptLines(page);
    expect(transcript).toContain(`** connected to mx.mail.test:${smtpd.port} (client: you)`);
    await page.getByRole('tab', { name: 'DNS' }).click();
    await expect.poll(() => page.getByRole('tabpanel').innerText(), { timeout: 5000 }).toContain('mx.mail.test');
    await screenshot(page, 'real-dig-mx');

    // A name the server does not know: NXDOMAIN, said as dig says it; telnet to it says why in words.
    text = await typeAndWait(page, 'dig MX nowhere.test', /status: NXDOMAIN/);
    text = await typeAndWait(page, `telnet nowhere.test ${smtpd.port}`, /^telnet: /m);
    expect(unwrapped(text, /^telnet: /, /^\$ /)).toMatch(/^telnet: Cannot find nowhere\.test: .*\.$/);
    await page.close();
  });
});
