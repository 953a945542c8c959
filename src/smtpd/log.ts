// One log line per wire line, marked the way swaks marks its transcripts, so a server log and
// a swaks run read the same: `->` client to server, `<-` server to client, `~>`/`<~` the same
// inside TLS, `**` an event that is not a protocol line.

export type Direction = 'client' | 'server' | 'event';

export interface SmtpdLogger {
  line(connection: number, direction: Direction, text: string, tls?: boolean): void;
}

const marks: Record<Direction, [plain: string, tls: string]> = {
  client: [' -> ', ' ~> '],
  server: [' <- ', ' <~ '],
  event: [' ** ', ' ** '],
};

/** The mark between the connection id and the text, e.g. ` -> `. */
export function directionMark(direction: Direction, tls = false): string {
  return marks[direction][tls ? 1 : 0];
}

/** `#3 -> EHLO client.example`; control characters are shown escaped so one line stays one line. */
export function formatLogLine(connection: number, direction: Direction, text: string, tls = false): string {
  return `#${connection}${directionMark(direction, tls)}${printable(text)}`;
}

const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;

export function printable(text: string): string {
  // Most lines have no control character: skip the replace (and its copy) for them.
  if (!CONTROL_CHARACTER.test(text)) return text;
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\t' ? '\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

export function streamLogger(write: (line: string) => void): SmtpdLogger {
  return { line: (connection, direction, text, tls) => write(formatLogLine(connection, direction, text, tls)) };
}

export const silentLogger: SmtpdLogger = { line: () => {} };

/** Text written in batches: see `bufferedOutput`. */
export interface BufferedOutput {
  /** Queues one line (a newline is added). */
  line(text: string): void;
  /** Writes what is queued now. */
  flush(): void;
}

/**
 * Lines gathered and written together once the current turn of the event loop is over, or as
 * soon as `maxPendingChars` are waiting. Writing to stdout is synchronous in Node when it is a
 * file or a pipe, so a write per log line costs a system call per command and per reply line;
 * gathered, a busy server makes one per turn. Lines keep their order; call `flush` before exit.
 */
export function bufferedOutput(write: (text: string) => void, maxPendingChars = 65_536): BufferedOutput {
  let pending = '';
  let scheduled = false;
  const flush = () => {
    if (pending === '') return;
    const text = pending;
    pending = '';
    write(text);
  };
  const flushLater = () => {
    scheduled = false;
    flush();
  };
  return {
    line(text) {
      pending += text + '\n';
      if (pending.length >= maxPendingChars) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flushLater);
      }
    },
    flush,
  };
}
