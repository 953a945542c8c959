/**
 * Base64 (RFC 4648 §4) for core code, which may not use atob/btoa or Buffer.
 *
 * The decoder is strict, as SASL needs (RFC 4954 §4 asks servers to reject responses that are
 * not valid base64 with 501): no whitespace, no characters outside the alphabet, length a
 * multiple of 4, "=" only as final padding, and the unused bits before padding must be zero
 * (RFC 4648 §3.5 allows decoders to insist on this, and it keeps the encoding canonical).
 */
import { isValidUtf8, utf8Decode, utf8Encode } from './utf8';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const VALUES: Record<string, number> = Object.fromEntries([...ALPHABET].map((ch, i) => [ch, i]));

export function encodeBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    out += ALPHABET[a >> 2];
    out += ALPHABET[((a & 0x03) << 4) | ((b ?? 0) >> 4)];
    out += b === undefined ? '=' : ALPHABET[((b & 0x0f) << 2) | ((c ?? 0) >> 6)];
    out += c === undefined ? '=' : ALPHABET[c & 0x3f];
  }
  return out;
}

/** Strict decoding; undefined when `text` is not canonical base64. The empty string decodes to no bytes. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const body = text.slice(0, text.length - padding);
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let at = 0;
  let buffer = 0;
  let bits = 0;
  for (const ch of body) {
    const value = VALUES[ch];
    if (value === undefined) return undefined;
    buffer = ((buffer << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (buffer >> bits) & 0xff;
    }
  }
  // Leftover bits (2 with "==", 4 with "=") must be zero.
  if (bits > 0 && (buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return at === out.length ? out : undefined;
}

/** Base64 of the UTF-8 encoding of `text`. */
export function encodeBase64Text(text: string): string {
  return encodeBase64(utf8Encode(text));
}

/** Decodes base64 holding UTF-8 text; undefined when it is not base64 or not valid UTF-8. */
export function decodeBase64Text(text: string): string | undefined {
  const bytes = decodeBase64(text);
  if (bytes === undefined || !isValidUtf8(bytes)) return undefined;
  return utf8Decode(bytes);
}
