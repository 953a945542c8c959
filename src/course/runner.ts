/**
 * The lesson runner's state, as pure functions over plain data: which lesson and step the
 * learner is on, where in the session record the step started, how many hints are showing,
 * and what is done. The lesson panel renders it; the browser saves it (`serialize`) and reads
 * it back after a reload (`deserialize`, which refuses a corrupt value with a reason instead
 * of crashing).
 */
import type { SessionRecord } from '../lab/record';
import { cursorIsPastEnd, cursorOf, evaluate, START_CURSOR, type Cursor, type ProgressLine } from './goals';
import type { Lesson } from './schema';

export interface ShownExplanation {
  stepId: string;
  title: string;
  /** Markdown. */
  markdown: string;
}

export interface RunnerState {
  lessonId: string;
  /** The step being worked on; equal to the number of steps once the lesson is finished. */
  stepIndex: number;
  /** Where the current step started in the session record. */
  stepStartCursor: Cursor;
  /** Hints of the current step on show (0 = none). */
  hintsShown: number;
  /** Whether the learner asked to see the current step's solution. */
  solutionShown: boolean;
  /** Step ids of the current lesson that are done. */
  completedSteps: string[];
  /** Lesson ids finished at some time (kept across lessons). */
  completedLessons: string[];
  /** The explanation of the step just completed, to show until the next one is done. */
  explanation?: ShownExplanation;
}

export const STATE_VERSION = 1;
export const STORAGE_KEY = 'smtp-lab.course.v1';

/** Open `lesson` at its first step; lessons finished before stay finished. */
export function startLesson(previous: RunnerState | undefined, lesson: Lesson, record: SessionRecord): RunnerState {
  return {
    lessonId: lesson.id,
    stepIndex: 0,
    stepStartCursor: cursorOf(record),
    hintsShown: 0,
    solutionShown: false,
    completedSteps: [],
    completedLessons: previous ? [...previous.completedLessons] : [],
  };
}

export function isLessonFinished(state: RunnerState, lesson: Lesson): boolean {
  return state.lessonId === lesson.id && lesson.steps.length > 0 && state.stepIndex >= lesson.steps.length;
}

/** The checklist of the current step (empty when the lesson is finished or has no steps). */
export function currentProgress(state: RunnerState, lesson: Lesson, record: SessionRecord): ProgressLine[] {
  const step = lesson.steps[state.stepIndex];
  if (!step || state.lessonId !== lesson.id) return [];
  return evaluate(step.goal, record, state.stepStartCursor).progress;
}

/**
 * The record changed (a line typed, a reply came, time passed): mark the current step done
 * when its goal is met and move on. The next step starts at the record as it is now, so the
 * action that finished one step never also finishes the next.
 */
export function onRecordChange(state: RunnerState, lesson: Lesson, record: SessionRecord): RunnerState {
  if (state.lessonId !== lesson.id) return state;
  let next = state;
  // A reset world (or a new lab after a reload) starts a shorter record: count from there.
  if (cursorIsPastEnd(next.stepStartCursor, record)) next = { ...next, stepStartCursor: { ...START_CURSOR, clock: record.clock } };
  const step = lesson.steps[next.stepIndex];
  if (!step) return next;
  if (!evaluate(step.goal, record, next.stepStartCursor).met) return next;
  const completedSteps = next.completedSteps.includes(step.id) ? next.completedSteps : [...next.completedSteps, step.id];
  const stepIndex = next.stepIndex + 1;
  const finished = stepIndex >= lesson.steps.length;
  return {
    ...next,
    stepIndex,
    stepStartCursor: cursorOf(record),
    hintsShown: 0,
    solutionShown: false,
    completedSteps,
    completedLessons: finished && !next.completedLessons.includes(lesson.id) ? [...next.completedLessons, lesson.id] : next.completedLessons,
    explanation: { stepId: step.id, title: step.title, markdown: step.explanation },
  };
}

/** Show one more hint of the current step (up to all of them). */
export function nextHint(state: RunnerState, lesson: Lesson): RunnerState {
  const step = lesson.steps[state.stepIndex];
  if (!step) return state;
  return { ...state, hintsShown: Math.min(state.hintsShown + 1, step.hints.length) };
}

export function showSolution(state: RunnerState): RunnerState {
  return { ...state, solutionShown: true };
}

/** Start the current step again from the record as it is now: what was done so far no longer counts. */
export function restartStep(state: RunnerState, record: SessionRecord): RunnerState {
  const { explanation: _shown, ...rest } = state;
  return { ...rest, stepStartCursor: cursorOf(record), hintsShown: 0, solutionShown: false };
}

/** Back to the first step; the lesson stays in `completedLessons` if it was finished before. */
export function restartLesson(state: RunnerState, lesson: Lesson, record: SessionRecord): RunnerState {
  return startLesson(state, lesson, record);
}

/** Forget all progress (the "reset progress" button). */
export function resetProgress(lesson: Lesson, record: SessionRecord): RunnerState {
  return startLesson(undefined, lesson, record);
}

// ---------------------------------------------------------------------------------------------
// Saving

/** The saved form: versioned, so an old format is recognised and refused rather than misread. */
export function serialize(state: RunnerState): string {
  return JSON.stringify({ version: STATE_VERSION, state });
}

export type Restored = { ok: true; state: RunnerState } | { ok: false; reason: string };

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function readCursor(value: unknown): Cursor | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const counts = ['typed', 'shell', 'wire', 'replies', 'connections', 'dns', 'deliveries', 'mailbox', 'states'] as const;
  if (!counts.every((name) => isCount(v[name]))) return undefined;
  if (typeof v.clock !== 'number' || !Number.isFinite(v.clock)) return undefined;
  if (!Array.isArray(v.tlsSeen) || !v.tlsSeen.every((id) => typeof id === 'number')) return undefined;
  const cursor = { clock: v.clock, tlsSeen: [...(v.tlsSeen as number[])] } as Cursor;
  for (const name of counts) cursor[name] = v[name] as number;
  return cursor;
}

/**
 * Read a saved state back. Anything that is not exactly what `serialize` wrote (another
 * version, a truncated string, a hand-edited value) is refused with a reason; the caller then
 * starts afresh. `lessons`, when given, also refuses a state that names an unknown lesson.
 */
export function deserialize(text: string | null | undefined, lessons?: readonly Lesson[]): Restored {
  if (text === null || text === undefined || text === '') return { ok: false, reason: 'nothing saved' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'the saved progress is not valid JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null) return { ok: false, reason: 'the saved progress is not an object' };
  const saved = parsed as { version?: unknown; state?: unknown };
  if (saved.version !== STATE_VERSION) return { ok: false, reason: `the saved progress has version ${String(saved.version)}, this app reads version ${STATE_VERSION}` };
  const s = saved.state as Record<string, unknown> | undefined;
  if (typeof s !== 'object' || s === null) return { ok: false, reason: 'the saved progress has no state' };
  if (typeof s.lessonId !== 'string' || s.lessonId === '') return { ok: false, reason: 'the saved progress names no lesson' };
  if (!isCount(s.stepIndex)) return { ok: false, reason: 'the saved step number is not a whole number' };
  if (!isCount(s.hintsShown)) return { ok: false, reason: 'the saved hint count is not a whole number' };
  if (!isStringList(s.completedSteps) || !isStringList(s.completedLessons)) return { ok: false, reason: 'the saved lists of completed steps or lessons are not lists of names' };
  const cursor = readCursor(s.stepStartCursor);
  if (!cursor) return { ok: false, reason: 'the saved step start is not a record position' };
  const lesson = lessons?.find((l) => l.id === s.lessonId);
  if (lessons && !lesson) return { ok: false, reason: `the saved lesson "${s.lessonId}" is not in this course` };
  if (lesson && (s.stepIndex as number) > lesson.steps.length) return { ok: false, reason: `the saved step ${String(s.stepIndex)} is past the end of "${lesson.id}"` };
  let explanation: ShownExplanation | undefined;
  const e = s.explanation as Record<string, unknown> | undefined;
  if (e !== undefined) {
    if (typeof e !== 'object' || e === null || typeof e.stepId !== 'string' || typeof e.title !== 'string' || typeof e.markdown !== 'string') {
      return { ok: false, reason: 'the saved explanation is malformed' };
    }
    explanation = { stepId: e.stepId, title: e.title, markdown: e.markdown };
  }
  const state: RunnerState = {
    lessonId: s.lessonId,
    stepIndex: s.stepIndex as number,
    stepStartCursor: cursor,
    hintsShown: s.hintsShown as number,
    solutionShown: s.solutionShown === true,
    completedSteps: [...(s.completedSteps as string[])],
    completedLessons: [...(s.completedLessons as string[])],
    ...(explanation ? { explanation } : {}),
  };
  return { ok: true, state };
}

/**
 * After a reload the lab is new and its record starts empty: keep the lesson, step, hints and
 * completed lists, and start counting the current step from the new record.
 */
export function resume(state: RunnerState, record: SessionRecord): RunnerState {
  return { ...state, stepStartCursor: cursorOf(record) };
}

// ---------------------------------------------------------------------------------------------
// Routes

export type Route = { kind: 'home' } | { kind: 'lesson'; id: string } | { kind: 'unknown'; hash: string };

/** `#/lesson/<id>` opens a lesson (the sandbox too: `#/lesson/sandbox`); anything else is home. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '');
  if (path === '' || path === '/') return { kind: 'home' };
  const match = /^\/lesson\/([a-z0-9]+(?:-[a-z0-9]+)*)\/?$/.exec(path);
  if (match) return { kind: 'lesson', id: match[1]! };
  return { kind: 'unknown', hash };
}

export function lessonRoute(id: string): string {
  return `#/lesson/${id}`;
}
