/**
 * UTF-8 for core code, which may not use TextEncoder/TextDecoder (they are DOM/Node globals).
 *
 * The behaviour matches the WHATWG Encoding Standard, so results agree with TextDecoder and
 * Node's Buffer: lone surrogates encode as U+FFFD, and each maximal invalid subsequence decodes
 * to one U+FFFD. Decoding never throws; use `isValidUtf8` to refuse bad input instead.
 *
 * One exception, for octets that are not UTF-8 at all: `utf8DecodeKeepingBytes` turns each octet
 * of an invalid sequence into the lone surrogate U+DC80..U+DCFF (Python's "surrogateescape",
 * PEP 383), and the encoder writes such a surrogate back as that octet. An 8-bit message in
 * another charset (RFC 6152 8BITMIME allows any) then goes through the text of the protocol
 * and comes out byte for byte, instead of as U+FFFD.
 */

const REPLACEMENT = 0xfffd;

/** The lone surrogates that stand for one octet each (see `utf8DecodeKeepingBytes`). */
const KEPT_BYTE_FIRST = 0xdc80;
const KEPT_BYTE_LAST = 0xdcff;

/** Marks a code point `utf8Encode` writes as the single octet it stands for. */
const KEPT_BYTE = -1;

/**
 * Code point at index i and how many UTF-16 units it used; lone surrogates become U+FFFD,
 * except U+DC80..U+DCFF, which come back as KEPT_BYTE (the octet is the unit's low byte).
 */
function codePointAt(text: string, i: number): [codePoint: number, units: number] {
  const unit = text.charCodeAt(i);
  if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
    const next = text.charCodeAt(i + 1);
    if (next >= 0xdc00 && next <= 0xdfff) return [0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00), 2];
  }
  if (unit >= KEPT_BYTE_FIRST && unit <= KEPT_BYTE_LAST) return [KEPT_BYTE, 1];
  if (unit >= 0xd800 && unit <= 0xdfff) return [REPLACEMENT, 1];
  return [unit, 1];
}

/** Number of octets `text` takes in UTF-8, without encoding it. */
export function utf8Length(text: string): number {
  // One pass over UTF-16 units, without allocating per character: nearly all SMTP text is
  // US-ASCII (RFC 5321 §2.4), one octet per unit.
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) {
      length += 1;
    } else if (unit >= KEPT_BYTE_FIRST && unit <= KEPT_BYTE_LAST) {
      // A kept octet (see `utf8DecodeKeepingBytes`): one octet for its one unit.
    } else {
      // 3 octets for the rest of the BMP and for a lone surrogate (written as U+FFFD); a
      // surrogate pair is one code point of 4 octets over its 2 units.
      length += 2;
      if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
        const next = text.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) i++;
      }
    }
  }
  return length;
}

export function utf8Encode(text: string): Uint8Array {
  const length = utf8Length(text);
  const bytes = new Uint8Array(length);
  if (length === text.length) {
    // Every unit is below 0x80 or a kept octet U+DC80..U+DCFF (any other unit takes more
    // octets than units): copy them; a Uint8Array keeps a unit's low 8 bits, the kept octet.
    for (let i = 0; i < length; i++) bytes[i] = text.charCodeAt(i);
    return bytes;
  }
  let at = 0;
  for (let i = 0; i < text.length; ) {
    const [cp, units] = codePointAt(text, i);
    if (cp === KEPT_BYTE) {
      bytes[at++] = text.charCodeAt(i) & 0xff;
      i += units;
      continue;
    }
    i += units;
    if (cp < 0x80) {
      bytes[at++] = cp;
    } else if (cp < 0x800) {
      bytes[at++] = 0xc0 | (cp >> 6);
      bytes[at++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      bytes[at++] = 0xe0 | (cp >> 12);
      bytes[at++] = 0x80 | ((cp >> 6) & 0x3f);
      bytes[at++] = 0x80 | (cp & 0x3f);
    } else {
      bytes[at++] = 0xf0 | (cp >> 18);
      bytes[at++] = 0x80 | ((cp >> 12) & 0x3f);
      bytes[at++] = 0x80 | ((cp >> 6) & 0x3f);
      bytes[at++] = 0x80 | (cp & 0x3f);
    }
  }
  return bytes;
}

/**
 * Decodes UTF-8, replacing invalid sequences with U+FFFD exactly as the WHATWG "UTF-8 decoder"
 * algorithm does (which is what TextDecoder and Buffer implement).
 */
export function utf8Decode(bytes: Uint8Array): string {
  return asciiText(bytes) ?? decode(bytes, 'replace') ?? '';
}

/**
 * Decodes UTF-8, keeping every octet of an invalid sequence as the lone surrogate U+DC80..U+DCFF
 * (PEP 383 "surrogateescape"); `utf8Encode` writes those back as the octets they stand for, so
 * `utf8Encode(utf8DecodeKeepingBytes(b))` is `b` for any octets `b`. Valid UTF-8 decodes exactly
 * as `utf8Decode` does.
 */
export function utf8DecodeKeepingBytes(bytes: Uint8Array): string {
  return asciiText(bytes) ?? decode(bytes, 'keep') ?? '';
}

/** Units per `String.fromCharCode` call, well under any engine's argument limit. */
const CHUNK_UNITS = 8192;

/** The text of `bytes` when every byte is US-ASCII (one unit each), else undefined. */
function asciiText(bytes: Uint8Array): string | undefined {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return undefined;
  if (bytes.length <= CHUNK_UNITS) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  let text = '';
  for (let at = 0; at < bytes.length; at += CHUNK_UNITS) {
    text += String.fromCharCode.apply(null, bytes.subarray(at, at + CHUNK_UNITS) as unknown as number[]);
  }
  return text;
}

/** True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or truncated sequences). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return decode(bytes, 'fatal') !== undefined;
  return true;
}

/** What to do with a sequence that is not UTF-8: replace it (WHATWG), fail, or keep its octets. */
type InvalidSequence = 'replace' | 'fatal' | 'keep';

function decode(bytes: Uint8Array, onInvalid: InvalidSequence): string | undefined {
  const fatal = onInvalid === 'fatal';
  const parts: string[] = [];
  let units: number[] = [];
  const emit = (cp: number): void => {
    if (cp >= 0x10000) {
      const v = cp - 0x10000;
      units.push(0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
    } else {
      units.push(cp);
    }
    if (units.length >= CHUNK_UNITS) {
      parts.push(String.fromCharCode(...units));
      units = [];
    }
  };

  /** The octets from..to (exclusive) are not UTF-8: one U+FFFD, or each octet kept. */
  const invalid = (from: number, to: number): void => {
    if (onInvalid !== 'keep') {
      emit(REPLACEMENT);
      return;
    }
    for (let k = from; k < to; k++) emit(KEPT_BYTE_FIRST - 0x80 + bytes[k]!);
  };

  let codePoint = 0;
  let needed = 0;
  let seen = 0;
  let lower = 0x80;
  let upper = 0xbf;
  /** Where the sequence being read began. */
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (needed === 0) {
      start = i;
      if (byte <= 0x7f) {
        emit(byte);
      } else if (byte >= 0xc2 && byte <= 0xdf) {
        needed = 1;
        codePoint = byte & 0x1f;
      } else if (byte >= 0xe0 && byte <= 0xef) {
        if (byte === 0xe0) lower = 0xa0;
        if (byte === 0xed) upper = 0x9f;
        needed = 2;
        codePoint = byte & 0xf;
      } else if (byte >= 0xf0 && byte <= 0xf4) {
        if (byte === 0xf0) lower = 0x90;
        if (byte === 0xf4) upper = 0x8f;
        needed = 3;
        codePoint = byte & 0x7;
      } else {
        if (fatal) return undefined;
        invalid(i, i + 1);
      }
      continue;
    }
    if (byte < lower || byte > upper) {
      // The byte is not a valid continuation: replace what we have and read it again as a lead.
      codePoint = needed = seen = 0;
      lower = 0x80;
      upper = 0xbf;
      if (fatal) return undefined;
      invalid(start, i);
      i--;
      continue;
    }
    lower = 0x80;
    upper = 0xbf;
    codePoint = (codePoint << 6) | (byte & 0x3f);
    seen++;
    if (seen === needed) {
      emit(codePoint);
      codePoint = needed = seen = 0;
    }
  }
  if (needed !== 0) {
    if (fatal) return undefined;
    invalid(start, bytes.length);
  }
  parts.push(String.fromCharCode(...units));
  return parts.join('');
}
