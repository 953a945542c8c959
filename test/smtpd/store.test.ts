import { afterAll, describe, expect, it } from 'vitest';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MaildirStore, SummaryStore, readStoredMessage, type StoredMessage } from '../../src/smtpd/store';
import { temporaryMaildir } from './helpers';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

function message(content: string | Buffer, overrides: Partial<StoredMessage> = {}): StoredMessage {
  return {
    queueId: '4F3A21C8AB',
    from: 'alice@example.com',
    recipients: ['bob@example.net', 'carol@example.net'],
    content: typeof content === 'string' ? Buffer.from(content) : content,
    client: '127.0.0.1:50000',
    heloName: 'client.example',
    receivedAt: new Date(Date.UTC(2026, 2, 10, 9, 0, 0)),
    ...overrides,
  };
}

describe('maildir store', () => {
  it('moves the file into new/ (nothing left in tmp/) and keeps the message byte for byte', async () => {
    const dir = await temporaryMaildir();
    cleanups.push(dir.remove);
    const store = new MaildirStore(dir.path);
    // Every byte value, bare CR and LF included: the store must not touch any of them.
    const content = Buffer.concat([Buffer.from('Subject: all bytes\r\n\r\n'), Buffer.from(Array.from({ length: 256 }, (_, i) => i))]);
    const path = await store.store(message(content));
    expect(path.startsWith(join(dir.path, 'new'))).toBe(true);
    expect(await readdir(join(dir.path, 'tmp'))).toEqual([]);
    expect(await readdir(join(dir.path, 'cur'))).toEqual([]);
    const stored = readStoredMessage(await readFile(path));
    expect(Buffer.from(stored.content).equals(content)).toBe(true);
    expect(stored.envelope).toMatchObject({
      from: ['<alice@example.com>'],
      to: ['<bob@example.net>', '<carol@example.net>'],
      'queue-id': ['4F3A21C8AB'],
      client: ['127.0.0.1:50000 (helo client.example)'],
    });
  });

  it('gives every message its own file, and the null reverse path stays <>', async () => {
    const dir = await temporaryMaildir();
    cleanups.push(dir.remove);
    const store = new MaildirStore(dir.path);
    await Promise.all([store.store(message('a\r\n', { from: '' })), store.store(message('b\r\n', { from: '' }))]);
    const names = await readdir(join(dir.path, 'new'));
    expect(names).toHaveLength(2);
    const bodies = await Promise.all(names.map(async (n) => readStoredMessage(await readFile(join(dir.path, 'new', n)))));
    expect(bodies.map((b) => Buffer.from(b.content).toString()).sort()).toEqual(['a\r\n', 'b\r\n']);
    expect(bodies.every((b) => b.envelope.from?.[0] === '<>')).toBe(true);
  });

  it('an envelope value cannot inject a header line', async () => {
    const dir = await temporaryMaildir();
    cleanups.push(dir.remove);
    const path = await new MaildirStore(dir.path).store(message('x\r\n', { heloName: 'evil\r\nX-Injected: yes' }));
    const text = (await readFile(path)).toString();
    expect(text).not.toMatch(/^X-Injected/m);
  });

  it('a store that cannot write rejects (so smtpd never says 250 for it)', async () => {
    const dir = await temporaryMaildir();
    cleanups.push(dir.remove);
    // A maildir "inside" a regular file cannot be created, whoever runs the test (root too).
    const file = await new MaildirStore(dir.path).store(message('a file\r\n'));
    await expect(new MaildirStore(join(file, 'maildir')).store(message('y\r\n'))).rejects.toThrow(/ENOTDIR/);
  });
});

describe('summary store', () => {
  it('prints one line naming queue id, envelope, size and subject', async () => {
    const lines: string[] = [];
    const where = await new SummaryStore((l) => lines.push(l)).store(message('Subject: Lunch\r\n on Friday\r\n\r\nHi\r\n'));
    expect(where).toBe('stdout');
    expect(lines).toEqual(['smtpd: accepted 4F3A21C8AB from <alice@example.com> to <bob@example.net>, <carol@example.net> (34 octets, subject "Lunch on Friday")']);
  });
});
