/**
 * The Svelte side of one lab session: reactive views of the headless `Lab` (src/lab/lab.ts)
 * for the terminal's prompt and for every panel, refreshed whenever the lab says something
 * changed. The lab itself, the simulated world and the machines load on demand (`loadLab`), so
 * the terminal is on screen and typable before they arrive.
 */
import type { Lab, LabMode, LabOptions, Prompt } from '../lab/lab';
import type { ExplainedLine } from '../lab/recorder';
import type { ConnectionRecord, DnsLookup, SessionRecord } from '../lab/record';
import { replyClass } from '../protocol/reply';
import type { LineTone } from './terminalRenderer';
import { deliveryAttempts } from './deliveryAttempts';
import type {
  DeliveryTimelineData,
  DnsLookupView,
  MachineViewData,
  RecipientOutcome,
  SequenceItem,
  TranscriptEntry,
} from './types';

/** What the terminal's prompt says in each place the learner can type. */
export const PROMPTS: Readonly<Record<Prompt, string>> = { shell: '$ ', smtp: 'smtp> ', data: 'data> ', auth: 'auth> ' };

/** A persona of the simulated world, for the scenario picker: who it is and which hosts run it. */
export interface PersonaChoice {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly port: number;
  readonly hosts: readonly string[];
}

/** Loads the lab's code (the world, the machines, the protocol) and creates a lab. */
export async function loadLab(options: LabOptions = {}): Promise<{ lab: Lab; personas: PersonaChoice[] }> {
  const [{ createLab }, { personas }] = await Promise.all([import('../lab/lab'), import('../sim/personas')]);
  const lab = createLab(options);
  const hosts = Object.entries(lab.world.hosts());
  const choices = Object.values(personas).map((persona) => ({
    id: persona.id,
    title: persona.title,
    description: persona.description,
    port: persona.port,
    hosts: hosts.filter(([, host]) => host.persona === persona.id).map(([name]) => name),
  }));
  return { lab, personas: choices };
}

/** Server lines are coloured by their reply's class; client lines and notes have tones of their own. */
function toneOfLine(line: ExplainedLine): LineTone {
  if (line.dir === '->' || line.dir === '~>') return 'client';
  return line.code === undefined ? 'plain' : replyClass(line.code);
}

function speaker(by: 'learner' | 'autopilot'): string {
  return by === 'learner' ? 'you' : 'the sending MTA (smtp.example.com)';
}

function tlsNote(tls: NonNullable<ConnectionRecord['tls']>): { text: string; tone: LineTone } {
  if (!tls.ok) return { text: `TLS handshake failed: ${tls.error ?? 'no reason given'}`, tone: 'permanent' };
  const trust = tls.authorized === false ? `certificate NOT trusted${tls.error ? ` (${tls.error})` : ''}` : 'certificate verified';
  return { text: `TLS started${tls.protocol ? ` (${tls.protocol})` : ''}: ${trust}. Lines after this are encrypted: ~> and <~.`, tone: tls.authorized === false ? 'transient' : 'info' };
}

/**
 * A DSN in the queue, by its Action (RFC 3464 §2.3.3): a learner who sent to one address sees a
 * message to another, from <>, and should know why.
 */
const REPORT_WORDS = {
  failed: 'a bounce (DSN) to the sender',
  delayed: 'a delay warning (DSN) to the sender',
  relayed: 'a success report (DSN) to the sender',
} as const;

/** MX answers (`10 mx1.example.net.`) in the order a sender tries them: lowest preference first. */
export function mxOrder(answers: readonly string[]): { host: string; preference: number }[] {
  const parsed: { host: string; preference: number }[] = [];
  for (const answer of answers) {
    const match = /^(\d+)\s+(\S+)$/.exec(answer.trim());
    if (match) parsed.push({ preference: Number(match[1]), host: match[2]!.replace(/\.$/, '') });
  }
  return parsed.sort((a, b) => a.preference - b.preference);
}

/** The order things happened in: DNS lookups and wire lines, as they arrived. */
type Happening = { kind: 'dns'; index: number } | { kind: 'line'; index: number };

export class LabState {
  /** Undefined until the lab's code has loaded. */
  lab: Lab | undefined = $state.raw(undefined);
  personas: readonly PersonaChoice[] = $state.raw([]);
  prompt: Prompt = $state('shell');
  mode: LabMode = $state('sim');
  transcript: readonly TranscriptEntry[] = $state.raw([]);
  sequence: readonly SequenceItem[] = $state.raw([]);
  machine: MachineViewData = $state.raw({ mode: 'sim', queue: [] });
  dns: readonly DnsLookupView[] = $state.raw([]);
  deliveries: readonly DeliveryTimelineData[] = $state.raw([]);
  /** Lines typed so far (all places: shell, SMTP, message, AUTH), for the share link. */
  typedCount: number = $state(0);

  private happenings: Happening[] = [];
  private seenDns = 0;
  private seenLines = 0;
  private recordSeen: SessionRecord | undefined;
  private detach: Array<() => void> = [];

  /** Wires a loaded lab in; returns a function that unwires it. */
  attach(lab: Lab, personas: readonly PersonaChoice[]): () => void {
    this.lab = lab;
    this.personas = personas;
    this.detach.push(
      lab.subscribe(() => this.changed()),
      lab.onEffect((effect) => {
        if (effect.type === 'mode') this.mode = effect.mode;
      }),
    );
    this.refresh();
    return () => {
      for (const off of this.detach) off();
      this.detach = [];
    };
  }

  private scheduled = false;

  /**
   * The prompt follows at once (the terminal needs it for the next line); the panels follow
   * just after the next paint, in one go however many changes came, so a reply reaches the
   * terminal's screen without waiting for the panels' layout.
   */
  private changed(): void {
    const lab = this.lab;
    if (!lab) return;
    this.prompt = lab.prompt;
    this.mode = lab.mode;
    if (this.scheduled) return;
    this.scheduled = true;
    const later = () =>
      setTimeout(() => {
        this.scheduled = false;
        this.refresh();
      }, 0);
    if (typeof requestAnimationFrame === 'function' && document.visibilityState === 'visible') requestAnimationFrame(later);
    else later();
  }

  /** Line entries are made once per wire line, so the transcript's list keeps its items between refreshes. */
  private lineEntries = new WeakMap<ExplainedLine, TranscriptEntry>();
  private noteEntries = new Map<string, TranscriptEntry>();

  private note(key: string, entry: TranscriptEntry): TranscriptEntry {
    const known = this.noteEntries.get(key);
    if (known && known.text === entry.text && known.time === entry.time && known.tone === entry.tone) return known;
    this.noteEntries.set(key, entry);
    return entry;
  }

  /** Reads the lab again and rebuilds the views (cheap: a session is hundreds of lines, not millions). */
  refresh(): void {
    const lab = this.lab;
    if (!lab) return;
    const record = lab.record;
    if (record !== this.recordSeen) {
      // A reset gives a new record: start the order of happenings again.
      this.recordSeen = record;
      this.happenings = [];
      this.seenDns = 0;
      this.seenLines = 0;
      this.noteEntries.clear();
    }
    // Within one refresh, lookups come before lines: a sender asks DNS before it connects.
    for (; this.seenDns < record.dns.length; this.seenDns++) this.happenings.push({ kind: 'dns', index: this.seenDns });
    for (; this.seenLines < lab.transcript.length; this.seenLines++) this.happenings.push({ kind: 'line', index: this.seenLines });

    this.prompt = lab.prompt;
    this.mode = lab.mode;
    this.typedCount = record.typed.length;
    this.transcript = this.buildTranscript(lab, record);
    this.sequence = this.buildSequence(lab, record);
    this.dns = record.dns.map((lookup) => this.dnsView(lab, lookup));
    this.deliveries = this.buildDeliveries(lab);
    this.machine = this.buildMachine(lab, record);
  }

  private buildTranscript(lab: Lab, record: SessionRecord): TranscriptEntry[] {
    const epoch = lab.clockEpoch;
    const lines = lab.transcript;
    const connections = new Map(record.connections.map((c) => [c.id, c]));
    const lastIndex = new Map<number, number>();
    lines.forEach((line, i) => lastIndex.set(line.connection, i));
    const entries: TranscriptEntry[] = [];
    const started = new Set<number>();
    const secure = new Set<number>();
    lines.forEach((line, i) => {
      const connection = connections.get(line.connection);
      const time = line.at - epoch;
      if (!started.has(line.connection)) {
        started.add(line.connection);
        const port = connection ? `:${connection.port}` : '';
        entries.push(this.note(`open:${line.connection}`, { dir: '**', text: `connected to ${line.host}${port} (client: ${speaker(line.by)})`, time, tone: 'info', connection: line.connection, host: line.host, by: line.by }));
      }
      const encrypted = line.dir === '~>' || line.dir === '<~';
      if (encrypted && !secure.has(line.connection)) {
        secure.add(line.connection);
        if (connection?.tls) entries.push(this.note(`tls:${line.connection}`, { dir: '**', ...tlsNote(connection.tls), time, connection: line.connection, host: line.host, by: line.by }));
      }
      let entry = this.lineEntries.get(line);
      if (!entry) {
        entry = { dir: line.dir, text: line.text, time, explanation: line.explanation, tone: toneOfLine(line), connection: line.connection, host: line.host, by: line.by };
        this.lineEntries.set(line, entry);
      }
      entries.push(entry);
      if (lastIndex.get(line.connection) === i && connection) {
        if (connection.tls && !connection.tls.ok) entries.push(this.note(`tlsfail:${line.connection}`, { dir: '**', ...tlsNote(connection.tls), time, connection: line.connection, host: line.host, by: line.by }));
        if (connection.closed) {
          entries.push(this.note(`closed:${line.connection}`, { dir: '**', text: `connection to ${line.host} closed (${connection.closed.reason})`, time: connection.closed.at - epoch, tone: 'info', connection: line.connection, host: line.host, by: line.by }));
        }
      }
    });
    return entries;
  }

  private buildSequence(lab: Lab, record: SessionRecord): SequenceItem[] {
    const lines = lab.transcript;
    const connections = new Map(record.connections.map((c) => [c.id, c]));
    const lastIndex = new Map<number, number>();
    lines.forEach((line, i) => lastIndex.set(line.connection, i));
    const items: SequenceItem[] = [];
    let current: number | undefined;
    let open: { label: string; extra: number; index: number } | undefined;
    for (const happening of this.happenings) {
      if (happening.kind === 'dns') {
        const lookup = record.dns[happening.index];
        if (!lookup) continue;
        open = undefined;
        current = undefined;
        items.push({ kind: 'arrow', from: 'client', to: 'dns', label: `${lookup.type} ${lookup.name}?`, tone: 'client', tls: false });
        const answer = lookup.status !== 'NOERROR' ? lookup.status : lookup.answers.length ? lookup.answers.join(', ') : 'no records';
        items.push({ kind: 'arrow', from: 'dns', to: 'client', label: answer, tone: lookup.status === 'NOERROR' ? 'positive' : 'permanent', tls: false });
        continue;
      }
      const line = lines[happening.index];
      if (!line) continue;
      if (line.connection !== current) {
        current = line.connection;
        open = undefined;
        const connection = connections.get(line.connection);
        items.push({ kind: 'note', label: `#${line.connection} ${line.by === 'learner' ? 'you' : 'sending MTA'} → ${line.host}${connection ? `:${connection.port}` : ''}`, tone: 'info' });
      }
      const fromClient = line.dir === '->' || line.dir === '~>';
      const tls = line.dir === '~>' || line.dir === '<~';
      if (!fromClient && open && items[open.index]?.kind === 'arrow') {
        // A multi-line reply (250-...) is one message: one arrow, labelled by its first line.
        open.extra += 1;
        const arrow = items[open.index] as Extract<SequenceItem, { kind: 'arrow' }>;
        items[open.index] = { ...arrow, label: `${open.label.slice(0, 3)} (${open.extra + 1} lines) ${open.label.slice(4)}` };
      } else {
        items.push({ kind: 'arrow', from: fromClient ? 'client' : 'server', to: fromClient ? 'server' : 'client', label: line.text, tone: toneOfLine(line), tls });
      }
      open = !fromClient && line.text[3] === '-' ? (open ?? { label: line.text, extra: 0, index: items.length - 1 }) : undefined;
      const connection = connections.get(line.connection);
      if (lastIndex.get(line.connection) === happening.index && connection?.tls && !connection.tls.ok) {
        items.push({ kind: 'note', label: `TLS handshake failed${connection.tls.error ? `: ${connection.tls.error}` : ''}`, tone: 'permanent' });
      }
    }
    return items;
  }

  private dnsView(lab: Lab, lookup: DnsLookup): DnsLookupView {
    const view: DnsLookupView = {
      time: lookup.at - lab.clockEpoch,
      name: lookup.name,
      type: lookup.type,
      status: lookup.status,
      answers: lookup.answers,
    };
    return lookup.type === 'MX' && lookup.status === 'NOERROR' ? { ...view, chosen: mxOrder(lookup.answers) } : view;
  }

  private buildDeliveries(lab: Lab): DeliveryTimelineData[] {
    if (lab.mode !== 'sim') return [];
    const epoch = lab.clockEpoch;
    return lab.world.deliveries().map((handle) => {
      const attempts = deliveryAttempts(handle.timeline(), epoch);
      const laterBounces = handle.laterBounces();
      const recipients: RecipientOutcome[] = handle.recipients().map((r) => {
        const status = r.status === 'failed' ? 'bounced' : r.status === 'queued' ? 'pending' : r.status;
        const detail = r.last?.diagnostic ?? r.statusCode;
        const later = status === 'delivered' ? laterBounces.find((b) => b.recipient === r.address) : undefined;
        return {
          address: r.address,
          status,
          ...(detail ? { detail } : {}),
          ...(later ? { laterBounce: { host: later.host, time: later.at - epoch, status: later.status, reportSent: later.reportSent } } : {}),
        };
      });
      const next = handle.nextAttemptAt();
      return {
        id: handle.messageId,
        from: handle.from,
        to: handle.to,
        queuedAt: handle.arrivalAt - epoch,
        attempts,
        ...(next !== undefined && !handle.done ? { nextAttemptAt: next - epoch } : {}),
        recipients,
      };
    });
  }

  private buildMachine(lab: Lab, record: SessionRecord): MachineViewData {
    const connected = lab.connectedTo;
    const queue =
      lab.mode === 'sim'
        ? lab.world.deliveries().flatMap((handle) => {
            const laterBounces = handle.laterBounces();
            const about = handle.report ? REPORT_WORDS[handle.report] : undefined;
            return handle.recipients().map((r) => {
              // Delivered to the next hop, which bounced it afterwards: the queue is done with it, the mail is not.
              const later = r.status === 'delivered' && laterBounces.some((b) => b.recipient === r.address);
              return {
                id: handle.messageId,
                to: r.address,
                status: later ? 'delivered, then bounced' : r.status === 'failed' ? 'bounced' : r.status,
                tone: (later ? 'permanent' : r.status === 'delivered' ? 'positive' : r.status === 'failed' ? 'permanent' : 'transient') as LineTone,
                ...(about ? { about } : {}),
              };
            });
          })
        : [];
    const view: { -readonly [K in keyof MachineViewData]: MachineViewData[K] } = { mode: lab.mode, queue };
    if (connected) {
      const personaId = lab.mode === 'sim' ? lab.world.hosts()[connected.host]?.persona : undefined;
      const persona = this.personas.find((p) => p.id === personaId);
      view.connection = {
        ...connected,
        ...(persona ? { persona: { id: persona.id, title: persona.title, description: persona.description } } : {}),
      };
      view.client = { phase: lab.clientPhase ?? 'closed', next: lab.nextSteps() };
      const current = record.connections.filter((c) => c.by === 'learner').at(-1);
      const last = record.replies.filter((r) => r.by === 'learner' && r.connection === current?.id).at(-1);
      if (last) {
        const text = `${last.reply.code}${last.reply.enhanced ? ` ${last.reply.enhanced}` : ''} ${last.reply.lines[0] ?? ''}`;
        const state = lab.serverState;
        view.server = { lastReply: text.trim(), answered: last.to, tone: replyClass(last.reply.code), ...(state ? { state } : {}) };
      }
    }
    return view;
  }
}
