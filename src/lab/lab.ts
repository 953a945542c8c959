/**
 * The learner's lab session, without any UI: the shell behind the terminal. It takes the lines
 * a learner types, runs shell commands (`dig`, `telnet`, `openssl s_client`, `send`, `clock`,
 * `mailbox`, ...) against the simulated world or, in real-network mode, through the bridge, and
 * carries SMTP lines to the connected server. Everything that happens lands in the session
 * record (record.ts) that lesson goals read and the UI draws.
 *
 * It runs headless, so lesson solutions are replayed in tests exactly as a learner types them.
 */
import { personas } from '../sim/personas';
import { createWorld, LEARNER_ADDRESS, type DeliveryHandle, type World } from '../sim/world';
import { parseDsn, type ParsedDsn } from '../sim/dsn';
import { headerValue } from '../sim/mailbox';
import { formatDuration, formatElapsed, parseDuration as parseClockDuration } from '../sim/clock';
import { foldRepeatedRounds } from '../sim/repeats';
import type { WorldEvent } from '../sim/events';
import type { DownMode } from '../sim/topology';
import { connectSim } from '../net/simLink';
import { ConnectError, type Link, type TlsReport } from '../net/link';
import { allowedNext, type ClientSnapshotLike } from '../machines/client';
import { replyClass, type Reply } from '../protocol/reply';
import { helpLines } from './help';
import { parseShellLine, shellCommandTypedInSession, type ShellCommand } from './shell';
import type { DmarcResult, SpfResult } from '../sim/spf';
import { authChecks, loadAuthChecks, type AuthChecks } from './authChecks';
import { dsnWireParameters } from './dsnOptions';
import { Conversation } from './conversation';
import { Recorder, type ExplainedLine } from './recorder';
import type { InputContext, SessionRecord } from './record';

/** How a line looks in the terminal. The same names as the terminal renderer's tones. */
export type Tone = 'positive' | 'intermediate' | 'transient' | 'permanent' | 'client' | 'info' | 'error' | 'plain';

export interface OutputLine {
  readonly text: string;
  readonly tone: Tone;
}

/** What the terminal's prompt should say: the shell, an SMTP session, message text, an AUTH answer. */
export type Prompt = 'shell' | 'smtp' | 'data' | 'auth';

export type LabMode = 'sim' | 'real';

/** Things the UI does that the lab only asks for. */
export type LabEffect = { type: 'clear' } | { type: 'export'; text: string } | { type: 'mode'; mode: LabMode };

/** Where a session starts: hosts switched down, the clock moved on. */
export interface LabStart {
  readonly hostsDown?: Readonly<Record<string, DownMode>>;
  /** Virtual time to advance before the learner starts, e.g. "+1h". */
  readonly clock?: string;
  readonly seed?: number;
}

/** Real-network mode: a way to open links and to ask DNS, through the bridge. */
export interface RealNetwork {
  connect(host: string, port: number, tls: 'none' | 'implicit'): Promise<Link>;
  /** dig-style text for a query, or an error in plain words. */
  dig(name: string, type: string, short: boolean): Promise<{ ok: true; text: string; status: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL'; answers: string[] } | { ok: false; error: string }>;
}

export interface LabOptions {
  readonly start?: LabStart;
  readonly real?: RealNetwork;
  /** Width of the terminal, for help text. */
  readonly columns?: () => number;
}

const timers = globalThis as unknown as {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
};

function macrotask(ms = 0): Promise<void> {
  return new Promise((resolve) => timers.setTimeout(resolve, ms));
}

/**
 * In a session, `\n` inside a typed line sends a bare LF and `\r` a bare CR at that point
 * (`\\` is a backslash): the only way to type the bytes that SMTP smuggling is made of
 * (RFC 5321 §2.3.8 forbids them in what a client sends; a lesson shows why).
 */
export function unescapeLine(line: string): string {
  return line.replace(/\\(\\|n|r)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : '\\'));
}

/** A promise that gives up after `ms`, so no await in the lab can hang the terminal. */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = timers.setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
    promise.then(
      (value) => {
        timers.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        timers.clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Verdicts coloured like reply classes: accepted, doubtful, try later, refused. */
const SPF_TONES: Readonly<Record<SpfResult, Tone>> = {
  pass: 'positive',
  neutral: 'intermediate',
  none: 'intermediate',
  softfail: 'intermediate',
  temperror: 'transient',
  fail: 'permanent',
  permerror: 'permanent',
};

const DMARC_TONES: Readonly<Record<DmarcResult, Tone>> = { pass: 'positive', none: 'intermediate', temperror: 'transient', fail: 'permanent' };

function toneOf(code: number): Tone {
  return replyClass(code);
}

function eventTime(at: number, epoch: number): string {
  return `[${formatElapsed(at - epoch)}]`;
}

/** The learner's open connection. */
interface LearnerSession {
  readonly key: string;
  readonly link: Link;
  readonly tool: 'telnet' | 'nc' | 'openssl';
  readonly host: string;
  readonly port: number;
  /** Line ending the tool sends: telnet, `nc -C` and openssl send CRLF; plain nc sends LF. */
  readonly ending: '\r\n' | '\n';
  readonly conversation: Conversation;
  tlsInProgress: boolean;
  closed: boolean;
  unsubscribe: Array<() => void>;
}

export class Lab {
  world!: World;
  mode: LabMode = 'sim';
  private recorder!: Recorder;
  private session: LearnerSession | undefined;
  private readonly options: LabOptions;
  private outputListeners = new Set<(lines: readonly OutputLine[], pace?: number) => void>();
  private effectListeners = new Set<(effect: LabEffect) => void>();
  private changeListeners = new Set<() => void>();
  private worldUnsubscribe: Array<() => void> = [];
  /** The world log's connection ids that belong to the learner (recorded from the log all the same). */
  private worldConnections = new Map<string, 'learner' | 'autopilot'>();
  /** Autopilot output held back in step mode, shown one exchange per `next`. */
  private stepQueue: OutputLine[][] = [];
  private epoch = 0;
  private sessionSeq = 0;
  /** The verdict of the shell command running now (spf, dmarc), recorded with it. */
  private outcome: string | undefined;
  /** Where the world starts, and starts again on `reset`: the options', or a lesson's. */
  private start: LabStart;

  constructor(options: LabOptions = {}) {
    this.options = options;
    this.start = options.start ?? {};
    this.resetWorld();
  }

  /**
   * Start afresh from `start` (a lesson's): a new world with those hosts down and that clock,
   * an empty record, no session. Typing `reset` afterwards returns to the same start.
   */
  restart(start: LabStart = {}): void {
    this.start = start;
    this.resetWorld();
  }

  // ── What the UI reads ──────────────────────────────────────────────────────────────────

  get record(): SessionRecord {
    return this.recorder.record;
  }

  /** Every wire line with its explanation (the Transcript panel). */
  get transcript(): readonly ExplainedLine[] {
    return this.recorder.lines;
  }

  get prompt(): Prompt {
    if (!this.session || this.session.closed) return 'shell';
    const context = this.session.conversation.context;
    return context === 'shell' ? 'smtp' : context;
  }

  /** The connected host, if any. */
  get connectedTo(): { host: string; port: number; tool: string; secure: boolean } | undefined {
    const s = this.session;
    return s && !s.closed ? { host: s.host, port: s.port, tool: s.tool, secure: s.link.secure } : undefined;
  }

  /** What the learner may send next in the open session, and why (the client machine's shadow). */
  nextSteps(): { verb: string; why: string }[] {
    const s = this.session;
    if (!s || s.closed) return [];
    return allowedNext({ context: { shadow: s.conversation.shadow } } as unknown as ClientSnapshotLike);
  }

  /** The shadowed phase of the learner's session, for the machine view. */
  get clientPhase(): string | undefined {
    const s = this.session;
    return s && !s.closed ? s.conversation.shadow.phase : undefined;
  }

  /** The simulated server machine's state in the learner's session (not known for real servers). */
  get serverState(): string | undefined {
    const s = this.session;
    return s && !s.closed ? s.link.serverState : undefined;
  }

  /** Epoch of the virtual clock (record times minus this = time since the session began). */
  get clockEpoch(): number {
    return this.epoch;
  }

  /**
   * Hear output. `pace` is set on the autopilot's exchanges played at a speed: a terminal may
   * hold each group back a moment (longer for slower speeds) so the learner can follow.
   */
  onOutput(listener: (lines: readonly OutputLine[], pace?: number) => void): () => void {
    this.outputListeners.add(listener);
    return () => this.outputListeners.delete(listener);
  }

  onEffect(listener: (effect: LabEffect) => void): () => void {
    this.effectListeners.add(listener);
    return () => this.effectListeners.delete(listener);
  }

  /** Hear any change of the record, the prompt or the session. */
  subscribe(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** The transcript as text, swaks-style, for export. */
  exportText(): string {
    return this.recorder.lines.map((line) => `${eventTime(line.at, this.epoch)} ${line.host} ${line.dir} ${line.text}`).join('\n') + '\n';
  }

  // ── Input ──────────────────────────────────────────────────────────────────────────────

  /** One line typed at the terminal. Resolves when its effects have settled. */
  async input(line: string): Promise<void> {
    const session = this.session;
    if (session && !session.closed) {
      await this.sendToSession(session, [line]);
    } else {
      await this.runShell(line);
    }
    this.changed();
  }

  /**
   * Several lines at once (a paste). In a session they go out in one write, as a pipelining
   * client sends them (RFC 2920); at the shell they run one after another.
   */
  async inputBatch(lines: readonly string[]): Promise<void> {
    const session = this.session;
    if (session && !session.closed && lines.length > 1) {
      await this.sendToSession(session, lines);
      this.changed();
      return;
    }
    for (const line of lines) await this.input(line);
  }

  /** Ctrl-] : leave the session at once, as telnet's escape does. */
  escape(): void {
    const session = this.session;
    if (!session || session.closed) return;
    this.print([{ text: 'Connection closed (you hung up without QUIT).', tone: 'info' }]);
    session.link.close();
  }

  // ── The shell ──────────────────────────────────────────────────────────────────────────

  private async runShell(line: string): Promise<void> {
    const at = this.world.clock.now();
    if (line.trim() === '' || line.trim() === 'next') {
      this.recorder.typed({ at, text: line, context: 'shell' });
      if (this.stepQueue.length > 0) this.revealStep();
      return;
    }
    this.recorder.typed({ at, text: line, context: 'shell' });
    const parsed = parseShellLine(line);
    if (!parsed.ok) {
      this.print([{ text: parsed.error, tone: 'error' }, ...(parsed.suggestion ? [{ text: `Did you mean: ${parsed.suggestion}`, tone: 'info' as Tone }] : [])]);
      this.recorder.shell({ at, name: 'error', line, ok: false });
      return;
    }
    const command = parsed.command;
    let ok = true;
    this.outcome = undefined;
    try {
      ok = await this.run(command);
    } catch (error) {
      ok = false;
      this.print([{ text: `Something went wrong: ${error instanceof Error ? error.message : String(error)}`, tone: 'error' }]);
    }
    const name = command.name === 'connect' ? command.tool : command.name;
    this.recorder.shell({ at, name, line, ok, ...(this.outcome === undefined ? {} : { outcome: this.outcome }) });
  }

  private async run(command: ShellCommand): Promise<boolean> {
    switch (command.name) {
      case 'empty':
        return true;
      case 'help':
        this.print(helpLines(command.topic, this.options.columns?.() ?? 80).map((text) => ({ text, tone: 'plain' as Tone })));
        return true;
      case 'clear':
        this.effect({ type: 'clear' });
        return true;
      case 'history':
        this.print(
          this.recorder.record.typed
            .filter((t) => t.context === 'shell' && t.text.trim() !== '')
            .map((t, i) => ({ text: `${String(i + 1).padStart(4)}  ${t.text}`, tone: 'plain' as Tone })),
        );
        return true;
      case 'export':
        this.effect({ type: 'export', text: this.exportText() });
        this.print([{ text: `Transcript exported: ${this.recorder.lines.length} lines.`, tone: 'info' }]);
        return true;
      case 'mode':
        return this.setMode(command.mode);
      case 'reset':
        this.resetWorld();
        this.print([{ text: 'The world is as new: mailboxes empty, queue empty, clock at the start.', tone: 'info' }]);
        return true;
      case 'dig':
        return this.dig(command.domain, command.type, command.short);
      case 'connect':
        return this.connect(command);
      case 'send':
        if (!this.simOnly('send')) return false;
        return this.send(command);
      case 'clock':
        if (!this.simOnly('clock')) return false;
        return this.clock(command.advanceMs);
      case 'mailbox':
        if (!this.simOnly('mailbox')) return false;
        return this.mailbox(command.address);
      case 'world':
        if (!this.simOnly('world')) return false;
        this.print(this.world.describe().map((text) => ({ text, tone: 'plain' as Tone })));
        return true;
      case 'mailq':
        if (!this.simOnly('mailq')) return false;
        return this.mailq();
      case 'personas':
        return this.listPersonas();
      case 'spf':
        if (!this.simOnly('spf')) return false;
        return this.spf(command);
      case 'dmarc':
        if (!this.simOnly('dmarc')) return false;
        return this.dmarc(command);
    }
  }

  // ── mailq: the sending server's queue, as Postfix's mailq shows it ─────────────────────────

  private mailq(): boolean {
    const queues = this.world.queues();
    if (queues.length === 0) {
      this.print([{ text: 'Mail queue is empty: everything sent so far was delivered or bounced.', tone: 'plain' }]);
      return true;
    }
    const clock = this.world.clock;
    const lines: OutputLine[] = [];
    const messages = new Set<string>();
    for (const q of queues) {
      // One heading per destination queue: its machine's state, and the rest it takes after failing.
      const rest = q.suspendedUntil !== undefined ? `; suspended until ${clock.format(q.suspendedUntil)} (${q.suspendedBecause})` : '';
      lines.push({ text: `${q.destination} (from ${q.sender}): ${q.state}${rest}`, tone: q.suspendedUntil !== undefined ? 'transient' : 'info' });
      for (const e of q.entries) {
        messages.add(e.id);
        const when =
          e.dueAt === undefined
            ? `attempt ${e.attempts + 1} in progress`
            : `${e.attempts} attempt${e.attempts === 1 ? '' : 's'}, next ${clock.format(e.dueAt)} (in ${formatDuration(Math.max(0, e.dueAt - clock.now()))})`;
        lines.push({ text: `  ${e.id}  queued ${clock.format(e.arrivalAt)}  <${e.from || 'MAILER-DAEMON'}>  ${when}`, tone: 'plain' });
        if (e.reason) lines.push({ text: `      (${e.reason})`, tone: 'transient' });
        for (const r of e.recipients) lines.push({ text: `      ${r}`, tone: 'plain' });
      }
    }
    lines.push({ text: `-- ${messages.size} message${messages.size === 1 ? '' : 's'} waiting for ${queues.length} destination${queues.length === 1 ? '' : 's'}; clock +10m moves time on`, tone: 'plain' });
    this.print(lines);
    return true;
  }

  // ── spf, dmarc: the receiver's authentication checks over the world's DNS ────────────────

  /** The SPF/DMARC checks, or a word that they are still loading (see authChecks.ts). */
  private checks(): AuthChecks | undefined {
    const checks = authChecks();
    if (!checks) {
      void loadAuthChecks();
      this.print([{ text: 'The SPF and DMARC checker is still loading; run the command again in a moment.', tone: 'transient' }]);
    }
    return checks;
  }

  private spf(command: Extract<ShellCommand, { name: 'spf' }>): boolean {
    const checks = this.checks();
    if (!checks) return false;
    const { checkHost, formatSpfEvaluation } = checks;
    const evaluation = checkHost(this.world.zones, command.ip, command.domain, command.sender ? { sender: command.sender } : {});
    this.printVerdict(formatSpfEvaluation(evaluation), SPF_TONES[evaluation.result]);
    this.outcome = evaluation.result;
    return true;
  }

  private dmarc(command: Extract<ShellCommand, { name: 'dmarc' }>): boolean {
    const checks = this.checks();
    if (!checks) return false;
    const { checkHost, evaluateDmarc, formatDmarcEvaluation, formatSpfEvaluation } = checks;
    const lines: string[] = [];
    let spf: { domain: string; result: SpfResult } | undefined;
    if (command.spfDomain !== undefined && command.ip !== undefined) {
      const evaluation = checkHost(this.world.zones, command.ip, command.spfDomain);
      lines.push(...formatSpfEvaluation(evaluation), '');
      spf = { domain: command.spfDomain, result: evaluation.result };
    } else if (command.spfDomain !== undefined) {
      lines.push(`SPF is taken as passed for ${command.spfDomain} (add --ip <address> to check it).`);
      spf = { domain: command.spfDomain, result: 'pass' };
    }
    if (command.dkimDomain !== undefined) lines.push(`DKIM: taking a valid signature with d=${command.dkimDomain} (this world does not sign messages).`);
    const evaluation = evaluateDmarc(this.world.zones, {
      fromDomain: command.fromDomain,
      ...(spf ? { spf } : {}),
      ...(command.dkimDomain !== undefined ? { dkim: { domain: command.dkimDomain, result: 'pass' as const } } : {}),
    });
    this.printVerdict([...lines, ...formatDmarcEvaluation(evaluation)], DMARC_TONES[evaluation.result]);
    this.outcome = evaluation.result;
    return true;
  }

  /** Plain lines, the last one (the verdict) in the tone of its result. */
  private printVerdict(lines: readonly string[], tone: Tone): void {
    this.print(lines.map((text, i) => ({ text, tone: i === lines.length - 1 ? tone : ('plain' as Tone) })));
  }

  private simOnly(name: string): boolean {
    if (this.mode === 'sim') return true;
    this.print([{ text: `${name} works in the simulated world only. Type: mode sim`, tone: 'error' }]);
    return false;
  }

  private setMode(mode: LabMode): boolean {
    if (mode === 'real' && !this.options.real) {
      this.print([{ text: 'Real-network mode needs the bridge, which this page was not started with. Start the app with npm start.', tone: 'error' }]);
      return false;
    }
    this.mode = mode;
    this.effect({ type: 'mode', mode });
    this.print([
      {
        text:
          mode === 'real'
            ? 'Real network: dig, telnet, nc and openssl now go through the bridge to real servers (try: telnet 127.0.0.1 2525).'
            : 'Simulated world: everything answers from the world of example.com and example.net.',
        tone: 'info',
      },
    ]);
    return true;
  }

  private listPersonas(): boolean {
    const hosts = Object.entries(this.world.hosts());
    const lines: OutputLine[] = [];
    for (const persona of Object.values(personas)) {
      const where = hosts.filter(([, h]) => h.persona === persona.id).map(([name]) => name);
      lines.push({ text: `${persona.id.padEnd(22)}${persona.title}`, tone: 'plain' });
      lines.push({ text: `${' '.repeat(22)}${persona.description}`, tone: 'info' });
      if (where.length > 0) lines.push({ text: `${' '.repeat(22)}in this world: ${where.join(', ')}`, tone: 'info' });
    }
    this.print(lines);
    return true;
  }

  // ── dig ────────────────────────────────────────────────────────────────────────────────

  private async dig(name: string, type: string, short: boolean): Promise<boolean> {
    if (this.mode === 'real') {
      const real = await this.options.real!.dig(name, type, short);
      if (!real.ok) {
        this.print([{ text: real.error, tone: 'error' }]);
        return false;
      }
      this.recorder.dns({ at: this.world.clock.now(), name, type, status: real.status, answers: real.answers });
      this.print(real.text.split('\n').map((text) => ({ text, tone: 'plain' as Tone })));
      return real.status === 'NOERROR';
    }
    const result = this.world.dig(short ? ['+short', type, name] : [type, name]);
    if (!result.ok) {
      this.print([{ text: result.error, tone: 'error' }]);
      return false;
    }
    this.print(result.text.replace(/\n$/, '').split('\n').map((text) => ({ text, tone: 'plain' as Tone })));
    return result.status === 'NOERROR';
  }

  // ── telnet, nc, openssl s_client ───────────────────────────────────────────────────────

  private async connect(command: Extract<ShellCommand, { name: 'connect' }>): Promise<boolean> {
    if (command.warning) this.print([{ text: command.warning, tone: 'info' }]);
    const { host, port, tool } = command;
    this.print([{ text: tool === 'openssl' ? `CONNECTING to ${host}:${port}` : `Trying ${host} port ${port}...`, tone: 'info' }]);
    let link: Link;
    try {
      link =
        this.mode === 'real'
          ? await this.options.real!.connect(host, port, command.tls === 'implicit' ? 'implicit' : 'none')
          : await connectSim(this.world, host, port, { implicitTls: command.tls === 'implicit' || port === 465 });
    } catch (error) {
      const message = error instanceof ConnectError || error instanceof Error ? error.message : String(error);
      this.print([{ text: `${tool}: ${message}`, tone: 'error' }]);
      if (this.mode === 'real') this.recorder.failed(this.world.clock.now(), host, port, 'learner', message);
      return false;
    }
    const key = `learner-${++this.sessionSeq}`;
    const session: LearnerSession = {
      key,
      link,
      tool,
      host,
      port,
      ending: command.crlf ? '\r\n' : '\n',
      conversation: new Conversation(),
      tlsInProgress: false,
      closed: false,
      unsubscribe: [],
    };
    this.session = session;
    if (this.mode === 'real') this.recorder.opened(key, this.world.clock.now(), host, port, 'learner');
    this.print([{ text: tool === 'openssl' ? `CONNECTED(${host}:${port})` : `Connected to ${host}.`, tone: 'info' }]);
    if (tool === 'telnet') this.print([{ text: "Escape character is '^]'.", tone: 'info' }]);
    session.unsubscribe.push(
      link.on('data', (text) => this.fromServer(session, text)),
      link.on('tls', (report) => this.tlsUp(session, report)),
      link.on('close', ({ by, reason }) => this.sessionClosed(session, by, reason)),
    );
    if (command.tls === 'implicit') {
      // RFC 8314: on port 465 TLS starts before the server says anything. A bridge link has
      // done the handshake already; a simulated one does it now.
      const done = (link as Link & { tlsReport?: TlsReport | null }).tlsReport;
      if (link.secure && done) this.tlsUp(session, done);
      else await this.handshake(session, command.servername);
      if (session.closed) return false;
    } else if (port === 465) {
      this.print([
        { text: `Port 465 speaks TLS from the first byte (RFC 8314): the server waits for a TLS handshake and says nothing until then. ${tool} cannot do that; press Ctrl-] and try: openssl s_client -connect ${host}:465`, tone: 'info' },
      ]);
      return true;
    }
    await this.settle(session);
    if (command.tls === 'starttls' && !session.closed) {
      // openssl s_client -starttls smtp greets and asks for TLS itself, then hands over.
      await this.sendToSession(session, ['EHLO openssl.client.net'], { byTool: true });
      if (!session.closed) await this.sendToSession(session, ['STARTTLS'], { byTool: true });
      if (!session.closed && session.link.secure) {
        this.print([{ text: '---', tone: 'info' }, { text: 'The TLS session is up. Greet again: type EHLO (RFC 3207 §4.2).', tone: 'info' }]);
      }
    }
    return !session.closed || session.conversation.shadow.phase !== 'closed';
  }

  private async sendToSession(session: LearnerSession, lines: readonly string[], options: { byTool?: boolean } = {}): Promise<void> {
    const at = this.world.clock.now();
    let text = '';
    for (const line of lines) {
      const context: InputContext = session.conversation.context;
      if (!options.byTool) this.recorder.typed({ at, text: line, context });
      else this.print([{ text: line, tone: 'client' }]);
      session.conversation.clientLine(line);
      if (this.mode === 'real') this.recorder.clientLine(session.key, at, line);
      text += unescapeLine(line) + session.ending;
    }
    session.link.send(text);
    this.recorder.state({ at, machine: 'client', state: session.conversation.shadow.phase });
    await this.settle(session);
  }

  private fromServer(session: LearnerSession, text: string): void {
    const at = this.world.clock.now();
    if (this.mode === 'real') this.recorder.serverText(session.key, at, text);
    const replies = session.conversation.serverText(text);
    for (const read of replies) {
      this.print(read.lines.map((line) => ({ text: line, tone: toneOf(read.reply.code) })));
      const meant = read.reply.code === 500 || read.reply.code === 502 ? shellCommandTypedInSession(read.to) : undefined;
      if (meant) this.print([{ text: meant, tone: 'info' }]);
      if (read.to === 'STARTTLS' && read.reply.code === 220) void this.handshake(session);
    }
    this.recorder.state({ at, machine: 'client', state: session.conversation.shadow.phase });
    this.changed();
  }

  private async handshake(session: LearnerSession, servername?: string): Promise<void> {
    session.tlsInProgress = true;
    const at = this.world.clock.now();
    try {
      // The report is printed by tlsUp, on the link's `tls` event: before anything the server
      // says inside the new TLS session.
      await withTimeout(session.link.startTls(servername ? { serverName: servername } : {}), this.mode === 'real' ? 30_000 : 5_000, 'the TLS handshake did not finish');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (this.mode === 'real') this.recorder.tls(session.key, at, { at, ok: false, error: reason });
      this.print([{ text: `TLS handshake failed: ${reason}`, tone: 'error' }]);
      // Nothing sensible can follow a failed handshake on this connection (RFC 3207 §4.1).
      if (!session.link.closed) session.link.close();
    } finally {
      session.tlsInProgress = false;
      this.changed();
    }
  }

  private tlsUp(session: LearnerSession, report: TlsReport): void {
    if (session.conversation.secure) return;
    const at = this.world.clock.now();
    session.conversation.tlsStarted();
    if (this.mode === 'real') {
      this.recorder.tls(session.key, at, { at, ok: true, protocol: report.protocol, authorized: report.authorized, ...(report.authorizationError ? { error: report.authorizationError } : {}) });
    }
    this.print(this.describeTls(session, report));
    this.changed();
  }

  private describeTls(session: LearnerSession, report: TlsReport): OutputLine[] {
    const cert = report.certificate;
    const lines: OutputLine[] = [];
    if (session.tool === 'openssl' && cert) {
      lines.push(
        { text: '---', tone: 'info' },
        { text: 'Certificate chain', tone: 'info' },
        { text: ` 0 s:${cert.subject}`, tone: 'plain' },
        { text: `   i:${cert.issuer}`, tone: 'plain' },
        { text: `   v:NotBefore: ${cert.validFrom}; NotAfter: ${cert.validTo}`, tone: 'plain' },
        { text: `   SHA256 fingerprint: ${cert.fingerprint256}`, tone: 'plain' },
        { text: '---', tone: 'info' },
      );
    }
    if (session.tool !== 'openssl' && cert) {
      lines.push({ text: `TLS: the server presented ${cert.subject}, issued by ${cert.issuer}, valid until ${cert.validTo}`, tone: 'info' });
    }
    lines.push({ text: `New, ${report.protocol}, Cipher is ${report.cipher}`, tone: 'info' });
    lines.push(
      report.authorized
        ? { text: 'Verify return code: 0 (ok)', tone: 'positive' }
        : { text: `Verify return code: ${report.authorizationError ?? 'certificate not trusted'} — an opportunistic sender would carry on anyway; MTA-STS or DANE would refuse`, tone: 'transient' },
    );
    if (session.tool !== 'openssl') lines.push({ text: '(A real telnet cannot speak TLS; the lab did the handshake for you. openssl s_client is the real tool.)', tone: 'info' });
    return lines;
  }

  private sessionClosed(session: LearnerSession, by: string, reason: string): void {
    if (session.closed) return;
    session.closed = true;
    for (const off of session.unsubscribe) off();
    const at = this.world.clock.now();
    if (this.mode === 'real') this.recorder.closed(session.key, at, by === 'client' ? 'client' : 'server', reason);
    this.print([{ text: session.tool === 'telnet' ? 'Connection closed by foreign host.' : `Connection closed (${reason}).`, tone: 'info' }]);
    this.recorder.state({ at, machine: 'client', state: 'closed' });
    this.changed();
  }

  /** Wait until the server has answered what was sent (or the connection is gone). */
  private async settle(session: LearnerSession): Promise<void> {
    const realMode = this.mode === 'real';
    const rounds = realMode ? 300 : 60;
    for (let i = 0; i < rounds; i++) {
      await macrotask(realMode ? 50 : 0);
      if (session.closed) return;
      const waiting = session.conversation.shadow.pending.length > 0 || session.tlsInProgress || session.conversation.shadow.phase === 'banner';
      if (!waiting) return;
    }
  }

  // ── The autopilot: send, clock, mailbox ────────────────────────────────────────────────

  private async send(command: Extract<ShellCommand, { name: 'send' }>): Promise<boolean> {
    const before = this.world.log.size;
    let handle: DeliveryHandle;
    try {
      handle = this.world.send({ from: command.from, to: [...command.to], ...(command.subject ? { subject: command.subject } : {}), ...(command.dsn ? { dsn: command.dsn } : {}) });
    } catch (error) {
      // The shell checked the DSN options already; this is the world's own check, in its words.
      this.print([{ text: error instanceof Error ? error.message : String(error), tone: 'error' }]);
      return false;
    }
    this.print([{ text: `Queued ${handle.messageId} from ${command.from} to ${command.to.join(', ')}. The sending MTA (smtp.example.com) takes it from here.`, tone: 'info' }]);
    if (command.dsn) {
      // RFC 3461 §4: a mail client asks for DSNs with parameters on MAIL and RCPT; smtp.example.com lists DSN in EHLO, so it may.
      const wire = dsnWireParameters(command.from, command.to, command.dsn);
      this.print([
        { text: 'Your DSN requests, as a mail client writes them to smtp.example.com (it lists DSN in its EHLO reply):', tone: 'info' },
        ...[wire.mail, ...wire.rcpt].map((text) => ({ text: `   ${text}`, tone: 'client' as Tone })),
      ]);
    }
    await macrotask();
    const steps = [...this.describeEvents(this.world.log.since(before)), this.summary(handle.id)];
    if (command.pace.mode === 'step') {
      this.stepQueue.push(...steps);
      this.print([{ text: `Step mode: ${steps.length} steps. Press Enter (or type next) for each.`, tone: 'info' }]);
      this.revealStep();
    } else {
      for (const step of steps) this.print(step, command.pace.speed);
    }
    return true;
  }

  private revealStep(): void {
    const step = this.stepQueue.shift();
    if (step) this.print(step);
    if (this.stepQueue.length === 0) this.print([{ text: '(end of the autopilot run)', tone: 'info' }]);
  }

  private async clock(advanceMs: number | null): Promise<boolean> {
    if (advanceMs === null) {
      this.print([{ text: `Virtual clock: ${this.world.clock.timestamp()} (${formatElapsed(this.world.clock.now() - this.epoch)} since the start)`, tone: 'info' }]);
      return true;
    }
    const before = this.world.log.size;
    this.world.advance(advanceMs);
    await macrotask();
    const events = this.world.log.since(before);
    this.print([{ text: `The clock moves on ${formatElapsed(advanceMs)}: now ${this.world.clock.timestamp()}.`, tone: 'info' }]);
    if (events.length === 0) this.print([{ text: 'Nothing was due in that time.', tone: 'info' }]);
    else this.print(this.describeFolded(events));
    return true;
  }

  /**
   * What the clock brought, as terminal lines, with a run of retry rounds that said the same
   * thing folded (sim/repeats.ts): five days of an unreachable destination are a hundred
   * identical rounds, thousands of lines that bury the bounce at the end. A round is what one
   * run of the queue did: from its MX lookup and attempt to its deferral, with the messages
   * deferred beside it as "delivery temporarily suspended".
   */
  private describeFolded(events: readonly WorldEvent[]): OutputLine[] {
    const rounds: { events: WorldEvent[]; attempt?: number }[] = [];
    let current: { events: WorldEvent[]; attempt?: number } | undefined;
    for (const event of events) {
      // The other messages a suspended destination defers with the probe, in the same moment,
      // belong to the probe's round: each run of the queue then reads the same.
      const closed = rounds.at(-1)?.events.at(-1);
      if (current === undefined && event.kind === 'deferral' && closed?.kind === 'deferral' && closed.at === event.at) {
        rounds.at(-1)!.events.push(event);
        continue;
      }
      if (current === undefined) rounds.push((current = { events: [] }));
      current.events.push(event);
      if (event.kind === 'delivery-attempt') current.attempt ??= event.attempt;
      if (event.kind === 'deferral' || event.kind === 'bounce' || event.kind === 'delivery') current = undefined;
    }
    // In order, with one record of the connections inside TLS: a session that carries several
    // messages spans rounds (each message's delivery ends one).
    const secure = new Set<string>();
    const described = new Map(rounds.map((round) => [round, this.describeEvents(round.events, secure).flat()]));
    const lines = (round: (typeof rounds)[number]) => described.get(round)!;
    const folded = foldRepeatedRounds(rounds, {
      // Without its times and its attempt number; a round that is no attempt is itself only.
      sameAs: (round) =>
        round.attempt === undefined
          ? `${round.events[0]!.seq}`
          : lines(round)
              .map((line) => line.text.replace(/^\[[^\]]*\] /, '').replace(/^\*\* attempt \d+ /, '** attempt ').replace(/; next try \[[^\]]*\]$/, ''))
              .join('\n'),
      waitBetween: (before, after) => after.events[0]!.at - before.events[0]!.at,
      // Messages at two dead destinations are retried on two schedules, their rounds interleaved.
      streamOf: (round) => (round.attempt === undefined ? '' : (round.events.find((e) => e.kind === 'delivery-attempt')?.recipients.join(', ') ?? '')),
    });
    const out: OutputLine[] = [];
    for (const item of folded) {
      if (item.kind === 'round') {
        out.push(...lines(item.round));
        continue;
      }
      const first = item.rounds[0]!;
      const last = item.rounds.at(-1)!;
      const tried = first.events.find((e) => e.kind === 'delivery-attempt')?.recipients ?? [];
      const waiting = first.events.filter((e) => e.kind === 'deferral' && !e.recipients.some((r) => tried.includes(r))).length;
      const beside = waiting === 0 ? '' : ` (and ${waiting} more message${waiting === 1 ? '' : 's'} waiting with it)`;
      out.push({
        text:
          `${eventTime(first.events[0]!.at, this.epoch)} ** attempts ${first.attempt}–${last.attempt} for ${tried.join(', ')}${beside}: the same as attempt ${item.same.attempt}, ` +
          `${item.rounds.length} times, every ${formatDuration(first.events[0]!.at - item.same.events[0]!.at)}, until ${eventTime(last.events[0]!.at, this.epoch)} (the Delivery panel lists each)`,
        tone: 'transient',
      });
    }
    return out;
  }

  private mailbox(address: string): boolean {
    const messages = this.world.mailboxes.list(address);
    if (messages.length === 0) {
      this.print([{ text: `No mail for ${address} (yet).`, tone: 'info' }]);
      return true;
    }
    const lines: OutputLine[] = [{ text: `${messages.length} message${messages.length === 1 ? '' : 's'} for ${address}:`, tone: 'info' }];
    messages.forEach((message, index) => {
      const subject = headerValue(message.headers, 'Subject') ?? '(no subject)';
      const from = headerValue(message.headers, 'From') ?? message.envelope.mailFrom ?? '';
      lines.push({ text: `${index + 1}. ${eventTime(message.deliveredAt, this.epoch)} from ${from}: ${subject}`, tone: 'plain' });
      lines.push({ text: `   envelope: MAIL FROM:<${message.envelope.mailFrom}>  delivered by ${message.deliveredBy}`, tone: 'info' });
      if (message.isDsn) {
        const parsed = parseDsn(message.raw);
        if (parsed.ok) lines.push(...this.dsnLines(parsed.dsn));
      } else {
        // The header as stored: the trace fields the servers added on top (Return-Path,
        // Received: RFC 5321 §4.4), then the sender's own; then the start of the body.
        const [head = '', ...rest] = message.raw.split(/\r?\n\r?\n/);
        for (const line of head.split(/\r?\n/).slice(0, 16)) lines.push({ text: `   | ${line.replace(/\t/g, '    ')}`, tone: 'plain' });
        lines.push({ text: '   |', tone: 'plain' });
        for (const line of rest.join('\n\n').split(/\r?\n/).slice(0, 8)) lines.push({ text: `   | ${line}`, tone: 'plain' });
      }
    });
    this.print(lines);
    return true;
  }

  /** The delivery-status part of a DSN (RFC 3464 §2.2, §2.3), and what it returns of the original. */
  private dsnLines(dsn: ParsedDsn): OutputLine[] {
    const actions = new Set(dsn.recipients.map((r) => r.action));
    const kind = [...actions].every((a) => a === 'failed')
      ? 'a bounce'
      : [...actions].every((a) => a === 'delayed')
        ? 'a delay warning'
        : [...actions].every((a) => a === 'relayed' || a === 'delivered')
          ? 'a success report'
          : 'a delivery report';
    const actionTone = (action: string): Tone => (action === 'failed' ? 'permanent' : action === 'delayed' ? 'transient' : action === 'relayed' || action === 'delivered' ? 'positive' : 'plain');
    const lines: OutputLine[] = [{ text: `   This is ${kind} (a DSN, RFC 3464). Its delivery-status part says:`, tone: 'info' }];
    // RFC 3464 §2.2.2: the MTA that wrote the report (Remote-MTA, below, is one that answered it).
    if (dsn.reportingMta !== undefined) lines.push({ text: `     Reporting-MTA: ${dsn.reportingMta}`, tone: 'plain' });
    if (dsn.originalEnvelopeId !== undefined) lines.push({ text: `     Original-Envelope-Id: ${dsn.originalEnvelopeId}`, tone: 'plain' });
    for (const r of dsn.recipients) {
      if (r.originalRecipient) lines.push({ text: `     Original-Recipient: ${r.originalRecipient}`, tone: 'plain' });
      lines.push({ text: `     Final-Recipient: ${r.finalRecipient}`, tone: 'plain' });
      lines.push({ text: `     Action: ${r.action}   Status: ${r.status}`, tone: actionTone(r.action) });
      if (r.remoteMta) lines.push({ text: `     Remote-MTA: ${r.remoteMta}`, tone: 'plain' });
      // As written, with its type (RFC 3464 §2.3.6): "smtp;" for a server's reply, "X-…;" for
      // the reporting MTA's own words.
      const diagnostic = headerValue(r.fields, 'Diagnostic-Code');
      if (diagnostic !== undefined) lines.push({ text: `     Diagnostic-Code: ${diagnostic}`, tone: 'plain' });
      if (diagnostic !== undefined && /^x-/i.test(diagnostic)) lines.push({ text: '     (X-…: the reporting MTA wrote this itself; no server said it)', tone: 'info' });
    }
    if (dsn.returnedContent === 'full') {
      // RFC 3461 §4.3: RET=FULL asked for the whole message back, body included.
      lines.push({ text: '   It returns the whole original message, body included:', tone: 'info' });
      const subject = headerValue(dsn.originalHeaders, 'Subject');
      if (subject !== undefined) lines.push({ text: `   | Subject: ${subject}`, tone: 'plain' });
      lines.push({ text: '   |', tone: 'plain' });
      for (const line of (dsn.returnedBody ?? '').trimEnd().split(/\r?\n/).slice(0, 6)) lines.push({ text: `   | ${line}`, tone: 'plain' });
    } else if (dsn.returnedContent === 'headers') {
      const subject = headerValue(dsn.originalHeaders, 'Subject');
      lines.push({ text: `   It returns the original header only${subject !== undefined ? ` (Subject: ${subject})` : ''}, not the body.`, tone: 'info' });
    }
    return lines;
  }

  /** One line per recipient: where the message stands now. */
  private summary(id: string): OutputLine[] {
    const handle = this.world.deliveries().find((d) => d.id === id);
    if (!handle) return [];
    const lines: OutputLine[] = [];
    for (const r of handle.recipients()) {
      const tone: Tone = r.status === 'delivered' ? 'positive' : r.status === 'failed' ? 'permanent' : 'transient';
      const next = handle.nextAttemptFor(r.address);
      const detail = r.status === 'deferred' && next !== undefined ? ` — next attempt at ${eventTime(next, this.epoch)}; advance time with clock +10m` : '';
      lines.push({ text: `${r.address}: ${r.status}${r.statusCode ? ` ${r.statusCode}` : ''}${r.last?.diagnostic ? ` (${r.last.diagnostic})` : ''}${detail}`, tone });
    }
    return lines;
  }

  /**
   * World events as terminal lines, grouped in exchanges (a command and its reply). `secure`
   * holds the connections that are inside TLS so far: events described in parts share one.
   */
  private describeEvents(events: readonly WorldEvent[], secure = new Set<string>()): OutputLine[][] {
    const groups: OutputLine[][] = [];
    let current: OutputLine[] = [];
    const push = (line: OutputLine, endsGroup = false) => {
      current.push(line);
      if (endsGroup) {
        groups.push(current);
        current = [];
      }
    };
    for (const event of events) {
      const t = eventTime(event.at, this.epoch);
      switch (event.kind) {
        case 'dns-query':
          push({ text: `${t} DNS ${event.type} ${event.name}: ${event.status}${event.answers.length ? ` → ${event.answers.join(', ')}` : ''}`, tone: 'info' }, true);
          break;
        case 'connection':
          if (event.client === LEARNER_ADDRESS) break;
          if (event.outcome === 'connected') push({ text: `${t} ** connected to ${event.host}:${event.port}`, tone: 'info' });
          else if (event.outcome === 'closed') push({ text: `${t} ** connection to ${event.host} closed`, tone: 'info' }, true);
          else push({ text: `${t} ** ${event.host}:${event.port} ${event.outcome === 'refused' ? 'refused the connection' : 'did not answer (timed out)'}`, tone: 'transient' }, true);
          break;
        case 'command':
          if (this.worldConnections.get(event.connectionId) === 'learner') break;
          push({ text: `${t} ${secure.has(event.connectionId) ? '~>' : '->'} ${event.line}`, tone: 'client' });
          break;
        case 'reply': {
          if (this.worldConnections.get(event.connectionId) === 'learner') break;
          const dir = secure.has(event.connectionId) ? '<~' : '<-';
          const reply = event.reply as Reply;
          const lines = reply.lines.length ? reply.lines : [''];
          lines.forEach((text, i) => {
            const sep = i === lines.length - 1 ? ' ' : '-';
            push({ text: `${t} ${dir} ${reply.code}${sep}${reply.enhanced ? `${reply.enhanced} ` : ''}${text}`, tone: toneOf(reply.code) }, i === lines.length - 1);
          });
          break;
        }
        case 'tls':
          if (this.worldConnections.get(event.connectionId) === 'learner') break;
          if (event.step === 'established') secure.add(event.connectionId);
          if (event.step !== 'starttls') push({ text: `${t} ** TLS ${event.step}: ${event.detail}`, tone: event.step === 'failed' ? 'transient' : 'info' }, true);
          break;
        case 'delivery-attempt':
          push({ text: `${t} ** attempt ${event.attempt} for ${event.recipients.join(', ')} via ${event.target}`, tone: 'info' }, true);
          break;
        case 'deferral':
          push({ text: `${t} ** deferred ${event.recipients.join(', ')}: ${event.reason}; next try ${eventTime(event.retryAt, this.epoch)}`, tone: 'transient' }, true);
          break;
        case 'bounce':
          if (event.later) {
            // A receiving host failing mail it had accepted (RFC 5321 §6.1): it, not smtp.example.com, owes the report.
            const report = event.later.reportSent ? 'its DSN goes to the sender' : "no DSN: the sender's NOTIFY asked for none";
            push({ text: `${t} ** ${event.host} bounced ${event.recipients.join(', ')} after accepting it: ${event.status} ${event.reason}; ${report}`, tone: 'permanent' }, true);
          } else push({ text: `${t} ** bounced ${event.recipients.join(', ')}: ${event.status} ${event.reason}`, tone: 'permanent' }, true);
          break;
        case 'delivery':
          push({ text: `${t} ** delivered to the mailbox of ${event.recipient} at ${event.host}`, tone: 'positive' }, true);
          break;
      }
    }
    if (current.length > 0) groups.push(current);
    return groups;
  }

  // ── The world and the record ───────────────────────────────────────────────────────────

  private resetWorld(): void {
    for (const off of this.worldUnsubscribe) off();
    this.worldUnsubscribe = [];
    if (this.session && !this.session.closed) this.session.link.close();
    this.session = undefined;
    this.stepQueue = [];
    const start = this.start;
    this.world = createWorld(start.seed === undefined ? {} : { seed: start.seed });
    this.epoch = this.world.clock.now();
    for (const [host, mode] of Object.entries(start.hostsDown ?? {})) this.world.setHostDown(host, mode);
    this.recorder = new Recorder(this.epoch);
    this.worldConnections.clear();
    this.worldUnsubscribe.push(this.world.log.subscribe((event) => this.fromWorld(event)));
    this.worldUnsubscribe.push(
      this.world.mailboxes.subscribe((message) => {
        const parsed = message.isDsn ? parseDsn(message.raw) : undefined;
        this.recorder.mail({
          at: message.deliveredAt,
          address: message.recipient,
          subject: headerValue(message.headers, 'Subject') ?? '',
          isDsn: message.isDsn,
          ...(parsed?.ok
            ? {
                dsn: parsed.dsn.recipients.map((r) => ({ recipient: r.finalRecipient, action: r.action, status: r.status })),
                returnedContent: parsed.dsn.returnedContent,
                ...(parsed.dsn.originalEnvelopeId !== undefined ? { originalEnvelopeId: parsed.dsn.originalEnvelopeId } : {}),
              }
            : {}),
          raw: message.raw,
        });
      }),
    );
    if (start.clock) {
      const advance = parseClockDuration(start.clock.replace(/^\+/, ''));
      if (advance.ok) this.world.advance(advance.ms);
    }
    this.changed();
  }

  /** The world's event log, into the record (simulated mode: the single source of truth). */
  private fromWorld(event: WorldEvent): void {
    this.recorder.setClock(event.at);
    switch (event.kind) {
      case 'dns-query':
        this.recorder.dns({ at: event.at, name: event.name, type: event.type, status: event.status, answers: event.answers });
        break;
      case 'connection': {
        const by = event.client === LEARNER_ADDRESS ? 'learner' : 'autopilot';
        if (event.outcome === 'connected') {
          this.worldConnections.set(event.connectionId, by);
          this.recorder.opened(event.connectionId, event.at, event.host, event.port, by);
        } else if (event.outcome === 'closed') {
          this.recorder.closed(event.connectionId, event.at, 'client', 'closed');
        } else {
          this.recorder.failed(event.at, event.host, event.port, by, event.outcome);
        }
        break;
      }
      case 'command':
        this.recorder.clientLine(event.connectionId, event.at, event.line);
        break;
      case 'reply':
        this.recorder.serverReply(event.connectionId, event.at, event.reply as Reply);
        break;
      case 'tls':
        if (event.step === 'established') this.recorder.tls(event.connectionId, event.at, { at: event.at, ok: true, authorized: !/NOT verified/.test(event.detail) });
        else if (event.step === 'failed') this.recorder.tls(event.connectionId, event.at, { at: event.at, ok: false, error: event.detail });
        break;
      case 'delivery': {
        const handle = this.world.deliveries().find((d) => d.id === event.messageId);
        this.recorder.delivery({ at: event.at, from: handle?.from ?? '', recipient: event.recipient, outcome: 'delivered', host: event.host });
        break;
      }
      case 'bounce': {
        // A later bounce names the receiving host's queue id; the message is found by its Message-ID.
        const later = event.later;
        const handle = this.world.deliveries().find((d) => (later ? d.messageId === later.originalMessageId : d.id === event.messageId));
        for (const recipient of event.recipients) {
          this.recorder.delivery({ at: event.at, from: handle?.from ?? '', recipient, outcome: 'bounced', status: event.status, host: event.host });
        }
        break;
      }
      case 'deferral': {
        const handle = this.world.deliveries().find((d) => d.id === event.messageId);
        for (const recipient of event.recipients) {
          const enhanced = /\b([45]\.\d{1,3}\.\d{1,3})\b/.exec(event.reason)?.[1];
          this.recorder.delivery({ at: event.at, from: handle?.from ?? '', recipient, outcome: 'deferred', status: enhanced ?? event.reason, host: event.host });
        }
        break;
      }
      case 'delivery-attempt':
        break;
    }
  }

  private print(lines: readonly OutputLine[], pace?: number): void {
    if (lines.length === 0) return;
    for (const listener of [...this.outputListeners]) listener(lines, pace);
  }

  private effect(effect: LabEffect): void {
    for (const listener of [...this.effectListeners]) listener(effect);
  }

  private changed(): void {
    this.recorder.setClock(this.world.clock.now());
    for (const listener of [...this.changeListeners]) listener();
  }
}

export function createLab(options: LabOptions = {}): Lab {
  return new Lab(options);
}
