/**
 * The shell's words without its parsers: command names, `send` options and DNS record types.
 * Tab completion loads before the terminal is usable and needs only these words, so they live
 * apart from `shell.ts`, whose command table pulls every parser in with it. `shell.ts` takes its
 * lists from here; nothing here may import a parser at run time (type imports are erased).
 */

/** Every shell command, in the order `help` lists them and completion offers them. */
export const SHELL_COMMAND_NAMES = [
  'dig',
  'telnet',
  'nc',
  'openssl',
  'send',
  'personas',
  'world',
  'mailq',
  'clock',
  'spf',
  'dmarc',
  'mailbox',
  'help',
  'clear',
  'reset',
  'mode',
  'history',
  'export',
] as const;
export type ShellCommandName = (typeof SHELL_COMMAND_NAMES)[number];

/** The record types this world's DNS answers, as `dig` takes them. */
export const DNS_TYPES = ['MX', 'A', 'AAAA', 'TXT', 'TLSA'] as const;
export type DnsType = (typeof DNS_TYPES)[number];

/**
 * The DSN requests of RFC 3461 that `send` (and the `sim` CLI) take. `dsnOptions.ts` reads
 * them; the list lives here so completion can offer them without loading that parser.
 */
export const DSN_OPTIONS = ['--notify', '--ret', '--envid', '--orcpt'] as const;
export type DsnOption = (typeof DSN_OPTIONS)[number];

/** Every option of `send`, for help, suggestions and completion. */
export const SEND_OPTIONS: readonly string[] = ['--from', '--to', '--subject', '--step', '--speed', ...DSN_OPTIONS];
