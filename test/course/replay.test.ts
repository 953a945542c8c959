/**
 * Every lesson's solution, typed into a headless lab line by line, reaches every goal; and a
 * wrong action does not complete the step it belongs to. This is the check that each lesson can
 * be finished in the world as it really behaves, not as the lesson author imagined it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SessionRecord } from '../../src/lab/record';
import { cursorOf, evaluate, recordUpTo, type Goal } from '../../src/course/goals';
import { isLessonFinished, onRecordChange, startLesson } from '../../src/course/runner';
import { validateCourse, type Lesson, type LessonStart } from '../../src/course/schema';
import { loadAuthChecks } from '../../src/lab/authChecks';

// The spf and dmarc commands use checks that load on demand (as in the browser): load them first.
beforeAll(() => loadAuthChecks());

const here = dirname(fileURLToPath(import.meta.url));
const lessonsDir = resolve(here, '../../lessons');
const labFile = resolve(here, '../../src/lab/lab.ts');
const hasLab = existsSync(labFile);

/** What this test uses of the lab (src/lab/lab.ts): one line in, the record out. */
interface Lab {
  input(line: string): Promise<void>;
  /** A paste: several lines in one write. */
  inputBatch(lines: readonly string[]): Promise<void>;
  onOutput(listener: (lines: readonly { text: string }[]) => void): () => void;
  readonly record: SessionRecord;
}

/** The terminal's output, kept to show where a replay went wrong. */
const outputs = new WeakMap<Lab, string[]>();

async function newLab(start: LessonStart): Promise<Lab> {
  const createLab = await loadCreateLab();
  const lab = await createLab({ start });
  const lines: string[] = [];
  outputs.set(lab, lines);
  lab.onOutput((printed) => lines.push(...printed.map((l) => l.text)));
  return lab;
}

/** One solution entry: a line typed, or (with newlines in it) a block pasted in one go. */
async function type(lab: Lab, entry: string): Promise<void> {
  if (entry.includes('\n')) await lab.inputBatch(entry.split('\n'));
  else await lab.input(entry);
}
type CreateLab = (options?: { start?: LessonStart }) => Lab | Promise<Lab>;

async function loadCreateLab(): Promise<CreateLab> {
  // Imported by path at run time so this file compiles before the lab exists.
  const module = (await import(/* @vite-ignore */ labFile)) as { createLab: CreateLab };
  return module.createLab;
}

function loadCourse(): Lesson[] {
  const files: Record<string, unknown> = {};
  for (const name of readdirSync(lessonsDir)) {
    if (name.endsWith('.json')) files[`lessons/${name}`] = JSON.parse(readFileSync(join(lessonsDir, name), 'utf8'));
  }
  const course = validateCourse(files);
  if (!course.ok) throw new Error(course.errors.join('\n'));
  return course.value.lessons;
}

const lessons = loadCourse();

function tail(lab: Lab, lines = 40): string {
  return (outputs.get(lab) ?? []).slice(-lines).join('\n');
}

function explainMiss(goal: Goal, record: SessionRecord, since: ReturnType<typeof cursorOf>): string {
  return evaluate(goal, record, since)
    .progress.map((p) => `${p.met ? '[x]' : '[ ]'} ${p.label}`)
    .join('\n');
}

describe.skipIf(!hasLab)('every lesson replays from its solution', () => {
  for (const lesson of lessons) {
    it(`${lesson.id}: each step's goal is met by typing its solution`, async () => {
      const lab = await newLab(lesson.start);
      let runner = startLesson(undefined, lesson, lab.record);
      for (const [index, step] of lesson.steps.entries()) {
        const stepStart = cursorOf(lab.record);
        for (const entry of step.solution) {
          await type(lab, entry);
          runner = onRecordChange(runner, lesson, lab.record);
        }
        const result = evaluate(step.goal, lab.record, stepStart);
        expect(
          result.met,
          `${lesson.id} step ${index + 1} "${step.id}" not met:\n${explainMiss(step.goal, lab.record, stepStart)}\n--- terminal ---\n${tail(lab)}`,
        ).toBe(true);
      }
      expect(isLessonFinished(runner, lesson), `the runner did not finish ${lesson.id}: stopped at step ${runner.stepIndex + 1}`).toBe(true);
    }, 60_000);
  }
});

describe.skipIf(!hasLab)('a learner ahead of the checks', () => {
  // The page checks a step only once the terminal has shown the autopilot's output, which it
  // plays at a reading pace; a learner may type the next step's command meanwhile. Each check
  // then judges the record as it was at its own change (recordUpTo), so nothing is lost.
  it('dsn: send, clock and mailbox typed before any check ran still tick all three steps', async () => {
    const lesson = lessons.find((l) => l.id === 'dsn')!;
    const lab = await newLab(lesson.start);
    const start = startLesson(undefined, lesson, lab.record);
    const changes = [];
    for (const entry of lesson.steps.flatMap((step) => step.solution)) {
      await type(lab, entry);
      changes.push(cursorOf(lab.record));
    }
    let judgedAtTheirChange = start;
    for (const at of changes) judgedAtTheirChange = onRecordChange(judgedAtTheirChange, lesson, recordUpTo(lab.record, at));
    expect(isLessonFinished(judgedAtTheirChange, lesson), tail(lab)).toBe(true);
    // Judged on the whole record each time, the clock and the DSN fall before step 2's start.
    let judgedLate = start;
    for (let i = 0; i < changes.length; i++) judgedLate = onRecordChange(judgedLate, lesson, lab.record);
    expect(judgedLate.stepIndex).toBe(1);
  }, 60_000);
});

function stepOf(lessonId: string, stepId: string): { lesson: Lesson; goal: Goal } {
  const lesson = lessons.find((l) => l.id === lessonId)!;
  return { lesson, goal: lesson.steps.find((s) => s.id === stepId)!.goal };
}

async function typed(lesson: Lesson, lines: string[]): Promise<{ lab: Lab; since: ReturnType<typeof cursorOf> }> {
  const lab = await newLab(lesson.start);
  const since = cursorOf(lab.record);
  for (const line of lines) await type(lab, line);
  return { lab, since };
}

describe.skipIf(!hasLab)('a wrong action does not complete its step', () => {
  it('envelope: RCPT before MAIL completes neither "mail-from" nor "recipients"', async () => {
    const { lesson, goal: mailFrom } = stepOf('envelope', 'mail-from');
    const recipients = stepOf('envelope', 'recipients').goal;
    const { lab, since } = await typed(lesson, ['telnet mx1.example.net 25', 'EHLO client.example.com', 'RCPT TO:<bob@example.net>', 'RCPT TO:<carol@example.net>']);
    expect(evaluate({ reply: { to: 'RCPT', code: 503 } }, lab.record, since).met, tail(lab)).toBe(true);
    expect(evaluate(mailFrom, lab.record, since).met).toBe(false);
    expect(evaluate(recipients, lab.record, since).met).toBe(false);
  }, 60_000);

  it('envelope: the recipients step is not met by a single recipient', async () => {
    const { lesson, goal } = stepOf('envelope', 'recipients');
    const { lab, since } = await typed(lesson, ['telnet mx1.example.net 25', 'EHLO client.example.com', 'MAIL FROM:<alice@example.com>', 'RCPT TO:<bob@example.net>']);
    expect(evaluate(goal, lab.record, since).met, tail(lab)).toBe(false);
  }, 60_000);

  it('unknown-user: RCPT before MAIL, or a mailbox that exists, does not give 550 5.1.1', async () => {
    const { lesson, goal } = stepOf('unknown-user', 'unknown');
    const before = await typed(lesson, ['telnet mx.strict.example 25', 'EHLO client.example.com', 'RCPT TO:<nobody@strict.example>']);
    expect(evaluate(goal, before.lab.record, before.since).met, tail(before.lab)).toBe(false);
    const known = await typed(lesson, ['telnet mx.strict.example 25', 'EHLO client.example.com', 'MAIL FROM:<alice@example.com>', 'RCPT TO:<dave@strict.example>']);
    expect(evaluate(goal, known.lab.record, known.since).met, tail(known.lab)).toBe(false);
  }, 60_000);

  it('unknown-user: a bounce to a mailbox that exists is no bounce', async () => {
    const { lesson, goal } = stepOf('unknown-user', 'bounce');
    const { lab, since } = await typed(lesson, ['send --from alice@example.com --to dave@strict.example']);
    expect(evaluate(goal, lab.record, since).met, tail(lab)).toBe(false);
  }, 60_000);

  it('dsn-requests: a report without the envelope id, or a send without any request, is not the success report asked for', async () => {
    const { lesson, goal } = stepOf('dsn-requests', 'ask-success');
    const plain = await typed(lesson, ['send --from alice@example.com --to bob@example.net']);
    expect(evaluate({ delivered: { to: 'bob@example.net' } }, plain.lab.record, plain.since).met, tail(plain.lab)).toBe(true);
    expect(evaluate(goal, plain.lab.record, plain.since).met).toBe(false);
    const noEnvid = await typed(lesson, ['send --from alice@example.com --to bob@example.net --notify bob@example.net=SUCCESS']);
    expect(evaluate({ dsn: { to: 'alice@example.com', action: 'relayed' } }, noEnvid.lab.record, noEnvid.since).met, tail(noEnvid.lab)).toBe(true);
    expect(evaluate(goal, noEnvid.lab.record, noEnvid.since).met).toBe(false);
  }, 60_000);

  it('dsn-requests: without NOTIFY=NEVER the bounce arrives, and the silence step stays open', async () => {
    const { lesson, goal } = stepOf('dsn-requests', 'never');
    const { lab, since } = await typed(lesson, ['send --from alice@example.com --to nobody@strict.example', 'mailbox alice@example.com']);
    expect(evaluate({ bounced: { to: 'nobody@strict.example', status: '5.1.1' } }, lab.record, since).met, tail(lab)).toBe(true);
    expect(evaluate(goal, lab.record, since).met).toBe(false);
    // Reading the mailbox before sending does not stand in for reading it afterwards.
    const early = await typed(lesson, ['mailbox alice@example.com', 'send --from alice@example.com --to nobody@strict.example --notify nobody@strict.example=NEVER']);
    expect(evaluate(goal, early.lab.record, early.since).met, tail(early.lab)).toBe(false);
  }, 60_000);

  it('dsn-requests: a bounce with the header only is not the whole message back', async () => {
    const { lesson, goal } = stepOf('dsn-requests', 'ret-full');
    const { lab, since } = await typed(lesson, ['send --from alice@example.com --to nobody@strict.example --ret HDRS', 'mailbox alice@example.com']);
    expect(evaluate({ dsn: { to: 'alice@example.com', action: 'failed', returned: 'headers' } }, lab.record, since).met, tail(lab)).toBe(true);
    expect(evaluate(goal, lab.record, since).met).toBe(false);
  }, 60_000);

  it('dsn-requests: the request must travel: without NOTIFY the bouncer reports, and without moving the clock nothing has bounced yet', async () => {
    const { lesson, goal } = stepOf('dsn-requests', 'travels');
    const plain = await typed(lesson, ['send --from alice@example.com --to ann@bounce.example', 'clock +15m', 'mailbox alice@example.com']);
    expect(evaluate({ dsn: { to: 'alice@example.com', action: 'failed', recipient: 'ann@bounce.example' } }, plain.lab.record, plain.since).met, tail(plain.lab)).toBe(true);
    expect(evaluate(goal, plain.lab.record, plain.since).met).toBe(false);
    const early = await typed(lesson, ['send --from alice@example.com --to ann@bounce.example --notify ann@bounce.example=NEVER', 'mailbox alice@example.com']);
    expect(evaluate({ sent: { verb: 'RCPT', matches: 'NOTIFY=NEVER', by: 'autopilot', host: 'mx.bounce.example' } }, early.lab.record, early.since).met, tail(early.lab)).toBe(true);
    expect(evaluate(goal, early.lab.record, early.since).met).toBe(false);
  }, 60_000);

  it('dsn-requests: a message typed without the DSN parameters brings no report', async () => {
    const { lesson, goal } = stepOf('dsn-requests', 'by-hand');
    const { lab, since } = await typed(lesson, [
      'openssl s_client -starttls smtp -connect smtp.example.com:587 -crlf',
      'EHLO client.example.com',
      'AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHMzY3IzdA==',
      'MAIL FROM:<alice@example.com>',
      'RCPT TO:<bob@example.net>',
      'DATA',
      'Subject: No report asked',
      '',
      'Hello.',
      '.',
      'QUIT',
      'mailbox alice@example.com',
    ]);
    expect(evaluate({ reply: { to: 'DATA-END', code: 250, host: 'smtp.example.com' } }, lab.record, since).met, tail(lab)).toBe(true);
    expect(evaluate({ dsn: { to: 'alice@example.com' } }, lab.record, since).met).toBe(false);
    expect(evaluate(goal, lab.record, since).met).toBe(false);
  }, 60_000);

  it('capstone: a message with another subject does not count', async () => {
    const { lesson, goal } = stepOf('capstone', 'deliver');
    const { lab, since } = await typed(lesson, [
      'telnet mx1.example.net 25',
      'EHLO client.example.com',
      'MAIL FROM:<alice@example.com>',
      'RCPT TO:<carol@example.net>',
      'DATA',
      'Subject: Quarterly reports',
      '',
      'Close, but not it.',
      '.',
      'QUIT',
    ]);
    expect(evaluate({ reply: { to: 'DATA-END', code: 250 } }, lab.record, since).met, tail(lab)).toBe(true);
    expect(evaluate(goal, lab.record, since).met).toBe(false);
  }, 60_000);
});
