/**
 * The browser test harness: serves the built dist/ with a small static server on an ephemeral
 * loopback port, drives the system's Chromium through playwright-core, and gives helpers that
 * use the page as a person would (focus the terminal by its label, type on the keyboard).
 * It builds nothing: `npm run build` runs first.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const distDir = join(root, 'dist');
export const screensDir = join(root, 'test-results', 'screens');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export interface Served {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves dist/ on 127.0.0.1 and an ephemeral port. */
export async function serveDist(): Promise<Served> {
  if (!existsSync(join(distDir, 'index.html'))) throw new Error('dist/index.html is missing: run npm run build first');
  const server: Server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    const file = normalize(join(distDir, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(distDir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    response.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export const TERMINAL_LABEL = 'SMTP terminal';

/** Opens the page and waits until the terminal has drawn its first prompt. */
export async function openApp(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.getByRole('textbox', { name: TERMINAL_LABEL }).waitFor({ state: 'attached' });
  await page.waitForFunction(() => /\$ ?$/m.test((window as any).smtpLab?.terminalText?.() ?? ''));
}

/** Waits until the simulated world has loaded (and a shared session, if any, has replayed). */
export async function waitForLab(page: Page, timeout = 20_000): Promise<void> {
  await page.waitForFunction(() => (window as any).smtpLab?.ready?.() === true, undefined, { timeout });
}

/** The transcript's lines as the page shows them: direction, text (timestamps left out). */
export async function transcriptLines(page: Page): Promise<string[]> {
  // The panels follow the terminal by a frame: let them catch up first.
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 50))));
  return page
    .getByRole('log', { name: 'Transcript' })
    .locator('li')
    .evaluateAll((items) =>
      items.map((item) => {
        const dir = item.querySelector('.dir')?.textContent ?? '';
        const text = item.querySelector('.text')?.textContent ?? '';
        return `${dir} ${text}`;
      }),
    );
}

/** Focuses the terminal by its accessible name and types like a person, key by key; `\n` is Enter. */
export async function typeInTerminal(page: Page, text: string): Promise<void> {
  await page.getByRole('textbox', { name: TERMINAL_LABEL }).focus();
  for (const [i, part] of text.split('\n').entries()) {
    if (i > 0) await page.keyboard.press('Enter');
    if (part) await page.keyboard.type(part, { delay: 5 });
  }
}

/** The terminal's whole buffer (scrollback included), read through the page's exposed hook. */
export async function terminalText(page: Page): Promise<string> {
  return page.evaluate(() => (window as any).smtpLab.terminalText() as string);
}

/** Waits until the terminal shows text matching `pattern`. */
export async function waitForTerminal(page: Page, pattern: RegExp, timeout = 10_000): Promise<string> {
  const source = pattern.source;
  const flags = pattern.flags;
  await page.waitForFunction(
    ([s, f]) => new RegExp(s, f).test((window as any).smtpLab.terminalText()),
    [source, flags] as const,
    { timeout },
  );
  return terminalText(page);
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screensDir, { recursive: true });
  const path = join(screensDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** Runs axe-core in the page and returns the serious and critical violations. */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  const axeSource = readFileSync(join(root, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const result = await (window as any).axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n: any) => ({ target: n.target, failureSummary: n.failureSummary })),
    }));
  });
  return (violations as AxeViolation[]).filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/**
 * One served dist/ and one Chromium for a test file: started before its tests, closed after.
 * `newPage` opens a fresh context with the given viewport and colour scheme.
 */
export function useAppInBrowser(): { readonly url: string; newPage(width: number, height: number, colorScheme: 'light' | 'dark'): Promise<Page> } {
  let served: Served | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    served = await serveDist();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await served?.close();
  });
  return {
    get url() {
      if (!served) throw new Error('the app is not served yet (use it inside a test)');
      return served.url;
    },
    async newPage(width, height, colorScheme) {
      if (!browser) throw new Error('the browser is not launched yet (use it inside a test)');
      const context = await browser.newContext({ viewport: { width, height }, colorScheme });
      return context.newPage();
    },
  };
}
