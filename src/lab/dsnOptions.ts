/**
 * The DSN requests of RFC 3461 as command-line options. The lab's `send` and `npm run sim -- send`
 * both read them here, so the two accept the same words and refuse bad ones with the same errors:
 *
 *   --notify <addr>=NEVER                      no report at all for that recipient
 *   --notify <addr>=SUCCESS,FAILURE,DELAY      any of the three, comma-separated   (RCPT NOTIFY, §4.1)
 *   --ret FULL|HDRS                            what a failure report returns       (MAIL RET, §4.3)
 *   --envid <id>                               the sender's own id for the message (MAIL ENVID, §4.4)
 *
 * Pure: words in, values or one error sentence naming the option out. `dsnWireParameters` shows
 * the same requests the way a mail client writes them on MAIL and RCPT to a server that lists
 * DSN in its EHLO reply.
 */
import { xtextEncode, type NotifyCondition } from '../protocol/params';
import type { DsnNotify, SendDsnOptions } from '../sim/world';

export const DSN_OPTIONS = ['--notify', '--ret', '--envid'] as const;
export type DsnOption = (typeof DSN_OPTIONS)[number];

export function isDsnOption(name: string): name is DsnOption {
  return (DSN_OPTIONS as readonly string[]).includes(name);
}

/** What the options of one command asked for so far; `notify` is keyed by the address as typed. */
export interface DsnOptionValues {
  notify: Record<string, DsnNotify>;
  ret?: 'FULL' | 'HDRS';
  envid?: string;
}

export function noDsnOptions(): DsnOptionValues {
  return { notify: {} };
}

const CONDITIONS: readonly NotifyCondition[] = ['SUCCESS', 'FAILURE', 'DELAY'];
const ADDRESS = /^[^\s@<>]+@[^\s@<>]+$/;
/** RFC 3461 §4.4: ENVID is at most 100 characters as it is written on the wire (xtext). */
const MAX_ENVID_ON_THE_WIRE = 100;

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
 * given, or an error when a --notify names an address that is not among the recipients.
 */
export function finishDsnOptions(values: DsnOptionValues, to: readonly string[]): { ok: true; dsn?: SendDsnOptions } | { ok: false; error: string } {
  const recipients = new Set(to.map((address) => address.toLowerCase()));
  for (const address of Object.keys(values.notify)) {
    if (!recipients.has(address.toLowerCase())) return { ok: false, error: `--notify names "${address}", which is not a recipient (to: ${to.join(', ')})` };
  }
  const dsn: SendDsnOptions = {
    ...(Object.keys(values.notify).length > 0 ? { notify: { ...values.notify } } : {}),
    ...(values.ret !== undefined ? { ret: values.ret } : {}),
    ...(values.envid !== undefined ? { envid: values.envid } : {}),
  };
  return Object.keys(dsn).length > 0 ? { ok: true, dsn } : { ok: true };
}

/**
 * The MAIL and RCPT lines that carry these requests (RFC 3461 §4): RET and ENVID on MAIL (ENVID
 * in xtext, §4), NOTIFY on the RCPT of each recipient that gave one. The options have no ORCPT,
 * so none is written.
 */
export function dsnWireParameters(from: string, to: readonly string[], dsn: SendDsnOptions | undefined): { mail: string; rcpt: string[] } {
  const mail = `MAIL FROM:<${from}>${dsn?.ret ? ` RET=${dsn.ret}` : ''}${dsn?.envid !== undefined ? ` ENVID=${xtextEncode(dsn.envid)}` : ''}`;
  const notifyOf = (address: string): DsnNotify | undefined =>
    Object.entries(dsn?.notify ?? {}).find(([named]) => named.toLowerCase() === address.toLowerCase())?.[1];
  const rcpt = to.map((address) => {
    const notify = notifyOf(address);
    return `RCPT TO:<${address}>${notify === undefined ? '' : ` NOTIFY=${notify === 'NEVER' ? 'NEVER' : notify.join(',')}`}`;
  });
  return { mail, rcpt };
}
