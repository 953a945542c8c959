import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { commandSyntax, formatCommand, parseCommand, splitVerb, type Command } from '../../src/protocol/command';
import { formatPath } from '../../src/protocol/address';

/** The client lines of the sample session in the reference article, with reserved names. */
const SAMPLE_CLIENT_LINES = [
  'EHLO sender.example',
  'STARTTLS',
  'EHLO sender.example',
  'AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHNlY3JldA==',
  'MAIL FROM:<alice@example.com> SIZE=1024',
  'RCPT TO:<bob@example.net>',
  'RCPT TO:<carol@example.net>',
  'DATA',
  'QUIT',
  'MAIL FROM:<notifications@app.example.com>',
];

function ok(line: string): Command {
  const result = parseCommand(line);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(line)} to parse, got ${result.reply.code} ${result.reply.lines.join(' ')}`);
  return result.command;
}

describe('parseCommand: the sample session', () => {
  it.each(SAMPLE_CLIENT_LINES)('%s parses and formats back to itself', (line) => {
    expect(formatCommand(ok(line))).toBe(line);
  });
  it('gives the envelope values', () => {
    const mail = ok('MAIL FROM:<alice@example.com> SIZE=1024');
    expect(mail.verb === 'MAIL' && formatPath(mail.reversePath)).toBe('<alice@example.com>');
    expect(mail.verb === 'MAIL' && mail.params.size).toBe(1024);
    const rcpt = ok('RCPT TO:<bob@example.net>');
    expect(rcpt.verb === 'RCPT' && rcpt.forwardPath.kind === 'mailbox' && rcpt.forwardPath.mailbox.domain).toBe('example.net');
  });
});

describe('parseCommand: good input', () => {
  const good: Array<[string, Partial<Command> & Record<string, unknown>]> = [
    ['ehlo client.example', { verb: 'EHLO', domain: 'client.example', domainValid: true }],
    ['EHLO [192.0.2.7]', { verb: 'EHLO', domain: '[192.0.2.7]', domainValid: true }],
    ['EHLO my_laptop', { verb: 'EHLO', domain: 'my_laptop', domainValid: false }],
    ['HeLo client.example\r\n', { verb: 'HELO', domain: 'client.example' }],
    ['MAIL FROM:<>', { verb: 'MAIL', reversePath: { kind: 'null' }, leniencies: [] }],
    ['mail from:<alice@example.com> BODY=8BITMIME', { verb: 'MAIL', params: expect.objectContaining({ body: '8BITMIME' }) }],
    ['MAIL FROM:<josé@example.com> SMTPUTF8', { verb: 'MAIL', utf8: true, params: expect.objectContaining({ smtputf8: true }) }],
    ['MAIL FROM: <alice@example.com>', { verb: 'MAIL', leniencies: ['space-after-colon'] }],
    ['MAIL FROM:alice@example.com SIZE=5', { verb: 'MAIL', leniencies: ['missing-angle-brackets'], params: expect.objectContaining({ size: 5 }) }],
    ['RCPT TO:<Postmaster>', { verb: 'RCPT', forwardPath: { kind: 'postmaster' } }],
    ['RCPT TO:<bob@example.net> NOTIFY=FAILURE', { verb: 'RCPT', params: expect.objectContaining({ notify: ['FAILURE'] }) }],
    ['RCPT TO:<"john doe"@example.net>', { verb: 'RCPT', forwardPath: expect.objectContaining({ kind: 'mailbox' }) }],
    ['DATA', { verb: 'DATA' }],
    ['rset', { verb: 'RSET' }],
    ['QUIT   ', { verb: 'QUIT' }],
    ['NOOP', { verb: 'NOOP' }],
    ['NOOP anything at all', { verb: 'NOOP', argument: 'anything at all' }],
    ['VRFY bob', { verb: 'VRFY', argument: 'bob' }],
    ['EXPN staff', { verb: 'EXPN', argument: 'staff' }],
    ['HELP', { verb: 'HELP' }],
    ['HELP MAIL', { verb: 'HELP', topic: 'MAIL' }],
    ['STARTTLS', { verb: 'STARTTLS' }],
    ['AUTH login', { verb: 'AUTH', mechanism: 'LOGIN' }],
    ['AUTH PLAIN =', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: '' }],
    ['AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlx', { verb: 'AUTH', mechanism: 'SCRAM-SHA-256' }],
    [`AUTH PLAIN ${'A'.repeat(2000)}`, { verb: 'AUTH', mechanism: 'PLAIN' }],
  ];
  it.each(good)('%j', (line, shape) => {
    expect(ok(line)).toMatchObject(shape);
  });
});

describe('parseCommand: bad input', () => {
  const bad: Array<[string, number, string]> = [
    ['', 500, '5.5.2'],
    ['   ', 500, '5.5.2'],
    ['HELLO there', 500, '5.5.2'],
    ['MAILFROM:<a@example.com>', 500, '5.5.2'],
    ['123', 500, '5.5.2'],
    ['EHLO', 501, '5.5.4'],
    ['EHLO two words', 501, '5.5.4'],
    ['HELO', 501, '5.5.4'],
    ['MAIL', 501, '5.5.4'],
    ['MAIL TO:<a@example.com>', 501, '5.5.4'],
    ['MAIL FROM:', 501, '5.1.7'],
    ['MAIL FROM:<alice@example.com', 501, '5.1.7'],
    ['MAIL FROM:<alice@@example.com>', 501, '5.1.7'],
    ['MAIL FROM:<postmaster>', 501, '5.1.7'],
    ['MAIL FROM:<a@example.com>SIZE=1', 501, '5.1.7'],
    ['MAIL FROM:<a@example.com> SIZE=big', 501, '5.5.4'],
    ['MAIL FROM:<a@example.com> FOO=BAR', 555, '5.5.4'],
    ['RCPT TO:<>', 501, '5.1.3'],
    ['RCPT TO:<bob>', 501, '5.1.3'],
    ['RCPT FROM:<bob@example.net>', 501, '5.5.4'],
    ['RCPT TO:<bob@example.net> SIZE=1', 555, '5.5.4'],
    [`RCPT TO:<${'a'.repeat(65)}@example.net>`, 501, '5.5.4'],
    ['DATA now', 501, '5.5.4'],
    ['RSET please', 501, '5.5.4'],
    ['QUIT now', 501, '5.5.4'],
    ['STARTTLS x', 501, '5.5.4'],
    ['VRFY', 501, '5.5.4'],
    ['EXPN', 501, '5.5.4'],
    ['AUTH', 501, '5.5.4'],
    ['AUTH PLAIN a b', 501, '5.5.4'],
    ['AUTH NOT/A/MECH', 501, '5.5.4'],
    ['AUTH ABCDEFGHIJKLMNOPQRSTU', 501, '5.5.4'],
    ['NOOP \u0000', 501, '5.5.4'],
    ['TURN', 502, '5.5.1'],
    ['ETRN example.com', 502, '5.5.1'],
    ['BDAT 100 LAST', 502, '5.5.1'],
    ['VERB', 502, '5.5.1'],
    [`NOOP ${'x'.repeat(506)}`, 500, '5.5.6'],
    [`AUTH PLAIN ${'A'.repeat(12280)}`, 500, '5.5.6'],
  ];
  it.each(bad)('%j -> %i %s', (line, code, enhanced) => {
    const result = parseCommand(line);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reply.code).toBe(code);
    expect(result.reply.enhanced).toBe(enhanced);
  });

  it('takes a 512-octet line (counting CRLF) and refuses 513, counting UTF-8 octets', () => {
    expect(parseCommand(`NOOP ${'x'.repeat(505)}`).ok).toBe(true); // 5 + 505 + CRLF = 512
    expect(parseCommand(`NOOP ${'x'.repeat(505)}\r\n`).ok).toBe(true);
    expect(parseCommand(`NOOP ${'x'.repeat(506)}`)).toMatchObject({ ok: false, reply: { code: 500, enhanced: '5.5.6' } });
    // 258 characters, but "é" is two octets: 5 + 506 + CRLF = 513
    expect(parseCommand(`NOOP ${'é'.repeat(253)}`)).toMatchObject({ ok: false, reply: { code: 500, enhanced: '5.5.6' } });
  });

  it('refuses the tolerated forms in strict mode', () => {
    expect(parseCommand('MAIL FROM: <a@example.com>', { strict: true })).toMatchObject({ ok: false, reply: { code: 501 } });
    expect(parseCommand('MAIL FROM:a@example.com', { strict: true })).toMatchObject({ ok: false, reply: { code: 501, enhanced: '5.1.7' } });
    expect(parseCommand('MAIL FROM:<a@example.com>', { strict: true }).ok).toBe(true);
  });
});

describe('commandSyntax', () => {
  it('describes every verb the parser accepts and marks the 502 ones', () => {
    for (const [verb, info] of Object.entries(commandSyntax)) {
      expect(info.verb).toBe(verb);
      expect(info.syntax.startsWith(verb)).toBe(true);
      expect(info.purpose.length).toBeGreaterThan(5);
      const result = parseCommand(info.syntax.replace(/<[^>]*>/g, 'x').replace(/\[[^\]]*\]/g, '').replace('FROM:x', 'FROM:<a@example.com>').replace('TO:x', 'TO:<b@example.net>').trim());
      if (info.implemented) expect(result.ok).toBe(true);
      else expect(result).toMatchObject({ ok: false, reply: { code: 502 } });
    }
  });
});

describe('parseCommand never throws (property)', () => {
  const verbs = [...Object.keys(commandSyntax), 'MAIL FROM:', 'RCPT TO:', 'mail from:<', 'rcpt to:<'];
  const pieces = ['<', '>', '@', '"', '\\', ':', ' ', '=', '.', '[', ']', 'IPv6:', '::', 'example.com', 'SIZE=', 'BODY=8BITMIME', 'AUTH=<>', '+2B', '\r', '\n', '\t', '\u0000', 'é', '用', '\ud800', 'x'.repeat(300)];
  const mutated = fc
    .tuple(fc.constantFrom(...verbs), fc.array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 4 })), { maxLength: 12 }))
    .map(([verb, parts]) => verb + ' ' + parts.join(''));
  const anything = fc.string({ unit: 'binary', maxLength: 700 });

  it('on 20,000 random and mutated lines, every error is a 5xx 500-555 reply with a matching enhanced code', () => {
    let errors = 0;
    fc.assert(
      fc.property(fc.oneof(mutated, anything), (line) => {
        const result = parseCommand(line);
        if (result.ok) {
          expect(typeof result.command.verb).toBe('string');
          return;
        }
        errors++;
        const { code, enhanced, lines } = result.reply;
        expect(code).toBeGreaterThanOrEqual(500);
        expect(code).toBeLessThanOrEqual(555);
        expect(enhanced).toMatch(/^5\.\d{1,3}\.\d{1,3}$/);
        expect(lines.length).toBeGreaterThan(0);
      }),
      { numRuns: 20_000 },
    );
    expect(errors).toBeGreaterThan(1000);
  });
});

describe('splitVerb reads a line as the grammar pattern does (property)', () => {
  /** The pattern the scan stands for: letters, then the end or spaces and the argument, after trailing blanks go. */
  function byPattern(text: string): { verb: string; argument: string } | undefined {
    const match = /^([A-Za-z]+)(?: +(.*))?$/s.exec(text.replace(/[ \t]+$/, ''));
    return match ? { verb: match[1]!.toUpperCase(), argument: match[2] ?? '' } : undefined;
  }
  const pieces = ['MAIL', 'noop', 'x', ' ', '  ', '\t', '\r', '\n', ':', '<a@b.example>', '9', 'é', '\u0000', ''];
  const lines = fc.oneof(fc.array(fc.constantFrom(...pieces), { maxLength: 8 }).map((parts) => parts.join('')), fc.string({ unit: 'binary', maxLength: 40 }));

  it.each(['NOOP', 'noop  ', 'NOOP \tx', 'MAIL   FROM:<a@b.example>  \t', '\tNOOP', 'NOOP\tx', '9NOOP', '', ' ', 'RSET\r', 'HELO a b'])('%j', (line) => {
    expect(splitVerb(line)).toEqual(byPattern(line));
  });

  it('agrees on 10,000 random lines', () => {
    fc.assert(
      fc.property(lines, (line) => {
        expect(splitVerb(line)).toEqual(byPattern(line));
      }),
      { numRuns: 10_000 },
    );
  });
});
