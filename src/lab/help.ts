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
  'In a session, \\n in a line sends a bare LF there (and \\r a bare CR): SMTP forbids them; lesson 21 shows why.',
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

/** More on the commands whose output needs a key to read. */
const MORE: Readonly<Partial<Record<ShellCommandName, readonly string[]>>> = {
  send: [
    'You hand the message to smtp.example.com, which delivers it; you watch.',
    '  --step           stop after each exchange (Enter shows the next)',
    '  --speed <n>      play faster (10) or at a readable pace (1)',
    'Delivery reports (DSN requests, RFC 3461), as MAIL and RCPT would carry them:',
    '  --notify <addr>=<when>   <when>: SUCCESS, FAILURE, DELAY joined by commas,',
    '                           or NEVER for no report at all, not even a bounce',
    '  --ret HDRS | FULL        a bounce returns the header or the whole message',
    '  --envid <id>             your own label, repeated in every report',
    '  --orcpt <addr>=rfc822;<original>',
    '                           the address as first written, named again',
    '                           in that recipient\'s reports (Original-Recipient)',
  ],
  spf: [
    'The receiver asks the MAIL FROM domain (the envelope sender, not From:)',
    'whether the connecting address may send its mail. It reads the domain\'s',
    'v=spf1 TXT record term by term, left to right; the first match decides:',
    '  +pass  -fail  ~softfail  ?neutral   (the qualifier of the matching term)',
    '  none       no SPF record      permerror  broken record, or >10 lookups',
    '  temperror  DNS failed, try later',
    'spf <ip> alice@example.com checks the domain of that address.',
  ],
  dmarc: [
    'DMARC passes when SPF or DKIM passed for a domain that matches From:.',
    'Relaxed alignment (the default) accepts a subdomain (bounce.example.com',
    'for example.com); strict (aspf=s, adkim=s) only the very same name.',
    'Otherwise the policy p= applies: none (only reports), quarantine (spam',
    'folder) or reject (refuse the message).',
    '  --spf-domain D   the MAIL FROM domain; SPF is taken as passed for it,',
    '                   or checked for real when --ip gives the address',
    '  --dkim-domain D  the d= of a valid DKIM signature (this world signs nothing)',
  ],
};

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
    return [`${key}: ${spec.summary}`, `  usage:   ${spec.syntax}`, `  example: ${spec.example}`, ...(MORE[key as ShellCommandName] ?? [])];
  }
  const suggestion = closest(key, [...Object.keys(SHELL_COMMANDS), ...Object.keys(TOPICS)]);
  return [`No help on "${topic}".${suggestion ? ` Did you mean: help ${suggestion}` : ''} Type help for the list.`];
}
