/**
 * Lesson progress is kept in the browser: two steps done survive a reload, "Reset progress"
 * forgets them (and a reload after the reset brings nothing back), and a saved value that
 * cannot be read is ignored with a console message instead of breaking the page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { STORAGE_KEY, lessonRoute } from '../../src/course/runner';
import { launchBrowser, openApp, serveDist, typeInTerminal, waitForLab, type Served } from './harness';

let served: Served;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const warnings: string[] = [];

const LESSON = 'envelope';
const TITLE = 'The envelope: MAIL FROM and RCPT TO';
/** Steps 1 and 2 of the envelope lesson, as a learner types them. */
const STEP_ONE = ['telnet mx1.example.net 25', 'EHLO client.example.com', 'MAIL FROM:<alice@example.com>'];
const STEP_TWO = ['RCPT TO:<bob@example.net>', 'RCPT TO:<carol@example.net>'];
/** How many steps the lesson has, read from its file so the test follows the course. */
const STEP_COUNT = (JSON.parse(readFileSync(new URL('../../lessons/07-envelope.json', import.meta.url), 'utf8')) as { steps: unknown[] }).steps.length;

beforeAll(async () => {
  served = await serveDist();
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'warning' || message.type() === 'error') warnings.push(message.text());
  });
});

afterAll(async () => {
  await browser?.close();
  await served?.close();
});

function panel(): Locator {
  return page.getByRole('region', { name: 'Lesson' });
}

function steps(): Locator {
  return panel().getByRole('list', { name: 'Steps' }).getByRole('listitem');
}

async function doneSteps(): Promise<number> {
  return (await steps().allTextContents()).filter((text) => text.includes('(done)')).length;
}

async function waitForLesson(stepNumber: number): Promise<void> {
  await panel().getByRole('heading', { level: 2, name: TITLE }).waitFor({ timeout: 15_000 });
  await panel().getByRole('heading', { level: 3, name: new RegExp(`^Step ${stepNumber}:`) }).waitFor({ timeout: 15_000 });
}

async function load(hash = lessonRoute(LESSON)): Promise<void> {
  await openApp(page, served.url + hash);
  await waitForLab(page);
}

describe('lesson progress is saved in the browser', () => {
  it('two steps done survive a reload', async () => {
    await load();
    await waitForLesson(1);
    expect(await doneSteps()).toBe(0);
    for (const line of STEP_ONE) await typeInTerminal(page, `${line}\n`);
    await steps().nth(0).filter({ hasText: '(done)' }).waitFor({ timeout: 15_000 });
    // Screen readers hear it: the panel's live region names the step just done.
    expect(await panel().locator('[role="status"][aria-live="polite"]').first().textContent()).toContain(`Step 1 of ${STEP_COUNT} done: Start a transaction.`);
    for (const line of STEP_TWO) await typeInTerminal(page, `${line}\n`);
    await steps().nth(1).filter({ hasText: '(done)' }).waitFor({ timeout: 15_000 });
    await waitForLesson(3);

    await page.reload();
    await waitForLab(page);
    await waitForLesson(3);
    expect(await doneSteps()).toBe(2);
    expect(await steps().nth(2).getAttribute('aria-current')).toBe('step');
  });

  it('opening the app without a link returns to the lesson in progress', async () => {
    await load('');
    await waitForLesson(3);
    expect(await doneSteps()).toBe(2);
    expect(page.url()).toContain(lessonRoute(LESSON));
  });

  it('"Reset progress" clears it, and it stays cleared after a reload', async () => {
    const list = panel().locator('details.course');
    await list.locator('summary').click();
    await panel().getByRole('button', { name: 'Reset progress' }).click();
    await panel().getByRole('button', { name: 'Yes, reset progress' }).click();
    await waitForLesson(1);
    expect(await doneSteps()).toBe(0);

    await page.reload();
    await waitForLab(page);
    await waitForLesson(1);
    expect(await doneSteps()).toBe(0);
  });

  it('a corrupt saved value is ignored with a console message, and the page works', async () => {
    await page.evaluate((key) => localStorage.setItem(key, '{"version":1,"state":{"lessonId":'), STORAGE_KEY);
    warnings.length = 0;
    await page.reload();
    await waitForLab(page);
    await waitForLesson(1);
    expect(warnings.some((text) => /saved lesson progress ignored/.test(text)), warnings.join('\n')).toBe(true);
    // The lesson still runs: the first step can be done.
    for (const line of STEP_ONE) await typeInTerminal(page, `${line}\n`);
    await steps().nth(0).filter({ hasText: '(done)' }).waitFor({ timeout: 15_000 });
    const saved = await page.evaluate((key) => localStorage.getItem(key), STORAGE_KEY);
    expect(JSON.parse(saved ?? 'null')).toMatchObject({ version: 1, state: { lessonId: LESSON, completedSteps: ['mail-from'] } });
  });
});

describe('a step done by the autopilot', () => {
  it('is ticked only once the terminal has shown the whole delivery', async () => {
    await load(lessonRoute('big-picture'));
    await panel().getByRole('heading', { level: 3, name: /^Step 1:/ }).waitFor({ timeout: 15_000 });
    await typeInTerminal(page, 'world\n');
    await steps().nth(0).filter({ hasText: '(done)' }).waitFor({ timeout: 15_000 });
    await typeInTerminal(page, 'send --from alice@example.com --to bob@example.net\n');
    // At the moment step 2 shows as done, the autopilot's last line is already on screen.
    const seenWhenDone = await page.waitForFunction(
      () => {
        const item = document.querySelectorAll('[aria-label="Steps"] li')[1];
        if (!item?.textContent?.includes('(done)')) return false;
        return { terminal: (window as any).smtpLab.terminalText() as string };
      },
      undefined,
      { timeout: 20_000, polling: 'raf' },
    );
    const { terminal } = (await seenWhenDone.jsonValue()) as { terminal: string };
    expect(terminal).toMatch(/bob@example\.net: delivered 2\.0\.0/);
  });
});
