import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import {
  launchBrowser,
  openApp,
  screenshot,
  serveDist,
  seriousAxeViolations,
  terminalText,
  typeInTerminal,
  waitForTerminal,
  type Served,
} from './harness';

let served: Served;
let browser: Browser;

beforeAll(async () => {
  served = await serveDist();
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await served?.close();
});

async function newPage(width: number, height: number, colorScheme: 'light' | 'dark'): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme });
  return context.newPage();
}

describe('the app shell in Chromium', () => {
  it('answers help typed in the terminal', async () => {
    const page = await newPage(1280, 800, 'light');
    await openApp(page, served.url);
    await typeInTerminal(page, 'help\n');
    const text = await waitForTerminal(page, /Commands:/);
    expect(text).toMatch(/^\$ help$/m);
    expect(text).toMatch(/^ {2}dig +look a name up in DNS/m);
    expect(text).toMatch(/^ {2}openssl +open an SMTP session over TLS/m);
    await screenshot(page, 'help-desktop-light');
    await page.context().close();
  });

  it('edits with the keyboard: history, Ctrl-C, completion, and a helpful error', async () => {
    const page = await newPage(1280, 800, 'dark');
    await openApp(page, served.url);
    await typeInTerminal(page, 'telent mx.example.net 25\n');
    await waitForTerminal(page, /Did you mean: telnet mx\.example\.net 25/);
    await page.keyboard.type('hist');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await waitForTerminal(page, /^ +1 {2}telent mx\.example\.net 25$/m);
    await page.keyboard.type('dig MX');
    await page.keyboard.press('Control+C');
    await waitForTerminal(page, /^\$ dig MX\^C$/m);
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Home');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Delete');
    await page.keyboard.press('Delete');
    await page.keyboard.type('ne');
    await page.keyboard.press('Enter');
    const text = await waitForTerminal(page, /^\$ telnet mx\.example\.net 25$/m);
    expect(text).toMatch(/telnet: answered by the simulated mail servers/);
    await screenshot(page, 'editing-desktop-dark');
    await page.context().close();
  });

  it('reaches the terminal and then the transcript with Tab alone', async () => {
    const page = await newPage(1280, 800, 'light');
    await openApp(page, served.url);
    let reachedTerminal = false;
    for (let i = 0; i < 12 && !reachedTerminal; i++) {
      await page.keyboard.press('Tab');
      reachedTerminal = await page.evaluate(() => document.activeElement?.getAttribute('aria-label') === 'SMTP terminal');
    }
    expect(reachedTerminal).toBe(true);
    await page.keyboard.type('help keys');
    await page.keyboard.press('Enter');
    await waitForTerminal(page, /Esc then Tab/);
    // Tab inside the terminal completes; Esc then Tab moves on, so the keyboard is never trapped.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => ({
      role: document.activeElement?.getAttribute('role'),
      label: document.activeElement?.getAttribute('aria-label'),
    }));
    expect(focused).toEqual({ role: 'log', label: 'Transcript' });
    await page.context().close();
  });

  it('has no serious or critical axe violations, in both themes', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const page = await newPage(1280, 800, scheme);
      await openApp(page, served.url);
      await typeInTerminal(page, 'help\n');
      await waitForTerminal(page, /Commands:/);
      const violations = await seriousAxeViolations(page);
      expect(violations, JSON.stringify(violations, null, 2)).toEqual([]);
      await page.context().close();
    }
  });

  it('takes screenshots on desktop and phone, light and dark', async () => {
    const sizes = [
      ['desktop', 1280, 800],
      ['phone', 390, 844],
    ] as const;
    for (const [name, width, height] of sizes) {
      for (const scheme of ['light', 'dark'] as const) {
        const page = await newPage(width, height, scheme);
        await openApp(page, `${served.url}?demo`);
        await page.getByRole('log', { name: 'Transcript' }).getByText('550 5.1.1 No such mailbox').waitFor();
        await typeInTerminal(page, 'help\n');
        await waitForTerminal(page, /Commands:/);
        const theme = await page.evaluate(() => document.documentElement.dataset.theme);
        expect(theme).toBe(scheme);
        // Nothing may stick out sideways: a phone must not scroll horizontally.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow).toBeLessThanOrEqual(0);
        await screenshot(page, `app-${name}-${scheme}`);
        await page.context().close();
      }
    }
  });

  it('switches theme with the header toggle', async () => {
    const page = await newPage(1280, 800, 'light');
    await openApp(page, served.url);
    await page.getByRole('button', { name: 'Dark theme' }).click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    expect(await terminalText(page)).toMatch(/smtp-lab: learn SMTP by typing it/);
    await page.context().close();
  });
});
