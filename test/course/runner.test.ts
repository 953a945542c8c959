import { describe, expect, it } from 'vitest';
import type { Lesson } from '../../src/course/schema';
import {
  currentProgress,
  deserialize,
  isLessonFinished,
  lessonRoute,
  nextHint,
  onRecordChange,
  parseRoute,
  restartLesson,
  restartStep,
  resume,
  serialize,
  showSolution,
  startLesson,
  type RunnerState,
} from '../../src/course/runner';
import { RecordBuilder, ok250, r } from './records';

const lesson: Lesson = {
  id: 'envelope',
  title: 'The envelope',
  summary: 's',
  intro: 'i',
  start: { world: 'default' },
  steps: [
    {
      id: 'ehlo',
      title: 'EHLO',
      instruction: 'Say EHLO.',
      goal: { reply: { to: 'EHLO', code: 250 } },
      hints: ['Greet.', 'EHLO a.example', 'really: EHLO a.example'],
      explanation: 'EHLO done.',
      solution: ['EHLO a.example'],
    },
    {
      id: 'mail',
      title: 'MAIL',
      instruction: 'MAIL.',
      goal: { reply: { to: 'MAIL', code: 250 } },
      hints: ['Sender.', 'MAIL FROM:<a@example.com>'],
      explanation: 'MAIL done.',
      solution: ['MAIL FROM:<a@example.com>'],
    },
    {
      id: 'rcpt',
      title: 'RCPT',
      instruction: 'RCPT.',
      goal: { allOf: [{ reply: { to: 'RCPT', code: 250 } }, { sent: { verb: 'RCPT' } }] },
      hints: ['Recipient.', 'RCPT TO:<b@example.net>'],
      explanation: 'RCPT done.',
      solution: ['RCPT TO:<b@example.net>'],
    },
  ],
};

function started(b: RecordBuilder): RunnerState {
  return startLesson(undefined, lesson, b.record);
}

describe('runner transitions', () => {
  it('marks steps done as goals are met, one step per change, with the explanation to show', () => {
    const b = new RecordBuilder().connect('mx1.example.net');
    let state = started(b);
    state = onRecordChange(state, lesson, b.record);
    expect(state.stepIndex).toBe(0);
    b.command('EHLO a.example', ok250());
    state = onRecordChange(state, lesson, b.record);
    expect(state.stepIndex).toBe(1);
    expect(state.completedSteps).toEqual(['ehlo']);
    expect(state.explanation).toEqual({ stepId: 'ehlo', title: 'EHLO', markdown: 'EHLO done.' });
    // The same record does not finish the next step: its goal counts only what comes next.
    expect(onRecordChange(state, lesson, b.record)).toEqual(state);
  });

  it('an earlier step\'s action does not satisfy a later step', () => {
    const b = new RecordBuilder().connect('mx1.example.net').command('EHLO a.example', ok250()).command('MAIL FROM:<a@example.com>', ok250());
    let state = started(b);
    state = onRecordChange(state, lesson, b.record);
    expect(state.stepIndex).toBe(0); // the EHLO came before the lesson started
    b.command('EHLO a.example', ok250());
    state = onRecordChange(state, lesson, b.record);
    expect(state.stepIndex).toBe(1);
    state = onRecordChange(state, lesson, b.record);
    expect(state.stepIndex).toBe(1); // the old MAIL does not count
  });

  it('a wrong action (RCPT before MAIL, answered 503) does not complete the step', () => {
    const b = new RecordBuilder().connect('mx1.example.net');
    let state = started(b);
    b.command('EHLO a.example', ok250());
    state = onRecordChange(state, lesson, b.record);
    b.command('MAIL FROM:<a@example.com>', ok250());
    state = onRecordChange(state, lesson, b.record);
    expect(state.stepIndex).toBe(2);
    b.command('RSET', ok250()).command('RCPT TO:<b@example.net>', r(503, '5.5.1'));
    state = onRecordChange(state, lesson, b.record);
    expect(state.stepIndex).toBe(2);
    expect(currentProgress(state, lesson, b.record)).toEqual([
      { label: 'get a 250 reply to RCPT', met: false },
      { label: 'send RCPT', met: true },
    ]);
  });

  it('finishing the last step finishes the lesson once', () => {
    const b = new RecordBuilder().connect('mx1.example.net');
    let state = started(b);
    for (const [line] of [['EHLO a.example'], ['MAIL FROM:<a@example.com>'], ['RCPT TO:<b@example.net>']]) {
      b.command(line!, ok250());
      state = onRecordChange(state, lesson, b.record);
    }
    expect(isLessonFinished(state, lesson)).toBe(true);
    expect(state.completedLessons).toEqual(['envelope']);
    expect(state.completedSteps).toEqual(['ehlo', 'mail', 'rcpt']);
    expect(onRecordChange(state, lesson, b.record)).toEqual(state);
    const again = restartLesson(state, lesson, b.record);
    expect(again.stepIndex).toBe(0);
    expect(again.completedSteps).toEqual([]);
    expect(again.completedLessons).toEqual(['envelope']);
  });

  it('hints one at a time, capped; the solution on request; both cleared by a restart of the step', () => {
    const b = new RecordBuilder().connect('mx1.example.net');
    let state = started(b);
    state = nextHint(nextHint(nextHint(nextHint(state, lesson), lesson), lesson), lesson);
    expect(state.hintsShown).toBe(3);
    state = showSolution(state);
    b.command('EHLO a.example', ok250());
    state = restartStep(state, b.record);
    expect(state.hintsShown).toBe(0);
    expect(state.solutionShown).toBe(false);
    // Restarting the step forgets the EHLO typed before the restart.
    expect(onRecordChange(state, lesson, b.record).stepIndex).toBe(0);
  });

  it('a world reset (a shorter record) restarts counting instead of getting stuck', () => {
    const b = new RecordBuilder().connect('mx1.example.net').command('NOOP', ok250()).command('NOOP', ok250()).command('NOOP', ok250());
    let state = started(b);
    // After `reset` the lab's record starts again from nothing and is shorter than the cursor.
    const fresh = new RecordBuilder().connect('mx1.example.net').command('EHLO a.example', ok250());
    state = onRecordChange(state, lesson, fresh.record);
    expect(state.stepIndex).toBe(1);
  });
});

describe('saving progress', () => {
  it('round-trips through serialize and deserialize', () => {
    const b = new RecordBuilder().connect('mx1.example.net');
    let state = started(b);
    b.command('EHLO a.example', ok250());
    state = nextHint(onRecordChange(state, lesson, b.record), lesson);
    const restored = deserialize(serialize(state), [lesson]);
    expect(restored).toEqual({ ok: true, state });
  });

  it('after a reload the step counts from the new record', () => {
    const b = new RecordBuilder().connect('mx1.example.net').command('EHLO a.example', ok250());
    const state = onRecordChange(started(new RecordBuilder()), lesson, b.record);
    const restored = deserialize(serialize(state), [lesson]);
    if (!restored.ok) throw new Error(restored.reason);
    const fresh = new RecordBuilder();
    let resumed = resume(restored.state, fresh.record);
    expect(resumed.stepIndex).toBe(1);
    fresh.connect('mx1.example.net').command('MAIL FROM:<a@example.com>', ok250());
    resumed = onRecordChange(resumed, lesson, fresh.record);
    expect(resumed.stepIndex).toBe(2);
  });

  it('refuses corrupt or foreign values with a reason, never a crash', () => {
    const state = started(new RecordBuilder());
    const good = JSON.parse(serialize(state));
    const cases: [string | null, RegExp][] = [
      [null, /nothing saved/],
      ['', /nothing saved/],
      ['{"version":1,"state":', /not valid JSON/],
      ['42', /not an object/],
      ['null', /not an object/],
      [JSON.stringify({ ...good, version: 0 }), /version 0/],
      [JSON.stringify({ version: 1 }), /no state/],
      [JSON.stringify({ version: 1, state: { ...good.state, lessonId: 7 } }), /names no lesson/],
      [JSON.stringify({ version: 1, state: { ...good.state, stepIndex: -1 } }), /step number/],
      [JSON.stringify({ version: 1, state: { ...good.state, hintsShown: 'two' } }), /hint count/],
      [JSON.stringify({ version: 1, state: { ...good.state, completedLessons: 'all' } }), /completed/],
      [JSON.stringify({ version: 1, state: { ...good.state, stepStartCursor: { typed: 1 } } }), /record position/],
      [JSON.stringify({ version: 1, state: { ...good.state, lessonId: 'gone' } }), /not in this course/],
      [JSON.stringify({ version: 1, state: { ...good.state, stepIndex: 9 } }), /past the end/],
      [JSON.stringify({ version: 1, state: { ...good.state, explanation: { stepId: 1 } } }), /explanation/],
    ];
    for (const [text, reason] of cases) {
      const result = deserialize(text, [lesson]);
      expect(result.ok, String(text)).toBe(false);
      if (!result.ok) expect(result.reason, String(text)).toMatch(reason);
    }
  });
});

describe('routes', () => {
  it('#/lesson/<id> opens a lesson; anything else is home or unknown', () => {
    expect(parseRoute('#/lesson/envelope')).toEqual({ kind: 'lesson', id: 'envelope' });
    expect(parseRoute(lessonRoute('all-mx-down'))).toEqual({ kind: 'lesson', id: 'all-mx-down' });
    expect(parseRoute('')).toEqual({ kind: 'home' });
    expect(parseRoute('#/')).toEqual({ kind: 'home' });
    expect(parseRoute('#/lesson/<script>')).toEqual({ kind: 'unknown', hash: '#/lesson/<script>' });
  });
});
