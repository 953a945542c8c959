import { describe, expect, it } from 'vitest';
import { formatMailbox, formatPath, isIPv6, parsePath, readPath } from '../../src/protocol/address';

describe('parsePath: accepted paths', () => {
  const accepted: Array<[string, 'reverse' | 'forward', string, Record<string, unknown>]> = [
    ['<>', 'reverse', '<>', { kind: 'null' }],
    ['<postmaster>', 'forward', '<Postmaster>', { kind: 'postmaster' }],
    ['<PostMaster>', 'forward', '<Postmaster>', { kind: 'postmaster' }],
    ['<postmaster@example.net>', 'forward', '<postmaster@example.net>', { kind: 'mailbox' }],
    ['<alice@example.com>', 'reverse', '<alice@example.com>', { kind: 'mailbox' }],
    ['<first.last+tag@sub.example.net>', 'forward', '<first.last+tag@sub.example.net>', { kind: 'mailbox' }],
    ["<o'brien!#$%&*/=?^_`{|}~-@example.com>", 'forward', "<o'brien!#$%&*/=?^_`{|}~-@example.com>", { kind: 'mailbox' }],
    ['<"john doe"@example.com>', 'forward', '<"john doe"@example.com>', { kind: 'mailbox' }],
    ['<"bob"@example.com>', 'forward', '<bob@example.com>', { kind: 'mailbox' }],
    ['<"a\\"b"@example.com>', 'forward', '<"a\\"b"@example.com>', { kind: 'mailbox' }],
    ['<user@[192.0.2.1]>', 'forward', '<user@[192.0.2.1]>', { kind: 'mailbox' }],
    ['<user@[IPv6:2001:db8::1]>', 'forward', '<user@[IPv6:2001:db8::1]>', { kind: 'mailbox' }],
    ['<@relay1.example,@relay2.example:bob@example.net>', 'forward', '<bob@example.net>', { kind: 'mailbox', sourceRoute: ['relay1.example', 'relay2.example'] }],
    ['<用户@例子.test>', 'forward', '<用户@例子.test>', { kind: 'mailbox' }],
  ];
  it.each(accepted)('%s as %s', (text, role, canonical, shape) => {
    const result = parsePath(text, role);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.path).toMatchObject(shape);
    expect(formatPath(result.path)).toBe(canonical);
  });

  it('gives the unquoted local part value and the domain kind', () => {
    const result = parsePath('<"john \\\\ doe"@[IPv6:::ffff:192.0.2.1]>', 'forward');
    expect(result.ok && result.path.kind === 'mailbox' && result.path.mailbox).toMatchObject({
      local: 'john \\ doe',
      domain: '[IPv6:::ffff:192.0.2.1]',
      quoted: true,
      domainKind: 'ipv6',
      utf8: false,
    });
  });

  it('reports UTF-8 and leaves the decision to the caller', () => {
    const result = parsePath('<josé@exämple.test>', 'reverse');
    expect(result.ok && result.utf8).toBe(true);
    expect(result.ok && result.path.kind === 'mailbox' && result.path.mailbox.utf8).toBe(true);
    const ascii = parsePath('<jose@example.test>', 'reverse');
    expect(ascii.ok && ascii.utf8).toBe(false);
  });

  it('accepts a bare address without brackets unless told not to', () => {
    const lenient = parsePath('alice@example.com', 'reverse');
    expect(lenient.ok && lenient.bracketsMissing).toBe(true);
    expect(lenient.ok && lenient.octets).toBe('<alice@example.com>'.length);
    const strict = parsePath('alice@example.com', 'reverse', { allowMissingBrackets: false });
    expect(strict.ok).toBe(false);
  });

  it('readPath leaves the parameters in rest', () => {
    const result = readPath('<"a b"@example.com> SIZE=1024', 'reverse');
    expect(result.ok && result.rest).toBe(' SIZE=1024');
  });
});

describe('parsePath: refused paths', () => {
  const refused: Array<[string, 'reverse' | 'forward', RegExp, boolean]> = [
    ['<>', 'forward', /only allowed as a reverse-path/, false],
    ['<postmaster>', 'reverse', /only allowed as a forward-path/, false],
    ['<alice>', 'forward', /missing "@domain"/, false],
    ['<alice@>', 'forward', /missing domain/, false],
    ['<@example.com>', 'forward', /source route|expected/, false],
    ['<alice@example.com', 'forward', /missing ">"/, false],
    ['<al ice@example.com>', 'forward', /local part/, false],
    // An ISO-8859-1 "é" (the octet E9) as the framer keeps it: not UTF-8 (RFC 6531 §3.3).
    ['<caf\udce9@example.com>', 'forward', /not UTF-8/, false],
    ['<bob@caf\udce9.example>', 'reverse', /not UTF-8/, false],
    ['<alice..b@example.com>', 'forward', /\.\./, false],
    ['<.alice@example.com>', 'forward', /not allowed/, false],
    ['<alice.@example.com>', 'forward', /end with/, false],
    ['<alice@-example.com>', 'forward', /start or end with "-"/, false],
    ['<alice@example..com>', 'forward', /empty label/, false],
    ['<alice@example.com.>', 'forward', /empty label/, false],
    ['<"unterminated@example.com>', 'forward', /unterminated/, false],
    ['<alice@[192.0.2.256]>', 'forward', /not a valid address literal/, false],
    ['<alice@[IPv6:2001:db8::1::2]>', 'forward', /not a valid IPv6/, false],
    ['<alice@[192.0.2.1>', 'forward', /closing "\]"/, false],
    ['<alice@example.com>x', 'forward', /unexpected text/, false],
    ['', 'forward', /missing path/, false],
    [`<${'a'.repeat(65)}@example.com>`, 'forward', /local part is 65 octets/, true],
    [`<a@${'b'.repeat(64)}.example>`, 'forward', /label/, true],
    [`<a@${Array.from({ length: 52 }, () => 'abcd').join('.')}>`, 'forward', /domain is 259 octets/, true],
    [`<${'a'.repeat(64)}@${Array.from({ length: 38 }, () => 'abcde').join('.')}>`, 'forward', /path is 294 octets/, true],
    [`<${'é'.repeat(33)}@example.com>`, 'forward', /local part is 66 octets/, true],
  ];
  it.each(refused)('%s as %s', (text, role, reason, tooLong) => {
    const result = parsePath(text, role);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toMatch(reason);
    expect(result.tooLong).toBe(tooLong);
  });

  it('accepts the longest path allowed (256 octets)', () => {
    const domain = Array.from({ length: 31 }, () => 'abcdefg').join('.') + '.exam'; // 252 octets
    const local = 'x';
    const text = `<${local}@${domain}>`;
    expect(text.length).toBe(256);
    expect(parsePath(text, 'forward').ok).toBe(true);
    expect(parsePath(`<xy@${domain}>`, 'forward')).toMatchObject({ ok: false, tooLong: true });
  });
});

describe('IPv6 literals (RFC 5321 §4.1.3: at most 6 groups besides "::")', () => {
  it.each(['2001:db8:0:0:0:0:0:1', '2001:db8::1', '::1', '::', 'fe80::1:2:3:4:5', '::ffff:192.0.2.1', '1:2:3:4:5:6:192.0.2.1', '1::2:3:4:192.0.2.1'])('accepts %s', (text) => {
    expect(isIPv6(text)).toBe(true);
  });
  it.each(['2001:db8::1::1', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::1', 'g::1', '1:2:3:4:5:6:7::', 'fe80::1:2:3:4:5:6', '1::2:3:4:5:192.0.2.1', ':1:2:3:4:5:6:7'])('refuses %s', (text) => {
    expect(isIPv6(text)).toBe(false);
  });
});

describe('formatMailbox', () => {
  it('quotes a local part only when needed', () => {
    expect(formatMailbox({ local: 'bob', domain: 'example.net' })).toBe('bob@example.net');
    expect(formatMailbox({ local: 'john doe', domain: 'example.net' })).toBe('"john doe"@example.net');
    expect(formatMailbox({ local: 'a"b\\c', domain: 'example.net' })).toBe('"a\\"b\\\\c"@example.net');
    expect(formatMailbox({ local: '.x', domain: 'example.net' })).toBe('".x"@example.net');
  });
});
