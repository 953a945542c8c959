// The server end of a simulated connection: what the client writes reaches the server machine
// and the event log line by line, exactly as the protocol's line framer splits it.
import { describe, expect, it } from 'vitest';
import { createWorld } from '../../src/sim/world';
import { LineFramer } from '../../src/protocol/framing';
import { ReplyParser } from '../../src/protocol/reply';
import { Replies } from '../../src/protocol/replies';

function openSession() {
  const world = createWorld();
  const opened = world.connect('mx1.example.net', 25);
  if (!opened.ok) throw new Error(opened.message);
  const wire: string[] = [];
  opened.connection.onReply((_reply, text) => wire.push(text));
  opened.connection.start();
  return { world, server: opened.connection, wire };
}

describe('ServerEnd.write', () => {
  it.each([
    ['CRLF lines', ['EHLO a.example\r\nNOOP\r\n']],
    ['bare LF and a CR inside a line', ['NOOP\n', 'NOOP x\ry\r\n']],
    ['empty lines, a lone CR line', ['\r\n\n\r\r\n']],
    ['a line split over writes', ['NO', 'OP\r', '\nNOOP\r\n']],
    ['a line over 1000 octets', [`NOOP ${'x'.repeat(1200)}\r\n`]],
    ['text that is not ASCII', ['EHLO bücher.example\r\nNOOP é\r\n']],
  ])('logs %s as the line framer splits them', (_name, writes) => {
    const { world, server } = openSession();
    const framer = new LineFramer();
    const expected = writes.flatMap((w) => framer.push(w).map((l) => l.text));
    for (const w of writes) server.write(w);
    expect(world.log.ofKind('command').map((e) => e.line)).toEqual(expected);
  });

  it('answers a line over the limit as too long, whether it comes alone or in a batch', () => {
    const long = `NOOP ${'x'.repeat(1200)}`;
    for (const text of [`${long}\r\n`, `NOOP\r\n${long}\r\nNOOP\r\n`]) {
      const { server, wire } = openSession();
      server.write(text);
      const codes = new ReplyParser().push(wire.join('')).map((r) => r.code);
      const lines = text.split('\r\n').filter((l) => l !== '');
      // One reply per line after the banner, in order; the long one is the too-long reply.
      expect(codes).toHaveLength(1 + lines.length);
      expect(codes[1 + lines.indexOf(long)]).toBe(Replies.lineTooLong().code);
    }
  });

  it('hands a pipelined batch to the server in order and logs all commands before the replies', () => {
    const { world, server } = openSession();
    server.write('EHLO a.example\r\n');
    server.write('MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n');
    server.write('Subject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n');
    const wireEvents = world.log.all().filter((e) => e.kind === 'command' || e.kind === 'reply');
    const kinds = wireEvents.map((e) => e.kind);
    // EHLO + reply, then three commands, then their three replies, then the message lines and the rest.
    expect(kinds.slice(0, 8)).toEqual(['reply', 'command', 'reply', 'command', 'command', 'command', 'reply', 'reply']);
    const codes = world.log.ofKind('reply').map((e) => e.reply.code);
    expect(codes).toEqual([220, 250, 250, 250, 354, 250, 221]);
    const stored = world.mailboxes.list('bob@example.net');
    expect(stored).toHaveLength(1);
    expect(stored[0]!.raw).toContain('\r\n.dot\r\n');
  });
});

describe('ServerEnd.onReplies', () => {
  function openListening() {
    const world = createWorld();
    const opened = world.connect('mx1.example.net', 25);
    if (!opened.ok) throw new Error(opened.message);
    const server = opened.connection;
    const heard: string[] = [];
    const codes = (replies: readonly { code: number }[]) => replies.map((r) => r.code).join(' ');
    server.onReplies((replies) => heard.push(codes(replies)));
    server.onClose((by) => heard.push(`closed by ${by}`));
    return { world, server, heard };
  }

  it('hands on the replies to one pipelined write as one list, in wire order', () => {
    const { server, heard } = openListening();
    const wire: string[] = [];
    server.onReply((_reply, text) => wire.push(text));
    server.start();
    server.write('EHLO a.example\r\n');
    server.write('MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\nDATA\r\n');
    server.write('Subject: hi\r\n\r\nhello\r\n.\r\nQUIT\r\n');
    expect(heard).toEqual(['220', '250', '250 250 250 354', '250 221', 'closed by server']);
    // A listener of single replies hears the same replies, one by one, with their wire text.
    expect(new ReplyParser().push(wire.join('')).map((r) => r.code)).toEqual([220, 250, 250, 250, 250, 354, 250, 221]);
  });

  it('groups a step’s replies when the write comes from inside a listener, as a client answering a reply does', () => {
    const { server, heard } = openListening();
    const script = ['EHLO a.example\r\n', 'MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\nDATA\r\n', 'Subject: x\r\n\r\n.\r\n', 'QUIT\r\n'];
    // Each answer is written while the server is still handing on the replies it answers.
    server.onReplies(() => {
      const next = script.shift();
      if (next !== undefined) server.write(next);
    });
    server.start();
    expect(heard).toEqual(['220', '250', '250 250 250 354', '250', '221', 'closed by server']);
  });

  it('a 421 in the middle of a batch comes with the replies before it, and the close after them', () => {
    const { server, heard } = openListening();
    server.start();
    // Too many bad commands: the server answers 421 and closes (RFC 5321 §3.8); NOOP is never read.
    server.write(`${'FOO\r\n'.repeat(12)}NOOP\r\n`);
    expect(heard.at(-1)).toBe('closed by server');
    const batch = heard.at(-2)!.split(' ');
    expect(batch.at(-1)).toBe('421');
    expect(batch.slice(0, -1).every((code) => code === '500')).toBe(true);
    expect(batch.length).toBeGreaterThan(1);
  });
});
