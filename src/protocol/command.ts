/**
 * Parsing one SMTP command line into a value (RFC 5321 §4.1).
 *
 * `parseCommand` never throws. It answers either a `Command` (a union discriminated on `verb`)
 * or the `Reply` the server should send:
 * - 500 5.5.2  unknown verb, empty line (§4.2.4)
 * - 500 5.5.6  line over 512 octets including CRLF (§4.5.3.1.4, §4.5.3.1.10); AUTH lines may
 *              be up to 12288 octets (RFC 4954 §4), because they carry a SASL initial response
 * - 501 5.5.4  a known verb with wrong arguments (§4.2.2)
 * - 501 5.1.7  / 5.1.3  a malformed reverse-path / forward-path (RFC 3463)
 * - 501 5.5.4  a path over the limits of §4.5.3.1 ("501 Path too long", §4.5.3.1.10)
 * - 502 5.5.1  a verb defined somewhere (TURN, ETRN, BDAT, ...) that this project does not
 *              implement (§4.2.4)
 * - 555 5.5.4  an unknown MAIL/RCPT parameter (§4.1.1.11); see params.ts
 *
 * It is purely syntactic: whether a command is allowed now (sequence, TLS, AUTH) and whether a
 * parameter's extension was advertised is the session's business.
 *
 * Tolerances, both on by default and reported in `leniencies` so a UI can point them out:
 * - `MAIL FROM: <alice@example.com>`: a space after the colon. §4.1.2 has no space there, but
 *   many clients send one and most servers (Postfix, Exim, smtp-server) accept it; refusing it
 *   helps nobody.
 * - `MAIL FROM:alice@example.com`: no angle brackets. Also outside the grammar; accepted by
 *   Postfix unless strict_rfc821_envelopes is set, and the usual slip of someone typing by hand.
 * With `strict: true` both get 501.
 */
import type { Reply } from './reply';
import { Replies } from './replies';
import { type Path, type PathRole, formatPath, isAddressLiteral, isDomain, readPath } from './address';
import { type MailParameters, type RcptParameters, parseMailParams, parseRcptParams } from './params';
import { MAX_AUTH_LINE_OCTETS, MAX_COMMAND_LINE_OCTETS, MAX_SASL_MECHANISM_CHARS } from './limits';
import { utf8Length } from './utf8';

/** A way the line departed from RFC 5321's grammar that was accepted anyway. */
export type Leniency = 'space-after-colon' | 'missing-angle-brackets';

export type Command =
  | { verb: 'EHLO'; domain: string; domainValid: boolean }
  | { verb: 'HELO'; domain: string; domainValid: boolean }
  | { verb: 'MAIL'; reversePath: Path; params: MailParameters; utf8: boolean; leniencies: Leniency[] }
  | { verb: 'RCPT'; forwardPath: Path; params: RcptParameters; utf8: boolean; leniencies: Leniency[] }
  | { verb: 'DATA' }
  | { verb: 'RSET' }
  | { verb: 'NOOP'; argument?: string }
  | { verb: 'VRFY'; argument: string }
  | { verb: 'EXPN'; argument: string }
  | { verb: 'HELP'; topic?: string }
  | { verb: 'QUIT' }
  | { verb: 'STARTTLS' }
  | { verb: 'AUTH'; mechanism: string; initialResponse?: string };

export type Verb = Command['verb'];
export type CommandOf<V extends Verb> = Extract<Command, { verb: V }>;

/** Verbs defined by RFC 5321 or extensions that this project recognises but does not implement. */
export type UnsupportedVerb = 'TURN' | 'ETRN' | 'ATRN' | 'BDAT' | 'SEND' | 'SOML' | 'SAML' | 'VERB' | 'BURL' | 'XCLIENT' | 'XFORWARD';
export type KnownVerb = Verb | UnsupportedVerb;

export type ParsedCommand = { ok: true; command: Command } | { ok: false; reply: Reply };

export interface ParseCommandOptions {
  /** Refuse the tolerated forms described at the top of this file. Default false. */
  strict?: boolean;
}

export interface CommandInfo {
  verb: KnownVerb;
  /** Syntax as a help line shows it. */
  syntax: string;
  /** One-line purpose. */
  purpose: string;
  /** Where it is defined. */
  rfc: string;
  /** False for verbs that get 502. */
  implemented: boolean;
}

/** verb -> syntax and purpose, for HELP and tab completion. Implemented verbs first. */
export const commandSyntax: Record<KnownVerb, CommandInfo> = {
  EHLO: { verb: 'EHLO', syntax: 'EHLO <domain>', purpose: 'Greet the server and ask which extensions it supports', rfc: 'RFC 5321 §4.1.1.1', implemented: true },
  HELO: { verb: 'HELO', syntax: 'HELO <domain>', purpose: 'Greet the server without extensions (old SMTP)', rfc: 'RFC 5321 §4.1.1.1', implemented: true },
  STARTTLS: { verb: 'STARTTLS', syntax: 'STARTTLS', purpose: 'Switch this connection to TLS, then greet again', rfc: 'RFC 3207', implemented: true },
  AUTH: { verb: 'AUTH', syntax: 'AUTH <mechanism> [initial-response]', purpose: 'Log in with a SASL mechanism such as PLAIN or LOGIN', rfc: 'RFC 4954', implemented: true },
  MAIL: { verb: 'MAIL', syntax: 'MAIL FROM:<reverse-path> [parameters]', purpose: 'Start a transaction and give the address bounces go to', rfc: 'RFC 5321 §4.1.1.2', implemented: true },
  RCPT: { verb: 'RCPT', syntax: 'RCPT TO:<forward-path> [parameters]', purpose: 'Add one recipient to the transaction', rfc: 'RFC 5321 §4.1.1.3', implemented: true },
  DATA: { verb: 'DATA', syntax: 'DATA', purpose: 'Send the message, ended by a line holding only "."', rfc: 'RFC 5321 §4.1.1.4', implemented: true },
  RSET: { verb: 'RSET', syntax: 'RSET', purpose: 'Abort the current transaction', rfc: 'RFC 5321 §4.1.1.5', implemented: true },
  VRFY: { verb: 'VRFY', syntax: 'VRFY <string>', purpose: 'Ask whether a mailbox exists (servers rarely say)', rfc: 'RFC 5321 §4.1.1.6', implemented: true },
  EXPN: { verb: 'EXPN', syntax: 'EXPN <string>', purpose: 'Ask for the members of a mailing list (usually disabled)', rfc: 'RFC 5321 §4.1.1.7', implemented: true },
  HELP: { verb: 'HELP', syntax: 'HELP [topic]', purpose: 'Ask the server for help text', rfc: 'RFC 5321 §4.1.1.8', implemented: true },
  NOOP: { verb: 'NOOP', syntax: 'NOOP [string]', purpose: 'Do nothing; check the connection is alive', rfc: 'RFC 5321 §4.1.1.9', implemented: true },
  QUIT: { verb: 'QUIT', syntax: 'QUIT', purpose: 'Say goodbye and close the connection', rfc: 'RFC 5321 §4.1.1.10', implemented: true },
  BDAT: { verb: 'BDAT', syntax: 'BDAT <size> [LAST]', purpose: 'Send the message in sized chunks (CHUNKING)', rfc: 'RFC 3030', implemented: false },
  ETRN: { verb: 'ETRN', syntax: 'ETRN <domain>', purpose: 'Ask the server to flush its queue for a domain', rfc: 'RFC 1985', implemented: false },
  ATRN: { verb: 'ATRN', syntax: 'ATRN [domains]', purpose: 'Authenticated turn for on-demand relay', rfc: 'RFC 2645', implemented: false },
  TURN: { verb: 'TURN', syntax: 'TURN', purpose: 'Swap client and server roles (obsolete, unsafe)', rfc: 'RFC 821', implemented: false },
  SEND: { verb: 'SEND', syntax: 'SEND FROM:<reverse-path>', purpose: 'Deliver to a terminal (obsolete)', rfc: 'RFC 821', implemented: false },
  SOML: { verb: 'SOML', syntax: 'SOML FROM:<reverse-path>', purpose: 'Send or mail (obsolete)', rfc: 'RFC 821', implemented: false },
  SAML: { verb: 'SAML', syntax: 'SAML FROM:<reverse-path>', purpose: 'Send and mail (obsolete)', rfc: 'RFC 821', implemented: false },
  VERB: { verb: 'VERB', syntax: 'VERB', purpose: 'Sendmail verbose mode (non-standard)', rfc: 'Sendmail', implemented: false },
  BURL: { verb: 'BURL', syntax: 'BURL <url> [LAST]', purpose: 'Fetch message data from an IMAP URL', rfc: 'RFC 4468', implemented: false },
  XCLIENT: { verb: 'XCLIENT', syntax: 'XCLIENT attribute=value ...', purpose: 'Postfix: override client attributes (non-standard)', rfc: 'Postfix', implemented: false },
  XFORWARD: { verb: 'XFORWARD', syntax: 'XFORWARD attribute=value ...', purpose: 'Postfix: forward client attributes (non-standard)', rfc: 'Postfix', implemented: false },
};

const IMPLEMENTED = new Set<string>(Object.values(commandSyntax).filter((info) => info.implemented).map((info) => info.verb));
const KNOWN = new Set<string>(Object.keys(commandSyntax));

function reject(reply: Reply): ParsedCommand {
  return { ok: false, reply };
}

function accept(command: Command): ParsedCommand {
  return { ok: true, command };
}

/** Removes one trailing CRLF or LF, if present. */
function stripLineEnding(line: string): string {
  if (line.endsWith('\r\n')) return line.slice(0, -2);
  if (line.endsWith('\n')) return line.slice(0, -1);
  return line;
}

/**
 * Parses one command line, with or without its CRLF. The line is expected to be text already
 * framed by `LineFramer` (framing.ts), which decides what ends a line.
 */
export function parseCommand(line: string, options: ParseCommandOptions = {}): ParsedCommand {
  const text = stripLineEnding(line);
  const verbMatch = splitVerb(text);
  const verb = verbMatch?.verb;
  const limit = verb === 'AUTH' ? MAX_AUTH_LINE_OCTETS : MAX_COMMAND_LINE_OCTETS;
  // +2 for the CRLF, which the limit includes (§4.5.3.1.4).
  if (utf8Length(text) + 2 > limit) {
    return reject(verb === 'AUTH' ? Replies.authLineTooLong() : Replies.lineTooLong());
  }
  if (text.trim() === '') return reject(Replies.syntaxError('empty command'));
  if (verbMatch === undefined || verb === undefined || !KNOWN.has(verb)) {
    const word = /^\S{0,20}/.exec(text)?.[0] ?? '';
    return reject(Replies.syntaxError(word && !/[\x00-\x1f\x7f]/.test(word) ? `unknown command "${word}"` : undefined));
  }
  if (!IMPLEMENTED.has(verb)) return reject(Replies.notImplemented(verb));
  const argument = verbMatch.argument;
  if (/[\x00-\x1f\x7f]/.test(argument)) {
    return reject(Replies.syntaxErrorInParameters('control characters are not allowed in a command'));
  }
  return parseArguments(verb as Verb, argument, options.strict ?? false);
}

const SPACE = 0x20;
const TAB = 0x09;

function isAsciiLetter(unit: number): boolean {
  return (unit >= 0x41 && unit <= 0x5a) || (unit >= 0x61 && unit <= 0x7a);
}

/**
 * The verb (upper-cased) and its argument, read as `/^([A-Za-z]+)(?: +(.*))?$/s` reads the line
 * without its trailing spaces and tabs: letters, then the end or one or more spaces and the
 * argument. Undefined when the line does not start that way. (A scan rather than the regular
 * expression and a trimmed copy: it runs on every command line.)
 */
export function splitVerb(text: string): { verb: string; argument: string } | undefined {
  let end = text.length;
  while (end > 0) {
    const unit = text.charCodeAt(end - 1);
    if (unit !== SPACE && unit !== TAB) break;
    end--;
  }
  let verbEnd = 0;
  while (verbEnd < end && isAsciiLetter(text.charCodeAt(verbEnd))) verbEnd++;
  if (verbEnd === 0 || (verbEnd < end && text.charCodeAt(verbEnd) !== SPACE)) return undefined;
  let argumentStart = verbEnd;
  while (argumentStart < end && text.charCodeAt(argumentStart) === SPACE) argumentStart++;
  return { verb: text.slice(0, verbEnd).toUpperCase(), argument: text.slice(argumentStart, end) };
}

function noArguments(verb: 'DATA' | 'RSET' | 'QUIT' | 'STARTTLS', argument: string): ParsedCommand {
  // §4.1.1.4, §4.1.1.5, §4.1.1.10 and RFC 3207 §4: these take no parameters.
  if (argument !== '') return reject(Replies.syntaxErrorInParameters(`${verb} takes no arguments`));
  return accept({ verb });
}

function parseArguments(verb: Verb, argument: string, strict: boolean): ParsedCommand {
  switch (verb) {
    case 'EHLO':
    case 'HELO': {
      if (argument === '') return reject(Replies.syntaxErrorInParameters(`Syntax: ${verb} <domain>`));
      if (argument.includes(' ')) return reject(Replies.syntaxErrorInParameters(`${verb} takes one domain name or address literal`));
      // A name outside the Domain grammar (e.g. "my_pc") is still accepted: RFC 5321 §4.1.4
      // says a server must not refuse a session over the EHLO argument's validity.
      return accept({ verb, domain: argument, domainValid: isDomain(argument) || isAddressLiteral(argument) });
    }
    case 'MAIL':
      return parseMail(argument, strict);
    case 'RCPT':
      return parseRcpt(argument, strict);
    case 'DATA':
    case 'RSET':
    case 'QUIT':
    case 'STARTTLS':
      return noArguments(verb, argument);
    case 'NOOP':
      // §4.1.1.9: "NOOP" [ SP String ]; the argument is ignored.
      return accept(argument === '' ? { verb } : { verb, argument });
    case 'VRFY':
    case 'EXPN':
      if (argument === '') return reject(Replies.syntaxErrorInParameters(`Syntax: ${verb} <string>`));
      return accept({ verb, argument });
    case 'HELP':
      return accept(argument === '' ? { verb } : { verb, topic: argument });
    case 'AUTH':
      return parseAuth(argument);
  }
}

/**
 * "FROM:" / "TO:" followed by the path. Returns the text after the colon (spaces skipped when
 * tolerated) or a reply.
 */
function afterKeyword(argument: string, keyword: 'FROM:' | 'TO:', verb: 'MAIL' | 'RCPT', strict: boolean, leniencies: Leniency[]): string | Reply {
  if (argument.slice(0, keyword.length).toUpperCase() !== keyword) {
    return Replies.syntaxErrorInParameters(`Syntax: ${commandSyntax[verb].syntax}`);
  }
  const rest = argument.slice(keyword.length);
  const trimmed = rest.replace(/^ +/, '');
  if (trimmed !== rest) {
    if (strict) return Replies.syntaxErrorInParameters(`no space is allowed after "${keyword}" (RFC 5321 §4.1.2)`);
    leniencies.push('space-after-colon');
  }
  return trimmed;
}

function readPathOrReply(text: string, role: PathRole, strict: boolean, leniencies: Leniency[]) {
  const result = readPath(text, role, { allowMissingBrackets: !strict });
  const badSyntax = role === 'reverse' ? Replies.badSenderSyntax : Replies.badRecipientSyntax;
  if (!result.ok) return result.tooLong ? Replies.pathTooLong(result.reason) : badSyntax(result.reason);
  if (result.bracketsMissing) leniencies.push('missing-angle-brackets');
  if (result.rest !== '' && !result.rest.startsWith(' ')) {
    return badSyntax(`unexpected "${result.rest}" after the path; parameters are separated by a space`);
  }
  return result;
}

function parseMail(argument: string, strict: boolean): ParsedCommand {
  const leniencies: Leniency[] = [];
  const pathText = afterKeyword(argument, 'FROM:', 'MAIL', strict, leniencies);
  if (typeof pathText !== 'string') return reject(pathText);
  const path = readPathOrReply(pathText, 'reverse', strict, leniencies);
  if (!('ok' in path)) return reject(path);
  const params = parseMailParams(path.rest);
  if (!params.ok) return reject(params.reply);
  return accept({ verb: 'MAIL', reversePath: path.path, params: params.params, utf8: path.utf8, leniencies });
}

function parseRcpt(argument: string, strict: boolean): ParsedCommand {
  const leniencies: Leniency[] = [];
  const pathText = afterKeyword(argument, 'TO:', 'RCPT', strict, leniencies);
  if (typeof pathText !== 'string') return reject(pathText);
  const path = readPathOrReply(pathText, 'forward', strict, leniencies);
  if (!('ok' in path)) return reject(path);
  const params = parseRcptParams(path.rest);
  if (!params.ok) return reject(params.reply);
  return accept({ verb: 'RCPT', forwardPath: path.path, params: params.params, utf8: path.utf8, leniencies });
}

/**
 * RFC 4954 §4: "AUTH" SP sasl-mech [SP initial-response]; sasl-mech is 1-20 of upper-case
 * letters, digits, "-" and "_" (matched case-insensitively here and upper-cased). An
 * initial response of "=" means "empty" and is given as ''. Otherwise the base64 text is
 * passed on as written: decoding it, and answering 501 5.5.2 when it is not base64, belongs to
 * the mechanism.
 */
function parseAuth(argument: string): ParsedCommand {
  const words = argument.split(' ').filter((word) => word !== '');
  const [mechanism, response, ...extra] = words;
  if (mechanism === undefined) return reject(Replies.syntaxErrorInParameters('Syntax: AUTH <mechanism> [initial-response]'));
  if (extra.length > 0) return reject(Replies.syntaxErrorInParameters('AUTH takes a mechanism and at most one initial response'));
  if (!new RegExp(`^[A-Za-z0-9_-]{1,${MAX_SASL_MECHANISM_CHARS}}$`).test(mechanism)) {
    return reject(Replies.syntaxErrorInParameters(`"${mechanism}" is not a SASL mechanism name`));
  }
  const upper = mechanism.toUpperCase();
  if (response === undefined) return accept({ verb: 'AUTH', mechanism: upper });
  return accept({ verb: 'AUTH', mechanism: upper, initialResponse: response === '=' ? '' : response });
}

/** Wire form of a command without its CRLF, e.g. for a client that sends parsed commands. */
export function formatCommand(command: Command): string {
  switch (command.verb) {
    case 'EHLO':
    case 'HELO':
      return `${command.verb} ${command.domain}`;
    case 'MAIL':
      return [`MAIL FROM:${formatPath(command.reversePath)}`, ...command.params.list.map((p) => p.text)].join(' ');
    case 'RCPT':
      return [`RCPT TO:${formatPath(command.forwardPath)}`, ...command.params.list.map((p) => p.text)].join(' ');
    case 'NOOP':
      return command.argument === undefined ? 'NOOP' : `NOOP ${command.argument}`;
    case 'VRFY':
    case 'EXPN':
      return `${command.verb} ${command.argument}`;
    case 'HELP':
      return command.topic === undefined ? 'HELP' : `HELP ${command.topic}`;
    case 'AUTH':
      if (command.initialResponse === undefined) return `AUTH ${command.mechanism}`;
      return `AUTH ${command.mechanism} ${command.initialResponse === '' ? '=' : command.initialResponse}`;
    default:
      return command.verb;
  }
}
