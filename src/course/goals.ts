/**
 * Lesson goals: data that composes. A goal is either a leaf — one fact about the session
 * record (a line typed, a command sent, a reply received, a message delivered, ...) — or a
 * combinator over goals (`allOf`, `anyOf`, `not`, `inOrder`). Lesson files hold goals as plain
 * JSON; this module evaluates them against a `SessionRecord` and describes them as checklist
 * lines for the lesson panel.
 *
 *   { "allOf": [ { "sent": { "verb": "MAIL" } }, { "reply": { "to": "RCPT", "code": 250 } } ] }
 *
 * Every goal is evaluated "since" a cursor: the record's length when the step started, so what
 * a learner did in an earlier step never completes a later one.
 */
import type {
  ConnectionRecord,
  DeliveryOutcome,
  InputContext,
  MachineState,
  SessionRecord,
  WireLine,
} from '../lab/record';
import { parseDuration } from '../sim/clock';

// ---------------------------------------------------------------------------------------------
// The vocabulary

export type Actor = 'learner' | 'autopilot';
export type MachineName = MachineState['machine'];

export interface TypedGoal { pattern: string; context?: InputContext; count?: number }
/** `outcome`: the verdict the command reported (`spf` -> pass, fail, softfail, ...; `dmarc` -> pass or fail). */
export interface RanGoal { command: string; matches?: string; ok?: boolean; outcome?: string; count?: number }
export interface SentGoal { verb: string; matches?: string; tls?: boolean; by?: Actor; host?: string; count?: number }
export interface ReplyGoal { to: string; code?: number; class?: number; enhanced?: string; by?: Actor; host?: string; count?: number }
export interface ConnectedGoal { host: string; port?: number; by?: Actor; count?: number }
export interface TlsGoal { ok?: boolean; authorized?: boolean; host?: string; by?: Actor }
export interface DnsGoal { name: string; type?: string; status?: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL'; count?: number }
export interface DeliveredGoal { to: string; host?: string; count?: number }
export interface BouncedGoal { to: string; status?: string }
export interface DeferredGoal { to: string; status?: string; count?: number }
/**
 * A DSN in `to`'s mailbox. `envelopeId`: its Original-Envelope-Id, exactly (the ENVID the sender
 * gave, RFC 3461 §4.4). `returned`: what it carries of the original message, the header only or
 * the whole message (RET, §4.3), or nothing.
 */
export interface DsnGoal { to: string; status?: string; action?: string; recipient?: string; envelopeId?: string; returned?: DsnReturned }
export const DSN_RETURNED = ['headers', 'full', 'none'] as const;
export type DsnReturned = (typeof DSN_RETURNED)[number];
export interface MailboxGoal { address: string; subject?: string; contains?: string; isDsn?: boolean; count?: number }
export interface StateGoal { machine: MachineName; matches: string }
export interface ClockGoal { atLeast?: string; advancedBy?: string }
export interface PipelinedGoal { commands: number; host?: string }

/** Every leaf, by its key in a goal object. */
export interface LeafGoals {
  typed: TypedGoal;
  ran: RanGoal;
  sent: SentGoal;
  reply: ReplyGoal;
  connected: ConnectedGoal;
  tls: TlsGoal;
  dns: DnsGoal;
  delivered: DeliveredGoal;
  bounced: BouncedGoal;
  deferred: DeferredGoal;
  dsn: DsnGoal;
  mailbox: MailboxGoal;
  state: StateGoal;
  clock: ClockGoal;
  pipelined: PipelinedGoal;
}

export type LeafKind = keyof LeafGoals;

/** A goal may carry its own checklist wording (`label`), which replaces the generated one. */
interface Labelled { label?: string }

export type LeafGoal = { [K in LeafKind]: { [P in K]: LeafGoals[K] } & Labelled }[LeafKind];

export type Goal =
  | LeafGoal
  | ({ allOf: Goal[] } & Labelled)
  | ({ anyOf: Goal[] } & Labelled)
  | ({ not: Goal } & Labelled)
  | ({ inOrder: Goal[] } & Labelled);

export const COMBINATOR_KINDS = ['allOf', 'anyOf', 'not', 'inOrder'] as const;
export type CombinatorKind = (typeof COMBINATOR_KINDS)[number];

/** How the schema checks one field of a leaf. */
export type FieldType =
  | 'text'
  | 'regex'
  | 'verb'
  | 'host'
  | 'address'
  | 'code'
  | 'class'
  | 'enhanced'
  | 'count'
  | 'port'
  | 'boolean'
  | 'duration'
  | 'actor'
  | 'context'
  | 'machine'
  | 'dnsType'
  | 'dnsStatus'
  | 'dsnAction'
  | 'dsnReturned'
  | 'outcome';

export interface FieldSpec { type: FieldType; required?: boolean }

/**
 * The fields of every leaf and what each must hold. The schema validates lesson files against
 * this table, so a new leaf needs a line here, a matcher below and a description.
 */
export const LEAF_FIELDS: { readonly [K in LeafKind]: { readonly [F in keyof LeafGoals[K]]-?: FieldSpec } } = {
  typed: { pattern: { type: 'regex', required: true }, context: { type: 'context' }, count: { type: 'count' } },
  ran: {
    command: { type: 'text', required: true },
    matches: { type: 'regex' },
    ok: { type: 'boolean' },
    outcome: { type: 'outcome' },
    count: { type: 'count' },
  },
  sent: {
    verb: { type: 'verb', required: true },
    matches: { type: 'regex' },
    tls: { type: 'boolean' },
    by: { type: 'actor' },
    host: { type: 'host' },
    count: { type: 'count' },
  },
  reply: {
    to: { type: 'verb', required: true },
    code: { type: 'code' },
    class: { type: 'class' },
    enhanced: { type: 'enhanced' },
    by: { type: 'actor' },
    host: { type: 'host' },
    count: { type: 'count' },
  },
  connected: { host: { type: 'host', required: true }, port: { type: 'port' }, by: { type: 'actor' }, count: { type: 'count' } },
  tls: { ok: { type: 'boolean' }, authorized: { type: 'boolean' }, host: { type: 'host' }, by: { type: 'actor' } },
  dns: { name: { type: 'host', required: true }, type: { type: 'dnsType' }, status: { type: 'dnsStatus' }, count: { type: 'count' } },
  delivered: { to: { type: 'address', required: true }, host: { type: 'host' }, count: { type: 'count' } },
  bounced: { to: { type: 'address', required: true }, status: { type: 'enhanced' } },
  deferred: { to: { type: 'address', required: true }, status: { type: 'enhanced' }, count: { type: 'count' } },
  dsn: {
    to: { type: 'address', required: true },
    status: { type: 'enhanced' },
    action: { type: 'dsnAction' },
    recipient: { type: 'address' },
    envelopeId: { type: 'text' },
    returned: { type: 'dsnReturned' },
  },
  mailbox: {
    address: { type: 'address', required: true },
    subject: { type: 'text' },
    contains: { type: 'text' },
    isDsn: { type: 'boolean' },
    count: { type: 'count' },
  },
  state: { machine: { type: 'machine', required: true }, matches: { type: 'regex', required: true } },
  clock: { atLeast: { type: 'duration' }, advancedBy: { type: 'duration' } },
  pipelined: { commands: { type: 'count', required: true }, host: { type: 'host' } },
};

export const LEAF_KINDS = Object.keys(LEAF_FIELDS) as LeafKind[];

/** Leaves that need at least one of several optional fields. */
export const LEAF_NEEDS_ONE_OF: Partial<Record<LeafKind, readonly string[]>> = {
  clock: ['atLeast', 'advancedBy'],
};

/** Reply targets that are not command verbs: the greeting and the reply after the final dot. */
export const SPECIAL_REPLY_TARGETS = ['BANNER', 'DATA-END', '*'] as const;

export function isLeafKind(key: string): key is LeafKind {
  return Object.hasOwn(LEAF_FIELDS, key);
}

export function isCombinatorKind(key: string): key is CombinatorKind {
  return (COMBINATOR_KINDS as readonly string[]).includes(key);
}

/** The kind of a goal: its one key other than `label`. */
export function goalKind(goal: Goal): LeafKind | CombinatorKind {
  const key = Object.keys(goal).find((k) => k !== 'label');
  return key as LeafKind | CombinatorKind;
}

// ---------------------------------------------------------------------------------------------
// Cursors: where a step started

/** The length of every list of the record when a step started, and what was already true then. */
export interface Cursor {
  typed: number;
  shell: number;
  wire: number;
  replies: number;
  connections: number;
  dns: number;
  deliveries: number;
  mailbox: number;
  states: number;
  /** The virtual clock at the start. */
  clock: number;
  /** Connections that had finished their TLS handshake already (a connection outlives a step). */
  tlsSeen: number[];
}

type ListName = 'typed' | 'shell' | 'wire' | 'replies' | 'connections' | 'dns' | 'deliveries' | 'mailbox' | 'states';

export const START_CURSOR: Cursor = {
  typed: 0,
  shell: 0,
  wire: 0,
  replies: 0,
  connections: 0,
  dns: 0,
  deliveries: 0,
  mailbox: 0,
  states: 0,
  clock: 0,
  tlsSeen: [],
};

/** The cursor at the end of `record`: a step started now counts only what happens next. */
export function cursorOf(record: SessionRecord): Cursor {
  return {
    typed: record.typed.length,
    shell: record.shell.length,
    wire: record.wire.length,
    replies: record.replies.length,
    connections: record.connections.length,
    dns: record.dns.length,
    deliveries: record.deliveries.length,
    mailbox: record.mailbox.length,
    states: record.states.length,
    clock: record.clock,
    tlsSeen: record.connections.filter((c) => c.tls !== undefined).map((c) => c.id),
  };
}

/**
 * True when the record is shorter than the cursor in some list: the world was reset (or a new
 * lab started after a reload), so the cursor points past the end and must be taken again.
 */
export function cursorIsPastEnd(cursor: Cursor, record: SessionRecord): boolean {
  return (
    cursor.typed > record.typed.length ||
    cursor.shell > record.shell.length ||
    cursor.wire > record.wire.length ||
    cursor.replies > record.replies.length ||
    cursor.connections > record.connections.length ||
    cursor.dns > record.dns.length ||
    cursor.deliveries > record.deliveries.length ||
    cursor.mailbox > record.mailbox.length ||
    cursor.states > record.states.length ||
    cursor.clock > record.clock
  );
}

/**
 * The record as it was when `cursor` was taken: each list cut at the cursor's length, the clock
 * set back, and connections without what they learnt later (a TLS handshake the cursor had not
 * seen, an end after its time). A lesson's check may run after the learner has gone on typing;
 * it then judges the change it was made for, not everything since.
 */
export function recordUpTo(record: SessionRecord, cursor: Cursor): SessionRecord {
  const connections = record.connections.slice(0, cursor.connections).map((connection) => {
    const laterTls = connection.tls !== undefined && !cursor.tlsSeen.includes(connection.id);
    const laterEnd = connection.closed !== undefined && connection.closed.at > cursor.clock;
    if (!laterTls && !laterEnd) return connection;
    const { tls, closed, ...rest } = connection;
    return { ...rest, ...(tls && !laterTls ? { tls } : {}), ...(closed && !laterEnd ? { closed } : {}) };
  });
  return {
    typed: record.typed.slice(0, cursor.typed),
    shell: record.shell.slice(0, cursor.shell),
    wire: record.wire.slice(0, cursor.wire),
    replies: record.replies.slice(0, cursor.replies),
    connections,
    dns: record.dns.slice(0, cursor.dns),
    deliveries: record.deliveries.slice(0, cursor.deliveries),
    mailbox: record.mailbox.slice(0, cursor.mailbox),
    states: record.states.slice(0, cursor.states),
    clock: cursor.clock,
  };
}

// ---------------------------------------------------------------------------------------------
// Matching

/**
 * Where in the record a goal became true. Within one list, order is the index; across lists
 * it is the virtual time (many things happen at the same virtual millisecond, so equal times
 * count as "later").
 */
interface Position {
  list: ListName | 'clock' | 'start';
  index: number;
  at: number;
}

const START: Position = { list: 'start', index: -1, at: Number.NEGATIVE_INFINITY };

function isLater(previous: Position | undefined, next: Position): boolean {
  if (previous === undefined || previous.list === 'start') return true;
  if (previous.list === next.list) return next.index > previous.index;
  return next.at >= previous.at;
}

const regexCache = new Map<string, RegExp>();

/** Patterns in lesson files are regular expressions, matched without regard to case. */
export function compilePattern(pattern: string): RegExp {
  let regex = regexCache.get(pattern);
  if (!regex) {
    regex = new RegExp(pattern, 'i');
    regexCache.set(pattern, regex);
  }
  return regex;
}

function sameHost(a: string, b: string): boolean {
  return a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');
}

function sameAddress(a: string, b: string): boolean {
  const bare = (s: string) => s.trim().replace(/^<(.*)>$/, '$1').toLowerCase();
  return bare(a) === bare(b);
}

/** `5.1.1` matches 5.1.1; `5.7` matches 5.7.1 and 5.7.26; `5` matches any 5.x.x. */
function enhancedMatches(wanted: string, actual: string | undefined): boolean {
  if (actual === undefined) return false;
  return actual === wanted || actual.startsWith(`${wanted}.`);
}

function statusMatches(wanted: string, actual: string | undefined): boolean {
  if (actual === undefined) return false;
  // Deliveries carry the enhanced status, or the reply code as text when there was none.
  return enhancedMatches(wanted, actual) || actual.startsWith(wanted);
}

function durationMs(text: string): number {
  const result = parseDuration(text.replace(/^\+/, ''));
  return result.ok ? result.ms : Number.NaN;
}

function connectionById(record: SessionRecord, id: number): ConnectionRecord | undefined {
  return record.connections.find((c) => c.id === id);
}

function actorOfWire(record: SessionRecord, line: WireLine): Actor | undefined {
  return connectionById(record, line.connection)?.by;
}

/**
 * The commands on the wire: client lines outside message content. A line goes into the
 * content after the server's 354 and until the client's lone "."; on one connection the wire
 * record alternates in the order things happened, so this is a straight scan.
 */
interface WireCommand { index: number; line: WireLine; verb: string }

function wireCommands(record: SessionRecord): WireCommand[] {
  const inData = new Map<number, boolean>();
  const commands: WireCommand[] = [];
  record.wire.forEach((line, index) => {
    const fromClient = line.dir === '->' || line.dir === '~>';
    if (!fromClient) {
      if (/^354[ -]/.test(line.text) || line.text === '354') inData.set(line.connection, true);
      return;
    }
    if (inData.get(line.connection)) {
      if (line.text === '.') inData.set(line.connection, false);
      return;
    }
    const verb = (line.text.trim().split(/[\s:]/, 1)[0] ?? '').toUpperCase();
    commands.push({ index, line, verb });
  });
  return commands;
}

function positionsOfLeaf(kind: LeafKind, spec: LeafGoals[LeafKind], record: SessionRecord, cursor: Cursor): Position[] {
  switch (kind) {
    case 'typed': {
      const g = spec as TypedGoal;
      const regex = compilePattern(g.pattern);
      return record.typed.flatMap((t, index) =>
        index >= cursor.typed && (g.context === undefined || t.context === g.context) && regex.test(t.text)
          ? [{ list: 'typed' as const, index, at: t.at }]
          : [],
      );
    }
    case 'ran': {
      const g = spec as RanGoal;
      const regex = g.matches === undefined ? undefined : compilePattern(g.matches);
      const wanted = g.command.toLowerCase();
      return record.shell.flatMap((run, index) => {
        const firstWord = (run.line.trim().split(/\s+/, 1)[0] ?? '').toLowerCase();
        const named = run.name.toLowerCase() === wanted || firstWord === wanted;
        const outcome = g.outcome === undefined || (run.outcome !== undefined && run.outcome.toLowerCase() === g.outcome.toLowerCase());
        const fits = index >= cursor.shell && named && (g.ok === undefined || run.ok === g.ok) && outcome && (regex === undefined || regex.test(run.line));
        return fits ? [{ list: 'shell' as const, index, at: run.at }] : [];
      });
    }
    case 'sent': {
      const g = spec as SentGoal;
      const regex = g.matches === undefined ? undefined : compilePattern(g.matches);
      const verb = g.verb.toUpperCase();
      return wireCommands(record).flatMap(({ index, line, verb: sentVerb }) => {
        if (index < cursor.wire || sentVerb !== verb) return [];
        if (g.tls !== undefined && (line.dir === '~>') !== g.tls) return [];
        if (g.by !== undefined && actorOfWire(record, line) !== g.by) return [];
        if (g.host !== undefined && !sameHost(line.host, g.host)) return [];
        if (regex !== undefined && !regex.test(line.text)) return [];
        return [{ list: 'wire' as const, index, at: line.at }];
      });
    }
    case 'reply': {
      const g = spec as ReplyGoal;
      const to = g.to.toUpperCase();
      return record.replies.flatMap((r, index) => {
        if (index < cursor.replies) return [];
        if (to !== '*' && r.to.toUpperCase() !== to) return [];
        if (g.code !== undefined && r.reply.code !== g.code) return [];
        if (g.class !== undefined && Math.floor(r.reply.code / 100) !== g.class) return [];
        if (g.enhanced !== undefined && !enhancedMatches(g.enhanced, r.reply.enhanced)) return [];
        if (g.by !== undefined && r.by !== g.by) return [];
        if (g.host !== undefined && !sameHost(r.host, g.host)) return [];
        return [{ list: 'replies' as const, index, at: r.at }];
      });
    }
    case 'connected': {
      const g = spec as ConnectedGoal;
      // A connection that failed as it opened (refused, timed out) is recorded closed by the
      // network at its opening time: that is an attempt, not a connection.
      return record.connections.flatMap((c, index) =>
        index >= cursor.connections && !(c.closed?.by === 'network' && c.closed.at === c.openedAt) && sameHost(c.host, g.host) && (g.port === undefined || c.port === g.port) && (g.by === undefined || c.by === g.by)
          ? [{ list: 'connections' as const, index, at: c.openedAt }]
          : [],
      );
    }
    case 'tls': {
      const g = spec as TlsGoal;
      return record.connections.flatMap((c, index) => {
        const tls = c.tls;
        if (!tls || cursor.tlsSeen.includes(c.id)) return [];
        if (index < cursor.connections && c.openedAt < cursor.clock && tls.at < cursor.clock) return [];
        if (g.ok !== undefined && tls.ok !== g.ok) return [];
        if (g.authorized !== undefined && tls.authorized !== g.authorized) return [];
        if (g.host !== undefined && !sameHost(c.host, g.host)) return [];
        if (g.by !== undefined && c.by !== g.by) return [];
        return [{ list: 'connections' as const, index, at: tls.at }];
      });
    }
    case 'dns': {
      const g = spec as DnsGoal;
      return record.dns.flatMap((d, index) =>
        index >= cursor.dns &&
        sameHost(d.name, g.name) &&
        (g.type === undefined || d.type.toUpperCase() === g.type.toUpperCase()) &&
        (g.status === undefined || d.status === g.status)
          ? [{ list: 'dns' as const, index, at: d.at }]
          : [],
      );
    }
    case 'delivered':
    case 'bounced':
    case 'deferred': {
      const g = spec as DeliveredGoal & BouncedGoal;
      return record.deliveries.flatMap((d: DeliveryOutcome, index) =>
        index >= cursor.deliveries &&
        d.outcome === kind &&
        sameAddress(d.recipient, g.to) &&
        (g.status === undefined || statusMatches(g.status, d.status)) &&
        (g.host === undefined || (d.host !== undefined && sameHost(d.host, g.host)))
          ? [{ list: 'deliveries' as const, index, at: d.at }]
          : [],
      );
    }
    case 'dsn': {
      const g = spec as DsnGoal;
      return record.mailbox.flatMap((m, index) => {
        if (index < cursor.mailbox || !m.isDsn || !sameAddress(m.address, g.to)) return [];
        // Per message (RFC 3464 §2.2): the envelope id and what came back of the original.
        if (g.envelopeId !== undefined && m.originalEnvelopeId !== g.envelopeId) return [];
        if (g.returned !== undefined && m.returnedContent !== g.returned) return [];
        const wantsDetail = g.status !== undefined || g.action !== undefined || g.recipient !== undefined;
        const fits =
          !wantsDetail ||
          (m.dsn ?? []).some(
            (r) =>
              (g.status === undefined || enhancedMatches(g.status, r.status)) &&
              (g.action === undefined || r.action.toLowerCase() === g.action.toLowerCase()) &&
              (g.recipient === undefined || sameAddress(r.recipient.replace(/^rfc822;\s*/i, ''), g.recipient)),
          );
        return fits ? [{ list: 'mailbox' as const, index, at: m.at }] : [];
      });
    }
    case 'mailbox': {
      const g = spec as MailboxGoal;
      return record.mailbox.flatMap((m, index) =>
        index >= cursor.mailbox &&
        sameAddress(m.address, g.address) &&
        (g.subject === undefined || m.subject.trim() === g.subject.trim()) &&
        (g.contains === undefined || m.raw.includes(g.contains)) &&
        (g.isDsn === undefined || m.isDsn === g.isDsn)
          ? [{ list: 'mailbox' as const, index, at: m.at }]
          : [],
      );
    }
    case 'state': {
      const g = spec as StateGoal;
      const regex = compilePattern(g.matches);
      return record.states.flatMap((s, index) =>
        index >= cursor.states && s.machine === g.machine && regex.test(s.state) ? [{ list: 'states' as const, index, at: s.at }] : [],
      );
    }
    case 'clock': {
      const g = spec as ClockGoal;
      const thresholds = [
        g.atLeast === undefined ? Number.NEGATIVE_INFINITY : durationMs(g.atLeast),
        g.advancedBy === undefined ? Number.NEGATIVE_INFINITY : cursor.clock + durationMs(g.advancedBy),
      ];
      const threshold = Math.max(...thresholds);
      return record.clock >= threshold ? [{ list: 'clock' as const, index: 0, at: Math.max(threshold, cursor.clock) }] : [];
    }
    case 'pipelined': {
      const g = spec as PipelinedGoal;
      // A run of client lines on one connection with no server line between them: the client
      // did not wait for each reply (RFC 2920 §3).
      const found: Position[] = [];
      const run = new Map<number, number>();
      record.wire.forEach((line, index) => {
        const fromClient = line.dir === '->' || line.dir === '~>';
        if (!fromClient) {
          run.set(line.connection, 0);
          return;
        }
        const length = (run.get(line.connection) ?? 0) + 1;
        run.set(line.connection, length);
        if (index >= cursor.wire && length === g.commands && (g.host === undefined || sameHost(line.host, g.host))) {
          found.push({ list: 'wire', index, at: line.at });
        }
      });
      return found;
    }
  }
}

function leafOf(goal: LeafGoal): { kind: LeafKind; spec: LeafGoals[LeafKind] } {
  const kind = goalKind(goal) as LeafKind;
  return { kind, spec: (goal as unknown as Record<string, unknown>)[kind] as LeafGoals[LeafKind] };
}

/** The earliest position after `after` at which `goal` holds, or undefined. */
function firstAfter(goal: Goal, record: SessionRecord, cursor: Cursor, after: Position | undefined): Position | undefined {
  if ('allOf' in goal) {
    let latest: Position | undefined = after ?? START;
    for (const child of goal.allOf) {
      const p = firstAfter(child, record, cursor, after);
      if (!p) return undefined;
      if (isLater(latest, p)) latest = p;
    }
    return latest;
  }
  if ('anyOf' in goal) {
    let earliest: Position | undefined;
    for (const child of goal.anyOf) {
      const p = firstAfter(child, record, cursor, after);
      if (p && (earliest === undefined || p.at < earliest.at)) earliest = p;
    }
    return earliest;
  }
  if ('not' in goal) {
    return firstAfter(goal.not, record, cursor, after) === undefined ? (after ?? START) : undefined;
  }
  if ('inOrder' in goal) {
    let position = after;
    for (const child of goal.inOrder) {
      const p = firstAfter(child, record, cursor, position);
      if (!p) return undefined;
      position = p;
    }
    return position ?? START;
  }
  const { kind, spec } = leafOf(goal);
  const count = 'count' in spec && typeof spec.count === 'number' ? spec.count : 1;
  const positions = positionsOfLeaf(kind, spec, record, cursor).filter((p) => isLater(after, p));
  return positions[count - 1];
}

export interface ProgressLine {
  label: string;
  met: boolean;
}

export interface Evaluation {
  met: boolean;
  /** One checklist line per part of the goal (the children of a top-level allOf or inOrder). */
  progress: ProgressLine[];
}

/** Is `goal` met by what happened in `record` since `since` (the start when omitted)? */
export function evaluate(goal: Goal, record: SessionRecord, since: Cursor = START_CURSOR): Evaluation {
  const met = firstAfter(goal, record, since, undefined) !== undefined;
  if ('allOf' in goal && goal.label === undefined) {
    return {
      met,
      progress: goal.allOf.map((child) => ({ label: describeGoal(child), met: firstAfter(child, record, since, undefined) !== undefined })),
    };
  }
  if ('inOrder' in goal && goal.label === undefined) {
    let position: Position | undefined;
    let chainHolds = true;
    const progress = goal.inOrder.map((child) => {
      if (chainHolds) {
        const p = firstAfter(child, record, since, position);
        if (p) position = p;
        else chainHolds = false;
      }
      return { label: describeGoal(child), met: chainHolds };
    });
    return { met, progress };
  }
  return { met, progress: [{ label: describeGoal(goal), met }] };
}

// ---------------------------------------------------------------------------------------------
// Describing

const DSN_RETURNED_TEXT: Readonly<Record<DsnReturned, string>> = {
  headers: ', returning the header only',
  full: ', returning the whole message',
  none: ', returning nothing of the message',
};

function replyTarget(to: string): string {
  switch (to.toUpperCase()) {
    case 'BANNER':
      return 'the greeting banner';
    case 'DATA-END':
      return 'the end of the message (the lone dot)';
    case '*':
      return 'any command';
    default:
      return to.toUpperCase();
  }
}

function byText(by: Actor | undefined): string {
  return by === 'autopilot' ? ' (by the autopilot)' : by === 'learner' ? ' (typed by you)' : '';
}

function times(count: number | undefined): string {
  return count !== undefined && count > 1 ? ` ${count} times` : '';
}

function describeLeaf(kind: LeafKind, spec: LeafGoals[LeafKind]): string {
  switch (kind) {
    case 'typed': {
      const g = spec as TypedGoal;
      return `type a line matching /${g.pattern}/${g.context ? ` (${g.context})` : ''}${times(g.count)}`;
    }
    case 'ran': {
      const g = spec as RanGoal;
      const outcome = g.outcome ? ` and get the verdict "${g.outcome}"` : '';
      return `run ${g.command}${g.matches ? ` (matching /${g.matches}/)` : ''}${g.ok === false ? ' and see it fail' : ''}${outcome}${times(g.count)}`;
    }
    case 'sent': {
      const g = spec as SentGoal;
      const where = g.host ? ` to ${g.host}` : '';
      const tls = g.tls === true ? ' inside TLS' : g.tls === false ? ' in plain text' : '';
      return `send ${g.verb.toUpperCase()}${where}${tls}${byText(g.by)}${times(g.count)}`;
    }
    case 'reply': {
      const g = spec as ReplyGoal;
      const what = g.code !== undefined ? `${g.code}` : g.class !== undefined ? `${g.class}xx` : 'a';
      const enhanced = g.enhanced ? ` ${g.enhanced}` : '';
      const from = g.host ? ` from ${g.host}` : '';
      return `get ${what === 'a' ? 'a' : `a ${what}${enhanced}`} reply to ${replyTarget(g.to)}${from}${byText(g.by)}${times(g.count)}`;
    }
    case 'connected': {
      const g = spec as ConnectedGoal;
      return `connect to ${g.host}${g.port !== undefined ? ` port ${g.port}` : ''}${byText(g.by)}`;
    }
    case 'tls': {
      const g = spec as TlsGoal;
      const host = g.host ? ` with ${g.host}` : '';
      if (g.ok === false) return `see a TLS handshake fail${host}`;
      if (g.authorized === false) return `complete a TLS handshake${host} with a certificate that is not trusted`;
      if (g.authorized === true) return `complete a TLS handshake${host} with a trusted certificate`;
      return `complete a TLS handshake${host}`;
    }
    case 'dns': {
      const g = spec as DnsGoal;
      return `look up ${g.type ? `${g.type.toUpperCase()} ` : ''}${g.name} in DNS${g.status ? ` (answer ${g.status})` : ''}`;
    }
    case 'delivered': {
      const g = spec as DeliveredGoal;
      return `a message is delivered to ${g.to}${g.host ? ` through ${g.host}` : ''}`;
    }
    case 'bounced': {
      const g = spec as BouncedGoal;
      return `the message to ${g.to} bounces${g.status ? ` with ${g.status}` : ''}`;
    }
    case 'deferred': {
      const g = spec as DeferredGoal;
      return `the message to ${g.to} is deferred${g.status ? ` with ${g.status}` : ''}${times(g.count)}`;
    }
    case 'dsn': {
      const g = spec as DsnGoal;
      // A report of success is no bounce (RFC 3464 §2.3.3: delivered, relayed, expanded).
      const what = g.action === 'delivered' || g.action === 'relayed' || g.action === 'expanded' ? 'a delivery report' : 'a bounce report';
      const detail = [g.action, g.status].filter(Boolean).join(', ');
      const about = g.recipient ? ` about ${g.recipient}` : '';
      const envelopeId = g.envelopeId !== undefined ? ` with Original-Envelope-Id ${g.envelopeId}` : '';
      const returned = g.returned === undefined ? '' : DSN_RETURNED_TEXT[g.returned];
      return `${what} (DSN)${detail ? ` (${detail})` : ''}${about}${envelopeId} reaches ${g.to}${returned}`;
    }
    case 'mailbox': {
      const g = spec as MailboxGoal;
      const subject = g.subject !== undefined ? ` with subject "${g.subject}"` : '';
      const contains = g.contains !== undefined ? ` containing "${g.contains}"` : '';
      return `${g.isDsn ? 'a bounce report' : 'a message'}${subject}${contains} arrives in ${g.address}'s mailbox${times(g.count)}`;
    }
    case 'state': {
      const g = spec as StateGoal;
      return `the ${g.machine} machine reaches a state matching /${g.matches}/`;
    }
    case 'clock': {
      const g = spec as ClockGoal;
      const parts = [g.advancedBy ? `advance the clock by ${g.advancedBy.replace(/^\+/, '')}` : '', g.atLeast ? `the clock reaches ${g.atLeast.replace(/^\+/, '')}` : ''];
      return parts.filter(Boolean).join(' and ');
    }
    case 'pipelined': {
      const g = spec as PipelinedGoal;
      return `send ${g.commands} lines in a row without waiting for a reply${g.host ? ` to ${g.host}` : ''}`;
    }
  }
}

/** One human-readable checklist line for a goal, e.g. "get a 250 reply to RCPT". */
export function describeGoal(goal: Goal): string {
  if (goal.label !== undefined) return goal.label;
  if ('allOf' in goal) return goal.allOf.map(describeGoal).join(', and ');
  if ('anyOf' in goal) return `one of: ${goal.anyOf.map(describeGoal).join('; or ')}`;
  if ('inOrder' in goal) return goal.inOrder.map(describeGoal).join(', then ');
  if ('not' in goal) return `not: ${describeGoal(goal.not)}`;
  const { kind, spec } = leafOf(goal);
  return describeLeaf(kind, spec);
}
