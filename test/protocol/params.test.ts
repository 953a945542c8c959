import { describe, expect, it } from 'vitest';
import { paramsNotAdvertised, parseMailParams, parseRcptParams, xtextDecode, xtextEncode } from '../../src/protocol/params';

describe('parseMailParams', () => {
  it('reads every MAIL parameter', () => {
    const result = parseMailParams(' SIZE=1024 body=8bitmime SMTPUTF8 AUTH=alice+40example.com RET=HDRS ENVID=QQ+2B1');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.params).toMatchObject({
      size: 1024,
      body: '8BITMIME',
      smtputf8: true,
      auth: { kind: 'mailbox', mailbox: 'alice@example.com' },
      ret: 'HDRS',
      envid: 'QQ+1',
    });
    expect(result.params.list.map((p) => p.keyword)).toEqual(['SIZE', 'BODY', 'SMTPUTF8', 'AUTH', 'RET', 'ENVID']);
  });

  it('reads AUTH=<> as an unknown submitter (RFC 4954 §5)', () => {
    const result = parseMailParams('AUTH=<>');
    expect(result.ok && result.params.auth).toEqual({ kind: 'unknown' });
  });

  it('accepts no parameters', () => {
    expect(parseMailParams('')).toMatchObject({ ok: true, params: { smtputf8: false, list: [] } });
  });

  const refused: Array<[string, number, string, RegExp]> = [
    ['FOO=BAR', 555, '5.5.4', /FOO/],
    ['NOTIFY=NEVER', 555, '5.5.4', /RCPT TO only/],
    ['SIZE=abc', 501, '5.5.4', /SIZE/],
    ['SIZE', 501, '5.5.4', /needs a value/],
    ['SIZE=123456789012345678901', 501, '5.5.4', /SIZE/],
    ['BODY=9BIT', 501, '5.5.4', /BODY/],
    ['SMTPUTF8=yes', 501, '5.5.4', /no value/],
    ['RET=ALL', 501, '5.5.4', /RET/],
    ['ENVID=a+zz', 501, '5.5.4', /ENVID/],
    [`ENVID=${'a'.repeat(101)}`, 501, '5.5.4', /ENVID/],
    ['AUTH=', 501, '5.5.4', /bad value/],
    ['SIZE=1 SIZE=2', 501, '5.5.4', /more than once/],
    ['=1', 501, '5.5.4', /bad parameter/],
    ['-X=1', 501, '5.5.4', /bad parameter/],
  ];
  it.each(refused)('%s -> %i %s', (text, code, enhanced, detail) => {
    const result = parseMailParams(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reply.code).toBe(code);
    expect(result.reply.enhanced).toBe(enhanced);
    expect(result.reply.lines.join(' ')).toMatch(detail);
  });
});

describe('parseRcptParams', () => {
  it('reads NOTIFY and ORCPT (RFC 3461)', () => {
    const result = parseRcptParams('NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40example.net');
    expect(result.ok && result.params).toMatchObject({ notify: ['SUCCESS', 'FAILURE'], orcpt: { addressType: 'rfc822', address: 'bob@example.net' } });
    expect(parseRcptParams('notify=never')).toMatchObject({ ok: true, params: { notify: 'NEVER' } });
  });
  it.each([
    ['SIZE=10', 555, /MAIL FROM only/],
    ['NOTIFY=NEVER,SUCCESS', 501, /NOTIFY/],
    ['NOTIFY=SOMETIMES', 501, /NOTIFY/],
    ['ORCPT=bob@example.net', 501, /ORCPT/],
    ['ORCPT=rfc822;', 501, /ORCPT/],
    ['XYZZY', 555, /XYZZY/],
  ] as const)('%s -> %i', (text, code, detail) => {
    const result = parseRcptParams(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reply.code).toBe(code);
    expect(result.reply.enhanced).toBe('5.5.4');
    expect(result.reply.lines.join(' ')).toMatch(detail);
  });
});

describe('paramsNotAdvertised', () => {
  const mail = (text: string) => {
    const result = parseMailParams(text);
    if (!result.ok) throw new Error('fixture must parse');
    return result.params;
  };
  it('gives 555 for a parameter whose extension was not offered', () => {
    expect(paramsNotAdvertised(mail('SIZE=10'), ['PIPELINING'])).toMatchObject({ code: 555, enhanced: '5.5.4' });
    expect(paramsNotAdvertised(mail('SMTPUTF8'), ['SIZE 100', '8BITMIME'])).toMatchObject({ code: 555 });
    expect(paramsNotAdvertised(mail('BODY=BINARYMIME'), ['8BITMIME'])).toMatchObject({ code: 555 });
  });
  it('allows advertised parameters and BODY=7BIT', () => {
    expect(paramsNotAdvertised(mail('SIZE=10 BODY=8BITMIME'), ['SIZE 52428800', '8BITMIME'])).toBeUndefined();
    expect(paramsNotAdvertised(mail('BODY=7BIT'), [])).toBeUndefined();
    expect(paramsNotAdvertised(mail('RET=FULL ENVID=x'), ['DSN'])).toBeUndefined();
  });
});

describe('xtext (RFC 3461 §4)', () => {
  it.each([
    ['alice@example.com', 'alice@example.com'],
    ['a+2Bb', 'a+b'],
    ['a+3Db', 'a=b'],
    ['+20', ' '],
  ])('decodes %s', (xtext, text) => {
    expect(xtextDecode(xtext)).toBe(text);
  });
  it.each(['a+2b', 'a+2', 'a=b', 'a b', 'é'])('refuses %s', (xtext) => {
    expect(xtextDecode(xtext)).toBeUndefined();
  });
  it('round-trips any text, including "+", "=", spaces and UTF-8', () => {
    for (const text of ['plain', 'a+b=c d', 'josé@exämple.test', '\u0001']) {
      const encoded = xtextEncode(text);
      expect(encoded).toMatch(/^[\x21-\x7e]*$/);
      expect(xtextDecode(encoded)).toBe(text);
    }
  });
});
