/**
 * Help text for the shell, built from the command table so a command and its help cannot drift
 * apart. Returns lines; the terminal prints them.
 */
import { SHELL_COMMANDS, SMTP_VERBS, closest, type ShellCommandName } from './shell';

const KEYS: readonly string[] = [
  'Editing keys:',
  '  Left/Right, Home/End (Ctrl-A/Ctrl-E)   move along the line',
  '  Up/Down                               earlier lines you typed',
  '  Tab                                   complete a command or SMTP verb',
  '  Ctrl-U / Ctrl-K / Ctrl-W              delete to start / to end / the word before',
  '  Ctrl-C                                abandon the line',
  '  Ctrl-L                                clear the screen',
  '  Ctrl-]                                leave a session (or type QUIT)',
  '  Esc then Tab                          move focus out of the terminal',
  'Pasting several lines sends them together, as a pipelining client does.',
  'In a session, \\n in a line sends a bare LF there (and \\r a bare CR): SMTP forbids them; lesson 19 shows why.',
];

const SMTP: readonly string[] = [
  'Once connected (telnet, nc or openssl), you type SMTP yourself:',
  '  EHLO client.example.com      introduce yourself; the reply lists the extensions',
  '  STARTTLS                     upgrade the connection to TLS, then EHLO again',
  '  MAIL FROM:<alice@example.com>   the envelope sender (where bounces go)',
  '  RCPT TO:<bob@example.net>    one recipient; repeat for more',
  '  DATA                         then the message: headers, a blank line, the body,',
  '                               and a line with a single dot to finish',
  '  QUIT                         say goodbye',
  'Replies start with a code: 2xx done, 3xx go on, 4xx try later, 5xx refused.',
];

const TOPICS: Readonly<Record<string, readonly string[]>> = { keys: KEYS, smtp: SMTP };

/** Help lines; `columns` is the terminal's width, so a phone gets each summary on its own line. */
export function helpLines(topic?: string, columns = 80): readonly string[] {
  if (topic === undefined) {
    const width = Math.max(...Object.keys(SHELL_COMMANDS).map((name) => name.length)) + 2;
    const longest = Math.max(...Object.values(SHELL_COMMANDS).map((spec) => spec.summary.length)) + width + 2;
    const narrow = columns < longest;
    return [
      'Commands:',
      ...Object.entries(SHELL_COMMANDS).flatMap(([name, spec]) =>
        narrow ? [`  ${name}`, `      ${spec.summary}`] : [`  ${name.padEnd(width)}${spec.summary}`],
      ),
      'More: help <command>, help smtp (the SMTP commands), help keys (editing keys).',
    ];
  }
  const key = topic.toLowerCase();
  if (Object.hasOwn(TOPICS, key)) return TOPICS[key];
  if ((SMTP_VERBS as readonly string[]).includes(key.toUpperCase())) return SMTP;
  if (Object.hasOwn(SHELL_COMMANDS, key)) {
    const spec = SHELL_COMMANDS[key as ShellCommandName];
    return [`${key}: ${spec.summary}`, `  usage:   ${spec.syntax}`, `  example: ${spec.example}`];
  }
  const suggestion = closest(key, [...Object.keys(SHELL_COMMANDS), ...Object.keys(TOPICS)]);
  return [`No help on "${topic}".${suggestion ? ` Did you mean: help ${suggestion}` : ''} Type help for the list.`];
}
