// 100,000 random and mutated command lines through the server machine: it must never throw,
// never go silent on a line it should answer, and every reply must be well-formed.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor } from 'xstate';
import { serverMachine, type ServerEmitted } from '../../src/machines/server';
import { createBackend } from '../../src/sim/personas';
import { formatReply, ReplyParser, type Reply } from '../../src/protocol/reply';
import { encodePlain } from '../../src/protocol/sasl';

const TOTAL_LINES = 100_000;

/** Lines a real client sends; the mutations below start from these. */
const corpus = [
  'EHLO client.example.org',
  'HELO client.example.org',
  'MAIL FROM:<alice@example.com>',
  'MAIL FROM:<alice@example.com> SIZE=1024 BODY=8BITMIME',
  'MAIL FROM:<> SMTPUTF8',
  'RCPT TO:<bob@example.net>',
  'RCPT TO:<postmaster>',
  'RCPT TO:<"quoted local"@example.net> NOTIFY=SUCCESS,FAILURE',
  'RCPT TO:<user@[192.0.2.1]>',
  'DATA',
  '.',
  'Subject: hello',
  '',
  'RSET',
  'NOOP',
  'VRFY bob',
  'EXPN staff',
  'HELP MAIL',
  'STARTTLS',
  `AUTH PLAIN ${encodePlain('alice@example.com', 's3cr3t')}`,
  'AUTH LOGIN',
  'AUTH CRAM-MD5',
  '*',
  'QUIT',
  'BDAT 10 LAST',
];

const mutatedLine = fc
  .tuple(
    fc.constantFrom(...corpus),
    fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant('insert' as const), at: fc.nat(600), text: fc.string({ unit: 'binary', maxLength: 8 }) }),
        fc.record({ kind: fc.constant('delete' as const), at: fc.nat(600), length: fc.nat(6) }),
        fc.record({ kind: fc.constant('case' as const) }),
        fc.record({ kind: fc.constant('repeat' as const), times: fc.integer({ min: 2, max: 60 }) }),
      ),
      { maxLength: 4 },
    ),
  )
  .map(([base, edits]) => {
    let line = base;
    for (const edit of edits) {
      if (edit.kind === 'insert') {
        const at = edit.at % (line.length + 1);
        line = line.slice(0, at) + edit.text + line.slice(at);
      } else if (edit.kind === 'delete') {
        const at = edit.at % (line.length + 1);
        line = line.slice(0, at) + line.slice(at + edit.length);
      } else if (edit.kind === 'case') {
        line = line === line.toLowerCase() ? line.toUpperCase() : line.toLowerCase();
      } else {
        line = line.repeat(edit.times);
      }
    }
    return line;
  });

const anyLine = fc.oneof(
  { weight: 6, arbitrary: mutatedLine },
  { weight: 2, arbitrary: fc.constantFrom(...corpus) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 80 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 700 }) },
);

function wellFormed(reply: Reply): string | undefined {
  if (!Number.isInteger(reply.code) || reply.code < 200 || reply.code > 559) return `code ${reply.code}`;
  if (reply.enhanced !== undefined) {
    if (!/^[245]\.\d{1,3}\.\d{1,3}$/.test(reply.enhanced)) return `enhanced ${reply.enhanced}`;
    if (reply.enhanced[0] !== String(reply.code)[0]) return `enhanced ${reply.enhanced} does not match ${reply.code}`;
  }
  const wire = formatReply(reply);
  for (const line of wire.split('\r\n').slice(0, -1)) {
    if (line.length > 512) return `reply line over 512 octets (RFC 5321 §4.5.3.1.5): ${line.slice(0, 40)}...`;
    if (/[\r\n]/.test(line)) return 'CR or LF inside a reply line';
  }
  const back = new ReplyParser().push(wire);
  if (back.length !== 1 || back[0]!.code !== reply.code) return 'does not parse back';
  return undefined;
}

describe('the server machine under random and mutated input', () => {
  it(`${TOTAL_LINES.toLocaleString('en')} lines: no exception, every reply well-formed`, () => {
    const lines = fc.sample(anyLine, { numRuns: TOTAL_LINES, seed: 5321 });
    const personaIds = ['friendly', 'strict', 'submission', 'legacy', 'closed-relay', 'content-filter'] as const;
    const problems: string[] = [];
    let replies = 0;
    let sessions = 0;
    let index = 0;
    while (index < lines.length) {
      const persona = personaIds[sessions % personaIds.length]!;
      const backend = createBackend(persona, undefined, { hostname: 'mx.fuzz.example', now: () => 0 });
      const actor = createActor(serverMachine, { input: { backend, peer: { address: '192.0.2.7', port: 40000 } } });
      let closed = false;
      actor.on('*', (event: ServerEmitted) => {
        if (event.type === 'reply') {
          replies++;
          const problem = wellFormed(event.reply);
          if (problem && problems.length < 20) problems.push(`${persona}: ${problem}`);
        } else if (event.type === 'close') {
          closed = true;
        }
      });
      actor.subscribe({ error: (error) => problems.push(`${persona}: actor error ${String(error)}`) });
      actor.start();
      sessions++;
      // A session ends when the server closes it (QUIT, too many errors) or after 400 lines.
      for (let n = 0; n < 400 && index < lines.length && !closed; n++) {
        const text = lines[index++]!;
        const ending = text.length % 7 === 0 ? 'lf' : 'crlf';
        actor.send({ type: 'line', text, ending, tooLong: text.length + 2 > 1000, octets: text.length });
      }
      actor.stop();
    }
    expect(problems).toEqual([]);
    expect(index).toBe(TOTAL_LINES);
    // Most lines are answered (DATA lines and AUTH exchanges are not, one by one).
    expect(replies).toBeGreaterThan(TOTAL_LINES / 4);
    expect(sessions).toBeGreaterThan(100);
  }, 300_000);
});
