/**
 * ESMTP parameters on MAIL FROM and RCPT TO (RFC 5321 §4.1.2 "Mail-parameters", "Rcpt-parameters").
 *
 *   esmtp-param   = esmtp-keyword ["=" esmtp-value]
 *   esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 *   esmtp-value   = 1*(%d33-60 / %d62-126)        (plus UTF-8 under RFC 6531 §3.3)
 *
 * Which reply for which problem:
 * - a keyword this project does not know, or one that belongs to the other command:
 *   555 5.5.4. RFC 5321 §4.1.1.11 and §4.1.1.2/§4.1.1.3 name 555 for "MAIL FROM/RCPT TO
 *   parameters not recognized or not implemented"; 504 is for the parameters of other commands.
 * - a known keyword with a malformed or missing value, a repeated keyword, or a broken
 *   parameter list: 501 5.5.4, "syntax error in parameters or arguments" (§4.2.2).
 *
 * Parsing knows every parameter this project implements. Whether the server advertised the
 * extension is a per-session fact, so `paramsNotAdvertised` checks that separately.
 */
import type { Reply } from './reply';
import { Replies } from './replies';
import { MAX_ENVID_CHARS, MAX_ORCPT_CHARS, MAX_SIZE_DIGITS } from './limits';
import { utf8Decode, utf8Encode } from './utf8';

export interface EsmtpParam {
  /** Keyword in upper case (keywords are case-insensitive). */
  keyword: string;
  /** Value as written, or undefined for a keyword without "=". */
  value?: string;
  /** The parameter as written on the line. */
  text: string;
}

/** RFC 6152 (8BITMIME) and RFC 3030 (BINARYMIME). */
export type BodyType = '7BIT' | '8BITMIME' | 'BINARYMIME';

/** RFC 4954 §5: AUTH=<> (submitter unknown) or AUTH=<xtext mailbox>. */
export type AuthParam = { kind: 'unknown' } | { kind: 'mailbox'; mailbox: string };

export interface MailParameters {
  /** RFC 1870: the size the client declares, in octets. */
  size?: number;
  body?: BodyType;
  /** RFC 6531: the SMTPUTF8 parameter was given. */
  smtputf8: boolean;
  auth?: AuthParam;
  /** RFC 3461 §4.3: return the full message or only headers in a DSN. */
  ret?: 'FULL' | 'HDRS';
  /** RFC 3461 §4.4: envelope id, xtext-decoded. */
  envid?: string;
  /** Every parameter as given, in order. */
  list: EsmtpParam[];
}

export type NotifyCondition = 'SUCCESS' | 'FAILURE' | 'DELAY';

export interface RcptParameters {
  /** RFC 3461 §4.1: NEVER, or the conditions that trigger a DSN. */
  notify?: 'NEVER' | NotifyCondition[];
  /** RFC 3461 §4.2: original recipient, xtext-decoded. */
  orcpt?: { addressType: string; address: string };
  list: EsmtpParam[];
}

export type ParamsResult<T> = { ok: true; params: T } | { ok: false; reply: Reply };

const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
/** %d33-60 / %d62-126 and any non-ASCII character: no space, no "=", no controls. */
const VALUE = /^[\x21-\x3c\x3e-\x7e\u0080-\uffff]+$/;

/** Splits "SIZE=123 BODY=8BITMIME" into parameters, checking only the generic grammar. */
export function splitParams(text: string): ParamsResult<EsmtpParam[]> {
  const words = text.split(' ').filter((word) => word !== '');
  const list: EsmtpParam[] = [];
  for (const word of words) {
    const equals = word.indexOf('=');
    const keyword = equals === -1 ? word : word.slice(0, equals);
    const value = equals === -1 ? undefined : word.slice(equals + 1);
    if (!KEYWORD.test(keyword)) {
      return fail(Replies.syntaxErrorInParameters(`bad parameter "${word}"`));
    }
    if (value !== undefined && !VALUE.test(value)) {
      return fail(Replies.syntaxErrorInParameters(`bad value in "${word}"`));
    }
    list.push(value === undefined ? { keyword: keyword.toUpperCase(), text: word } : { keyword: keyword.toUpperCase(), value, text: word });
  }
  return { ok: true, params: list };
}

function fail(reply: Reply): { ok: false; reply: Reply } {
  return { ok: false, reply };
}

function requireValue(param: EsmtpParam): string | Reply {
  return param.value === undefined ? Replies.syntaxErrorInParameters(`${param.keyword} needs a value`) : param.value;
}

function firstDuplicate(list: EsmtpParam[]): string | undefined {
  const seen = new Set<string>();
  for (const param of list) {
    if (seen.has(param.keyword)) return param.keyword;
    seen.add(param.keyword);
  }
  return undefined;
}

const RCPT_ONLY = new Set(['NOTIFY', 'ORCPT']);
const MAIL_ONLY = new Set(['SIZE', 'BODY', 'SMTPUTF8', 'AUTH', 'RET', 'ENVID']);

/** Parses and checks the parameters after MAIL FROM:<path>. */
export function parseMailParams(text: string): ParamsResult<MailParameters> {
  const split = splitParams(text);
  if (!split.ok) return split;
  const list = split.params;
  const duplicate = firstDuplicate(list);
  if (duplicate) return fail(Replies.syntaxErrorInParameters(`${duplicate} given more than once`));
  const params: MailParameters = { smtputf8: false, list };
  for (const param of list) {
    switch (param.keyword) {
      case 'SIZE': {
        const value = requireValue(param);
        if (typeof value !== 'string') return fail(value);
        // RFC 1870 §3: size-value ::= 1*20DIGIT
        if (!/^\d+$/.test(value) || value.length > MAX_SIZE_DIGITS) return fail(Replies.syntaxErrorInParameters('SIZE must be a number of octets'));
        params.size = Number(value);
        break;
      }
      case 'BODY': {
        const value = requireValue(param);
        if (typeof value !== 'string') return fail(value);
        const body = value.toUpperCase();
        if (body !== '7BIT' && body !== '8BITMIME' && body !== 'BINARYMIME') {
          return fail(Replies.syntaxErrorInParameters('BODY must be 7BIT, 8BITMIME or BINARYMIME'));
        }
        params.body = body;
        break;
      }
      case 'SMTPUTF8':
        // RFC 6531 §3.4: the parameter has no value.
        if (param.value !== undefined) return fail(Replies.syntaxErrorInParameters('SMTPUTF8 takes no value'));
        params.smtputf8 = true;
        break;
      case 'AUTH': {
        const value = requireValue(param);
        if (typeof value !== 'string') return fail(value);
        if (value === '<>') {
          params.auth = { kind: 'unknown' };
        } else {
          const mailbox = xtextDecode(value);
          if (mailbox === undefined || mailbox === '') return fail(Replies.syntaxErrorInParameters('AUTH must be <> or an xtext-encoded mailbox'));
          params.auth = { kind: 'mailbox', mailbox };
        }
        break;
      }
      case 'RET': {
        const value = requireValue(param);
        if (typeof value !== 'string') return fail(value);
        const ret = value.toUpperCase();
        if (ret !== 'FULL' && ret !== 'HDRS') return fail(Replies.syntaxErrorInParameters('RET must be FULL or HDRS'));
        params.ret = ret;
        break;
      }
      case 'ENVID': {
        const value = requireValue(param);
        if (typeof value !== 'string') return fail(value);
        const envid = xtextDecode(value);
        if (envid === undefined || value.length > MAX_ENVID_CHARS) {
          return fail(Replies.syntaxErrorInParameters(`ENVID must be xtext of at most ${MAX_ENVID_CHARS} characters`));
        }
        params.envid = envid;
        break;
      }
      default:
        return fail(Replies.paramNotImplemented(RCPT_ONLY.has(param.keyword) ? `${param.keyword} (RCPT TO only)` : param.keyword));
    }
  }
  return { ok: true, params };
}

/** Parses and checks the parameters after RCPT TO:<path>. */
export function parseRcptParams(text: string): ParamsResult<RcptParameters> {
  const split = splitParams(text);
  if (!split.ok) return split;
  const list = split.params;
  const duplicate = firstDuplicate(list);
  if (duplicate) return fail(Replies.syntaxErrorInParameters(`${duplicate} given more than once`));
  const params: RcptParameters = { list };
  for (const param of list) {
    switch (param.keyword) {
      case 'NOTIFY': {
        const value = requireValue(param);
        if (typeof value !== 'string') return fail(value);
        // RFC 3461 §4.1: "NEVER" alone, or a comma list of SUCCESS, FAILURE, DELAY.
        const items = value.toUpperCase().split(',');
        if (items.length === 1 && items[0] === 'NEVER') {
          params.notify = 'NEVER';
          break;
        }
        const conditions = new Set<NotifyCondition>();
        for (const item of items) {
          if (item !== 'SUCCESS' && item !== 'FAILURE' && item !== 'DELAY') {
            return fail(Replies.syntaxErrorInParameters('NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY'));
          }
          conditions.add(item);
        }
        params.notify = [...conditions];
        break;
      }
      case 'ORCPT': {
        const value = requireValue(param);
        if (typeof value !== 'string') return fail(value);
        // RFC 3461 §4.2: orcpt-parameter = "ORCPT=" addr-type ";" xtext
        const semicolon = value.indexOf(';');
        const addressType = semicolon === -1 ? '' : value.slice(0, semicolon);
        const address = semicolon === -1 ? undefined : xtextDecode(value.slice(semicolon + 1));
        if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(addressType) || address === undefined || address === '' || value.length > MAX_ORCPT_CHARS) {
          return fail(Replies.syntaxErrorInParameters('ORCPT must be addr-type;xtext, e.g. rfc822;bob@example.net'));
        }
        params.orcpt = { addressType: addressType.toLowerCase(), address };
        break;
      }
      default:
        return fail(Replies.paramNotImplemented(MAIL_ONLY.has(param.keyword) ? `${param.keyword} (MAIL FROM only)` : param.keyword));
    }
  }
  return { ok: true, params };
}

/** The EHLO keyword that must have been advertised for a parameter to be used. */
export function extensionForParam(param: EsmtpParam): string {
  switch (param.keyword) {
    case 'SIZE':
      return 'SIZE';
    case 'BODY':
      return param.value?.toUpperCase() === 'BINARYMIME' ? 'BINARYMIME' : '8BITMIME';
    case 'SMTPUTF8':
      return 'SMTPUTF8';
    case 'AUTH':
      return 'AUTH';
    default:
      return 'DSN'; // RET, ENVID, NOTIFY, ORCPT (RFC 3461)
  }
}

/**
 * 555 5.5.4 for the first parameter whose extension this session did not advertise (RFC 5321
 * §4.1.1.11), or undefined when all are allowed. `extensions` are EHLO lines such as
 * "SIZE 10485760"; only the first word counts. BODY=7BIT needs no extension.
 */
export function paramsNotAdvertised(params: { list: EsmtpParam[] }, extensions: Iterable<string>): Reply | undefined {
  const offered = new Set<string>();
  for (const line of extensions) offered.add((line.split(' ', 1)[0] ?? '').toUpperCase());
  for (const param of params.list) {
    if (param.keyword === 'BODY' && param.value?.toUpperCase() === '7BIT') continue;
    if (!offered.has(extensionForParam(param))) return Replies.paramNotImplemented(param.keyword);
  }
  return undefined;
}

/**
 * RFC 3461 §4: xtext = *( xchar / hexchar ); xchar is "!".."~" except "+" and "=";
 * hexchar = "+" followed by two upper-case hex digits. The decoded octets are read as UTF-8.
 * Returns undefined for bad xtext.
 */
export function xtextDecode(text: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '+') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
      continue;
    }
    const code = ch.charCodeAt(0);
    if (code < 33 || code > 126 || ch === '=') return undefined;
    bytes.push(code);
  }
  return utf8Decode(Uint8Array.from(bytes));
}

/** RFC 3461 §4.3, §4.4: the DSN requests a client gives with MAIL. */
export interface MailDsnRequest {
  ret?: 'FULL' | 'HDRS';
  /** The envelope id as plain text; it goes on the wire as xtext. */
  envid?: string;
}

/** RFC 3461 §4.1, §4.2: the DSN requests a client gives with the RCPT of one recipient. */
export interface RcptDsnRequest {
  notify?: 'NEVER' | readonly NotifyCondition[];
  /** The original recipient; its address is plain text and goes on the wire as xtext. */
  orcpt?: { addressType: string; address: string };
}

/**
 * The MAIL command as a client writes it (without the line ending), with RET and ENVID when
 * given: "MAIL FROM:<alice@example.com> RET=HDRS ENVID=QQ314159". ENVID is xtext (RFC 3461 §4.4).
 * Only for a server that lists DSN in its EHLO reply; any other refuses them (RFC 5321 §4.1.1.11).
 */
export function mailFromLine(reversePath: string, dsn?: MailDsnRequest): string {
  let line = `MAIL FROM:<${reversePath}>`;
  if (dsn === undefined) return line;
  if (dsn.ret !== undefined) line += ` RET=${dsn.ret}`;
  if (dsn.envid !== undefined) line += ` ENVID=${xtextEncode(dsn.envid)}`;
  return line;
}

/**
 * The RCPT command as a client writes it (without the line ending), with NOTIFY and ORCPT when
 * given: "RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.net". The
 * address of ORCPT is xtext (RFC 3461 §4.2). Like MAIL's, only for a server that lists DSN.
 */
export function rcptToLine(forwardPath: string, dsn?: RcptDsnRequest): string {
  let line = `RCPT TO:<${forwardPath}>`;
  if (dsn === undefined) return line;
  if (dsn.notify !== undefined) line += ` NOTIFY=${dsn.notify === 'NEVER' ? 'NEVER' : dsn.notify.join(',')}`;
  if (dsn.orcpt !== undefined) line += ` ORCPT=${dsn.orcpt.addressType};${xtextEncode(dsn.orcpt.address)}`;
  return line;
}

/** Encodes text as xtext: "+", "=", and every octet outside "!".."~" (UTF-8) become "+XX". */
export function xtextEncode(text: string): string {
  let out = '';
  for (const byte of utf8Encode(text)) {
    const ch = String.fromCharCode(byte);
    out += byte >= 33 && byte <= 126 && ch !== '+' && ch !== '=' ? ch : `+${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
