/**
 * The learner's page in Chromium, used as a learner would: typing in the terminal, reading the
 * transcript and the panels, sharing a session, with the keyboard alone and under axe-core.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  openApp,
  screenshot,
  seriousAxeViolations,
  terminalText,
  transcriptLines,
  typeInTerminal,
  waitForLab,
  waitForTerminal,
  useAppInBrowser,
} from './harness';

const app = useAppInBrowser();
const newPage = app.newPage;

async function openLab(width = 1280, height = 800, scheme: 'light' | 'dark' = 'light', url = app.url): Promise<Page> {
  const page = await newPage(width, height, scheme);
  await openApp(page, url);
  await waitForLab(page);
  return page;
}


/** Types one line and waits until the terminal shows the reply expected after it. */
async function say(page: Page, line: string, reply: RegExp) {
  const before = (await terminalText(page)).length;
  await typeInTerminal(page, `${line}\n`);
  await page.waitForFunction(
    ([source, flags, from]) => new RegExp(source, flags).test((window as any).smtpLab.terminalText().slice(from)),
    [reply.source, reply.flags, Math.max(0, before - 8)] as const,
    { timeout: 10_000 },
  );
}

/** The complete transaction against the strict persona, with one recipient refused and a dot-stuffed line. */
async function strictTransaction(page: Page) {
  await say(page, 'telnet mx.strict.example 25', /^220 mx\.strict\.example/m);
  await say(page, 'EHLO learner.example', /^250 SMTPUTF8$/m);
  await say(page, 'STARTTLS', /^220 2\.0\.0 Ready to start TLS/m);
  await waitForTerminal(page, /Verify return code: 0 \(ok\)/);
  await say(page, 'EHLO learner.example', /^250 SMTPUTF8$/m);
  await say(page, 'MAIL FROM:<alice@example.com>', /^250 2\.1\.0 /m);
  await say(page, 'RCPT TO:<dave@strict.example>', /^250 2\.1\.5 /m);
  await say(page, 'RCPT TO:<nobody@strict.example>', /^550 5\.1\.1 <nobody@strict\.example>/m);
  await say(page, 'DATA', /^354 /m);
  await page.waitForFunction(() => (window as any).smtpLab.prompt() === 'data');
  for (const line of ['Subject: Dots', '', '..like this', 'and the end:']) await typeInTerminal(page, `${line}\n`);
  await say(page, '.', /^250 2\.0\.0 .*queued as/m);
  await say(page, 'QUIT', /^221 2\.0\.0 /m);
  await waitForTerminal(page, /Connection closed by foreign host\./);
}

describe('a learner at the page, in Chromium', () => {
  let sharedUrl = '';
  let sharedTranscript: string[] = [];

  it('types a whole transaction against a strict server and sees every reply, coloured and explained', async () => {
    const page = await openLab(1280, 800, 'light');
    await strictTransaction(page);
    const text = await terminalText(page);
    // The prompt follows the conversation: the shell, then the session, then the message.
    expect(text).toMatch(/^\$ telnet mx\.strict\.example 25$/m);
    expect(text).toMatch(/^smtp> RCPT TO:<nobody@strict\.example>$/m);
    expect(text).toMatch(/^data> \.\.like this$/m);

    const lines = await transcriptLines(page);
    for (const expected of [
      '<- 220 mx.strict.example ESMTP ready',
      '-> STARTTLS',
      '~> EHLO learner.example',
      '~> RCPT TO:<nobody@strict.example>',
      '~> ..like this',
      '~> .',
      '~> QUIT',
    ]) {
      expect(lines).toContain(expected);
    }
    expect(lines.some((line) => /^<~ 550 5\.1\.1 <nobody@strict\.example>/.test(line))).toBe(true);
    expect(lines.some((line) => /^<~ 250 2\.1\.5 /.test(line))).toBe(true);
    expect(lines.some((line) => /^\*\* TLS started/.test(line))).toBe(true);

    const log = page.getByRole('log', { name: 'Transcript' });
    // Replies are coloured by class: the refusal is red, the acceptance green.
    const refusal = log.locator('li', { hasText: '550 5.1.1 <nobody@strict.example>' });
    const acceptance = log.locator('li', { hasText: /250 2\.1\.5/ });
    const colour = (item: typeof refusal) => item.locator('.text').evaluate((el) => getComputedStyle(el).color);
    expect(await colour(refusal)).not.toBe(await colour(acceptance));
    await expect.poll(() => refusal.getAttribute('class')).toMatch(/permanent/);

    // The dot-stuffed line explains itself when clicked.
    await log.getByRole('button', { name: /\.\.like this/ }).click();
    const why = log.locator('li.open .explanation');
    await expect.poll(() => why.textContent()).toMatch(/Dot-stuffing/);
    // The enhanced code of the refusal is put in words.
    await log.getByRole('button', { name: /550 5\.1\.1 <nobody/ }).click();
    await expect.poll(() => log.locator('li.open', { hasText: '550 5.1.1' }).locator('.explanation').textContent()).toMatch(/5\.1\.1/);

    // The sequence diagram draws the conversation with a TLS band.
    await page.getByRole('tab', { name: 'Sequence' }).click();
    const diagram = page.locator('#panel-sequence svg');
    await diagram.waitFor();
    expect(await diagram.locator('rect.tls').count()).toBeGreaterThan(0);
    expect(await diagram.locator('g.arrow.tone-permanent').count()).toBeGreaterThan(0);
    await screenshot(page, 'transaction-desktop-light');

    // Share the session for the next test.
    await page.getByRole('button', { name: 'Share' }).click();
    const link = page.getByRole('textbox', { name: 'Share link' });
    await link.waitFor();
    sharedUrl = await link.inputValue();
    sharedTranscript = await transcriptLines(page);
    expect(sharedUrl).toMatch(/#\/share\/[A-Za-z0-9_-]+$/);
    await page.context().close();
  });

  it('opens a share link in a new page and replays the same session', async () => {
    expect(sharedUrl).not.toBe('');
    const page = await openLab(390, 844, 'dark', sharedUrl);
    const text = await terminalText(page);
    expect(text).toMatch(/Replaying a shared session/);
    expect(text).toMatch(/^550 5\.1\.1 <nobody@strict\.example>/m);
    expect(await transcriptLines(page)).toEqual(sharedTranscript);
    await screenshot(page, 'share-replayed-phone-dark');
    await page.context().close();
  });

  it('sends to a greylisting domain, then delivers once the clock moves on', async () => {
    const page = await openLab(1280, 800, 'dark');
    await say(page, 'send --from alice@example.com --to bob@grey.example --speed 50', /bob@grey\.example: deferred 4\.7\.1/);
    expect(await terminalText(page)).toMatch(/451 4\.7\.1 Greylisted/);
    await page.getByRole('tab', { name: 'Delivery' }).click();
    const timeline = page.locator('#panel-timeline');
    await timeline.getByText('waiting to retry').waitFor();
    await say(page, 'clock +10m', /delivered to the mailbox of bob@grey\.example/);
    await timeline.getByText(/^delivered$/).first().waitFor();
    const attempts = await timeline.locator('li.attempt').allTextContents();
    expect(attempts.some((a) => /attempt 1 at mx\.grey\.example: deferred/.test(a))).toBe(true);
    expect(attempts.some((a) => /attempt 2 at mx\.grey\.example: delivered/.test(a))).toBe(true);
    expect(await timeline.locator('li.gap').allTextContents()).toContain('waited 5m (backoff)');
    // The DNS panel shows the MX lookup the sending MTA made.
    await page.getByRole('tab', { name: 'DNS' }).click();
    await page.locator('#panel-dns').getByText('mx.grey.example', { exact: true }).waitFor();
    await page.getByRole('tab', { name: 'Delivery' }).click();
    await screenshot(page, 'greylisting-delivered-desktop-dark');
    await page.context().close();
  });

  it('shows mail that was accepted and then bounced by the receiving host, and the NOTIFY that silenced its report', async () => {
    const page = await openLab(1280, 800, 'light');
    await say(page, 'send --from alice@example.com --to ann@bounce.example --speed 50', /ann@bounce\.example: delivered 2\.0\.0/);
    await say(page, 'send --from alice@example.com --to cy@bounce.example --notify cy@bounce.example=NEVER --speed 50', /cy@bounce\.example: delivered 2\.0\.0/);
    await page.getByRole('tab', { name: 'Delivery' }).click();
    const timeline = page.locator('#panel-timeline');
    await say(page, 'clock +15m', /delivered to the mailbox of alice@example\.com/);
    const ann = timeline.locator('.recipients li', { hasText: 'ann@bounce.example' });
    await ann.getByText('bounced 5.2.2 by mx.bounce.example').waitFor();
    expect(await ann.textContent()).toMatch(/its DSN went to the sender/);
    const cy = timeline.locator('.recipients li', { hasText: 'cy@bounce.example' });
    expect(await cy.textContent()).toMatch(/bounced 5\.2\.2 by mx\.bounce\.example.*no DSN, as the sender's NOTIFY asked/s);
    await page.getByRole('tab', { name: 'What next' }).click();
    const queue = await page.locator('ul.queue li').allTextContents();
    expect(queue.filter((item) => /bounce\.example/.test(item)).map((item) => item.replace(/\s+/g, ' ').trim())).toEqual([
      'ann@bounce.example delivered, then bounced',
      'cy@bounce.example delivered, then bounced',
    ]);
    await page.getByRole('tab', { name: 'Delivery' }).click();
    await screenshot(page, 'accepted-then-bounced-desktop-light');
    await page.context().close();
  });

  it('shows five days of retries to a DANE failure as a few rows, the repeats folded and still there', async () => {
    const page = await openLab(1280, 800, 'light');
    await say(page, 'send --from alice@example.com --to ann@dane.example --speed 50', /ann@dane\.example: deferred 4\.7\.5/);
    await say(page, 'clock +5d', /delivered to the mailbox of alice@example\.com/);
    await page.getByRole('tab', { name: 'Delivery' }).click();
    const message = page.locator('#panel-timeline').getByRole('article', { name: /Delivery of/ }).filter({ hasText: 'ann@dane.example' });
    const fold = message.locator('li.repeats');
    await fold.waitFor();
    // About a hundred rounds with the same answer, at Postfix's longest backoff (4000 s).
    const summary = (await fold.locator('summary').textContent())!.replace(/\s+/g, ' ');
    expect(summary).toMatch(/attempts \d+–\d+: the same again, (9\d|1\d\d) times, every 1h 7m \(the backoff has stopped growing\)/);
    expect(await message.locator('li.attempt').count()).toBeLessThan(15);
    // The page stays a page: before the fold it was some 14,000 pixels tall.
    expect(await page.evaluate(() => document.documentElement.scrollHeight)).toBeLessThan(2500);
    // Nothing is lost: the folded attempts open with their times.
    expect(await fold.locator('ol li').first().isVisible()).toBe(false);
    await fold.locator('summary').click();
    await expect.poll(() => fold.locator('ol li').first().isVisible()).toBe(true);
    expect(await fold.locator('ol li').count()).toBeGreaterThan(90);
    await fold.locator('summary').click();
    await screenshot(page, 'five-days-folded-desktop-light');
    // The queue names the two messages to alice that the learner never wrote.
    await page.getByRole('tab', { name: 'What next' }).click();
    const queue = (await page.locator('ul.queue li').allTextContents()).map((item) => item.replace(/\s+/g, ' ').trim());
    expect(queue).toEqual([
      'ann@dane.example bounced',
      'alice@example.com delivered a delay warning (DSN) to the sender',
      'alice@example.com delivered a bounce (DSN) to the sender',
    ]);
    await page.context().close();
  });

  it('shows the rest of what the autopilot was playing above the next command typed, not below it', async () => {
    const page = await openLab(1280, 800, 'light');
    // Speed 1: the autopilot's exchanges come 600 ms apart, a dozen of them.
    await typeInTerminal(page, 'send --from alice@example.com --to bob@example.net --speed 1\n');
    await waitForTerminal(page, /\*\* attempt 1 for bob@example\.net/);
    const early = await terminalText(page);
    expect(early).not.toMatch(/bob@example\.net: delivered/);
    await say(page, 'mailq', /Mail queue is empty/);
    const text = await terminalText(page);
    const echo = text.lastIndexOf('$ mailq');
    expect(echo).toBeGreaterThan(0);
    // The send's last lines (QUIT, the delivery, where bob's copy stands) come before the echo.
    expect(text.lastIndexOf('<~ 221 2.0.0 mx1.example.net')).toBeGreaterThan(-1);
    expect(text.lastIndexOf('<~ 221 2.0.0 mx1.example.net')).toBeLessThan(echo);
    expect(text.lastIndexOf('bob@example.net: delivered')).toBeLessThan(echo);
    expect(text.slice(echo)).not.toMatch(/<~ |~> |bob@example\.net: delivered/);
    await page.context().close();
  });

  it('shows a broken STARTTLS handshake with openssl s_client', async () => {
    const page = await openLab(390, 844, 'light');
    await say(page, 'openssl s_client -starttls smtp -connect mx.tls-handshake.example:25', /TLS handshake failed/);
    const text = await terminalText(page);
    expect(text).toMatch(/^220 2\.0\.0 Ready to start TLS/m);
    expect(text).toMatch(/handshake\s+failure/);
    const lines = await transcriptLines(page);
    expect(lines.some((line) => /^\*\* TLS handshake failed/.test(line))).toBe(true);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await screenshot(page, 'tls-broken-phone-light');
    await page.context().close();
  });

  it('is usable by keyboard alone: terminal, then transcript, and Enter opens an explanation', async () => {
    const page = await openLab(1280, 800, 'light');
    // The first Tab reaches the skip link; Enter on it puts the keyboard in the terminal.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to the terminal');
    await page.keyboard.press('Enter');
    const reachedTerminal = await page.evaluate(() => document.activeElement?.getAttribute('aria-label') === 'SMTP terminal');
    expect(reachedTerminal).toBe(true);
    for (const [line, reply] of [
      ['telnet mx1.example.net 25', /^220 mx1\.example\.net/m],
      ['EHLO keys.example', /^250 SMTPUTF8$/m],
    ] as const) {
      const before = (await terminalText(page)).length;
      await page.keyboard.type(line);
      await page.keyboard.press('Enter');
      await page.waitForFunction(([s, f, from]) => new RegExp(s, f).test((window as any).smtpLab.terminalText().slice(from)), [reply.source, reply.flags, before] as const);
    }
    // Tab completes inside the terminal; Esc then Tab leaves it, so the keyboard is never trapped.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Transcript');
    await page.keyboard.press('Tab');
    const focused = page.locator(':focus');
    expect(await focused.getAttribute('aria-expanded')).toBe('false');
    // Arrow keys move along the transcript; Enter opens the line's explanation.
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowDown');
    expect(await focused.textContent()).toMatch(/EHLO keys\.example/);
    await page.keyboard.press('ArrowUp');
    expect(await focused.textContent()).toMatch(/220 mx1\.example\.net/);
    await page.keyboard.press('Enter');
    expect(await focused.getAttribute('aria-expanded')).toBe('true');
    const explanation = page.locator(`#${await focused.getAttribute('aria-controls')}`);
    expect(await explanation.isVisible()).toBe(true);
    expect(await explanation.textContent()).toMatch(/^220/m);
    await page.context().close();
  });

  it('has no serious or critical axe violations with a session on screen, in both themes', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const page = await openLab(1280, 800, scheme);
      await say(page, 'telnet mx.strict.example 25', /^220 /m);
      await say(page, 'EHLO axe.example', /^250 SMTPUTF8$/m);
      await say(page, 'RCPT TO:<nobody@strict.example>', /^503 /m);
      await page.getByRole('log', { name: 'Transcript' }).getByRole('button').nth(1).click();
      for (const tab of ['What next', 'Sequence', 'DNS', 'Delivery']) {
        await page.getByRole('tab', { name: tab }).click();
        await page.locator('[role=tabpanel] .loading').waitFor({ state: 'detached' });
        const violations = await seriousAxeViolations(page);
        expect(violations, `${scheme}, ${tab}: ${JSON.stringify(violations, null, 2)}`).toEqual([]);
      }
      await page.context().close();
    }
  });

  it('fits desktop and phone, light and dark, with a session on screen', async () => {
    const sizes = [
      ['desktop', 1280, 800],
      ['phone', 390, 844],
      ['narrow', 360, 740],
    ] as const;
    for (const [name, width, height] of sizes) {
      for (const scheme of ['light', 'dark'] as const) {
        if (name === 'narrow' && scheme === 'dark') continue;
        const page = await openLab(width, height, scheme);
        await page.getByRole('combobox', { name: 'Scenario' }).selectOption('strict');
        await waitForTerminal(page, /Scenario: Strict MX/);
        await page.getByRole('button', { name: 'Connect' }).click();
        await waitForTerminal(page, /^220 mx\.strict\.example/m);
        await say(page, 'EHLO look.example', /^250 SMTPUTF8$/m);
        await say(page, 'MAIL FROM:<alice@example.com>', /^250 2\.1\.0/m);
        await say(page, 'RCPT TO:<nobody@strict.example>', /^550 5\.1\.1/m);
        expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe(scheme);
        // Nothing may stick out sideways: a phone must not scroll horizontally.
        expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
        await screenshot(page, `app-${name}-${scheme}`);
        await page.context().close();
      }
    }
  });

  it('lays the terminal out inside its box, and checks SPF once the checker has loaded on its own', async () => {
    for (const [width, height] of [
      [1280, 900],
      [390, 844],
    ] as const) {
      const page = await openLab(width, height);
      // The text area may not run under the frame's padding or the scrollbar: the last column stays readable.
      const layout = await page.evaluate(() => {
        const surface = document.querySelector('.terminal .surface')!.getBoundingClientRect();
        const screen = document.querySelector('.terminal .xterm-screen')!.getBoundingClientRect();
        return { surfaceRight: surface.right, screenRight: screen.right };
      });
      expect(layout.screenRight, `terminal text area overflows its box at ${width}px`).toBeLessThanOrEqual(layout.surfaceRight + 0.5);
      // Nothing asked for the SPF checker: it arrives once the page is up, and spf works.
      await page.waitForLoadState('networkidle');
      await say(page, 'spf 198.51.100.140 mailer.example', /pass/);
      expect(await terminalText(page)).not.toMatch(/still loading/);
      await page.close();
    }
  });
});

