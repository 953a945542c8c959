/**
 * SASL encodings used with SMTP AUTH (RFC 4954).
 *
 * PLAIN (RFC 4616 §2): message = [authzid] NUL authcid NUL passwd, base64-encoded on the wire.
 * authcid and passwd are 1 to 255 octets, none of the parts may contain NUL.
 *
 * LOGIN (draft-murchison-sasl-login): the server prompts "Username:" then "Password:", each as
 * a base64 334 challenge, and the client answers each with a base64 line.
 *
 * A client line of "*" cancels the exchange (RFC 4954 §4); the server answers 501.
 */
import { decodeBase64Text, encodeBase64Text } from './base64';
import { utf8Length } from './utf8';

export type PlainCredentials = { ok: true; authzid: string; user: string; password: string };
export type PlainResult = PlainCredentials | { ok: false; reason: string };

const MAX_PLAIN_PART_OCTETS = 255;

/** Base64 PLAIN response for `user` and `password`, optionally acting as `authzid`. */
export function encodePlain(user: string, password: string, authzid = ''): string {
  return encodeBase64Text(`${authzid}\0${user}\0${password}`);
}

/** Decodes a base64 PLAIN response (RFC 4616 §2). */
export function decodePlain(base64: string): PlainResult {
  const message = decodeBase64Text(base64);
  if (message === undefined) return { ok: false, reason: 'not valid base64 of UTF-8 text' };
  return parsePlainMessage(message);
}

/** Reads an already-decoded PLAIN message "authzid\0user\0password". */
export function parsePlainMessage(message: string): PlainResult {
  const parts = message.split('\0');
  if (parts.length !== 3) return { ok: false, reason: 'expected [authzid] NUL user NUL password' };
  const [authzid, user, password] = parts as [string, string, string];
  if (user === '' || password === '') return { ok: false, reason: 'user name and password may not be empty' };
  if (utf8Length(user) > MAX_PLAIN_PART_OCTETS || utf8Length(password) > MAX_PLAIN_PART_OCTETS || utf8Length(authzid) > MAX_PLAIN_PART_OCTETS) {
    return { ok: false, reason: `each part is limited to ${MAX_PLAIN_PART_OCTETS} octets` };
  }
  return { ok: true, authzid, user, password };
}

/** The LOGIN mechanism's prompts, as plain text and as the base64 the server sends after 334. */
export const LoginPrompts = {
  username: 'Username:',
  password: 'Password:',
  usernameBase64: encodeBase64Text('Username:'),
  passwordBase64: encodeBase64Text('Password:'),
} as const;

/** Base64 for one LOGIN answer (the user name or the password). */
export function encodeLogin(text: string): string {
  return encodeBase64Text(text);
}

/** Decodes one LOGIN answer; undefined when it is not base64 of UTF-8 text. */
export function decodeLogin(base64: string): string | undefined {
  return decodeBase64Text(base64);
}

/** RFC 4954 §4: a response line of a single "*" cancels the exchange. */
export function isSaslCancel(line: string): boolean {
  return line.trim() === '*';
}
