/**
 * Dot-stuffing, RFC 5321 §4.5.2 ("transparency").
 *
 * The end of message data is a line holding a single ".". So that a message line starting with
 * "." is not taken for that, the sender adds one more "." to every line that starts with "."
 * and the receiver removes the first "." of every such line.
 */

/**
 * Rewrites every line ending (CRLF, bare LF, bare CR) as CRLF. Clients must send only CRLF
 * (§2.3.8), so a message that arrives from a file or a text box is normalised before sending.
 */
export function normaliseLineEndings(text: string): string {
  return text.replace(/\r\n|\r|\n/g, '\r\n');
}

/**
 * The wire form of a message after DATA: line endings normalised to CRLF, a leading "." doubled
 * on every line, a final CRLF added if the message lacked one, then ".\r\n". The empty message
 * is just ".\r\n" (the CRLF of the DATA command line is the first half of the terminator).
 */
export function dotStuff(message: string): string {
  if (message === '') return '.\r\n';
  let text = normaliseLineEndings(message);
  if (!text.endsWith('\r\n')) text += '\r\n';
  const stuffed = text.replace(/(^|\r\n)\./g, '$1..');
  return `${stuffed}.\r\n`;
}

/**
 * Undoes dot-stuffing: `lines` are the data lines as received, without their endings and
 * without the final "." line. Returns the message with every line ending in CRLF.
 */
export function dotUnstuff(lines: readonly string[]): string {
  let out = '';
  for (const line of lines) out += (line.startsWith('.') ? line.slice(1) : line) + '\r\n';
  return out;
}
