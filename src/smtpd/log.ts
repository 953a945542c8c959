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

export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\t' ? '\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

export function streamLogger(write: (line: string) => void): SmtpdLogger {
  return { line: (connection, direction, text, tls) => write(formatLogLine(connection, direction, text, tls)) };
}

export const silentLogger: SmtpdLogger = { line: () => {} };
