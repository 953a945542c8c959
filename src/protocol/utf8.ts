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

function octetsFor(codePoint: number): number {
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  if (codePoint < 0x10000) return 3;
  return 4;
}

/** Number of octets `text` takes in UTF-8, without encoding it. */
export function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; ) {
    const [codePoint, units] = codePointAt(text, i);
    length += octetsFor(codePoint);
    i += units;
  }
  return length;
}

export function utf8Encode(text: string): Uint8Array {
  const bytes = new Uint8Array(utf8Length(text));
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
  return decode(bytes, false) ?? '';
}

/** True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or truncated sequences). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return decode(bytes, true) !== undefined;
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
    if (units.length >= 8192) {
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
