import { describe, expect, it, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateCourse, validateIndex, validateLesson } from '../../src/course/schema';

const lessonsDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../lessons');

function courseFiles(): Record<string, unknown> {
  const files: Record<string, unknown> = {};
  for (const name of readdirSync(lessonsDir)) {
    if (name.endsWith('.json')) files[`lessons/${name}`] = JSON.parse(readFileSync(join(lessonsDir, name), 'utf8'));
  }
  return files;
}

/** A small valid lesson to break in the tests below. */
function goodLesson(): Record<string, any> {
  return {
    id: 'envelope',
    title: 'The envelope',
    summary: 'MAIL FROM and RCPT TO.',
    intro: 'Some **prose**.',
    start: { world: 'default', hostsDown: { 'mx1.example.net': 'refused' }, clock: '+1h' },
    steps: [
      {
        id: 'mail',
        title: 'MAIL',
        instruction: 'Send MAIL.',
        goal: { allOf: [{ sent: { verb: 'MAIL' } }, { reply: { to: 'MAIL', code: 250 } }] },
        hints: ['Think of the sender.', 'Type:\n\n```\nMAIL FROM:<alice@example.com>\n```'],
        explanation: 'Well done.',
        solution: ['MAIL FROM:<alice@example.com>'],
      },
      {
        id: 'rcpt',
        title: 'RCPT',
        instruction: 'Send RCPT.',
        goal: { reply: { to: 'RCPT', code: 250 } },
        hints: ['A recipient.', 'RCPT TO:<bob@example.net>'],
        explanation: 'Good.',
        solution: ['RCPT TO:<bob@example.net>'],
      },
      {
        id: 'data',
        title: 'DATA',
        instruction: 'Send DATA.',
        goal: { reply: { to: 'DATA', code: 354 } },
        hints: ['Then the message.', 'DATA'],
        explanation: 'Good.',
        solution: ['DATA'],
      },
    ],
  };
}

const FILE = 'lessons/07-envelope.json';

function errorsOf(lesson: unknown, file = FILE): string[] {
  const result = validateLesson(lesson, file);
  return result.ok ? [] : result.errors;
}

describe('the course in lessons/', () => {
  const files = courseFiles();

  it('every lesson file and the index are valid', () => {
    const result = validateCourse(files);
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  it('has the twenty-two lessons in order, 3-6 steps each, and a sandbox without steps', () => {
    const result = validateCourse(files);
    if (!result.ok) throw new Error(result.errors.join('\n'));
    const { lessons, sandbox } = result.value;
    expect(lessons.map((l) => l.id)).toEqual([
      'big-picture', 'dns', 'connecting', 'ehlo', 'starttls', 'auth', 'envelope', 'data', 'rset-quit', 'reply-codes',
      'relay', 'greylisting', 'unknown-user', 'rejected-at-data', 'spf-dmarc', 'dsn', 'dsn-requests', 'tls-failures', 'all-mx-down', 'pipelining',
      'smuggling', 'capstone',
    ]);
    for (const lesson of lessons) {
      expect(lesson.steps.length, lesson.id).toBeGreaterThanOrEqual(3);
      expect(lesson.steps.length, lesson.id).toBeLessThanOrEqual(6);
    }
    expect(sandbox.steps).toEqual([]);
  });
});

describe('a broken lesson fails with the file, the field and what was expected', () => {
  it('accepts the good lesson it starts from', () => {
    expect(errorsOf(goodLesson())).toEqual([]);
  });

  it('a reply code that is a string', () => {
    const lesson = goodLesson();
    lesson.steps[2].goal = { reply: { to: 'DATA', code: '25' } };
    expect(errorsOf(lesson)).toEqual(['lessons/07-envelope.json: steps[2].goal.reply.code: expected a number 200-599, got "25"']);
  });

  it('an unknown field (a typo) and a missing one', () => {
    const lesson = goodLesson();
    lesson.steps[1].hint = lesson.steps[1].hints;
    delete lesson.steps[1].hints;
    const errors = errorsOf(lesson);
    expect(errors).toContain('lessons/07-envelope.json: steps[1].hint: unknown field (known here: id, title, instruction, goal, hints, explanation, solution)');
    expect(errors).toContain('lessons/07-envelope.json: steps[1].hints: missing');
  });

  it('an unknown goal kind, a goal with two kinds, and a bad nested field', () => {
    const lesson = goodLesson();
    lesson.steps[0].goal = { allOf: [{ replied: { to: 'MAIL' } }, { sent: { verb: 'MAIL' }, reply: { to: 'MAIL' } }, { not: { dns: { name: 'example.net', type: 'SOA' } } }] };
    const errors = errorsOf(lesson);
    expect(errors.some((e) => e.startsWith('lessons/07-envelope.json: steps[0].goal.allOf[0]: unknown goal kind "replied"'))).toBe(true);
    expect(errors.some((e) => e.startsWith('lessons/07-envelope.json: steps[0].goal.allOf[1]: expected exactly one goal kind'))).toBe(true);
    expect(errors.some((e) => e.startsWith('lessons/07-envelope.json: steps[0].goal.allOf[2].not.dns.type: expected one of'))).toBe(true);
  });

  it('a ran goal whose outcome is not a verdict a command reports', () => {
    const lesson = goodLesson();
    lesson.steps[0].goal = { ran: { command: 'spf', outcome: 'sofftail' } };
    const errors = errorsOf(lesson);
    expect(errors).toEqual([
      'lessons/07-envelope.json: steps[0].goal.ran.outcome: expected one of "pass", "fail", "softfail", "neutral", "none", "permerror", "temperror", got "sofftail"',
    ]);
    lesson.steps[0].goal = { ran: { command: 'spf', outcome: 'softfail' } };
    expect(errorsOf(lesson)).toEqual([]);
  });

  it('a dsn goal: what a report returns and its envelope id', () => {
    const lesson = goodLesson();
    lesson.steps[0].goal = { dsn: { to: 'alice@example.com', action: 'relayed', returned: 'body', envelopeId: '' } };
    expect(errorsOf(lesson)).toEqual([
      'lessons/07-envelope.json: steps[0].goal.dsn.returned: expected one of "headers", "full", "none", got "body"',
      'lessons/07-envelope.json: steps[0].goal.dsn.envelopeId: expected a non-empty string, got ""',
    ]);
    lesson.steps[0].goal = { dsn: { to: 'alice@example.com', action: 'relayed', returned: 'headers', envelopeId: 'QQ314159' } };
    expect(errorsOf(lesson)).toEqual([]);
  });

  it('hints: fewer than two, or a last hint without the exact command', () => {
    const lesson = goodLesson();
    lesson.steps[0].hints = ['Only a nudge.'];
    lesson.steps[1].hints = ['A nudge.', 'Still only a nudge.'];
    const errors = errorsOf(lesson);
    expect(errors).toContain('lessons/07-envelope.json: steps[0].hints: expected a list of at least 2 hints (a nudge first, the exact command last), got a list');
    expect(errors.some((e) => e.startsWith('lessons/07-envelope.json: steps[1].hints[1]: expected the last hint to show the exact lines of the solution (missing "RCPT TO:<bob@example.net>")'))).toBe(true);
  });

  it('an empty solution, a duplicate step id, a host that is not in the world, a bad clock', () => {
    const lesson = goodLesson();
    lesson.steps[2].solution = [];
    lesson.steps[2].id = 'mail';
    lesson.start.hostsDown = { 'mx9.example.net': 'refused' };
    lesson.start.clock = 'tomorrow';
    const errors = errorsOf(lesson);
    expect(errors).toContain('lessons/07-envelope.json: steps[2].solution: expected a non-empty list of lines to type, got a list');
    expect(errors).toContain('lessons/07-envelope.json: steps[2].id: "mail" is used by an earlier step; step ids must be unique');
    expect(errors.some((e) => e.startsWith('lessons/07-envelope.json: start.hostsDown.mx9.example.net: expected a host of the default world'))).toBe(true);
    expect(errors).toContain('lessons/07-envelope.json: start.clock: expected "0" or a duration after the start such as "+1h", got "tomorrow"');
  });

  it('an id that does not match the file name, an invalid regular expression', () => {
    const lesson = goodLesson();
    lesson.id = 'envelopes';
    lesson.steps[0].goal = { typed: { pattern: '(unclosed' } };
    const errors = errorsOf(lesson);
    expect(errors).toContain('lessons/07-envelope.json: id: expected "envelope", the id in the file name, got "envelopes"');
    expect(errors.some((e) => e.startsWith('lessons/07-envelope.json: steps[0].goal.typed.pattern: expected a valid regular expression'))).toBe(true);
  });

  it('not an object at all', () => {
    expect(errorsOf([1, 2], 'lessons/03-x.json')[0]).toMatch(/^lessons\/03-x\.json: \(top level\): expected an object/);
  });
});

describe('the index and the course as files', () => {
  const tempDir = mkdtempSync(join(tmpdir(), 'smtp-lab-lessons-'));
  afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

  it('a broken lesson written to disk fails with its file name and field', () => {
    const lesson = goodLesson();
    lesson.steps[0].goal = { reply: { to: 'MAIL', code: 25, enhanced: 'five' } };
    const path = join(tempDir, '07-envelope.json');
    writeFileSync(path, JSON.stringify(lesson, null, 2));
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    const result = validateLesson(parsed, 'lessons/07-envelope.json');
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.errors).toEqual([
      'lessons/07-envelope.json: steps[0].goal.reply.code: expected a number 200-599, got 25',
      'lessons/07-envelope.json: steps[0].goal.reply.enhanced: expected an enhanced status code such as "5.1.1" (or a prefix such as "5.7"), got "five"',
    ]);
  });

  it('index: duplicate and malformed ids', () => {
    const result = validateIndex({ lessons: ['dns', 'dns', 'Bad Id'], sandbox: 'sandbox' }, 'lessons/index.json');
    expect(result.ok ? [] : result.errors).toEqual([
      'lessons/index.json: lessons[1]: "dns" is listed twice; lesson ids must be unique',
      'lessons/index.json: lessons[2]: expected an id of lower-case letters, digits and dashes (like "envelope"), got "Bad Id"',
    ]);
  });

  it('course: a listed lesson without its file, a file in the wrong place, a file nobody lists', () => {
    const files = courseFiles();
    const envelope = files['lessons/07-envelope.json'];
    delete files['lessons/07-envelope.json'];
    files['lessons/08-envelope.json'] = envelope;
    const result = validateCourse(files);
    const errors = result.ok ? [] : result.errors;
    expect(errors).toContain(
      'lessons/index.json: lessons[6]: lesson "envelope" should be in lessons/07-envelope.json, found lessons/08-envelope.json (the number must be its place in the index)',
    );
    expect(errors).toContain('lessons/08-envelope.json: not listed in lessons/index.json');
  });

  it('course: the sandbox must have no steps', () => {
    const files = courseFiles();
    files['lessons/sandbox.json'] = { ...(files['lessons/sandbox.json'] as object), steps: goodLesson().steps };
    const result = validateCourse(files);
    expect(result.ok ? [] : result.errors).toEqual(['lessons/sandbox.json: steps: expected no steps: the sandbox has no goals, got "3 steps"']);
  });
});
