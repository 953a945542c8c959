/**
 * The lesson file format and its validator. Lessons are JSON files (`lessons/NN-id.json`) with
 * an ordered index (`lessons/index.json`); they are checked at build time and in tests, and a
 * bad file fails with its name, the path of the field and what was expected:
 *
 *   lessons/07-envelope.json: steps[2].goal.reply.code: expected a number 200-599, got "25"
 *
 * Unknown fields are errors too, so a typo ("hint" for "hints") cannot pass unnoticed.
 */
import { defaultHosts, type DownMode } from '../sim/topology';
import { parseDuration } from '../sim/clock';
import { SPF_RESULTS } from '../sim/spfBasics';
import {
  COMBINATOR_KINDS,
  DSN_RETURNED,
  LEAF_FIELDS,
  LEAF_NEEDS_ONE_OF,
  SPECIAL_REPLY_TARGETS,
  isCombinatorKind,
  isLeafKind,
  type FieldSpec,
  type Goal,
} from './goals';

/** The world, failures and clock a lesson starts from. */
export interface LessonStart {
  world: 'default';
  /** Hosts switched down at the start, and how they fail. */
  hostsDown?: Record<string, DownMode>;
  /** The virtual clock at the start: "0" or a duration after the epoch such as "+1h". */
  clock?: string;
  mode?: 'sim';
}

export interface LessonStep {
  id: string;
  title: string;
  /** Markdown. */
  instruction: string;
  goal: Goal;
  /** From a nudge to the exact command: at least two, the last one holds every solution line. */
  hints: string[];
  /** Markdown, shown when the goal is met. */
  explanation: string;
  /** The lines to type, in order. A line with newlines in it is pasted as one block. */
  solution: string[];
}

export interface Lesson {
  id: string;
  title: string;
  summary: string;
  /** Markdown. */
  intro: string;
  start: LessonStart;
  steps: LessonStep[];
  /** Topics, for the lesson list (e.g. "RFC 5321 §3.3"). */
  teaches?: string[];
}

export interface CourseIndex {
  /** Lesson ids in course order; lesson N lives in `NN-<id>.json`. */
  lessons: string[];
  /** The id of the free-play lesson (no steps), in `<id>.json`. */
  sandbox: string;
}

export interface Course {
  lessons: Lesson[];
  sandbox: Lesson;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: string[] };
export type LessonValidation = { ok: true; lesson: Lesson } | { ok: false; errors: string[] };

export const SANDBOX_ID = 'sandbox';
const ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const MAX_STEPS = 12;

// ---------------------------------------------------------------------------------------------
// A small checker that knows where it is

function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

class Checker {
  readonly errors: string[] = [];
  constructor(private readonly fileName: string) {}

  fail(path: string, expected: string, got: unknown): void {
    this.errors.push(`${this.fileName}: ${path || '(top level)'}: expected ${expected}, got ${shown(got)}`);
  }

  note(path: string, message: string): void {
    this.errors.push(`${this.fileName}: ${path || '(top level)'}: ${message}`);
  }

  object(value: unknown, path: string, allowed: readonly string[], required: readonly string[]): value is Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail(path, `an object with ${required.join(', ') || 'fields'}`, value);
      return false;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.note(join(path, key), `unknown field (known here: ${allowed.join(', ')})`);
      }
    }
    for (const key of required) {
      if (!Object.hasOwn(value, key)) this.note(join(path, key), 'missing');
    }
    return true;
  }

  text(value: unknown, path: string, what = 'a non-empty string'): value is string {
    if (typeof value !== 'string' || value.trim() === '') {
      this.fail(path, what, value);
      return false;
    }
    return true;
  }

  id(value: unknown, path: string): value is string {
    if (typeof value !== 'string' || !ID.test(value)) {
      this.fail(path, 'an id of lower-case letters, digits and dashes (like "envelope")', value);
      return false;
    }
    return true;
  }

  list(value: unknown, path: string, min: number, what: string): value is unknown[] {
    if (!Array.isArray(value) || value.length < min) {
      this.fail(path, `a list of at least ${min} ${what}`, value);
      return false;
    }
    return true;
  }
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

// ---------------------------------------------------------------------------------------------
// Goals

const ACTORS = ['learner', 'autopilot'];
const CONTEXTS = ['shell', 'smtp', 'data', 'auth'];
const MACHINES = ['server', 'client', 'delivery'];
const DNS_TYPES = ['MX', 'A', 'AAAA', 'TXT', 'TLSA', 'CNAME'];
const DNS_STATUSES = ['NOERROR', 'NXDOMAIN', 'SERVFAIL'];
const DSN_ACTIONS = ['failed', 'delayed', 'delivered', 'relayed', 'expanded'];
/** Verdicts a checking command reports: SPF's seven results (RFC 7208 §2.6); DMARC's are among them. */
const OUTCOMES: readonly string[] = SPF_RESULTS;
const VERB = /^[A-Za-z][A-Za-z0-9-]{1,15}$/;
const HOST = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
const ADDRESS = /^[^\s@<>]+@[^\s@<>]+$/;
const ENHANCED = /^[245](?:\.\d{1,3}(?:\.\d{1,3})?)?$/;

function checkDuration(text: string): boolean {
  const body = text.replace(/^\+/, '');
  if (body === '0') return true;
  const parsed = parseDuration(body);
  return parsed.ok && /[a-z]/i.test(body);
}

function checkField(c: Checker, spec: FieldSpec, value: unknown, path: string): void {
  const oneOf = (choices: readonly (string | number)[]) => {
    if (!choices.includes(value as string | number)) c.fail(path, `one of ${choices.map((x) => JSON.stringify(x)).join(', ')}`, value);
  };
  switch (spec.type) {
    case 'text':
      c.text(value, path);
      return;
    case 'regex':
      if (c.text(value, path, 'a regular expression')) {
        try {
          new RegExp(value, 'i');
        } catch (error) {
          c.fail(path, `a valid regular expression (${(error as Error).message})`, value);
        }
      }
      return;
    case 'verb':
      if (typeof value !== 'string' || !(VERB.test(value) || (SPECIAL_REPLY_TARGETS as readonly string[]).includes(value))) {
        c.fail(path, `an SMTP verb such as "EHLO" or "RCPT" (or ${SPECIAL_REPLY_TARGETS.join(', ')} for replies)`, value);
      }
      return;
    case 'host':
      if (typeof value !== 'string' || !HOST.test(value)) c.fail(path, 'a host or domain name such as "mx1.example.net"', value);
      return;
    case 'address':
      if (typeof value !== 'string' || !ADDRESS.test(value)) c.fail(path, 'a mail address such as "bob@example.net"', value);
      return;
    case 'code':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 200 || value > 599) c.fail(path, 'a number 200-599', value);
      return;
    case 'class':
      oneOf([2, 3, 4, 5]);
      return;
    case 'enhanced':
      if (typeof value !== 'string' || !ENHANCED.test(value)) c.fail(path, 'an enhanced status code such as "5.1.1" (or a prefix such as "5.7")', value);
      return;
    case 'count':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 1000) c.fail(path, 'a whole number from 1 to 1000', value);
      return;
    case 'port':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) c.fail(path, 'a port number 1-65535', value);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') c.fail(path, 'true or false', value);
      return;
    case 'duration':
      if (typeof value !== 'string' || !checkDuration(value)) c.fail(path, 'a duration such as "10m", "+1h" or "5d"', value);
      return;
    case 'actor':
      oneOf(ACTORS);
      return;
    case 'context':
      oneOf(CONTEXTS);
      return;
    case 'machine':
      oneOf(MACHINES);
      return;
    case 'dnsType':
      oneOf(DNS_TYPES);
      return;
    case 'dnsStatus':
      oneOf(DNS_STATUSES);
      return;
    case 'dsnAction':
      oneOf(DSN_ACTIONS);
      return;
    case 'dsnReturned':
      oneOf(DSN_RETURNED);
      return;
    case 'outcome':
      oneOf(OUTCOMES);
      return;
  }
}

const GOAL_KEYS = [...Object.keys(LEAF_FIELDS), ...COMBINATOR_KINDS];

function checkGoal(c: Checker, goal: unknown, path: string, depth = 0): void {
  if (typeof goal !== 'object' || goal === null || Array.isArray(goal)) {
    c.fail(path, `a goal object with one of ${GOAL_KEYS.join(', ')}`, goal);
    return;
  }
  if (depth > 8) {
    c.note(path, 'goals nest too deep (at most 8 levels)');
    return;
  }
  const record = goal as Record<string, unknown>;
  if (Object.hasOwn(record, 'label')) c.text(record.label, join(path, 'label'));
  const keys = Object.keys(record).filter((k) => k !== 'label');
  if (keys.length !== 1) {
    c.fail(path, `exactly one goal kind (${GOAL_KEYS.join(', ')})`, keys.length === 0 ? 'none' : keys.join(' and '));
    return;
  }
  const kind = keys[0]!;
  const inner = record[kind];
  const innerPath = join(path, kind);
  if (isCombinatorKind(kind)) {
    if (kind === 'not') {
      checkGoal(c, inner, innerPath, depth + 1);
      return;
    }
    if (c.list(inner, innerPath, 1, 'goals')) inner.forEach((child, i) => checkGoal(c, child, join(innerPath, i), depth + 1));
    return;
  }
  if (!isLeafKind(kind)) {
    c.note(path, `unknown goal kind "${kind}" (known: ${GOAL_KEYS.join(', ')})`);
    return;
  }
  const fields = LEAF_FIELDS[kind] as Record<string, FieldSpec>;
  const required = Object.entries(fields).filter(([, f]) => f.required).map(([name]) => name);
  if (!c.object(inner, innerPath, Object.keys(fields), required)) return;
  for (const [name, value] of Object.entries(inner)) {
    const spec = fields[name];
    if (spec) checkField(c, spec, value, join(innerPath, name));
  }
  const needsOne = LEAF_NEEDS_ONE_OF[kind];
  if (needsOne && !needsOne.some((name) => Object.hasOwn(inner, name))) {
    c.note(innerPath, `needs one of ${needsOne.join(', ')}`);
  }
  if (kind === 'reply' && Object.hasOwn(inner, 'code') && Object.hasOwn(inner, 'class')) {
    const code = inner.code as number;
    if (Math.floor(code / 100) !== inner.class) c.note(join(innerPath, 'class'), `class ${String(inner.class)} contradicts code ${code}`);
  }
}

/** Check one goal on its own (for tools and tests); the path names the field. */
export function validateGoal(goal: unknown, fileName: string, path = 'goal'): Validated<Goal> {
  const c = new Checker(fileName);
  checkGoal(c, goal, path);
  return c.errors.length === 0 ? { ok: true, value: goal as Goal } : { ok: false, errors: c.errors };
}

// ---------------------------------------------------------------------------------------------
// Lessons

function checkStart(c: Checker, start: unknown, path: string): void {
  if (!c.object(start, path, ['world', 'hostsDown', 'clock', 'mode'], ['world'])) return;
  if (start.world !== 'default') c.fail(join(path, 'world'), '"default"', start.world);
  if (Object.hasOwn(start, 'mode') && start.mode !== 'sim') c.fail(join(path, 'mode'), '"sim"', start.mode);
  if (Object.hasOwn(start, 'clock')) {
    const clock = start.clock;
    if (typeof clock !== 'string' || !(clock === '0' || (clock.startsWith('+') && checkDuration(clock)))) {
      c.fail(join(path, 'clock'), '"0" or a duration after the start such as "+1h"', clock);
    }
  }
  if (Object.hasOwn(start, 'hostsDown')) {
    const down = start.hostsDown;
    const downPath = join(path, 'hostsDown');
    if (typeof down !== 'object' || down === null || Array.isArray(down)) {
      c.fail(downPath, 'an object of host name -> "refused" or "timeout"', down);
      return;
    }
    for (const [host, mode] of Object.entries(down)) {
      if (!Object.hasOwn(defaultHosts, host.toLowerCase())) {
        c.fail(join(downPath, host), `a host of the default world (${Object.keys(defaultHosts).slice(0, 4).join(', ')}, ...)`, host);
      } else if (mode !== 'refused' && mode !== 'timeout') {
        c.fail(join(downPath, host), '"refused" or "timeout"', mode);
      }
    }
  }
}

function checkStep(c: Checker, step: unknown, path: string): string | undefined {
  const fields = ['id', 'title', 'instruction', 'goal', 'hints', 'explanation', 'solution'];
  if (!c.object(step, path, fields, fields)) return undefined;
  c.id(step.id, join(path, 'id'));
  c.text(step.title, join(path, 'title'));
  c.text(step.instruction, join(path, 'instruction'), 'Markdown text');
  c.text(step.explanation, join(path, 'explanation'), 'Markdown text');
  if (Object.hasOwn(step, 'goal')) checkGoal(c, step.goal, join(path, 'goal'));
  let solution: string[] | undefined;
  if (Object.hasOwn(step, 'solution')) {
    const solutionPath = join(path, 'solution');
    if (!Array.isArray(step.solution) || step.solution.length === 0) c.fail(solutionPath, 'a non-empty list of lines to type', step.solution);
    else if (!step.solution.every((line) => typeof line === 'string')) c.fail(solutionPath, 'a list of strings (lines to type)', step.solution);
    else if (step.solution.every((line: string) => line.trim() === '')) c.fail(solutionPath, 'at least one line that is not blank', step.solution);
    else solution = step.solution as string[];
  }
  if (Object.hasOwn(step, 'hints')) {
    const hintsPath = join(path, 'hints');
    if (c.list(step.hints, hintsPath, 2, 'hints (a nudge first, the exact command last)')) {
      step.hints.forEach((hint, i) => c.text(hint, join(hintsPath, i), 'Markdown text'));
      const last = step.hints.at(-1);
      if (typeof last === 'string' && solution) {
        const missing = solution.flatMap((line) => line.split('\n')).filter((line) => line.trim() !== '' && !last.includes(line));
        if (missing.length > 0) {
          c.fail(join(hintsPath, step.hints.length - 1), `the last hint to show the exact lines of the solution (missing ${missing.map((m) => JSON.stringify(m)).join(', ')})`, last);
        }
      }
    }
  }
  return typeof step.id === 'string' ? step.id : undefined;
}

/** Check one lesson file's parsed JSON. `fileName` is used in every error (e.g. "lessons/07-envelope.json"). */
export function validateLesson(json: unknown, fileName: string): LessonValidation {
  const c = new Checker(fileName);
  const fields = ['id', 'title', 'summary', 'intro', 'start', 'steps', 'teaches'];
  if (!c.object(json, '', fields, ['id', 'title', 'summary', 'intro', 'start', 'steps'])) return { ok: false, errors: c.errors };
  const lesson = json;
  if (c.id(lesson.id, 'id')) {
    const base = fileName.split('/').pop() ?? fileName;
    const numbered = /^\d{2}-(.+)\.json$/.exec(base);
    const expectedId = numbered ? numbered[1] : /^(.+)\.json$/.exec(base)?.[1];
    if (expectedId !== undefined && expectedId !== lesson.id) c.fail('id', `"${expectedId}", the id in the file name`, lesson.id);
  }
  c.text(lesson.title, 'title');
  c.text(lesson.summary, 'summary');
  c.text(lesson.intro, 'intro', 'Markdown text');
  if (Object.hasOwn(lesson, 'start')) checkStart(c, lesson.start, 'start');
  if (Object.hasOwn(lesson, 'teaches')) {
    if (!Array.isArray(lesson.teaches)) c.fail('teaches', 'a list of strings', lesson.teaches);
    else lesson.teaches.forEach((topic, i) => c.text(topic, join('teaches', i)));
  }
  if (Object.hasOwn(lesson, 'steps')) {
    const isSandbox = lesson.id === SANDBOX_ID;
    if (!Array.isArray(lesson.steps)) c.fail('steps', 'a list of steps', lesson.steps);
    else if (isSandbox && lesson.steps.length > 0) c.fail('steps', 'no steps: the sandbox has no goals', `${lesson.steps.length} steps`);
    else if (!isSandbox && (lesson.steps.length === 0 || lesson.steps.length > MAX_STEPS)) c.fail('steps', `1 to ${MAX_STEPS} steps`, `${lesson.steps.length} steps`);
    else {
      const seen = new Set<string>();
      lesson.steps.forEach((step, i) => {
        const id = checkStep(c, step, join('steps', i));
        if (id !== undefined) {
          if (seen.has(id)) c.note(join(join('steps', i), 'id'), `"${id}" is used by an earlier step; step ids must be unique`);
          seen.add(id);
        }
      });
    }
  }
  return c.errors.length === 0 ? { ok: true, lesson: lesson as unknown as Lesson } : { ok: false, errors: c.errors };
}

/** Check `lessons/index.json`. */
export function validateIndex(json: unknown, fileName: string): Validated<CourseIndex> {
  const c = new Checker(fileName);
  if (!c.object(json, '', ['lessons', 'sandbox'], ['lessons', 'sandbox'])) return { ok: false, errors: c.errors };
  if (c.list(json.lessons, 'lessons', 1, 'lesson ids')) {
    const seen = new Set<string>();
    json.lessons.forEach((id, i) => {
      if (!c.id(id, join('lessons', i))) return;
      if (seen.has(id)) c.note(join('lessons', i), `"${id}" is listed twice; lesson ids must be unique`);
      seen.add(id);
    });
  }
  c.id(json.sandbox, 'sandbox');
  return c.errors.length === 0 ? { ok: true, value: json as unknown as CourseIndex } : { ok: false, errors: c.errors };
}

/** The file a lesson lives in: `lessons/07-envelope.json`, `lessons/sandbox.json`. */
export function lessonFileName(id: string, position?: number): string {
  return position === undefined ? `lessons/${id}.json` : `lessons/${String(position).padStart(2, '0')}-${id}.json`;
}

/**
 * Check the whole course: the index, every lesson it names (which must exist in the right
 * file, in order), the sandbox, and no lesson file the index does not list.
 * `files` maps file names (`lessons/index.json`, `lessons/01-big-picture.json`, ...) to parsed JSON.
 */
export function validateCourse(files: Readonly<Record<string, unknown>>): Validated<Course> {
  const indexName = 'lessons/index.json';
  if (!Object.hasOwn(files, indexName)) return { ok: false, errors: [`${indexName}: missing: the course needs an ordered index of lesson ids`] };
  const index = validateIndex(files[indexName], indexName);
  if (!index.ok) return index;
  const errors: string[] = [];
  const lessons: Lesson[] = [];
  const used = new Set<string>([indexName]);
  index.value.lessons.forEach((id, i) => {
    const name = lessonFileName(id, i + 1);
    if (!Object.hasOwn(files, name)) {
      const elsewhere = Object.keys(files).find((file) => file.endsWith(`-${id}.json`));
      errors.push(
        `${indexName}: lessons[${i}]: lesson "${id}" should be in ${name}${elsewhere ? `, found ${elsewhere} (the number must be its place in the index)` : ', no such file'}`,
      );
      return;
    }
    used.add(name);
    const result = validateLesson(files[name], name);
    if (result.ok) lessons.push(result.lesson);
    else errors.push(...result.errors);
  });
  const sandboxName = lessonFileName(index.value.sandbox);
  let sandbox: Lesson | undefined;
  if (!Object.hasOwn(files, sandboxName)) errors.push(`${indexName}: sandbox: no file ${sandboxName}`);
  else {
    used.add(sandboxName);
    const result = validateLesson(files[sandboxName], sandboxName);
    if (result.ok) sandbox = result.lesson;
    else errors.push(...result.errors);
  }
  for (const name of Object.keys(files)) {
    if (!used.has(name) && name.endsWith('.json')) errors.push(`${name}: not listed in ${indexName}`);
  }
  if (errors.length > 0 || !sandbox) return { ok: false, errors };
  return { ok: true, value: { lessons, sandbox } };
}
