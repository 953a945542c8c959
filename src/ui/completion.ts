/**
 * Tab completion for the line editor: shell commands and their options at the shell prompt,
 * SMTP verbs inside a session. It loads before the terminal is usable, so it takes the shell's
 * words from shellNames.ts and never imports the shell's parsers.
 */
import type { Completer } from './lineEditor';
import { DNS_TYPES, SEND_OPTIONS, SHELL_COMMAND_NAMES } from '../lab/shellNames';

function currentWord(line: string, cursor: number): { start: number; word: string; before: string[] } {
  const cs = Array.from(line).slice(0, cursor);
  let start = cs.length;
  while (start > 0 && cs[start - 1] !== ' ') start--;
  const before = cs.slice(0, start).join('').trim().split(/\s+/).filter(Boolean);
  return { start, word: cs.slice(start).join(''), before };
}

const startsWith = (word: string) => (candidate: string) => candidate.toLowerCase().startsWith(word.toLowerCase());

const OPTIONS: Readonly<Record<string, readonly string[]>> = {
  dig: ['+short', ...DNS_TYPES],
  nc: ['-C'],
  openssl: ['s_client', '-starttls', 'smtp', '-connect', '-crlf', '-servername', '-quiet', '-brief', '-showcerts'],
  send: SEND_OPTIONS,
  mode: ['sim', 'real'],
  help: [...SHELL_COMMAND_NAMES, 'smtp', 'keys'],
};

/** Completes the command name, then that command's options. */
export const completeShell: Completer = (line, cursor) => {
  const { start, word, before } = currentWord(line, cursor);
  const pool = before.length === 0 ? SHELL_COMMAND_NAMES : (OPTIONS[before[0]] ?? []);
  return { start, candidates: pool.filter(startsWith(word)) };
};

/** The SMTP commands a client may send (RFC 5321 §4.1, RFC 3207, RFC 4954). */
export const SMTP_COMPLETIONS: readonly string[] = [
  'EHLO', 'HELO', 'MAIL FROM:<', 'RCPT TO:<', 'DATA', 'RSET', 'NOOP', 'QUIT', 'VRFY', 'HELP', 'STARTTLS', 'AUTH',
];

const AUTH_MECHANISMS = ['PLAIN', 'LOGIN'];

/** Completes SMTP verbs at the start of a line; MAIL and RCPT complete to their "FROM:<" / "TO:<". */
export const completeSmtp: Completer = (line, cursor) => {
  const { start, word, before } = currentWord(line, cursor);
  if (before.length === 0) {
    // Offer the verb; the single word MAIL or RCPT completes to its whole opening.
    return { start, candidates: SMTP_COMPLETIONS.filter(startsWith(word)) };
  }
  const verb = before[0].toUpperCase();
  if (before.length === 1 && verb === 'AUTH') return { start, candidates: AUTH_MECHANISMS.filter(startsWith(word)) };
  if (before.length === 1 && verb === 'MAIL') return { start, candidates: ['FROM:<'].filter(startsWith(word)) };
  if (before.length === 1 && verb === 'RCPT') return { start, candidates: ['TO:<'].filter(startsWith(word)) };
  return { start, candidates: [] };
};
