/**
 * Every lesson of the course completed in Chromium the way a learner does it: open the lesson by
 * its link, type each step's solution into the terminal (a block of several lines is pasted, as
 * a person would paste it), and watch the lesson panel tick the step off. A screenshot of each
 * finished lesson is kept in test-results/screens/lesson-<id>.png.
 *
 * One browser and one page serve the whole course: a lesson opens by changing the address to
 * `#/lesson/<id>`, which resets the world to the lesson's start, as clicking its link does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Locator, Page } from 'playwright-core';
import { validateCourse, type Course, type Lesson } from '../../src/course/schema';
import { lessonRoute } from '../../src/course/runner';
import {
  TERMINAL_LABEL,
  launchBrowser,
  openApp,
  screenshot,
  serveDist,
  seriousAxeViolations,
  terminalText,
  typeInTerminal,
  waitForLab,
  type Served,
} from './harness';

const lessonsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'lessons');

function loadCourse(): Course {
  const files: Record<string, unknown> = {};
  for (const name of readdirSync(lessonsDir)) {
    if (name.endsWith('.json')) files[`lessons/${name}`] = JSON.parse(readFileSync(join(lessonsDir, name), 'utf8'));
  }
  const course = validateCourse(files);
  if (!course.ok) throw new Error(course.errors.join('\n'));
  return course.value;
}

const course = loadCourse();
/** LESSONS=dsn,capstone runs only those lessons (for working on one); all of them by default. */
const only = process.env.LESSONS?.split(',').map((id) => id.trim()).filter(Boolean);
const chosen = only?.length ? course.lessons.filter((lesson) => only.includes(lesson.id)) : course.lessons;

// ── The page as a learner uses it ───────────────────────────────────────────────────────────

function lessonPanel(page: Page): Locator {
  return page.getByRole('region', { name: 'Lesson' });
}

function stepItem(page: Page, index: number): Locator {
  return lessonPanel(page).getByRole('list', { name: 'Steps' }).getByRole('listitem').nth(index);
}

/** Follows the lesson's link and waits until the panel shows it at its first step, its world ready. */
async function openLesson(page: Page, lesson: Lesson): Promise<void> {
  const route = lessonRoute(lesson.id);
  if (!page.url().endsWith(route)) await page.evaluate((hash) => (location.hash = hash), route);
  const panel = lessonPanel(page);
  await panel.getByRole('heading', { level: 2, name: lesson.title, exact: true }).waitFor({ timeout: 15_000 });
  await panel.locator('[aria-busy="false"]').waitFor();
  if (lesson.steps.length > 0) await panel.getByRole('heading', { level: 3, name: /^Step 1:/ }).waitFor();
}

/**
 * Pastes text into the terminal as the browser does on Ctrl-V: a paste event on the terminal's
 * input, which xterm turns into a bracketed paste (the lines go out together).
 */
async function pasteInTerminal(page: Page, text: string): Promise<void> {
  const input = page.getByRole('textbox', { name: TERMINAL_LABEL });
  await input.focus();
  await input.evaluate((element, pasted) => {
    const data = new DataTransfer();
    data.setData('text/plain', pasted);
    element.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  }, text);
}

/** One solution entry: a line typed and Enter, or (with newlines in it) a block pasted in one go. */
async function enterSolution(page: Page, entry: string): Promise<void> {
  if (entry.includes('\n')) await pasteInTerminal(page, `${entry}\n`);
  else await typeInTerminal(page, `${entry}\n`);
}

async function waitForStepDone(page: Page, lesson: Lesson, index: number): Promise<void> {
  try {
    await stepItem(page, index).filter({ hasText: '(done)' }).waitFor({ timeout: 20_000 });
  } catch {
    const checklist = await lessonPanel(page).locator('.checklist li').allTextContents().catch(() => []);
    throw new Error(`${lesson.id}: step ${index + 1} "${lesson.steps[index]!.id}" was not marked done. Checklist:\n${checklist.map((line) => line.replace(/\s+/g, ' ').trim()).join('\n')}`);
  }
}

/**
 * Markdown markers the learner would see as text: `**` or a `*word*` pair left in the rendered
 * lesson prose outside code (code shows its stars on purpose).
 */
async function unrenderedMarkdown(page: Page): Promise<string[]> {
  return lessonPanel(page)
    .locator('.prose')
    .evaluateAll((blocks) =>
      blocks.flatMap((block) => {
        const copy = block.cloneNode(true) as HTMLElement;
        for (const code of copy.querySelectorAll('code, pre')) code.remove();
        const text = copy.textContent ?? '';
        return /\*\*|(^|[\s(])\*\S[^*]*\*(?=[\s.,;:)]|$)/.test(text) ? [text.replace(/\s+/g, ' ').trim().slice(0, 160)] : [];
      }),
    );
}

let served: Served;
let browser: Browser;
let page: Page;
let previousFailed = false;
const startedAt = Date.now();

beforeAll(async () => {
  served = await serveDist();
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
  page = await context.newPage();
  await openApp(page, served.url + lessonRoute(chosen[0]?.id ?? course.sandbox.id));
  await waitForLab(page);
});

afterAll(async () => {
  console.log(`lessons.e2e: ${chosen.length} lessons in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  await browser?.close();
  await served?.close();
});

async function complete(lesson: Lesson): Promise<void> {
  await openLesson(page, lesson);
  expect(await unrenderedMarkdown(page), `${lesson.id}: Markdown shown as text at the start`).toEqual([]);
  for (const [index, step] of lesson.steps.entries()) {
    for (const entry of step.solution) await enterSolution(page, entry);
    await waitForStepDone(page, lesson, index);
    expect(await stepItem(page, index).textContent(), `${lesson.id}: step ${index + 1} is not marked done`).toContain('(done)');
    // The step's explanation is on screen now, and the next step's instruction.
    expect(await unrenderedMarkdown(page), `${lesson.id}: Markdown shown as text after step ${index + 1}`).toEqual([]);
  }
  const panel = lessonPanel(page);
  await panel.getByRole('heading', { name: 'Lesson complete' }).waitFor({ timeout: 10_000 });
  // Every step ticked, none left to do.
  const marks = await panel.getByRole('list', { name: 'Steps' }).getByRole('listitem').allTextContents();
  expect(marks.filter((text) => text.includes('(done)'))).toHaveLength(lesson.steps.length);
  await waitForQuietTerminal(page);
  await screenshot(page, `lesson-${lesson.id}`);
}

/** The autopilot's lines are printed at a reading pace: wait until the terminal has caught up. */
async function waitForQuietTerminal(page: Page, quietMs = 800, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await terminalText(page);
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    await page.waitForTimeout(200);
    const now = await terminalText(page);
    if (now !== last) {
      last = now;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= quietMs) return;
  }
}

describe('every lesson can be completed by typing its solution', () => {
  for (const lesson of chosen) {
    it(`${lesson.id}: ${lesson.title}`, async () => {
      // After a failure the page starts afresh, so one stuck lesson does not fail the rest.
      if (previousFailed) {
        await openApp(page, served.url + lessonRoute(lesson.id));
        await waitForLab(page);
        previousFailed = false;
      }
      try {
        await complete(lesson);
      } catch (error) {
        previousFailed = true;
        await screenshot(page, `lesson-${lesson.id}-failed`).catch(() => undefined);
        const tail = (await terminalText(page).catch(() => '')).split('\n').slice(-30).join('\n');
        throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- terminal ---\n${tail}`);
      }
    });
  }

  it.skipIf(chosen.length !== course.lessons.length)('the course list marks every lesson done', async () => {
    const summary = lessonPanel(page).locator('summary', { hasText: 'All lessons' });
    expect(await summary.textContent()).toContain(`${course.lessons.length} of ${course.lessons.length} done`);
  });

  it('on a 390 px phone in the dark theme the panel stacks above the terminal, fits the width and passes axe', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    try {
      const small = await phone.newPage();
      await small.addInitScript(() => localStorage.setItem('smtp-lab:theme', 'dark'));
      await openApp(small, served.url + lessonRoute('pipelining'));
      await waitForLab(small);
      const panel = lessonPanel(small);
      await panel.getByRole('heading', { level: 3, name: /^Step 1:/ }).waitFor();
      await panel.getByRole('button', { name: /^Hint/ }).click();
      await panel.getByRole('button', { name: 'Show solution' }).click();
      await panel.getByRole('heading', { name: 'Solution' }).waitFor();
      const terminal = small.getByRole('region', { name: 'Terminal' });
      const [panelBox, terminalBox] = [await panel.boundingBox(), await terminal.boundingBox()];
      expect(panelBox && terminalBox && panelBox.y + panelBox.height <= terminalBox.y + 1, 'the panel is above the terminal').toBe(true);
      expect(await small.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(await small.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
      await screenshot(small, 'lesson-phone-dark');
      expect(await seriousAxeViolations(small)).toEqual([]);
    } finally {
      await phone.close();
    }
  });

  it('a quick learner who types the next step while the autopilot is still talking gets every step ticked', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const quick = await context.newPage();
      const lesson = course.lessons.find((l) => l.id === 'dsn')!;
      await openApp(quick, served.url + lessonRoute(lesson.id));
      await waitForLab(quick);
      await openLesson(quick, lesson);
      // No waiting for the panel: "clock +15m" goes in while the send's lines are still being played.
      for (const entry of lesson.steps.flatMap((step) => step.solution)) await enterSolution(quick, entry);
      const panel = lessonPanel(quick);
      await panel.getByRole('heading', { name: 'Lesson complete' }).waitFor({ timeout: 20_000 });
      const marks = await panel.getByRole('list', { name: 'Steps' }).getByRole('listitem').allTextContents();
      expect(marks.filter((text) => text.includes('(done)'))).toHaveLength(lesson.steps.length);
    } finally {
      await context.close();
    }
  });

  it('a link to a lesson that does not exist says so and keeps the panel working', async () => {
    await page.evaluate(() => (location.hash = '#/lesson/no-such-lesson'));
    const notice = lessonPanel(page).getByRole('alert');
    await notice.waitFor();
    expect(await notice.textContent()).toContain('There is no lesson "no-such-lesson"');
    expect(await lessonPanel(page).getByRole('link', { name: course.lessons[0]!.title }).count()).toBe(1);
  });

  it('the sandbox opens by link, with no steps to do', async () => {
    await openLesson(page, course.sandbox);
    const panel = lessonPanel(page);
    expect(await panel.getByRole('list', { name: 'Steps' }).count()).toBe(0);
    await typeInTerminal(page, 'dig MX example.net\n');
    await page.waitForFunction(() => /mx1\.example\.net/.test((window as any).smtpLab.terminalText()));
  });
});
