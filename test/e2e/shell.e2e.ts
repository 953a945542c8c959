import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  openApp,
  screenshot,
  waitForLab,
  terminalText,
  typeInTerminal,
  waitForTerminal,
  useAppInBrowser,
} from './harness';

const app = useAppInBrowser();
const newPage = app.newPage;

describe('the app shell in Chromium', () => {
  it('answers help typed in the terminal', async () => {
    const page = await newPage(1280, 800, 'light');
    await openApp(page, app.url);
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
    await openApp(page, app.url);
    await waitForLab(page);
    await typeInTerminal(page, 'telent mx1.example.net 25\n');
    await waitForTerminal(page, /Did you mean: telnet mx1\.example\.net 25/);
    await page.keyboard.type('hist');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await waitForTerminal(page, /^ +1 {2}telent mx1\.example\.net 25$/m);
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
    await waitForTerminal(page, /^\$ telnet mx1\.example\.net 25$/m);
    await waitForTerminal(page, /^220 mx1\.example\.net/m);
    // Ctrl-] is telnet's escape: it hangs up and the shell prompt comes back.
    await page.keyboard.press('Control+BracketRight');
    const text = await waitForTerminal(page, /you hung up without QUIT/);
    expect(text).toMatch(/^Connected to mx1\.example\.net\.$/m);
    await page.waitForFunction(() => (window as any).smtpLab.prompt() === 'shell');
    await screenshot(page, 'editing-desktop-dark');
    await page.context().close();
  });

  it('switches theme with the header toggle', async () => {
    const page = await newPage(1280, 800, 'light');
    await openApp(page, app.url);
    await page.getByRole('button', { name: 'Dark theme' }).click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    expect(await terminalText(page)).toMatch(/smtp-lab: learn SMTP by typing it/);
    await page.context().close();
  });
});
