import { describe, expect, it } from 'vitest';
import { explainCode, explainEnhanced, explainExtension } from '../../src/protocol/codes';

/** Every code listed in RFC 5321 §4.2.3, plus the ones the brief adds. */
const RFC5321_CODES = [211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 455, 500, 501, 502, 503, 504, 550, 551, 552, 553, 554, 555];
const EXTRA_CODES = [235, 334, 432, 454, 521, 530, 534, 535, 538, 556];

describe('explainCode', () => {
  it.each([...RFC5321_CODES, ...EXTRA_CODES])('explains %i specifically', (code) => {
    const text = explainCode(code);
    expect(text.length).toBeGreaterThan(10);
    expect(text).not.toMatch(/Unlisted|not a valid/);
  });
  it('falls back to the first digit for unlisted codes', () => {
    expect(explainCode(459)).toMatch(/Unlisted.*Temporary/);
    expect(explainCode(299)).toMatch(/Unlisted.*Success/);
  });
  it('says when a number is not a reply code', () => {
    expect(explainCode(42)).toMatch(/not a valid/);
    expect(explainCode(700)).toMatch(/not a valid/);
  });
});

describe('explainEnhanced', () => {
  it.each([
    ['5.1.1', /Permanent.*no such user/i],
    ['4.7.1', /Temporary.*not authorized/i],
    ['5.7.26', /DMARC/],
    ['5.7.23', /SPF/],
    ['5.7.8', /credentials/],
    ['5.1.10', /Null MX/],
    ['5.6.7', /Non-ASCII/],
    ['4.2.2', /Mailbox full/],
    ['5.5.6', /too long/],
    ['2.0.0', /Success/],
  ] as const)('%s', (code, pattern) => {
    expect(explainEnhanced(code)).toMatch(pattern);
  });
  it('falls back to class and subject for unregistered details', () => {
    expect(explainEnhanced('5.1.99')).toMatch(/Permanent.*addressing status.*99/);
    expect(explainEnhanced('4.9.1')).toMatch(/Temporary.*unregistered subject 9/);
  });
  it('rejects text that is not an enhanced code', () => {
    expect(explainEnhanced('3.1.1')).toMatch(/not an enhanced status code/);
    expect(explainEnhanced('hello')).toMatch(/not an enhanced status code/);
  });
});

describe('explainExtension', () => {
  it.each(['SIZE 52428800', '8BITMIME', 'STARTTLS', 'AUTH PLAIN LOGIN', 'PIPELINING', 'ENHANCEDSTATUSCODES', 'SMTPUTF8', 'DSN', 'CHUNKING', 'BINARYMIME', 'HELP', 'VRFY', 'size'])(
    'knows %s',
    (line) => {
      const keyword = line.split(' ')[0]!.toUpperCase();
      expect(explainExtension(line).startsWith(keyword)).toBe(true);
      expect(explainExtension(line)).not.toMatch(/does not know/);
    },
  );
  it('has fallbacks for private and unknown keywords', () => {
    expect(explainExtension('XFOO')).toMatch(/private/);
    expect(explainExtension('FROBNICATE')).toMatch(/does not know/);
  });
});
