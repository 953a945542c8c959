/**
 * The lesson panel's state: the course (loaded on demand and validated), the runner's state for
 * the lesson on show, and the checklist of the current step, kept in step with the lab's session
 * record. Progress is saved in the browser after every change and read back on load; a link
 * `#/lesson/<id>` opens a lesson.
 *
 * The rules (what completes a step, what a restart keeps) live in src/course/runner.ts; this file
 * only wires them to the lab, the address bar and localStorage.
 */
import type { Lab } from '../../lab/lab';
import { cursorIsPastEnd, cursorOf, recordUpTo, type Cursor, type ProgressLine } from '../../course/goals';
import {
  STORAGE_KEY,
  currentProgress,
  deserialize,
  isLessonFinished,
  lessonRoute,
  nextHint,
  onRecordChange,
  parseRoute,
  resetProgress,
  restartLesson,
  restartStep,
  resume,
  serialize,
  showSolution,
  startLesson,
  type RunnerState,
} from '../../course/runner';
import { validateCourse, type Course, type Lesson, type LessonStart } from '../../course/schema';
import { labStartOf, restartLab } from './labStart';

/** Every lesson file, each its own small chunk, fetched when the panel first needs the course. */
const lessonFiles = import.meta.glob<unknown>('../../../lessons/*.json', { import: 'default' });

export type CourseLoad = { ok: true; course: Course } | { ok: false; errors: string[] };

/** Loads `lessons/*.json` and checks them all; a broken file gives its name, field and what was expected. */
export async function loadCourse(): Promise<CourseLoad> {
  let files: Record<string, unknown>;
  try {
    const entries = await Promise.all(
      Object.entries(lessonFiles).map(async ([path, load]) => [`lessons/${path.split('/').pop()}`, await load()] as const),
    );
    files = Object.fromEntries(entries);
  } catch (error) {
    return { ok: false, errors: [`The lesson files could not be fetched (${error instanceof Error ? error.message : String(error)}).`] };
  }
  const checked = validateCourse(files);
  return checked.ok ? { ok: true, course: checked.value } : { ok: false, errors: checked.errors };
}

/** Where progress is kept: localStorage in the page, anything with the same three methods in tests. */
export type ProgressStore = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export interface CourseOptions {
  /** Resets the lab's world to a lesson's start. Defaults to the shell's `reset` plus the lesson's hosts and clock. */
  restart?: (lab: Lab, start: LessonStart) => Promise<void>;
  store?: ProgressStore;
  /** Where a note goes when saved progress is unreadable and is ignored. */
  warn?: (message: string) => void;
  /**
   * Runs `check` once the terminal shows everything the lab printed so far. The autopilot's
   * lines are paced for reading; a step must not tick off while they are still coming in.
   * Default: at once.
   */
  afterOutput?: (check: () => void) => void;
}

function browserStore(): ProgressStore | undefined {
  try {
    return globalThis.localStorage;
  } catch {
    // Storage switched off (some private modes throw on access): progress lasts for this page only.
    return undefined;
  }
}

export class CourseState {
  status: 'loading' | 'ready' | 'broken' = $state('loading');
  /** Validation errors when the course is broken, one line each naming file and field. */
  errors: readonly string[] = $state.raw([]);
  course: Course | undefined = $state.raw(undefined);
  /** Undefined until a lesson is opened (or restored). */
  runner: RunnerState | undefined = $state.raw(undefined);
  /** The current step's checklist. */
  progress: readonly ProgressLine[] = $state.raw([]);
  /** For the live region: the last step or lesson completed. */
  announcement = $state('');
  /** A problem with the address (an unknown lesson), shown above the course list. */
  notice = $state('');
  /** True while the world is being reset for a lesson. */
  busy = $state(false);

  readonly lesson: Lesson | undefined = $derived(this.findLesson(this.runner?.lessonId));
  /** 1-based place in the course; undefined for the sandbox. */
  readonly lessonNumber: number | undefined = $derived.by(() => {
    const index = this.course?.lessons.findIndex((l) => l.id === this.runner?.lessonId) ?? -1;
    return index >= 0 ? index + 1 : undefined;
  });
  readonly finished: boolean = $derived(this.lesson !== undefined && this.runner !== undefined && isLessonFinished(this.runner, this.lesson));
  readonly nextLesson: Lesson | undefined = $derived(this.lessonNumber !== undefined ? this.course?.lessons[this.lessonNumber] : undefined);

  private lab: Lab | undefined;
  private restarting = false;
  private unsubscribe: (() => void) | undefined;
  private readonly restartWorld: (lab: Lab, start: LessonStart) => Promise<void>;
  private readonly store: ProgressStore | undefined;
  private readonly warn: (message: string) => void;
  private readonly afterOutput: (check: () => void) => void;

  constructor(options: CourseOptions = {}) {
    this.restartWorld = options.restart ?? restartLab;
    this.store = options.store ?? browserStore();
    this.warn = options.warn ?? ((message) => console.warn(message));
    this.afterOutput = options.afterOutput ?? ((check) => check());
  }

  findLesson(id: string | undefined): Lesson | undefined {
    if (!id || !this.course) return undefined;
    return this.course.sandbox.id === id ? this.course.sandbox : this.course.lessons.find((l) => l.id === id);
  }

  isDone(lessonId: string): boolean {
    return this.runner?.completedLessons.includes(lessonId) ?? false;
  }

  // ── Start: the course, the lab, then the saved progress and the address ─────────────────────

  async load(): Promise<void> {
    const loaded = await loadCourse();
    if (loaded.ok) {
      this.course = loaded.course;
      this.status = 'ready';
    } else {
      this.errors = loaded.errors;
      this.status = 'broken';
      this.warn(`smtp-lab: the lessons failed validation:\n${loaded.errors.join('\n')}`);
    }
  }

  /** Follows `lab`: every change of its record re-checks the current step. Returns the unwiring. */
  async attach(lab: Lab, hash: string): Promise<() => void> {
    this.unsubscribe?.();
    this.lab = lab;
    const off = lab.subscribe(() => {
      // Where the record is at this change. The check waits until the terminal has shown the
      // autopilot's output, and a quick learner may have typed the next step's command by then:
      // that command must count for the next step, not vanish into this one.
      const at = cursorOf(lab.record);
      this.afterOutput(() => this.onLabChange(at));
    });
    this.unsubscribe = off;
    if (this.status === 'ready') await this.restore(hash);
    return () => {
      off();
      if (this.unsubscribe === off) this.unsubscribe = undefined;
      if (this.lab === lab) this.lab = undefined;
    };
  }

  /** The saved progress, then the address: a link to a lesson wins over where the learner was. */
  private async restore(hash: string): Promise<void> {
    const lab = this.lab;
    const course = this.course;
    if (!lab || !course) return;
    const text = this.read();
    const saved = deserialize(text, [...course.lessons, course.sandbox]);
    if (!saved.ok && text !== null && text !== undefined && text !== '') {
      this.warn(`smtp-lab: saved lesson progress ignored (${saved.reason}); starting afresh.`);
    }
    const route = parseRoute(hash);
    const wanted = route.kind === 'lesson' ? this.findLesson(route.id) : undefined;
    if (route.kind === 'lesson' && !wanted) this.notice = `There is no lesson "${route.id}". Choose one from the list.`;
    // A new page has a new, empty lab: the world needs the lesson's hosts and clock, not a reset.
    if (saved.ok && (!wanted || wanted.id === saved.state.lessonId)) {
      const lesson = this.findLesson(saved.state.lessonId)!;
      lab.restart(labStartOf(lesson.start));
      this.commit(resume(saved.state, lab.record));
      // Show where the learner is; a share link (#/share/...) keeps its address.
      if (route.kind === 'home') history.replaceState(null, '', lessonRoute(lesson.id));
      return;
    }
    if (wanted) {
      lab.restart(labStartOf(wanted.start));
      this.commit(startLesson(saved.ok ? saved.state : undefined, wanted, lab.record));
    }
  }

  /** The address changed (a link in the list, "Next lesson", the back button). */
  async followRoute(hash: string): Promise<void> {
    const route = parseRoute(hash);
    if (route.kind !== 'lesson') return;
    const lesson = this.findLesson(route.id);
    if (!lesson) {
      this.notice = `There is no lesson "${route.id}". Choose one from the list.`;
      return;
    }
    this.notice = '';
    if (this.runner?.lessonId === lesson.id) return;
    await this.open(lesson);
  }

  /** Opens a lesson at its first step, in a world reset to the lesson's start. */
  async open(lesson: Lesson): Promise<void> {
    const lab = this.lab;
    if (!lab) return;
    await this.resetWorld(lab, lesson);
    this.announcement = `Lesson opened: ${lesson.title}.`;
    this.commit(startLesson(this.runner, lesson, lab.record));
  }

  // ── The learner's buttons ───────────────────────────────────────────────────────────────

  hint(): void {
    if (this.runner && this.lesson) this.commit(nextHint(this.runner, this.lesson));
  }

  solution(): void {
    if (this.runner) this.commit(showSolution(this.runner));
  }

  restartStep(): void {
    if (this.runner && this.lab) {
      this.commit(restartStep(this.runner, this.lab.record));
      this.announcement = 'Step restarted: what you did before no longer counts.';
    }
  }

  async restartLesson(): Promise<void> {
    const lab = this.lab;
    const lesson = this.lesson;
    if (!lab || !lesson || !this.runner) return;
    await this.resetWorld(lab, lesson);
    this.commit(restartLesson(this.runner, lesson, lab.record));
    this.announcement = `Lesson restarted: ${lesson.title}. The world is as new.`;
  }

  /** Forgets every completed step and lesson; the lesson on show starts again at its first step. */
  resetProgress(): void {
    const lab = this.lab;
    const lesson = this.lesson;
    try {
      this.store?.removeItem(STORAGE_KEY);
    } catch {
      // Nothing to clear when storage is off.
    }
    if (lab && lesson) this.commit(resetProgress(lesson, lab.record));
    else this.runner = undefined;
    this.announcement = 'Progress reset: no lessons or steps are marked done.';
  }

  // ── Internals ───────────────────────────────────────────────────────────────────────────

  private async resetWorld(lab: Lab, lesson: Lesson): Promise<void> {
    this.restarting = true;
    this.busy = true;
    try {
      await this.restartWorld(lab, lesson.start);
    } finally {
      this.restarting = false;
      this.busy = false;
    }
  }

  private onLabChange(at: Cursor): void {
    const lab = this.lab;
    if (!lab || this.restarting) return;
    const lesson = this.lesson;
    if (!this.runner || !lesson) return;
    const before = this.runner;
    // The record as of the change this check is for; one from before this step began (or from
    // a world since reset) is judged on the record as it is.
    const then = recordUpTo(lab.record, at);
    const record = cursorIsPastEnd(before.stepStartCursor, then) ? lab.record : then;
    const next = onRecordChange(before, lesson, record);
    if (next === before) {
      this.progress = currentProgress(before, lesson, lab.record);
      return;
    }
    if (next.stepIndex > before.stepIndex) {
      const done = lesson.steps[before.stepIndex]!;
      const count = `Step ${before.stepIndex + 1} of ${lesson.steps.length} done: ${done.title}.`;
      this.announcement = isLessonFinished(next, lesson) ? `${count} Lesson complete: ${lesson.title}.` : count;
    }
    this.commit(next);
  }

  private commit(next: RunnerState): void {
    this.runner = next;
    const lesson = this.findLesson(next.lessonId);
    this.progress = lesson && this.lab ? currentProgress(next, lesson, this.lab.record) : [];
    this.save(next);
  }

  private read(): string | null {
    try {
      return this.store?.getItem(STORAGE_KEY) ?? null;
    } catch {
      return null;
    }
  }

  private save(state: RunnerState): void {
    try {
      this.store?.setItem(STORAGE_KEY, serialize(state));
    } catch (error) {
      // Full or switched off: the lesson goes on, it just will not survive a reload.
      this.warn(`smtp-lab: lesson progress could not be saved (${error instanceof Error ? error.message : String(error)}).`);
    }
  }
}
