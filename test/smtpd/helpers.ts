// Shared by the smtpd tests: real client programs, run as child processes, and the maildir
// they deliver into.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStoredMessage } from '../../src/smtpd/store';

/**
 * A real client the tests need. When it is missing the test fails (it never skips) and says
 * exactly how to install it.
 */
export function requireCommand(command: string, debianPackage: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  if (found.status !== 0) {
    throw new Error(`${command} is not installed; this test drives the real program. Install it with:\n  apt-get install -y ${debianPackage}`);
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (killed after `timeoutMs`), feeding `input` on stdin. */
export function run(command: string, args: string[], options: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // a client that exits early closes its stdin
    child.stdin.end(options.input ?? '');
  });
}

export async function temporaryMaildir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'smtp-lab-maildir-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export interface DeliveredMessage {
  file: string;
  envelope: Record<string, string[]>;
  /** The Received field smtpd wrote on top (RFC 5321 §4.4). */
  received: string;
  /** The message as the client sent it, after the envelope fields and the Received field. */
  content: Buffer;
}

/** Messages in maildir new/, oldest first. */
export async function deliveredMessages(maildir: string): Promise<DeliveredMessage[]> {
  let names: string[];
  try {
    names = await readdir(join(maildir, 'new'));
  } catch {
    return [];
  }
  names.sort((a, b) => Number(a.split('.')[0]) - Number(b.split('.')[0]) || a.localeCompare(b));
  const messages: DeliveredMessage[] = [];
  for (const name of names) {
    const file = join(maildir, 'new', name);
    const { envelope, received, content } = readStoredMessage(await readFile(file));
    messages.push({ file, envelope, received, content: Buffer.from(content) });
  }
  return messages;
}

/** Lines of a swaks transcript that the server sent (`<-` plain, `<~` inside TLS, `<**`/`<~*` errors). */
export function serverLines(transcript: string): string[] {
  return transcript
    .split('\n')
    .map((l) => /^\s*<(?:-|~|\*\*|~\*)\s+(.*)$/.exec(l)?.[1])
    .filter((l): l is string => l !== undefined);
}
