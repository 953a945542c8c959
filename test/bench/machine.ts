/**
 * Section 3: the server session machine alone, in-process, without sockets: the ceiling
 * smtpd can reach. The machine (src/machines/server.ts) is imported at run time; if it is
 * missing, or speaks events this driver does not know, the section says so and is skipped.
 *
 * The driver feeds client lines as the machine's `line` events and reads the replies it
 * emits (XState `emit`, observed with actor.on('*')), as smtpd's socket transport does.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

interface ClientInputShape {
  name: string;
  /** Turns client text (whole CRLF-terminated lines) into the events to send. */
  events(text: string): object[];
}

/**
 * The transport contract of src/machines/server.ts as smtpd uses it: the framed lines of one
 * read go in as one `lines` event (commands and DATA lines alike), without their endings.
 */
const LINE_EVENTS: ClientInputShape = {
  name: "{type:'lines', lines}",
  events: (text) => [{ type: 'lines', lines: text.split('\r\n').slice(0, -1).map((line) => ({ type: 'line', text: line, ending: 'crlf' })) }],
};

interface MachineActor {
  start(): void;
  stop(): void;
  send(event: object): void;
  on(type: string, handler: (event: Record<string, unknown>) => void): unknown;
}

/** The reply code carried by an emitted event, if it is a reply. */
function replyCode(event: Record<string, unknown>): number | undefined {
  if (event.type !== 'reply') return undefined;
  const reply = (event.reply ?? event) as Record<string, unknown>;
  if (typeof reply.code === 'number') return reply.code;
  const text = typeof event.text === 'string' ? event.text : typeof event.wire === 'string' ? event.wire : undefined;
  const match = text === undefined ? null : /^(\d{3})[ \r\n]/m.exec(text.split('\r\n').filter(Boolean).at(-1) ?? '');
  return match ? Number(match[1]) : undefined;
}

/** A backend that accepts everything: only hostname and extensions (the ServerBackend minimum). */
function acceptAllBackend() {
  return {
    hostname: 'mx1.example.net',
    extensions: () => ({ pipelining: true, size: 0, eightBitMime: true, enhancedStatusCodes: true }),
  };
}

interface Driver {
  shape: ClientInputShape;
  createActor: (logic: unknown, options: object) => MachineActor;
  machine: unknown;
}

function newSession(driver: Omit<Driver, 'shape'>): { actor: MachineActor; codes: number[] } {
  const backend = acceptAllBackend();
  const peer = { address: '127.0.0.1', port: 40000 };
  const actor = driver.createActor(driver.machine, {
    input: { backend, peer },
  });
  const codes: number[] = [];
  actor.on('*', (event) => {
    const code = replyCode(event);
    if (code !== undefined) codes.push(code);
  });
  actor.start();
  return { actor, codes };
}

export type MachineDriver = { ok: true; driver: Driver } | { ok: false; reason: string };

export async function loadServerMachine(projectRoot: string): Promise<MachineDriver> {
  const file = path.join(projectRoot, 'src', 'machines', 'server.ts');
  if (!existsSync(file)) return { ok: false, reason: 'the server machine is not built yet (src/machines/server.ts is missing)' };
  const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const machine = module.serverMachine;
  if (!machine) return { ok: false, reason: 'src/machines/server.ts exports no serverMachine' };
  const { createActor } = (await import('xstate')) as unknown as { createActor: Driver['createActor'] };
  const shape = LINE_EVENTS;
  try {
    const { actor, codes } = newSession({ createActor, machine });
    const bannerSeen = codes.includes(220);
    for (const event of shape.events('EHLO client.example.com\r\n')) actor.send(event);
    await new Promise((resolve) => setImmediate(resolve));
    actor.stop();
    if (bannerSeen && codes.at(-1) === 250) return { ok: true, driver: { shape, createActor, machine } };
    return { ok: false, reason: `serverMachine did not give a 220 banner and 250 to EHLO (replies: ${codes.join(',') || 'none'})` };
  } catch (error) {
    return { ok: false, reason: `serverMachine could not be driven: ${(error as Error).message}` };
  }
}

const MESSAGE_TEXT =
  'From: <load@example.com>\r\nTo: <inbox@example.net>\r\nSubject: load test\r\n\r\n' +
  'The quick brown fox jumps over the lazy dog, then over the example.net fence.\r\n'.repeat(12) +
  '.\r\n';

/**
 * Runs one session of `transactions` mail transactions; returns seconds spent on the
 * transactions (banner and EHLO excluded) and fails on any unexpected reply.
 */
export async function runMachineSession(driver: Driver, transactions: number): Promise<number> {
  const { actor, codes } = newSession(driver);
  const feed = (text: string) => {
    for (const event of driver.shape.events(text)) actor.send(event);
  };
  const expectCodes = async (expected: number[], step: string) => {
    if (codes.length < expected.length) await new Promise((resolve) => setImmediate(resolve));
    const got = codes.splice(0, codes.length);
    if (got.length !== expected.length || got.some((code, i) => code !== expected[i])) {
      throw new Error(`server machine at ${step}: expected ${expected.join(',')}, got ${got.join(',') || 'nothing'}`);
    }
  };
  try {
    await expectCodes([220], 'banner');
    feed('EHLO client.example.com\r\n');
    await expectCodes([250], 'EHLO');
    const started = performance.now();
    for (let i = 0; i < transactions; i++) {
      feed('MAIL FROM:<load@example.com>\r\n');
      feed('RCPT TO:<inbox@example.net>\r\n');
      feed('DATA\r\n');
      feed(MESSAGE_TEXT);
      await expectCodes([250, 250, 354, 250], `transaction ${i + 1}`);
    }
    return (performance.now() - started) / 1000;
  } finally {
    actor.stop();
  }
}

/** Commands per transaction as counted here: MAIL, RCPT, DATA and the end of data. */
export const COMMANDS_PER_TRANSACTION = 4;
