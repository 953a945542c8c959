/**
 * The share link: the scenario and every line typed, in the URL's fragment as
 * `#/share/<base64url(JSON)>`. Opening the link replays the lines into a fresh lab, which gives
 * the same transcript because the simulated world is deterministic (seeded, virtual clock).
 * The fragment never reaches a server, so a shared session stays between the people sharing it.
 */

export interface SharedSession {
  /** The persona chosen in the scenario picker, or undefined for free play. */
  readonly scenario?: string;
  /** Every line typed, in order: shell commands, SMTP commands, message lines, AUTH answers. */
  readonly lines: readonly string[];
}

const PREFIX = '#/share/';
/** A URL over about 60 000 characters is refused by some browsers and chat tools. */
export const MAX_SHARE_CHARS = 60_000;

function toBase64Url(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(data: string): string {
  const base64 = data.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

/** The fragment for a session: `#/share/...`. */
export function shareFragment(session: SharedSession): string {
  const payload: { v: 1; s?: string; l: readonly string[] } = { v: 1, l: session.lines };
  if (session.scenario) payload.s = session.scenario;
  return PREFIX + toBase64Url(JSON.stringify(payload));
}

export type ShareRead = { ok: true; session: SharedSession } | { ok: false; error: string } | { ok: 'none' };

/** Reads a fragment; anything but `#/share/...` is `none`, a damaged link is a plain error. */
export function readShareFragment(hash: string): ShareRead {
  if (!hash.startsWith(PREFIX)) return { ok: 'none' };
  const damaged = { ok: false, error: 'This share link is damaged (it was perhaps cut short when copied), so the session cannot be replayed.' } as const;
  let value: unknown;
  try {
    value = JSON.parse(fromBase64Url(hash.slice(PREFIX.length)));
  } catch {
    return damaged;
  }
  if (typeof value !== 'object' || value === null) return damaged;
  const { v, s, l } = value as { v?: unknown; s?: unknown; l?: unknown };
  if (v !== 1) return { ok: false, error: 'This share link was made by another version of smtp-lab and cannot be replayed here.' };
  if (!Array.isArray(l) || !l.every((line) => typeof line === 'string')) return damaged;
  if (s !== undefined && typeof s !== 'string') return damaged;
  return { ok: true, session: s === undefined ? { lines: l } : { scenario: s, lines: l } };
}
