/**
 * The terminal's line editor as a pure reducer: `reduce(state, key)` gives the next state, the
 * abstract draw operations that show the change, and the lines the user submitted.
 *
 * Why pure: the editor is where most keyboard behaviour lives (history, completion, paste), and
 * a reducer can be tested key by key without a browser. Drawing is the renderer's job
 * (terminalRenderer.ts); sending lines is the caller's.
 *
 * Positions (`cursor`) count Unicode code points, not UTF-16 units, so an address such as
 * `用户@例子.test` or an emoji in a Subject edits as one character per glyph.
 */

/** What one keystroke (or one paste) means to the editor. */
export type EditorKey =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'paste'; readonly text: string }
  | {
      readonly kind:
        | 'enter'
        | 'backspace'
        | 'delete'
        | 'left'
        | 'right'
        | 'wordLeft'
        | 'wordRight'
        | 'home'
        | 'end'
        | 'up'
        | 'down'
        | 'tab'
        | 'interrupt' // Ctrl-C
        | 'eof' // Ctrl-D
        | 'escape' // Ctrl-]: telnet's escape character, leaves a session
        | 'clearScreen' // Ctrl-L
        | 'killToStart' // Ctrl-U
        | 'killToEnd' // Ctrl-K
        | 'killWord'; // Ctrl-W
    };

/** The part of the state that is on screen: one prompt and one edited line. */
export interface LineView {
  readonly prompt: string;
  readonly buffer: string;
  /** Code points from the start of `buffer`. */
  readonly cursor: number;
}

export interface EditorState extends LineView {
  /** Submitted lines, oldest first. */
  readonly history: readonly string[];
  /** Index into `history` being shown; `history.length` means the user's own draft. */
  readonly historyIndex: number;
  /** The line being typed before the user went up into history; Down brings it back. */
  readonly draft: string;
}

/** Abstract drawing, turned into escape sequences by terminalRenderer.ts. */
export type DrawOp =
  /** Replace what is drawn of the edit line with this view. */
  | { readonly op: 'draw'; readonly view: LineView }
  /** Leave the drawn line as it is and start a fresh one below it. */
  | { readonly op: 'newline' }
  /** Mark the drawn line as abandoned (`^C`) and start a fresh one. */
  | { readonly op: 'cancel' }
  | { readonly op: 'clearScreen' }
  | { readonly op: 'bell' }
  /** Show completion candidates below the drawn line, then start a fresh one. */
  | { readonly op: 'list'; readonly items: readonly string[] };

/** Signals for the caller that are not lines: Ctrl-C, Ctrl-D on an empty line, Ctrl-]. */
export type EditorSignal = 'interrupt' | 'eof' | 'escape';

export interface EditorResult {
  readonly state: EditorState;
  readonly output: readonly DrawOp[];
  /** Lines completed by this key: one for Enter, several for a paste of many lines. */
  readonly submitted: readonly string[];
  readonly signal?: EditorSignal;
}

/**
 * Offers completions for the word that ends at `cursor` (code points). `start` is where that
 * word begins; every candidate replaces `line[start..cursor]`.
 */
export type Completer = (
  line: string,
  cursor: number,
) => { readonly start: number; readonly candidates: readonly string[] };

export interface EditorContext {
  readonly complete?: Completer;
  /** Whether submitted lines go into history (false for message lines in DATA mode). */
  readonly remember?: boolean;
}

export const HISTORY_LIMIT = 500;

export function createEditor(prompt: string, history: readonly string[] = []): EditorState {
  const kept = history.slice(-HISTORY_LIMIT);
  return { prompt, buffer: '', cursor: 0, history: kept, historyIndex: kept.length, draft: '' };
}

export function viewOf(state: LineView): LineView {
  return { prompt: state.prompt, buffer: state.buffer, cursor: state.cursor };
}

/** A new prompt (shell, session, DATA) keeps the line being typed. */
export function withPrompt(state: EditorState, prompt: string): EditorResult {
  if (prompt === state.prompt) return { state, output: [], submitted: [] };
  const next = { ...state, prompt };
  return { state: next, output: [{ op: 'draw', view: viewOf(next) }], submitted: [] };
}

const chars = (text: string): string[] => Array.from(text);

/** Drops control characters so nothing typed can move the terminal's cursor by itself. */
function printable(text: string): string {
  // C0 controls, DEL and C1 controls; TAB is completion, not text.
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
}

function withBuffer(state: EditorState, buffer: string, cursor: number): EditorState {
  return { ...state, buffer, cursor };
}

function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t';
}

function wordStartBefore(cs: readonly string[], cursor: number): number {
  let i = cursor;
  while (i > 0 && isSpace(cs[i - 1])) i--;
  while (i > 0 && !isSpace(cs[i - 1])) i--;
  return i;
}

function wordEndAfter(cs: readonly string[], cursor: number): number {
  let i = cursor;
  while (i < cs.length && isSpace(cs[i])) i++;
  while (i < cs.length && !isSpace(cs[i])) i++;
  return i;
}

function remember(history: readonly string[], line: string): readonly string[] {
  // Like bash's ignoredups + ignorespace: blank lines and immediate repeats add nothing.
  if (line.trim() === '' || history[history.length - 1] === line) return history;
  const next = [...history, line];
  return next.length > HISTORY_LIMIT ? next.slice(next.length - HISTORY_LIMIT) : next;
}

function submit(state: EditorState, lines: readonly string[], context: EditorContext): EditorState {
  let history = state.history;
  if (context.remember !== false) for (const line of lines) history = remember(history, line);
  return { ...state, buffer: '', cursor: 0, history, historyIndex: history.length, draft: '' };
}

/** Longest prefix shared by all candidates, compared without case (SMTP verbs are case-free). */
function commonPrefix(candidates: readonly string[]): string {
  if (candidates.length === 0) return '';
  let prefix = chars(candidates[0]);
  for (const candidate of candidates.slice(1)) {
    const cs = chars(candidate);
    let n = 0;
    while (n < prefix.length && n < cs.length && prefix[n].toLowerCase() === cs[n].toLowerCase()) n++;
    prefix = prefix.slice(0, n);
  }
  return prefix.join('');
}

function redraw(state: EditorState, before: EditorState): EditorResult {
  const changed =
    state.buffer !== before.buffer || state.cursor !== before.cursor || state.prompt !== before.prompt;
  return { state, output: changed ? [{ op: 'draw', view: viewOf(state) }] : [], submitted: [] };
}

function complete(state: EditorState, context: EditorContext): EditorResult {
  if (!context.complete) return { state, output: [{ op: 'bell' }], submitted: [] };
  const cs = chars(state.buffer);
  const { start, candidates } = context.complete(state.buffer, state.cursor);
  const typed = cs.slice(start, state.cursor).join('');
  const unique = [...new Set(candidates)];
  if (unique.length === 0) return { state, output: [{ op: 'bell' }], submitted: [] };
  const insert =
    unique.length === 1
      ? // A finished word gets its separating space, unless it ends in something still open.
        unique[0] + (/[<:=/]$/.test(unique[0]) ? '' : ' ')
      : commonPrefix(unique);
  if (chars(insert).length > chars(typed).length || (unique.length === 1 && insert !== typed)) {
    const head = cs.slice(0, start).join('');
    const tail = cs.slice(state.cursor).join('');
    const next = withBuffer(state, head + insert + tail, start + chars(insert).length);
    return redraw(next, state);
  }
  if (unique.length === 1) return { state, output: [], submitted: [] };
  // Nothing more to add: show the choices, then the line again under them (like bash).
  return {
    state,
    output: [{ op: 'list', items: unique }, { op: 'draw', view: viewOf(state) }],
    submitted: [],
  };
}

function paste(state: EditorState, text: string, context: EditorContext): EditorResult {
  const pieces = text.replace(/\r\n?/g, '\n').split('\n').map(printable);
  const cs = chars(state.buffer);
  const head = cs.slice(0, state.cursor).join('');
  const tail = cs.slice(state.cursor).join('');
  if (pieces.length === 1) {
    const inserted = head + pieces[0] + tail;
    return redraw(withBuffer(state, inserted, state.cursor + chars(pieces[0]).length), state);
  }
  // Every complete line is submitted; the piece after the last newline stays in the editor.
  const lines = pieces.slice(0, -1);
  lines[0] = head + lines[0] + tail;
  const rest = pieces[pieces.length - 1];
  const output: DrawOp[] = [];
  for (const line of lines) {
    output.push({ op: 'draw', view: { prompt: state.prompt, buffer: line, cursor: chars(line).length } });
    output.push({ op: 'newline' });
  }
  const next = withBuffer(submit(state, lines, context), rest, chars(rest).length);
  output.push({ op: 'draw', view: viewOf(next) });
  return { state: next, output, submitted: lines };
}

export function reduce(state: EditorState, key: EditorKey, context: EditorContext = {}): EditorResult {
  const cs = chars(state.buffer);
  const { cursor } = state;
  switch (key.kind) {
    case 'text': {
      if (/[\r\n]/.test(key.text)) return paste(state, key.text, context);
      const text = printable(key.text);
      if (text === '') return { state, output: [], submitted: [] };
      const buffer = cs.slice(0, cursor).join('') + text + cs.slice(cursor).join('');
      return redraw(withBuffer(state, buffer, cursor + chars(text).length), state);
    }
    case 'paste':
      return paste(state, key.text, context);
    case 'enter': {
      const line = state.buffer;
      const shown = { ...state, cursor: cs.length };
      const next = submit(state, [line], context);
      return {
        state: next,
        output: [
          { op: 'draw', view: viewOf(shown) },
          { op: 'newline' },
          { op: 'draw', view: viewOf(next) },
        ],
        submitted: [line],
      };
    }
    case 'backspace':
      if (cursor === 0) return { state, output: [{ op: 'bell' }], submitted: [] };
      return redraw(withBuffer(state, [...cs.slice(0, cursor - 1), ...cs.slice(cursor)].join(''), cursor - 1), state);
    case 'delete':
      if (cursor >= cs.length) return { state, output: [], submitted: [] };
      return redraw(withBuffer(state, [...cs.slice(0, cursor), ...cs.slice(cursor + 1)].join(''), cursor), state);
    case 'eof':
      // Ctrl-D: end of input on an empty line (as in a shell), delete-forward otherwise.
      if (cs.length === 0) return { state, output: [], submitted: [], signal: 'eof' };
      return reduce(state, { kind: 'delete' }, context);
    case 'left':
      return redraw(withBuffer(state, state.buffer, Math.max(0, cursor - 1)), state);
    case 'right':
      return redraw(withBuffer(state, state.buffer, Math.min(cs.length, cursor + 1)), state);
    case 'wordLeft':
      return redraw(withBuffer(state, state.buffer, wordStartBefore(cs, cursor)), state);
    case 'wordRight':
      return redraw(withBuffer(state, state.buffer, wordEndAfter(cs, cursor)), state);
    case 'home':
      return redraw(withBuffer(state, state.buffer, 0), state);
    case 'end':
      return redraw(withBuffer(state, state.buffer, cs.length), state);
    case 'up': {
      if (state.historyIndex === 0) return { state, output: [{ op: 'bell' }], submitted: [] };
      const draft = state.historyIndex === state.history.length ? state.buffer : state.draft;
      const index = state.historyIndex - 1;
      const line = state.history[index];
      return redraw({ ...state, draft, historyIndex: index, buffer: line, cursor: chars(line).length }, state);
    }
    case 'down': {
      if (state.historyIndex >= state.history.length) return { state, output: [{ op: 'bell' }], submitted: [] };
      const index = state.historyIndex + 1;
      const line = index === state.history.length ? state.draft : state.history[index];
      return redraw({ ...state, historyIndex: index, buffer: line, cursor: chars(line).length }, state);
    }
    case 'tab':
      return complete(state, context);
    case 'interrupt': {
      const next = { ...state, buffer: '', cursor: 0, historyIndex: state.history.length, draft: '' };
      return {
        state: next,
        output: [{ op: 'cancel' }, { op: 'draw', view: viewOf(next) }],
        submitted: [],
        signal: 'interrupt',
      };
    }
    case 'escape':
      return { state, output: [], submitted: [], signal: 'escape' };
    case 'clearScreen':
      return { state, output: [{ op: 'clearScreen' }, { op: 'draw', view: viewOf(state) }], submitted: [] };
    case 'killToStart':
      return redraw(withBuffer(state, cs.slice(cursor).join(''), 0), state);
    case 'killToEnd':
      return redraw(withBuffer(state, cs.slice(0, cursor).join(''), cursor), state);
    case 'killWord': {
      const start = wordStartBefore(cs, cursor);
      return redraw(withBuffer(state, [...cs.slice(0, start), ...cs.slice(cursor)].join(''), start), state);
    }
  }
}

/** Escape sequences xterm sends for editing keys, in both cursor-key modes. */
const SEQUENCES: ReadonlyArray<readonly [string, EditorKey['kind']]> = [
  ['\x1b[A', 'up'],
  ['\x1bOA', 'up'],
  ['\x1b[B', 'down'],
  ['\x1bOB', 'down'],
  ['\x1b[C', 'right'],
  ['\x1bOC', 'right'],
  ['\x1b[D', 'left'],
  ['\x1bOD', 'left'],
  ['\x1b[H', 'home'],
  ['\x1bOH', 'home'],
  ['\x1b[1~', 'home'],
  ['\x1b[7~', 'home'],
  ['\x1b[F', 'end'],
  ['\x1bOF', 'end'],
  ['\x1b[4~', 'end'],
  ['\x1b[8~', 'end'],
  ['\x1b[3~', 'delete'],
  ['\x1b[1;5D', 'wordLeft'],
  ['\x1b[1;5C', 'wordRight'],
  ['\x1bb', 'wordLeft'],
  ['\x1bf', 'wordRight'],
];

const CONTROLS: Readonly<Record<string, EditorKey['kind']>> = {
  '\r': 'enter',
  '\n': 'enter',
  '\x7f': 'backspace',
  '\b': 'backspace',
  '\t': 'tab',
  '\x01': 'home', // Ctrl-A
  '\x02': 'left', // Ctrl-B
  '\x03': 'interrupt', // Ctrl-C
  '\x04': 'eof', // Ctrl-D
  '\x05': 'end', // Ctrl-E
  '\x06': 'right', // Ctrl-F
  '\x0b': 'killToEnd', // Ctrl-K
  '\x0c': 'clearScreen', // Ctrl-L
  '\x0e': 'down', // Ctrl-N
  '\x10': 'up', // Ctrl-P
  '\x15': 'killToStart', // Ctrl-U
  '\x17': 'killWord', // Ctrl-W
  '\x1d': 'escape', // Ctrl-]
};

const PASTE_START = '\x1b[200~';
const PASTE_END = '\x1b[201~';

/**
 * Turns what the terminal reports as input (xterm's `onData`) into editor keys. A bracketed
 * paste, or a chunk of text carrying line breaks that did not come one key at a time, is one
 * `paste` key so its lines can be sent together.
 */
export function keysFromData(data: string): EditorKey[] {
  const keys: EditorKey[] = [];
  let text = '';
  const flush = () => {
    if (text) keys.push({ kind: 'text', text });
    text = '';
  };
  let i = 0;
  if (data.length > 1 && /[\r\n]/.test(data) && !data.includes('\x1b') && /[^\r\n]/.test(data)) {
    return [{ kind: 'paste', text: data }];
  }
  while (i < data.length) {
    if (data.startsWith(PASTE_START, i)) {
      flush();
      const end = data.indexOf(PASTE_END, i + PASTE_START.length);
      const stop = end === -1 ? data.length : end;
      keys.push({ kind: 'paste', text: data.slice(i + PASTE_START.length, stop) });
      i = end === -1 ? data.length : end + PASTE_END.length;
      continue;
    }
    if (data[i] === '\x1b') {
      const match = SEQUENCES.find(([seq]) => data.startsWith(seq, i));
      flush();
      if (match) {
        keys.push({ kind: match[1] } as EditorKey);
        i += match[0].length;
      } else {
        // An unknown sequence (function keys, Alt-combinations): skip it whole, not as text.
        const rest = /^\x1b(\[[0-9;?]*[ -\/]*[@-~]|O.|.)?/.exec(data.slice(i));
        i += rest ? rest[0].length : 1;
      }
      continue;
    }
    const control = CONTROLS[data[i]];
    if (control) {
      flush();
      keys.push({ kind: control } as EditorKey);
      i += 1;
      continue;
    }
    text += data[i];
    i += 1;
  }
  flush();
  return keys;
}
