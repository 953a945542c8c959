/**
 * Turns the line editor's draw operations into the escape sequences xterm understands. Pure:
 * given what is on screen and the operations, it returns the text to write.
 *
 * The edit line may wrap over several rows. The renderer always knows which row of the line the
 * cursor is on (from the view that is drawn), goes back to the line's first row, erases to the
 * end of the screen and draws again. That is what readline does, and it survives wide characters
 * and prompts of any length.
 */
import type { DrawOp, LineView } from './lineEditor';
import { replyClass } from '../protocol/reply';

const ESC = '\x1b[';

/** Columns a code point takes in xterm (its default Unicode 6 widths, after Markus Kuhn's wcwidth). */
export function charWidth(codePoint: number): number {
  if (codePoint === 0) return 0;
  if (codePoint < 32 || (codePoint >= 0x7f && codePoint < 0xa0)) return 0;
  // Combining marks take no column of their own.
  if (
    (codePoint >= 0x0300 && codePoint <= 0x036f) ||
    (codePoint >= 0x200b && codePoint <= 0x200f) ||
    (codePoint >= 0xfe00 && codePoint <= 0xfe0f) ||
    (codePoint >= 0x20d0 && codePoint <= 0x20ff)
  ) {
    return 0;
  }
  const wide =
    (codePoint >= 0x1100 && codePoint <= 0x115f) ||
    codePoint === 0x2329 ||
    codePoint === 0x232a ||
    (codePoint >= 0x2e80 && codePoint <= 0xa4cf && codePoint !== 0x303f) ||
    (codePoint >= 0xac00 && codePoint <= 0xd7a3) ||
    (codePoint >= 0xf900 && codePoint <= 0xfaff) ||
    (codePoint >= 0xfe10 && codePoint <= 0xfe19) ||
    (codePoint >= 0xfe30 && codePoint <= 0xfe6f) ||
    (codePoint >= 0xff00 && codePoint <= 0xff60) ||
    (codePoint >= 0xffe0 && codePoint <= 0xffe6) ||
    (codePoint >= 0x20000 && codePoint <= 0x2fffd) ||
    (codePoint >= 0x30000 && codePoint <= 0x3fffd);
  return wide ? 2 : 1;
}

export interface ScreenPosition {
  readonly row: number;
  readonly col: number;
}

/**
 * Where the cursor ends after writing `text` from column 0 of a line `cols` wide. A line that
 * exactly fills its last row is counted as the start of the next row, because the renderer
 * forces that wrap (see `draw`); otherwise xterm leaves the cursor in a "pending wrap" spot.
 */
export function positionAfter(text: string, cols: number): ScreenPosition {
  let row = 0;
  let col = 0;
  for (const ch of text) {
    const width = charWidth(ch.codePointAt(0) ?? 0);
    if (width === 0) continue;
    if (col + width > cols) {
      row += 1;
      col = 0;
    }
    col += width;
  }
  if (col >= cols) {
    row += 1;
    col = 0;
  }
  return { row, col };
}

export function textWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += charWidth(ch.codePointAt(0) ?? 0);
  return width;
}

const before = (view: LineView): string => view.prompt + Array.from(view.buffer).slice(0, view.cursor).join('');

/** Moves from the cursor of the drawn view to column 0 of its first row. */
function toLineStart(drawn: LineView | null, cols: number): string {
  if (!drawn) return '\r';
  const { row } = positionAfter(before(drawn), cols);
  return (row > 0 ? `${ESC}${row}A` : '') + '\r';
}

/** Moves from the cursor of the drawn view to just after its last character. */
function toLineEnd(drawn: LineView | null, cols: number): string {
  if (!drawn) return '';
  const cursorAt = positionAfter(before(drawn), cols);
  const endAt = positionAfter(drawn.prompt + drawn.buffer, cols);
  return move(cursorAt, endAt);
}

function move(from: ScreenPosition, to: ScreenPosition): string {
  let out = '';
  if (to.row < from.row) out += `${ESC}${from.row - to.row}A`;
  if (to.row > from.row) out += `${ESC}${to.row - from.row}B`;
  out += '\r';
  if (to.col > 0) out += `${ESC}${to.col}C`;
  return out;
}

/** The prompt is bold so the learner sees at a glance where their own typing starts. */
const promptStyle = (prompt: string): string => (prompt ? `${ESC}1m${prompt}${ESC}0m` : '');

function draw(view: LineView, cols: number): string {
  const whole = view.prompt + view.buffer;
  let out = promptStyle(view.prompt) + view.buffer;
  const width = textWidth(whole);
  // A line that fills its last row exactly: write a space to force the wrap, come back to
  // column 0 and erase the space, so the cursor's row is known (readline's trick).
  if (width > 0 && positionAfter(whole, cols).col === 0) out += ` \r${ESC}K`;
  return out + move(positionAfter(whole, cols), positionAfter(before(view), cols));
}

/** Lays completion candidates out in columns, as a shell does. */
export function columns(items: readonly string[], cols: number): string[] {
  if (items.length === 0) return [];
  const cell = Math.max(...items.map(textWidth)) + 2;
  const perRow = Math.max(1, Math.floor(cols / cell));
  const rows: string[] = [];
  for (let i = 0; i < items.length; i += perRow) {
    rows.push(
      items
        .slice(i, i + perRow)
        .map((item, j, row) => (j === row.length - 1 ? item : item + ' '.repeat(cell - textWidth(item))))
        .join(''),
    );
  }
  return rows;
}

export interface RenderResult {
  readonly ansi: string;
  /** What the edit line shows afterwards; pass it to the next call. */
  readonly drawn: LineView | null;
}

/**
 * Escape sequences for `ops`, given the view currently drawn on screen (null when the cursor is
 * at column 0 of an empty row, e.g. at start or after a newline).
 */
export function render(ops: readonly DrawOp[], drawn: LineView | null, cols: number): RenderResult {
  let ansi = '';
  let current = drawn;
  const width = Math.max(1, cols);
  for (const op of ops) {
    switch (op.op) {
      case 'draw':
        ansi += toLineStart(current, width) + `${ESC}J` + draw(op.view, width);
        current = op.view;
        break;
      case 'newline':
        ansi += toLineEnd(current, width) + '\r\n';
        current = null;
        break;
      case 'cancel':
        ansi += toLineEnd(current, width) + '^C\r\n';
        current = null;
        break;
      case 'clearScreen':
        // Home, erase display: the scrollback stays, as in xterm's own Ctrl-L in bash.
        ansi += `${ESC}H${ESC}2J`;
        current = null;
        break;
      case 'bell':
        ansi += '\x07';
        break;
      case 'list':
        ansi += toLineEnd(current, width) + '\r\n' + columns(op.items, width).join('\r\n') + '\r\n';
        current = null;
        break;
    }
  }
  return { ansi, drawn: current };
}

/** How a printed line is shown. Reply tones follow the reply's first digit (RFC 5321 §4.2.1). */
export type LineTone = 'positive' | 'intermediate' | 'transient' | 'permanent' | 'client' | 'info' | 'error' | 'plain';

const TONE_SGR: Readonly<Record<LineTone, string>> = {
  positive: '32', // 2xx: green
  intermediate: '36', // 3xx: cyan
  transient: '33', // 4xx: yellow
  permanent: '31', // 5xx: red
  client: '2', // what the client sent: dim, so replies stand out
  info: '34',
  error: '1;31',
  plain: '',
};

export function colour(text: string, tone: LineTone): string {
  const sgr = TONE_SGR[tone];
  return sgr ? `${ESC}${sgr}m${text}${ESC}0m` : text;
}

/**
 * Writes `lines` above the edit line: erases the drawn line, prints, and draws `view` again
 * below, so output arriving while the learner types never mixes with their typing.
 */
export function renderPrint(
  lines: ReadonlyArray<{ readonly text: string; readonly tone: LineTone }>,
  drawn: LineView | null,
  view: LineView | null,
  cols: number,
): RenderResult {
  const width = Math.max(1, cols);
  let ansi = toLineStart(drawn, width) + `${ESC}J`;
  for (const line of lines) {
    // Control characters from a server must not drive the learner's terminal.
    const safe = line.text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => `^${String.fromCharCode(c.charCodeAt(0) ^ 0x40)}`);
    for (const row of safe.split(/\r?\n/)) {
      for (const piece of wrapWords(row, width)) ansi += colour(piece, line.tone) + '\r\n';
    }
  }
  if (view) ansi += draw(view, width);
  return { ansi, drawn: view };
}

/**
 * Breaks text at spaces so no row is wider than `cols` (the terminal would otherwise cut words
 * in two on a phone). Leading indentation is kept on continuation rows; a word longer than a
 * row is left for the terminal to wrap.
 */
export function wrapWords(text: string, cols: number): string[] {
  if (textWidth(text) <= cols) return [text];
  const indent = /^ */.exec(text)?.[0] ?? '';
  const hang = indent.length < cols / 2 ? indent : '';
  const rows: string[] = [];
  let row = '';
  for (const word of text.slice(indent.length).split(/ +/)) {
    const start = rows.length === 0 ? indent : hang;
    const candidate = row === '' ? start + word : `${row} ${word}`;
    if (row !== '' && textWidth(candidate) > cols) {
      rows.push(row);
      row = hang + word;
    } else {
      row = candidate;
    }
  }
  rows.push(row);
  return rows;
}

/** The tone of a server reply line such as `250-PIPELINING` or `550 5.1.1 No such user`. */
export function toneOfReplyLine(line: string): LineTone {
  const match = /^[2-5]\d\d(?:[ -]|$)/.exec(line);
  return match ? replyClass(Number(line.slice(0, 3))) : 'plain';
}
