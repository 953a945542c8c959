/**
 * `npm run sim -- <command>`: the simulated world from a terminal.
 *
 *   send --from <addr> --to <addr> [--to <addr> ...] [--subject S] [--body-file F] [--days N]
 *        [--down host[=refused|timeout] ...] [--notify addr=NEVER|SUCCESS,FAILURE,DELAY ...]
 *        [--ret FULL|HDRS] [--envid ID] [--orcpt addr=rfc822;original ...] [--world default] [--json]
 *        [--every-attempt]
 *   dig [+short] [TYPE] NAME
 *   world
 *
 * `send` queues one message at smtp.example.com, runs virtual time until every recipient is
 * settled (or N days pass), and prints each attempt's transcript with virtual timestamps
 * ("->" client, "<-" server, "~>"/"<~" inside TLS), one outcome line per recipient, and the
 * DSN text when the sender got one: from smtp.example.com itself, or from a receiving host that
 * accepted the message and bounced it later (the transcript says when, and whether the sender's
 * NOTIFY let a report go back). Bad arguments: a message on stderr and exit code 2.
 */
import { readFileSync } from 'node:fs';
import { createWorld, type DeliveryHandle, type SendDsnOptions, type World } from '../sim/world';
import { formatReply } from '../protocol/reply';
import { formatDuration } from '../sim/clock';
import { foldRepeatedRounds, type RoundReading } from '../sim/repeats';
import { finishDsnOptions, isDsnOption, noDsnOptions, readDsnOption, type DsnOptionValues } from '../lab/dsnOptions';
import type { WorldEvent } from '../sim/events';
import type { StoredMessage } from '../sim/mailbox';

const USAGE = `usage:
  npm run sim -- send --from <addr> --to <addr> [--to <addr> ...] [--subject S] [--body-file F]
                      [--days N] [--down host[=refused|timeout]] [--world default] [--json] [--every-attempt]
                      [--notify <addr>=NEVER|SUCCESS,FAILURE,DELAY] [--ret FULL|HDRS] [--envid ID]
                      [--orcpt <addr>=rfc822;<original>]
      (the DSN requests of RFC 3461, as MAIL and RCPT would carry them)
  npm run sim -- dig [+short] [TYPE] NAME
  npm run sim -- world`;

class UsageError extends Error {}

const ADDRESS = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

interface SendOptions {
  from: string;
  to: string[];
  subject?: string;
  body?: string;
  days?: number;
  down: Array<{ host: string; mode: 'refused' | 'timeout' }>;
  /** RFC 3461 requests, read by the parser the lab's `send` shares (src/lab/dsnOptions.ts). */
  dsn?: SendDsnOptions;
  json: boolean;
  /** Print every retry round in full, not folded. */
  everyAttempt: boolean;
}

function parseSend(args: string[]): SendOptions {
  const options: SendOptions = { from: '', to: [], down: [], json: false, everyAttempt: false };
  const dsn: DsnOptionValues = noDsnOptions();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = (): string => {
      const v = args[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--from':
        options.from = value();
        break;
      case '--to':
        options.to.push(value());
        break;
      case '--subject':
        options.subject = value();
        break;
      case '--body-file': {
        const file = value();
        try {
          options.body = readFileSync(file, 'utf8');
        } catch (error) {
          throw new UsageError(`cannot read --body-file ${file}: ${(error as Error).message}`);
        }
        break;
      }
      case '--days': {
        const text = value();
        const days = Number(text);
        if (!Number.isFinite(days) || days <= 0) throw new UsageError(`--days needs a positive number, got "${text}"`);
        options.days = days;
        break;
      }
      case '--down': {
        const [host, mode = 'refused'] = value().split('=');
        if (mode !== 'refused' && mode !== 'timeout') throw new UsageError(`--down ${host}=${mode}: the mode is refused or timeout`);
        options.down.push({ host: host!, mode });
        break;
      }
      case '--world': {
        const name = value();
        if (name !== 'default') throw new UsageError(`--world ${name}: the only world is "default"`);
        break;
      }
      case '--json':
        options.json = true;
        break;
      case '--every-attempt':
        options.everyAttempt = true;
        break;
      default: {
        // --notify, --ret, --envid, --orcpt: the DSN requests of RFC 3461, as MAIL and RCPT carry them.
        if (!isDsnOption(arg)) throw new UsageError(`unknown option for send: ${arg}`);
        const error = readDsnOption(dsn, arg, value());
        if (error !== undefined) throw new UsageError(error);
      }
    }
  }
  if (options.from === '') throw new UsageError('send needs --from <address>');
  if (!ADDRESS.test(options.from)) throw new UsageError(`--from ${options.from}: not an address like alice@example.com`);
  if (options.to.length === 0) throw new UsageError('send needs at least one --to <address>');
  for (const to of options.to) if (!ADDRESS.test(to)) throw new UsageError(`--to ${to}: not an address like bob@example.net`);
  const requests = finishDsnOptions(dsn, options.to);
  if (!requests.ok) throw new UsageError(requests.error);
  if (requests.dsn) options.dsn = requests.dsn;
  return options;
}

/** One transcript line: its virtual time, its text, and the attempt it opens ("== attempt N"). */
interface TranscriptLine {
  at: number;
  text: string;
  attempt?: number;
  /** The line that ends an attempt: "** deferred ...". */
  endsRound?: boolean;
}

/** A transcript line as printed: its virtual time, then its text. */
function stamped(world: World, line: TranscriptLine): string {
  return `${world.clock.format(line.at)} ${line.text}`;
}

/** The transcript of one handle: its attempts' connections, in log order. */
function transcript(world: World, handle: DeliveryHandle): TranscriptLine[] {
  const lines: TranscriptLine[] = [];
  const attemptEvents = world.log.all().filter((e) => ((e.kind === 'delivery-attempt' || e.kind === 'deferral' || e.kind === 'bounce') && e.messageId === handle.id) || isLaterBounceOf(e, handle));
  const connections = new Set(handle.timeline().flatMap((t) => (t.connectionId ? [t.connectionId] : [])));
  const secure = new Set<string>();
  const push = (e: WorldEvent, text: string, extra?: Pick<TranscriptLine, 'attempt' | 'endsRound'>) => lines.push({ at: e.at, text, ...extra });
  const attemptSeqs = new Set(attemptEvents.map((e) => e.seq));
  for (const e of world.log.all()) {
    if (attemptSeqs.has(e.seq)) {
      if (e.kind === 'delivery-attempt') push(e, `== attempt ${e.attempt}: connect to ${e.target} for ${e.recipients.join(', ')}`, { attempt: e.attempt });
      if (e.kind === 'deferral') push(e, `** deferred ${e.recipients.join(', ')}: ${e.reason}; next attempt ${world.clock.format(e.retryAt)}`, { endsRound: true });
      if (e.kind === 'bounce' && e.later) {
        const report = e.later.reportSent ? `a DSN goes back to ${handle.from}` : "no report: the sender's NOTIFY asked for none (RFC 3461 §4.1)";
        push(e, `** ${e.host} bounced ${e.recipients.join(', ')} after accepting it: ${e.status} ${e.reason}; ${report}`);
      } else if (e.kind === 'bounce') push(e, `** bounced ${e.recipients.join(', ')}: ${e.status} ${e.reason}`);
      continue;
    }
    if (!('connectionId' in e)) continue;
    if (!connections.has(e.connectionId)) continue;
    // A connect that failed: refused at once, or timed out when the MTA stopped waiting.
    if (e.kind === 'connection' && (e.outcome === 'refused' || e.outcome === 'timeout')) {
      push(e, `!! ${e.host}:${e.port} ${e.outcome === 'refused' ? 'connection refused' : 'connection timed out'}`);
      continue;
    }
    const tls = secure.has(e.connectionId);
    switch (e.kind) {
      case 'connection':
        push(e, `.. ${e.outcome === 'connected' ? `connected to ${e.host}:${e.port}` : `connection to ${e.host} closed`}`);
        break;
      case 'command':
        push(e, `${tls ? '~>' : '->'} ${e.line}`);
        break;
      case 'reply':
        for (const line of formatReply(e.reply).split('\r\n').filter(Boolean)) push(e, `${tls ? '<~' : '<-'} ${line}`);
        break;
      case 'tls':
        if (e.step === 'established') secure.add(e.connectionId);
        push(e, `.. TLS ${e.step}: ${e.detail}`);
        break;
    }
  }
  return lines;
}

/** The lines of each retry round: from "== attempt N" to its "** deferred", host by host. */
function roundsOf(lines: readonly TranscriptLine[]): TranscriptLine[][] {
  const rounds: TranscriptLine[][] = [];
  let current: TranscriptLine[] | undefined;
  for (const line of lines) {
    const opensAnother = line.attempt !== undefined && current !== undefined && current[0]!.attempt !== line.attempt;
    if (current === undefined || opensAnother) rounds.push((current = []));
    current.push(line);
    if (line.endsRound) current = undefined;
  }
  return rounds;
}

/** What a round said, without its times and numbers (lines outside any attempt are each their own), the wait from one round's start to the next, and whose retries it is. */
const TRANSCRIPT_ROUNDS: RoundReading<readonly TranscriptLine[]> = {
  sameAs: (round) =>
    round[0]!.attempt === undefined
      ? `${round[0]!.at} ${round[0]!.text}`
      : round.map((line) => line.text.replace(/^== attempt \d+:/, '== attempt:').replace(/; next attempt \S+ \S+$/, '')).join('\n'),
  waitBetween: (before, after) => after[0]!.at - before[0]!.at,
  // A message waiting at two destinations is retried at each on its own schedule: the
  // recipients an attempt is for name its queue entry.
  streamOf: (round) => (round[0]!.attempt === undefined ? '' : (/ for (.*)$/.exec(round[0]!.text)?.[1] ?? '')),
};

/**
 * The transcript as printed: a run of retry rounds that said the same thing, the same wait
 * apart (a destination that never answers is tried about every 67 minutes for five days), is
 * its first round, one line for the ones between, and its last round. The rounds while the
 * backoff still grows stay as they are: they show it growing. `--every-attempt` prints all.
 */
function foldRepeats(world: World, lines: readonly TranscriptLine[]): string[] {
  const out: string[] = [];
  for (const item of foldRepeatedRounds(roundsOf(lines), TRANSCRIPT_ROUNDS)) {
    if (item.kind === 'round') {
      for (const line of item.round) out.push(stamped(world, line));
      continue;
    }
    const first = item.rounds[0]!;
    const last = item.rounds.at(-1)!;
    out.push(
      `${world.clock.format(first[0]!.at)} .. attempts ${first[0]!.attempt}–${last[0]!.attempt} for ${TRANSCRIPT_ROUNDS.streamOf!(first)}: the same as attempt ${item.same[0]!.attempt}, ${item.rounds.length} times, ` +
        `every ${formatDuration(TRANSCRIPT_ROUNDS.waitBetween(item.same, first))}, until ${world.clock.format(last[0]!.at)} (--every-attempt prints them)`,
    );
  }
  return out;
}

/** A receiving host bounced this message after accepting it (the `bouncer`'s kind of bounce). */
function isLaterBounceOf(e: WorldEvent, handle: DeliveryHandle): e is Extract<WorldEvent, { kind: 'bounce' }> {
  return e.kind === 'bounce' && e.later !== undefined && e.later.originalMessageId === handle.messageId;
}

/**
 * The reports receiving hosts sent about this message after accepting it, as they sit in the
 * sender's mailbox: the DSN names its Reporting-MTA and returns the message's Message-ID.
 */
function laterReports(world: World, handle: DeliveryHandle): { host: string; copy: StoredMessage | undefined }[] {
  const hosts = [...new Set(handle.laterBounces().filter((b) => b.reportSent).map((b) => b.host))];
  const mailbox = world.mailboxes.list(handle.from);
  return hosts.map((host) => ({
    host,
    copy: mailbox.find((m) => m.isDsn && m.raw.includes(`Reporting-MTA: dns; ${host}`) && m.raw.includes(handle.messageId)),
  }));
}

function outcomeLines(handle: DeliveryHandle): string[] {
  const laterBounces = handle.laterBounces();
  return handle.recipients().map((r) => {
    if (r.status === 'delivered') {
      // Delivered, as far as the sending MTA knows; the receiving host may bounce it later.
      const later = laterBounces.find((b) => b.recipient === r.address);
      const then = later ? `, then bounced ${later.status} by ${later.host}` : '';
      return `${r.address}: delivered (${r.last?.diagnostic ?? ''})${then}`;
    }
    if (r.status === 'failed') return `${r.address}: bounced ${r.statusCode ?? ''} (${r.last?.diagnostic ?? ''})`;
    return `${r.address}: deferred (${r.last?.diagnostic ?? 'waiting for the first attempt'})`;
  });
}

function runSend(options: SendOptions): number {
  const world = createWorld();
  for (const { host, mode } of options.down) {
    try {
      world.setHostDown(host, mode);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  let handle: DeliveryHandle;
  try {
    handle = world.send({
      from: options.from,
      to: options.to,
      ...(options.subject ? { subject: options.subject } : {}),
      ...(options.body !== undefined ? { body: options.body } : {}),
      ...(options.dsn ? { dsn: options.dsn } : {}),
    });
  } catch (error) {
    // The DSN options were checked above (src/lab/dsnOptions.ts); the world checks them again,
    // and its words name the API's fields, so name the options instead.
    throw new UsageError((error as Error).message.replace(/^send: dsn\.(\w+)/, '--$1'));
  }
  if (options.days !== undefined) world.advance(options.days * 86_400_000);
  else world.runUntilIdle();
  const lines = transcript(world, handle);
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          id: handle.id,
          messageId: handle.messageId,
          now: world.clock.format(),
          recipients: handle.recipients().map((r) => ({ address: r.address, status: r.status === 'queued' ? 'deferred' : r.status === 'failed' ? 'bounced' : r.status, enhanced: r.statusCode, diagnostic: r.last?.diagnostic, attempts: r.attempts })),
          timeline: handle.timeline(),
          transcript: lines.map((line) => stamped(world, line)),
          dsns: handle.dsns,
          laterReports: laterReports(world, handle).map(({ host, copy }) => ({ host, ...(copy ? { at: world.clock.format(copy.deliveredAt), text: copy.raw } : { pending: true }) })),
        },
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  const printed = options.everyAttempt ? lines.map((line) => stamped(world, line)) : foldRepeats(world, lines);
  const out = [...printed, '', `outcome at ${world.clock.format()}:`, ...outcomeLines(handle)];
  for (const dsn of handle.dsns) out.push('', `--- DSN (${dsn.action}) sent to ${handle.from} at ${world.clock.format(dsn.at)} ---`, dsn.text.replace(/\r\n/g, '\n').trimEnd());
  for (const { host, copy } of laterReports(world, handle)) {
    if (copy) out.push('', `--- DSN (failed) from ${host}, in ${handle.from}'s mailbox at ${world.clock.format(copy.deliveredAt)} ---`, copy.raw.replace(/\r\n/g, '\n').trimEnd());
    else out.push('', `--- a DSN from ${host} to ${handle.from} is still on its way (advance with --days) ---`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

export function main(argv: string[]): number {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'send':
        return runSend(parseSend(rest));
      case 'dig': {
        const result = createWorld().dig(rest);
        if (!result.ok) throw new UsageError(result.error);
        process.stdout.write(`${result.text.trimEnd()}\n`);
        return 0;
      }
      case 'world':
        if (rest.length > 0) throw new UsageError(`world takes no arguments (got ${rest.join(' ')})`);
        process.stdout.write(`${createWorld().describe().join('\n')}\n`);
        return 0;
      case undefined:
        throw new UsageError('which command? send, dig or world');
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`sim: ${error.message}\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
}

process.exitCode = main(process.argv.slice(2));
