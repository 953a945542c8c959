import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeBase64, decodeBase64Text, encodeBase64, encodeBase64Text } from '../../src/protocol/base64';
import { isValidUtf8, utf8Decode, utf8DecodeKeepingBytes, utf8Encode, utf8Length } from '../../src/protocol/utf8';
import { decodeLogin, decodePlain, encodeLogin, encodePlain, isSaslCancel, LoginPrompts, parsePlainMessage } from '../../src/protocol/sasl';

describe('base64 (own implementation, checked against Node Buffer)', () => {
  it('encodes random bytes like Buffer and decodes them back (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const encoded = encodeBase64(bytes);
        expect(encoded).toBe(Buffer.from(bytes).toString('base64'));
        expect(decodeBase64(encoded)).toEqual(bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it.each(['', 'Zg==', 'Zm8=', 'Zm9v'])('decodes %j', (text) => {
    expect(Buffer.from(decodeBase64(text)!).toString('latin1')).toBe(Buffer.from(text, 'base64').toString('latin1'));
  });

  it.each([
    ['Zg', 'length not a multiple of 4'],
    ['Zg=', 'length not a multiple of 4'],
    ['Z===', 'too much padding'],
    ['Zm9v\r\n', 'whitespace'],
    ['Zm 9', 'space'],
    ['Zm9*', 'character outside the alphabet'],
    ['Zh==', 'non-zero pad bits'],
    ['Zm9=', 'non-zero pad bits'],
    ['Zg==Zg==', 'padding in the middle'],
    ['=Zg=', 'padding first'],
  ])('refuses %j (%s)', (text) => {
    expect(decodeBase64(text)).toBeUndefined();
  });

  it('text helpers use UTF-8 and refuse invalid UTF-8', () => {
    expect(encodeBase64Text('Username:')).toBe('VXNlcm5hbWU6');
    expect(decodeBase64Text('UGFzc3dvcmQ6')).toBe('Password:');
    expect(decodeBase64Text(encodeBase64Text('pässwörd 用'))).toBe('pässwörd 用');
    expect(decodeBase64Text(encodeBase64(Uint8Array.of(0xff, 0xfe)))).toBeUndefined();
  });
});

/**
 * What utf8Encode writes, by Buffer: UTF-8 (a lone surrogate as U+FFFD), except that a lone
 * U+DC80..U+DCFF is the octet it keeps (see utf8DecodeKeepingBytes). A low surrogate is lone
 * unless a high surrogate comes just before it (a high one pairs only with what follows).
 */
function bufferEncodingKeepingBytes(text: string): Uint8Array {
  const parts: Buffer[] = [];
  let run = '';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const previous = i > 0 ? text.charCodeAt(i - 1) : 0;
    const paired = previous >= 0xd800 && previous <= 0xdbff;
    if (unit >= 0xdc80 && unit <= 0xdcff && !paired) {
      parts.push(Buffer.from(run, 'utf8'), Buffer.from([unit & 0xff]));
      run = '';
    } else run += text[i];
  }
  parts.push(Buffer.from(run, 'utf8'));
  return new Uint8Array(Buffer.concat(parts));
}

describe('utf8 (own implementation, checked against Node Buffer)', () => {
  it('decodes random bytes exactly like Buffer, replacement characters included (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const expected = Buffer.from(bytes).toString('utf8');
        expect(utf8Decode(bytes)).toBe(expected);
        expect(isValidUtf8(bytes)).toBe(Buffer.from(expected, 'utf8').equals(Buffer.from(bytes)));
      }),
      { numRuns: 5000 },
    );
  });

  it('encodes random strings, lone surrogates included, like Buffer and measures them (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (text) => {
        const expected = bufferEncodingKeepingBytes(text);
        expect(utf8Encode(text)).toEqual(expected);
        expect(utf8Length(text)).toBe(expected.length);
        if (isValidUtf8(expected)) expect(utf8Decode(utf8Encode(text))).toBe(Buffer.from(expected).toString('utf8'));
      }),
      { numRuns: 5000 },
    );
  });

  it('keeps the octets of invalid sequences: encoding the decoded text gives the same octets back (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = utf8DecodeKeepingBytes(bytes);
        expect(utf8Encode(text)).toEqual(bytes);
        expect(utf8Length(text)).toBe(bytes.length);
        if (isValidUtf8(bytes)) expect(text).toBe(Buffer.from(bytes).toString('utf8'));
      }),
      { numRuns: 5000 },
    );
  });

  it('keeps an ISO-8859-1 "é" as U+DCE9 (surrogateescape), not as U+FFFD', () => {
    const latin1 = Uint8Array.from(Buffer.from('Caf\u00e9 cr\u00e8me', 'latin1'));
    expect(utf8Decode(latin1)).toBe('Caf\ufffd cr\ufffdme');
    expect(utf8DecodeKeepingBytes(latin1)).toBe('Caf\udce9 cr\udce8me');
    expect(Buffer.from(utf8Encode(utf8DecodeKeepingBytes(latin1))).toString('latin1')).toBe('Caf\u00e9 cr\u00e8me');
    // A truncated sequence keeps each of its octets.
    expect(utf8DecodeKeepingBytes(Uint8Array.from([0x41, 0xe2, 0x82, 0x42]))).toBe('A\udce2\udc82B');
  });

  it.each([
    [[0xc0, 0xaf], 'overlong'],
    [[0xed, 0xa0, 0x80], 'surrogate'],
    [[0xf4, 0x90, 0x80, 0x80], 'above U+10FFFF'],
    [[0xe2, 0x82], 'truncated'],
  ])('%j is invalid (%s)', (bytes) => {
    expect(isValidUtf8(Uint8Array.from(bytes))).toBe(false);
  });
});

describe('SASL PLAIN and LOGIN', () => {
  it('encodes PLAIN as RFC 4616 §4 shows', () => {
    // RFC 4616 §4 example, with a reserved name: authzid empty, "tim" / "tanstaaftanstaaf"
    expect(encodePlain('tim', 'tanstaaftanstaaf')).toBe('AHRpbQB0YW5zdGFhZnRhbnN0YWFm');
    expect(decodePlain('AHRpbQB0YW5zdGFhZnRhbnN0YWFm')).toEqual({ ok: true, authzid: '', user: 'tim', password: 'tanstaaftanstaaf' });
  });

  it('round-trips with an authzid and UTF-8', () => {
    expect(decodePlain(encodePlain('alice@example.com', 'sécret', 'admin@example.com'))).toEqual({
      ok: true,
      authzid: 'admin@example.com',
      user: 'alice@example.com',
      password: 'sécret',
    });
  });

  it.each([
    ['not base64', '!!!!'],
    ['missing NUL', encodeBase64Text('alice secret')],
    ['empty password', encodeBase64Text('\0alice\0')],
    ['empty user', encodeBase64Text('\0\0secret')],
    ['too many parts', encodeBase64Text('a\0b\0c\0d')],
    ['user over 255 octets', encodeBase64Text(`\0${'a'.repeat(256)}\0x`)],
  ])('refuses %s', (_name, response) => {
    const result = decodePlain(response);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason.length).toBeGreaterThan(0);
  });

  it('parsePlainMessage reads already-decoded text', () => {
    expect(parsePlainMessage('\0bob\0pw')).toEqual({ ok: true, authzid: '', user: 'bob', password: 'pw' });
  });

  it('LOGIN prompts and answers', () => {
    expect(LoginPrompts.usernameBase64).toBe('VXNlcm5hbWU6');
    expect(LoginPrompts.passwordBase64).toBe('UGFzc3dvcmQ6');
    expect(decodeLogin(encodeLogin('alice@example.com'))).toBe('alice@example.com');
    expect(decodeLogin('bad*')).toBeUndefined();
    expect(isSaslCancel('*')).toBe(true);
    expect(isSaslCancel('Kg==')).toBe(false);
  });
});

describe('utf8 on US-ASCII (the common case, taken without decoding code points)', () => {
  it('encodes, measures and decodes ASCII strings like Buffer (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((unit) => String.fromCharCode(unit)), maxLength: 200 }), (text) => {
        const expected = new Uint8Array(Buffer.from(text, 'utf8'));
        expect(utf8Encode(text)).toEqual(expected);
        expect(utf8Length(text)).toBe(text.length);
        expect(utf8Decode(expected)).toBe(text);
        expect(isValidUtf8(expected)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes ASCII longer than one conversion chunk (8192 units) whole', () => {
    const text = 'The quick brown fox jumps over the lazy dog.\r\n'.repeat(1000);
    expect(text.length).toBeGreaterThan(3 * 8192);
    expect(utf8Decode(utf8Encode(text))).toBe(text);
    expect(utf8Decode(new Uint8Array(Buffer.from(text, 'latin1')))).toBe(Buffer.from(text, 'latin1').toString('utf8'));
  });

  it('one byte of 0x80 or more anywhere takes the full decoder', () => {
    const bytes = new Uint8Array(Buffer.from('a'.repeat(9000) + '\xff' + 'b', 'latin1'));
    expect(utf8Decode(bytes)).toBe(Buffer.from(bytes).toString('utf8'));
    expect(isValidUtf8(bytes)).toBe(false);
  });
});
