/**
 * Reverse- and forward-paths (RFC 5321 §4.1.2) and mailboxes.
 *
 *   Reverse-path = Path / "<>"
 *   Forward-path = Path / "<Postmaster>"   (the bare postmaster, RFC 5321 §4.1.1.3)
 *   Path         = "<" [ A-d-l ":" ] Mailbox ">"
 *   Mailbox      = Local-part "@" ( Domain / address-literal )
 *
 * The source route (A-d-l, "@a.example,@b.example:") is accepted and ignored, as RFC 5321
 * §4.1.1.3 and Appendix C tell servers to do; it is kept in `sourceRoute` so a UI can show it.
 *
 * RFC 6531 §3.3 extends atext, qtext and sub-domains with UTF-8. Such paths parse here and
 * report `utf8: true`; whether they are allowed (only with the SMTPUTF8 parameter on MAIL) is
 * for the caller to decide, because the parameter may be on a different command line.
 */
import { MAX_DOMAIN_LABEL_OCTETS, MAX_DOMAIN_OCTETS, MAX_LOCAL_PART_OCTETS, MAX_PATH_OCTETS } from './limits';
import { utf8Length } from './utf8';

export type DomainKind = 'name' | 'ipv4' | 'ipv6' | 'general';

export interface Mailbox {
  /** The local part's value: quotes and backslash escapes removed. Case is kept (§2.4). */
  local: string;
  /** The domain as written, or the whole address literal including its brackets. */
  domain: string;
  /** Canonical text "local@domain", the local part quoted only when it must be (§4.1.2). */
  text: string;
  /** The local part was written as a quoted string. */
  quoted: boolean;
  /** Local part or domain contains non-ASCII characters (RFC 6531). */
  utf8: boolean;
  domainKind: DomainKind;
}

/**
 * A parsed path:
 * - `null`: the null reverse-path `<>` (bounces and other notifications, §4.5.5)
 * - `postmaster`: the bare `<Postmaster>` forward-path (any case)
 * - `mailbox`: an ordinary path; `sourceRoute` holds the ignored A-d-l domains, if any.
 */
export type Path =
  | { kind: 'null' }
  | { kind: 'postmaster' }
  | { kind: 'mailbox'; mailbox: Mailbox; sourceRoute?: string[] };

export type PathRole = 'reverse' | 'forward';

export interface PathOptions {
  /**
   * Accept a path written without angle brackets (`MAIL FROM:alice@example.com`). RFC 5321
   * requires them, but many servers (Postfix with its default strict_rfc821_envelopes=no)
   * accept this form, and people typing by hand often forget. Defaults to true.
   */
  allowMissingBrackets?: boolean;
}

export type PathResult =
  | {
      ok: true;
      path: Path;
      /** Any part of the path is non-ASCII (SMTPUTF8 needed). */
      utf8: boolean;
      /** Length of the path in octets, counting the brackets even when they were omitted. */
      octets: number;
      /** The path was written without angle brackets. */
      bracketsMissing: boolean;
      /** Text after the path (ESMTP parameters, when read from a command line). */
      rest: string;
    }
  | {
      ok: false;
      reason: string;
      /** The failure is a length limit (§4.5.3.1) rather than a syntax error. */
      tooLong: boolean;
    };

const LETTERS_AND_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A table over US-ASCII: 1 for each unit of `chars`. (Every character of every address is tested.) */
function asciiTable(chars: string): Uint8Array {
  const table = new Uint8Array(0x80);
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
}

/** atext (RFC 5322 §3.2.3): letters, digits and !#$%&'*+-/=?^_`{|}~. */
const ATEXT_ASCII = asciiTable(`${LETTERS_AND_DIGITS}!#$%&'*+-/=?^_\`{|}~`);
/** Let-dig and "-" (RFC 5321 §4.1.2 Ldh-str). */
const LDH_ASCII = asciiTable(`${LETTERS_AND_DIGITS}-`);

/** atext or, per RFC 6531 §3.3, any non-ASCII character. False for '' (the end of the text). */
function isAtext(ch: string): boolean {
  const unit = ch.charCodeAt(0);
  return unit >= 0x80 || ATEXT_ASCII[unit] === 1;
}

/** A character of a domain label: Let-dig, "-", or a non-ASCII character of a U-label (RFC 6531). */
function isLabelCharacter(ch: string): boolean {
  const unit = ch.charCodeAt(0);
  return unit >= 0x80 || LDH_ASCII[unit] === 1;
}

/** qtextSMTP: %d32-33 / %d35-91 / %d93-126, plus UTF-8 (RFC 6531). */
function isQtext(ch: string): boolean {
  const c = ch.charCodeAt(0);
  return (c >= 32 && c <= 126 && c !== 34 && c !== 92) || c >= 0x80;
}

const DOT_STRING = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uffff]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uffff]+)*$/;

/** Quotes a local part when it is not a valid Dot-string (§4.1.2: use the dot-string form when possible). */
export function formatLocalPart(local: string): string {
  if (DOT_STRING.test(local)) return local;
  return `"${local.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** Canonical addr-spec text of a mailbox: `local@domain`. */
export function formatMailbox(mailbox: Pick<Mailbox, 'local' | 'domain'>): string {
  return `${formatLocalPart(mailbox.local)}@${mailbox.domain}`;
}

/** Wire form of a path: `<>`, `<Postmaster>` or `<local@domain>` (the source route is dropped). */
export function formatPath(path: Path): string {
  if (path.kind === 'null') return '<>';
  if (path.kind === 'postmaster') return '<Postmaster>';
  return `<${path.mailbox.text}>`;
}

class Failure {
  constructor(
    readonly reason: string,
    readonly tooLong = false,
  ) {}
}

/** A small cursor over the input; parse functions return a value or a Failure. */
class Cursor {
  position = 0;
  constructor(readonly text: string) {}
  peek(): string {
    return this.text[this.position] ?? '';
  }
  atEnd(): boolean {
    return this.position >= this.text.length;
  }
}

/** A UTF-16 surrogate without its other half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Reads a path at the start of `text`; `rest` is what follows it. */
export function readPath(text: string, role: PathRole, options: PathOptions = {}): PathResult {
  const allowMissingBrackets = options.allowMissingBrackets ?? true;
  const cursor = new Cursor(text);
  const result = cursor.peek() === '<' ? readBracketed(cursor, role) : allowMissingBrackets ? readBare(cursor, role) : new Failure('the path must be enclosed in angle brackets, e.g. <alice@example.com>');
  if (result instanceof Failure) return { ok: false, reason: result.reason, tooLong: result.tooLong };
  const written = text.slice(0, cursor.position);
  const bracketsMissing = !written.startsWith('<');
  const octets = utf8Length(written) + (bracketsMissing ? 2 : 0);
  if (octets > MAX_PATH_OCTETS) {
    return { ok: false, reason: `path is ${octets} octets; the limit is ${MAX_PATH_OCTETS} (RFC 5321 §4.5.3.1.3)`, tooLong: true };
  }
  const utf8 = /[^\x00-\x7f]/.test(written);
  // RFC 6531 §3.3: non-ASCII in a mailbox is UTF-8 (RFC 3629). Octets that were not UTF-8 reach
  // here as lone surrogates (protocol/utf8.ts keeps them so message bodies keep their bytes);
  // in an address they are a syntax error, not a character to deliver to.
  if (utf8 && LONE_SURROGATE.test(written)) {
    return { ok: false, reason: 'the address holds octets that are not UTF-8; a non-ASCII address must be valid UTF-8 (RFC 6531 §3.3)', tooLong: false };
  }
  return { ok: true, path: result, utf8, octets, bracketsMissing, rest: text.slice(cursor.position) };
}

/** Parses text that must be exactly one path (nothing before or after it). */
export function parsePath(text: string, role: PathRole, options: PathOptions = {}): PathResult {
  const result = readPath(text, role, options);
  if (result.ok && result.rest !== '') {
    return { ok: false, reason: `unexpected text after the path: "${result.rest}"`, tooLong: false };
  }
  return result;
}

function readBracketed(cursor: Cursor, role: PathRole): Path | Failure {
  cursor.position++; // "<"
  if (cursor.peek() === '>') {
    cursor.position++;
    if (role === 'forward') return new Failure('the null path <> is only allowed as a reverse-path (MAIL FROM)');
    return { kind: 'null' };
  }
  const rest = cursor.text.slice(cursor.position);
  if (/^postmaster>/i.test(rest)) {
    cursor.position += 'postmaster>'.length;
    if (role === 'reverse') return new Failure('<Postmaster> without a domain is only allowed as a forward-path (RCPT TO)');
    return { kind: 'postmaster' };
  }
  let sourceRoute: string[] | undefined;
  if (cursor.peek() === '@') {
    const route = readSourceRoute(cursor);
    if (route instanceof Failure) return route;
    sourceRoute = route;
  }
  const mailbox = readMailbox(cursor);
  if (mailbox instanceof Failure) return mailbox;
  if (cursor.peek() !== '>') {
    return new Failure(cursor.atEnd() ? 'missing ">" at the end of the path' : `unexpected "${cursor.peek()}" in the path; expected ">"`);
  }
  cursor.position++;
  return sourceRoute ? { kind: 'mailbox', mailbox, sourceRoute } : { kind: 'mailbox', mailbox };
}

/** A path without brackets: a mailbox ending at a space or the end of the text. */
function readBare(cursor: Cursor, role: PathRole): Path | Failure {
  if (cursor.atEnd() || cursor.peek() === ' ') return new Failure('missing path, e.g. <alice@example.com>');
  const word = /^[^ ]*/.exec(cursor.text)?.[0] ?? '';
  if (role === 'forward' && /^postmaster$/i.test(word)) {
    cursor.position += word.length;
    return { kind: 'postmaster' };
  }
  const mailbox = readMailbox(cursor);
  if (mailbox instanceof Failure) return mailbox;
  if (!cursor.atEnd() && cursor.peek() !== ' ') return new Failure(`unexpected "${cursor.peek()}" after the address`);
  return { kind: 'mailbox', mailbox };
}

/** A-d-l ":" where A-d-l = At-domain *( "," At-domain ), At-domain = "@" Domain. */
function readSourceRoute(cursor: Cursor): string[] | Failure {
  const domains: string[] = [];
  for (;;) {
    if (cursor.peek() !== '@') return new Failure('bad source route: expected "@" before each domain');
    cursor.position++;
    const domain = readDomainName(cursor);
    if (domain instanceof Failure) return domain;
    domains.push(domain);
    if (cursor.peek() === ',') {
      cursor.position++;
      continue;
    }
    if (cursor.peek() === ':') {
      cursor.position++;
      return domains;
    }
    return new Failure('bad source route: expected "," or ":" after a domain');
  }
}

function readMailbox(cursor: Cursor): Mailbox | Failure {
  const start = cursor.position;
  const local = cursor.peek() === '"' ? readQuotedString(cursor) : readDotString(cursor);
  if (local instanceof Failure) return local;
  const localWritten = cursor.text.slice(start, cursor.position);
  const localOctets = utf8Length(localWritten);
  if (localOctets > MAX_LOCAL_PART_OCTETS) {
    return new Failure(`local part is ${localOctets} octets; the limit is ${MAX_LOCAL_PART_OCTETS} (RFC 5321 §4.5.3.1.1)`, true);
  }
  if (cursor.peek() !== '@') {
    return new Failure(cursor.atEnd() || cursor.peek() === '>' ? 'missing "@domain" in the address' : `unexpected "${cursor.peek()}" in the local part`);
  }
  cursor.position++;
  const domainStart = cursor.position;
  let domainKind: DomainKind = 'name';
  if (cursor.peek() === '[') {
    const literal = readAddressLiteral(cursor);
    if (literal instanceof Failure) return literal;
    domainKind = literal;
  } else {
    const name = readDomainName(cursor);
    if (name instanceof Failure) return name;
  }
  const domain = cursor.text.slice(domainStart, cursor.position);
  const quoted = localWritten.startsWith('"');
  const utf8 = /[^\x00-\x7f]/.test(local + domain);
  return { local: local.value, domain, text: formatMailbox({ local: local.value, domain }), quoted, utf8, domainKind };
}

function readDotString(cursor: Cursor): { value: string } | Failure {
  const start = cursor.position;
  for (;;) {
    const atomStart = cursor.position;
    while (!cursor.atEnd() && isAtext(cursor.peek())) cursor.position++;
    if (cursor.position === atomStart) {
      if (cursor.position === start) {
        return new Failure(cursor.atEnd() || cursor.peek() === '>' ? 'empty address' : `character "${cursor.peek()}" is not allowed in an unquoted local part`);
      }
      return new Failure('the local part may not contain ".." or end with "."');
    }
    if (cursor.peek() !== '.') break;
    cursor.position++;
  }
  return { value: cursor.text.slice(start, cursor.position) };
}

function readQuotedString(cursor: Cursor): { value: string } | Failure {
  cursor.position++; // opening quote
  let value = '';
  for (;;) {
    if (cursor.atEnd()) return new Failure('unterminated quoted local part');
    const ch = cursor.peek();
    if (ch === '"') {
      cursor.position++;
      return { value };
    }
    if (ch === '\\') {
      const next = cursor.text[cursor.position + 1] ?? '';
      const code = next.charCodeAt(0);
      // quoted-pairSMTP = %d92 %d32-126 (§4.1.2)
      if (!(code >= 32 && code <= 126)) return new Failure('a backslash in a quoted local part must be followed by a printable ASCII character');
      value += next;
      cursor.position += 2;
      continue;
    }
    if (!isQtext(ch)) return new Failure('control characters are not allowed in a quoted local part');
    value += ch;
    cursor.position++;
  }
}

/** Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str] or a U-label (RFC 6531). */
function readDomainName(cursor: Cursor): string | Failure {
  const start = cursor.position;
  for (;;) {
    const labelStart = cursor.position;
    while (!cursor.atEnd() && isLabelCharacter(cursor.peek())) cursor.position++;
    const label = cursor.text.slice(labelStart, cursor.position);
    if (label === '') {
      return new Failure(cursor.position === start ? 'missing domain after "@"' : 'empty label in the domain (".." or a trailing ".")');
    }
    if (label.startsWith('-') || label.endsWith('-')) return new Failure(`domain label "${label}" may not start or end with "-"`);
    if (utf8Length(label) > MAX_DOMAIN_LABEL_OCTETS) {
      return new Failure(`domain label is over ${MAX_DOMAIN_LABEL_OCTETS} octets (RFC 1035 §2.3.4)`, true);
    }
    if (cursor.peek() !== '.') break;
    cursor.position++;
  }
  const domain = cursor.text.slice(start, cursor.position);
  const octets = utf8Length(domain);
  if (octets > MAX_DOMAIN_OCTETS) {
    return new Failure(`domain is ${octets} octets; the limit is ${MAX_DOMAIN_OCTETS} (RFC 5321 §4.5.3.1.2)`, true);
  }
  return domain;
}

/** address-literal = "[" ( IPv4-address-literal / IPv6-address-literal / General-address-literal ) "]" */
function readAddressLiteral(cursor: Cursor): DomainKind | Failure {
  const close = cursor.text.indexOf(']', cursor.position);
  if (close === -1) return new Failure('address literal is missing its closing "]"');
  const inside = cursor.text.slice(cursor.position + 1, close);
  const kind = addressLiteralKind(inside);
  if (kind instanceof Failure) return kind;
  cursor.position = close + 1;
  return kind;
}

function addressLiteralKind(inside: string): DomainKind | Failure {
  if (isIPv4(inside)) return 'ipv4';
  if (/^ipv6:/i.test(inside)) {
    return isIPv6(inside.slice(5)) ? 'ipv6' : new Failure(`"[${inside}]" is not a valid IPv6 address literal`);
  }
  // General-address-literal = Standardized-tag ":" 1*dcontent; dcontent = %d33-90 / %d94-126
  if (/^[A-Za-z0-9-]*[A-Za-z0-9]:[\x21-\x5a\x5e-\x7e]+$/.test(inside)) return 'general';
  return new Failure(`"[${inside}]" is not a valid address literal (expected e.g. [192.0.2.1] or [IPv6:2001:db8::1])`);
}

/** Snum = 1*3DIGIT representing a decimal integer 0..255 (§4.1.3). */
export function isIPv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255);
}

/** IPv6-addr = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp (§4.1.3). */
export function isIPv6(text: string): boolean {
  let groups = 8;
  let body = text;
  const lastColon = text.lastIndexOf(':');
  if (lastColon !== -1 && text.slice(lastColon + 1).includes('.')) {
    if (!isIPv4(text.slice(lastColon + 1))) return false;
    groups = 6;
    body = text.slice(0, lastColon + 1);
    // keep a trailing "::" intact, drop a single trailing ":" that separated the IPv4 part
    if (!body.endsWith('::')) body = body.slice(0, -1);
  }
  const hex = /^[0-9A-Fa-f]{1,4}$/;
  const halves = body.split('::');
  if (halves.length > 2) return false;
  const toGroups = (part: string): string[] | undefined => {
    if (part === '') return [];
    const list = part.split(':');
    return list.every((g) => hex.test(g)) ? list : undefined;
  };
  if (halves.length === 1) {
    const list = toGroups(halves[0]!);
    return list !== undefined && list.length === groups;
  }
  const left = toGroups(halves[0]!);
  const right = toGroups(halves[1]!);
  if (!left || !right) return false;
  // RFC 5321 IPv6-comp: at most 6 groups besides the "::" (4 with an IPv4 tail).
  return left.length + right.length <= groups - 2;
}

/** True for a syntactically valid Domain (as in EHLO/HELO). */
export function isDomain(text: string): boolean {
  const cursor = new Cursor(text);
  const result = readDomainName(cursor);
  return !(result instanceof Failure) && cursor.atEnd();
}

/** True for a valid address literal such as "[192.0.2.1]" or "[IPv6:2001:db8::1]". */
export function isAddressLiteral(text: string): boolean {
  if (!text.startsWith('[') || !text.endsWith(']')) return false;
  return !(addressLiteralKind(text.slice(1, -1)) instanceof Failure);
}
