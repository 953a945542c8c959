/**
 * The DSN requests of RFC 3461 as command-line options. The lab's `send` and `npm run sim -- send`
 * both read them here, so the two accept the same words and refuse bad ones with the same errors:
 *
 *   --notify <addr>=NEVER                      no report at all for that recipient
 *   --notify <addr>=SUCCESS,FAILURE,DELAY      any of the three, comma-separated   (RCPT NOTIFY, §4.1)
 *   --ret FULL|HDRS                            what a failure report returns       (MAIL RET, §4.3)
 *   --envid <id>                               the sender's own id for the message (MAIL ENVID, §4.4)
 *   --orcpt <addr>=<addr-type>;<address>       the recipient as first written      (RCPT ORCPT, §4.2)
 *
 * Pure: words in, values or one error sentence naming the option out. `dsnWireParameters` shows
 * the same requests the way a mail client writes them on MAIL and RCPT to a server that lists
 * DSN in its EHLO reply.
 */
import { mailFromLine, rcptToLine, xtextEncode, type NotifyCondition } from '../protocol/params';
import type { DsnNotify, SendDsnOptions } from '../sim/world';
import { DSN_OPTIONS, type DsnOption } from './shellNames';

export { DSN_OPTIONS, type DsnOption };

export function isDsnOption(name: string): name is DsnOption {
  return (DSN_OPTIONS as readonly string[]).includes(name);
}

/** What the options of one command asked for so far; `notify` and `orcpt` are keyed by the address as typed. */
export interface DsnOptionValues {
  notify: Record<string, DsnNotify>;
  /** "addr-type;address" as `SendDsnOptions.orcpt` takes it (not xtext-encoded). */
  orcpt: Record<string, string>;
  ret?: 'FULL' | 'HDRS';
  envid?: string;
}

export function noDsnOptions(): DsnOptionValues {
  return { notify: {}, orcpt: {} };
}

const CONDITIONS: readonly NotifyCondition[] = ['SUCCESS', 'FAILURE', 'DELAY'];
const ADDRESS = /^[^\s@<>]+@[^\s@<>]+$/;
/** RFC 3461 §4.4: ENVID is at most 100 characters as it is written on the wire (xtext). */
const MAX_ENVID_ON_THE_WIRE = 100;
/** RFC 3461 §4.2: the ORCPT value (addr-type ";" xtext) is at most 500 characters on the wire. */
const MAX_ORCPT_ON_THE_WIRE = 500;
/** RFC 3461 §4.2: addr-type is an atom; "rfc822" names an ordinary mail address. */
const ADDRESS_TYPE = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
/** Printable US-ASCII, the characters xtext can carry of an rfc822 address (RFC 3461 §4). */
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
const ORCPT_FORM = 'write the recipient, "=", the address type, ";" and the address as first written, e.g. bob@example.net=rfc822;bob@old.example';

const NOTIFY_CONDITIONS_FORM = 'after the "=" comes NEVER, or one or more of SUCCESS, FAILURE, DELAY separated by commas (RFC 3461 §4.1)';

function readNotify(values: DsnOptionValues, text: string): string | undefined {
  // The last "=" splits: a local part may hold "=" itself, the conditions never do.
  const equals = text.lastIndexOf('=');
  if (equals <= 0) return `--notify ${text}: write the address, "=", then NEVER or conditions, e.g. bob@example.net=SUCCESS,FAILURE`;
  const address = text.slice(0, equals).replace(/^<(.*)>$/, '$1');
  if (!ADDRESS.test(address)) return `--notify ${text}: "${address}" is not an address like bob@example.net`;
  const words = text.slice(equals + 1).toUpperCase().split(',');
  let notify: DsnNotify;
  if (words.length === 1 && words[0] === 'NEVER') notify = 'NEVER';
  else if (words.includes('NEVER')) return `--notify ${text}: NEVER stands alone; it cannot be combined with other conditions (RFC 3461 §4.1)`;
  else if (words.some((word) => !(CONDITIONS as readonly string[]).includes(word))) return `--notify ${text}: ${NOTIFY_CONDITIONS_FORM}`;
  else notify = [...new Set(words as NotifyCondition[])];
  const already = Object.keys(values.notify).find((named) => named.toLowerCase() === address.toLowerCase());
  if (already !== undefined) return `--notify names ${address} twice: give each recipient one --notify with all its conditions`;
  values.notify[address] = notify;
  return undefined;
}

function readOrcpt(values: DsnOptionValues, text: string): string | undefined {
  // The first "=" that is followed by an address type and ";" splits: a local part may hold "="
  // itself (what follows it there holds "@", which no address type does), and the original
  // address may hold "=" and ";" as it likes.
  const split = /^(.+?)=([^;=@]*);(.*)$/.exec(text);
  if (!split) return `--orcpt ${text}: ${ORCPT_FORM}`;
  const address = split[1]!.replace(/^<(.*)>$/, '$1');
  const addressType = split[2]!;
  const original = split[3]!;
  if (!ADDRESS.test(address)) return `--orcpt ${text}: "${address}" is not an address like bob@example.net`;
  if (!ADDRESS_TYPE.test(addressType)) {
    return `--orcpt ${text}: "${addressType}" is not an address type; before the ";" come letters, digits and hyphens, such as rfc822 (RFC 3461 §4.2)`;
  }
  if (original === '') return `--orcpt ${text}: the original address is missing after "${addressType};"`;
  if (!PRINTABLE_ASCII.test(original)) {
    return `--orcpt ${text}: the original address must be printable ASCII without spaces (RFC 3461 §4.2 carries it as xtext)`;
  }
  const onTheWire = addressType.length + 1 + xtextEncode(original).length;
  if (onTheWire > MAX_ORCPT_ON_THE_WIRE) {
    return `--orcpt is too long: ${onTheWire} characters as it goes on the wire, at most ${MAX_ORCPT_ON_THE_WIRE} (+ and = take three each), RFC 3461 §4.2`;
  }
  const already = Object.keys(values.orcpt).find((named) => named.toLowerCase() === address.toLowerCase());
  if (already !== undefined) return `--orcpt names ${address} twice: a recipient has one original address`;
  // The address type is case-insensitive; written in lower case as the world's DSNs show it.
  values.orcpt[address] = `${addressType.toLowerCase()};${original}`;
  return undefined;
}

/** Reads one option's value into `values`. Returns an error sentence that names the option when the value is bad. */
export function readDsnOption(values: DsnOptionValues, option: DsnOption, value: string): string | undefined {
  switch (option) {
    case '--notify':
      return readNotify(values, value);
    case '--ret': {
      const ret = value.toUpperCase();
      if (ret !== 'FULL' && ret !== 'HDRS') return `--ret ${value}: FULL (the whole message in a bounce) or HDRS (its header only)`;
      values.ret = ret;
      return undefined;
    }
    case '--orcpt':
      return readOrcpt(values, value);
    case '--envid': {
      if (!/^[\x20-\x7e]+$/.test(value)) return `--envid must be 1 to 100 printable ASCII characters (RFC 3461 §4.4)`;
      if (xtextEncode(value).length > MAX_ENVID_ON_THE_WIRE) {
        return `--envid is too long: at most ${MAX_ENVID_ON_THE_WIRE} characters as it goes on the wire (spaces, + and = take three each), RFC 3461 §4.4`;
      }
      values.envid = value;
      return undefined;
    }
  }
}

/**
 * The requests as `world.send` takes them, once every option is read: undefined when none was
 * given, or an error when a --notify or --orcpt names an address that is not among the recipients.
 */
export function finishDsnOptions(values: DsnOptionValues, to: readonly string[]): { ok: true; dsn?: SendDsnOptions } | { ok: false; error: string } {
  const recipients = new Set(to.map((address) => address.toLowerCase()));
  for (const [option, named] of [['--notify', values.notify], ['--orcpt', values.orcpt]] as const) {
    for (const address of Object.keys(named)) {
      if (!recipients.has(address.toLowerCase())) return { ok: false, error: `${option} names "${address}", which is not a recipient (to: ${to.join(', ')})` };
    }
  }
  const dsn: SendDsnOptions = {
    ...(Object.keys(values.notify).length > 0 ? { notify: { ...values.notify } } : {}),
    ...(values.ret !== undefined ? { ret: values.ret } : {}),
    ...(values.envid !== undefined ? { envid: values.envid } : {}),
    ...(Object.keys(values.orcpt).length > 0 ? { orcpt: { ...values.orcpt } } : {}),
  };
  return Object.keys(dsn).length > 0 ? { ok: true, dsn } : { ok: true };
}

/**
 * The MAIL and RCPT lines that carry these requests (RFC 3461 §4): RET and ENVID on MAIL (ENVID
 * in xtext, §4), NOTIFY and ORCPT (its address in xtext, §4.2) on the RCPT of each recipient
 * that gave them.
 */
export function dsnWireParameters(from: string, to: readonly string[], dsn: SendDsnOptions | undefined): { mail: string; rcpt: string[] } {
  const of = <T>(named: Readonly<Record<string, T>> | undefined, address: string): T | undefined =>
    Object.entries(named ?? {}).find(([key]) => key.toLowerCase() === address.toLowerCase())?.[1];
  // The same formatter writes these lines for the world's MTA when it passes requests on.
  const mail = mailFromLine(from, dsn);
  const rcpt = to.map((address) => {
    const orcpt = of(dsn?.orcpt, address);
    const semicolon = orcpt?.indexOf(';') ?? -1;
    return rcptToLine(address, {
      notify: of(dsn?.notify, address),
      orcpt: orcpt === undefined ? undefined : { addressType: orcpt.slice(0, semicolon), address: orcpt.slice(semicolon + 1) },
    });
  });
  return { mail, rcpt };
}
