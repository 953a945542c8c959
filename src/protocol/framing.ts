/**
 * Cutting a byte stream into lines, and collecting message data after DATA.
 *
 * Line endings (RFC 5321 §2.3.8): SMTP lines end in CRLF, and bare CR or LF must not be sent.
 * What a receiver does with them decides a class of bugs, "SMTP smuggling", in which a message
 * hides a second message behind an end-of-data marker that one server sees and the next does not.
 * So this framer:
 * - ends a line at LF, and reports whether a CR came before it (`ending: 'crlf'`) or not
 *   (`'lf'`). Accepting a bare LF at the end of a COMMAND line is a robustness concession for
 *   people typing into nc, where Enter sends only LF; the ending stays visible to the caller.
 * - never ends a line at a bare CR. A CR not followed by LF stays in the line's text, so
 *   "\r.\r" cannot act as a line ending anywhere.
 *
 * End of data (RFC 5321 §4.1.1.4): "the sequence <LF>.<LF> (bare line feeds, without carriage
 * returns) MUST NOT be treated as equivalent to <CRLF>.<CRLF>". `DataCollector` therefore ends
 * data only at a "." line that ends in CRLF and follows a line that ended in CRLF. The option
 * `endOfData: 'any-line-ending'` simulates a vulnerable server that also accepts "<LF>.<LF>"
 * (and the mixed forms), for lessons about the attack.
 */
import { MAX_TEXT_LINE_OCTETS } from './limits';
import { utf8DecodeKeepingBytes, utf8Encode } from './utf8';

export type LineEnding = 'crlf' | 'lf';

export interface FramedLine {
  /**
   * The line without its ending, decoded as UTF-8. An octet that is not part of valid UTF-8 (a
   * message in ISO-8859-1 under 8BITMIME, RFC 6152) is kept as U+DC80..U+DCFF, which
   * `utf8Encode` writes back as that octet: stored mail keeps its bytes (see protocol/utf8.ts).
   */
  text: string;
  ending: LineEnding;
  /** The line, counted with a CRLF, is over the framer's `maxLineOctets`. */
  tooLong: boolean;
  /** Octets of the line as received, without its ending. */
  octets: number;
  /** Only the first `maxBufferedLineOctets` octets were kept in `text`. */
  truncated?: boolean;
}

export interface LineFramerOptions {
  /**
   * Lines longer than this, counted with a CRLF, are flagged `tooLong`. Default 1000, the text
   * line limit (RFC 5321 §4.5.3.1.6); the 512-octet command limit (§4.5.3.1.4) is checked by
   * `parseCommand`, which knows the verb (AUTH lines may be longer, RFC 4954 §4).
   */
  maxLineOctets?: number;
  /**
   * How much of one line is kept in memory. Longer lines are still counted and delivered
   * (flagged `truncated`), so a peer cannot exhaust memory by never sending LF. Default 65536.
   */
  maxBufferedLineOctets?: number;
}

const LF = 0x0a;
const CR = 0x0d;

export class LineFramer {
  maxLineOctets: number;
  readonly maxBufferedLineOctets: number;
  private parts: Uint8Array[] = [];
  private kept = 0;
  private seen = 0;
  private lastByte = -1;

  constructor(options: LineFramerOptions = {}) {
    this.maxLineOctets = options.maxLineOctets ?? MAX_TEXT_LINE_OCTETS;
    this.maxBufferedLineOctets = options.maxBufferedLineOctets ?? 65536;
  }

  /** Octets of an unfinished line waiting for its LF. */
  get pendingOctets(): number {
    return this.seen;
  }

  push(input: Uint8Array | string): FramedLine[] {
    const bytes = typeof input === 'string' ? utf8Encode(input) : input;
    const lines: FramedLine[] = [];
    let start = 0;
    while (start < bytes.length) {
      const newline = bytes.indexOf(LF, start);
      const end = newline === -1 ? bytes.length : newline;
      this.append(bytes.subarray(start, end));
      if (newline === -1) break;
      lines.push(this.finishLine());
      start = newline + 1;
    }
    return lines;
  }

  /**
   * The unfinished line, if any, when the stream ends. It had no line ending, so it is not a
   * command; callers use this to report what was lost rather than to act on it.
   */
  flush(): string | undefined {
    if (this.seen === 0) return undefined;
    const text = utf8DecodeKeepingBytes(this.concat());
    this.reset();
    return text;
  }

  private append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const room = this.maxBufferedLineOctets + 1 - this.kept; // +1 keeps a possible final CR
    if (room > 0) {
      const piece = chunk.subarray(0, room);
      this.parts.push(piece.slice());
      this.kept += piece.length;
    }
    this.seen += chunk.length;
    this.lastByte = chunk[chunk.length - 1]!;
  }

  private finishLine(): FramedLine {
    const crlf = this.lastByte === CR;
    const octets = crlf ? this.seen - 1 : this.seen;
    let bytes = this.concat();
    const truncated = octets > this.maxBufferedLineOctets;
    bytes = bytes.subarray(0, Math.min(octets, this.maxBufferedLineOctets));
    const line: FramedLine = {
      text: utf8DecodeKeepingBytes(bytes),
      ending: crlf ? 'crlf' : 'lf',
      tooLong: octets + 2 > this.maxLineOctets,
      octets,
    };
    if (truncated) line.truncated = true;
    this.reset();
    return line;
  }

  private concat(): Uint8Array {
    if (this.parts.length === 1) return this.parts[0]!;
    const out = new Uint8Array(this.kept);
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  private reset(): void {
    this.parts = [];
    this.kept = 0;
    this.seen = 0;
    this.lastByte = -1;
  }
}

export type EndOfDataPolicy = 'crlf-only' | 'any-line-ending';

export interface DataCollectorOptions {
  /** 'crlf-only' (the default, RFC 5321 §4.1.1.4) or 'any-line-ending' (a vulnerable server). */
  endOfData?: EndOfDataPolicy;
  /**
   * How the line before the first data line ended: the DATA command line. Default 'crlf'. When
   * DATA itself ended in a bare LF, an immediate ".\r\n" is "<LF>.<CRLF>", not end of data.
   */
  previousEnding?: LineEnding;
  /** Stop keeping message text past this size; counting continues (for 552, RFC 1870). */
  maxMessageOctets?: number;
  /** Text line limit including CRLF (RFC 5321 §4.5.3.1.6). Default 1000. */
  maxLineOctets?: number;
}

export interface DataResult {
  /** The end-of-data line was seen. */
  done: boolean;
  /** Message after dot-unstuffing, every line ending in CRLF (empty if over maxMessageOctets). */
  message: string;
  /** Octets of the message as un-stuffed with CRLF line endings (the SIZE measure, RFC 1870). */
  sizeOctets: number;
  /** Some line ended in a bare LF (it was normalised to CRLF in `message`). */
  bareLfSeen: boolean;
  /** Some line contained a bare CR (kept as is). */
  bareCrSeen: boolean;
  /** Some line was over 1000 octets including CRLF (RFC 5321 §4.5.3.1.6). */
  lineTooLong: boolean;
  /** The message went over maxMessageOctets; `message` is then empty. */
  tooBig: boolean;
  /** Number of message lines (not counting the final "."). */
  lineCount: number;
}

/**
 * Collects the lines after a 354 reply. Feed it framed lines with `push`; it answers true for
 * the line that ended the data. Lines pushed after that are refused (false) and not used, so a
 * caller can hand the rest of a pipelined chunk back to the command parser.
 */
export class DataCollector {
  private readonly policy: EndOfDataPolicy;
  private readonly maxMessageOctets: number;
  private readonly maxLineOctets: number;
  private previousEnding: LineEnding;
  private chunks: string[] = [];
  private state: DataResult = {
    done: false,
    message: '',
    sizeOctets: 0,
    bareLfSeen: false,
    bareCrSeen: false,
    lineTooLong: false,
    tooBig: false,
    lineCount: 0,
  };

  constructor(options: DataCollectorOptions = {}) {
    this.policy = options.endOfData ?? 'crlf-only';
    this.previousEnding = options.previousEnding ?? 'crlf';
    this.maxMessageOctets = options.maxMessageOctets ?? Number.POSITIVE_INFINITY;
    this.maxLineOctets = options.maxLineOctets ?? MAX_TEXT_LINE_OCTETS;
  }

  get done(): boolean {
    return this.state.done;
  }

  /** True when `line` ends the data (RFC 5321 §4.1.1.4 under the chosen policy). */
  isEndOfData(line: Pick<FramedLine, 'text' | 'ending'>): boolean {
    return this.endsData(line.text, line.ending);
  }

  private endsData(text: string, ending: LineEnding): boolean {
    if (text !== '.') return false;
    if (this.policy === 'any-line-ending') return true;
    return ending === 'crlf' && this.previousEnding === 'crlf';
  }

  push(line: FramedLine): boolean {
    return this.pushLine(line.text, line.ending, line.octets, line.tooLong);
  }

  /**
   * `push` for a line given by its parts (a transport's line event need not be a `FramedLine`
   * object): `octets` is the line's size on the wire without its ending.
   */
  pushLine(text: string, ending: LineEnding, octets: number, tooLong: boolean): boolean {
    const state = this.state;
    if (state.done) return false;
    if (this.endsData(text, ending)) {
      state.done = true;
      return true;
    }
    // §4.5.2: "If the first character is a period and there are other characters on the
    // line, the first character is deleted." A lone "." that did not end the data (it came
    // after or with a bare LF) is content and stays as it is.
    const stuffed = text.length > 1 && text.charCodeAt(0) === 0x2e;
    if (ending === 'lf') state.bareLfSeen = true;
    if (text.includes('\r')) state.bareCrSeen = true;
    if (tooLong || octets + 2 > this.maxLineOctets) state.lineTooLong = true;
    state.sizeOctets += stuffed ? octets + 1 : octets + 2;
    state.lineCount++;
    if (state.sizeOctets > this.maxMessageOctets) {
      state.tooBig = true;
      this.chunks = [];
    } else {
      this.chunks.push(stuffed ? text.slice(1) : text, '\r\n');
    }
    this.previousEnding = ending;
    return false;
  }

  /** A snapshot of what was collected so far. */
  result(): DataResult {
    return { ...this.state, message: this.state.tooBig ? '' : this.chunks.join('') };
  }
}

/**
 * Collects data from a list of framed lines. `consumed` is how many lines were used (up to and
 * including the end-of-data line); the remaining lines are commands sent after the data.
 */
export function collectData(lines: FramedLine[], options: DataCollectorOptions = {}): { result: DataResult; consumed: number } {
  const collector = new DataCollector(options);
  let consumed = 0;
  for (const line of lines) {
    consumed++;
    if (collector.push(line)) break;
  }
  return { result: collector.result(), consumed };
}
