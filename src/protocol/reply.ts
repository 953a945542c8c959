/**
 * SMTP replies as values, their wire form, and an incremental reader for them.
 *
 * RFC 5321 §4.2: a reply is a three-digit code followed by text; a multiline reply repeats the
 * code on every line with "-" after it on all lines but the last, which has " " (or nothing).
 * RFC 2034 §3: with ENHANCEDSTATUSCODES the text of every line starts with the enhanced code.
 */

import { MAX_REPLY_LINE_OCTETS } from './limits';
import { utf8Length } from './utf8';

export interface Reply {
  /** Three-digit reply code, e.g. 250. */
  code: number;
  /** RFC 3463 enhanced status code "class.subject.detail", e.g. "2.1.0". */
  enhanced?: string;
  /** Text of each line, without the code, the enhanced code or the line ending. */
  lines: string[];
}

export type ReplyClass = 'positive' | 'intermediate' | 'transient' | 'permanent';

/**
 * RFC 5321 §4.2.1: the first digit says whether the command succeeded (2), needs more input (3),
 * failed for now and may be retried (4), or failed for good (5). 1yz is unused by SMTP; it is
 * reported as 'positive' only because it is "positive preliminary" in the RFC's scheme.
 */
export function replyClass(code: number): ReplyClass {
  const first = Math.floor(code / 100);
  if (first === 3) return 'intermediate';
  if (first === 4) return 'transient';
  if (first >= 5) return 'permanent';
  return 'positive';
}

/** "x.y.z" where x is 2, 4 or 5 and y, z have 1-3 digits (RFC 3463 §2). */
const ENHANCED_CODE = /^([245])\.(\d{1,3})\.(\d{1,3})$/;

export function isEnhancedCode(text: string): boolean {
  return ENHANCED_CODE.test(text);
}

/**
 * Wire form of a reply: every line ends in CRLF, "-" after the code on all lines but the last.
 *
 * The enhanced code is repeated at the start of every line's text (RFC 2034 §3). A line that
 * itself contains CR or LF is split there, so text can never inject a reply line of its own.
 * An empty `lines` array gives a single line holding just the code (and the enhanced code, if
 * any), which is a valid reply: RFC 5321 §4.2 makes the text optional.
 */
export function formatReply(reply: Reply): string {
  const code = String(reply.code);
  const lines = reply.lines.flatMap((line) => line.split(/\r\n|\r|\n/));
  if (lines.length === 0) {
    return reply.enhanced ? `${code} ${reply.enhanced}\r\n` : `${code}\r\n`;
  }
  let out = '';
  lines.forEach((text, index) => {
    const separator = index === lines.length - 1 ? ' ' : '-';
    const body = reply.enhanced ? (text === '' ? reply.enhanced : `${reply.enhanced} ${text}`) : text;
    out += `${code}${separator}${fitReplyLine(body)}\r\n`;
  });
  return out;
}

/**
 * RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its code and CRLF. Replies may
 * quote what the client sent ("unexpected text after the path: ..."), and a client decides how
 * long that is, so the one formatter cuts any line to fit (ending it with "...") rather than
 * trusting every reply's author to.
 */
function fitReplyLine(body: string): string {
  const room = MAX_REPLY_LINE_OCTETS - 4 - 2; // "250-" and CRLF
  if (utf8Length(body) <= room) return body;
  let cut = body.slice(0, room - 3);
  while (utf8Length(cut) > room - 3) cut = cut.slice(0, -1);
  // Do not leave half of a surrogate pair behind.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}...`;
}

/** A line the parser could not read as part of a reply. The line is reported, never thrown. */
export interface ReplyParseError {
  line: string;
  reason: string;
}

/** Reply code: first digit 2-5, second 0-5 (RFC 5321 §4.2.1); 1yz is accepted for robustness. */
const REPLY_LINE = /^([1-5][0-5][0-9])(?:([ -])(.*))?$/s;

/**
 * Reads replies back from text arriving in any chunking, with CRLF or bare LF line endings.
 *
 * Malformed lines are never thrown: they are skipped and recorded in `errors` (newest last),
 * so a client can show them. A multiline reply whose lines disagree on the code is still
 * completed; the code of its last line wins (that is the line that ends the reply, and what
 * most clients act on) and the disagreement is recorded in `errors`.
 */
export class ReplyParser {
  /** Malformed lines seen so far, oldest first. */
  readonly errors: ReplyParseError[] = [];
  private buffer = '';
  private current: { code: number; texts: string[] } | undefined;

  /** True while a partial line or an unfinished multiline reply is buffered. */
  get pending(): boolean {
    return this.buffer.length > 0 || this.current !== undefined;
  }

  push(chunk: string): Reply[] {
    this.buffer += chunk;
    const replies: Reply[] = [];
    let newline = this.buffer.indexOf('\n');
    while (newline !== -1) {
      let line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      const reply = this.readLine(line);
      if (reply) replies.push(reply);
      newline = this.buffer.indexOf('\n');
    }
    return replies;
  }

  private readLine(line: string): Reply | undefined {
    const match = REPLY_LINE.exec(line);
    if (!match) {
      this.errors.push({ line, reason: 'not a reply line: expected a three-digit code followed by " ", "-" or the end of the line' });
      return undefined;
    }
    const code = Number(match[1]);
    const continues = match[2] === '-';
    const text = match[3] ?? '';
    if (this.current && this.current.code !== code) {
      this.errors.push({ line, reason: `code ${code} differs from ${this.current.code} earlier in the same multiline reply` });
    }
    const current = this.current ?? { code, texts: [] };
    current.code = code;
    current.texts.push(text);
    if (continues) {
      this.current = current;
      return undefined;
    }
    this.current = undefined;
    return buildReply(current.code, current.texts);
  }
}

/**
 * Turns line texts into a Reply, taking the enhanced code from the first line when it starts
 * with one whose class digit matches the reply code's first digit (RFC 3463 §2: the class of
 * the enhanced code must agree with the basic code). It is removed from every line that
 * repeats it.
 */
function buildReply(code: number, texts: string[]): Reply {
  const first = texts[0] ?? '';
  const candidate = first.split(' ', 1)[0] ?? '';
  const classDigit = String(Math.floor(code / 100));
  if (ENHANCED_CODE.test(candidate) && candidate[0] === classDigit) {
    const lines = texts.map((text) => {
      if (text === candidate) return '';
      if (text.startsWith(candidate + ' ')) return text.slice(candidate.length + 1);
      return text;
    });
    return { code, enhanced: candidate, lines };
  }
  return { code, lines: [...texts] };
}
