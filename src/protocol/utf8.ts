/**
 * UTF-8 for core code, which may not use TextEncoder/TextDecoder (they are DOM/Node globals).
 *
 * The behaviour matches the WHATWG Encoding Standard, so results agree with TextDecoder and
 * Node's Buffer: lone surrogates encode as U+FFFD, and each maximal invalid subsequence decodes
 * to one U+FFFD. Decoding never throws; use `isValidUtf8` to refuse bad input instead.
 */

const REPLACEMENT = 0xfffd;

/** Code point at index i and how many UTF-16 units it used; lone surrogates become U+FFFD. */
function codePointAt(text: string, i: number): [codePoint: number, units: number] {
  const unit = text.charCodeAt(i);
  if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
    const next = text.charCodeAt(i + 1);
    if (next >= 0xdc00 && next <= 0xdfff) return [0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00), 2];
  }
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
    // Every unit is below 0x80 (any other unit takes more octets than units): copy them.
    for (let i = 0; i < length; i++) bytes[i] = text.charCodeAt(i);
    return bytes;
  }
  let at = 0;
  for (let i = 0; i < text.length; ) {
    const [cp, units] = codePointAt(text, i);
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
  return asciiText(bytes) ?? decode(bytes, false) ?? '';
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
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return decode(bytes, true) !== undefined;
  return true;
}

function decode(bytes: Uint8Array, fatal: boolean): string | undefined {
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

  let codePoint = 0;
  let needed = 0;
  let seen = 0;
  let lower = 0x80;
  let upper = 0xbf;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (needed === 0) {
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
        emit(REPLACEMENT);
      }
      continue;
    }
    if (byte < lower || byte > upper) {
      // The byte is not a valid continuation: replace what we have and read it again as a lead.
      codePoint = needed = seen = 0;
      lower = 0x80;
      upper = 0xbf;
      if (fatal) return undefined;
      emit(REPLACEMENT);
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
    emit(REPLACEMENT);
  }
  parts.push(String.fromCharCode(...units));
  return parts.join('');
}
