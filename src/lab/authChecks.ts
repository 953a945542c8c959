/**
 * The receiver's authentication checks (SPF and DMARC, `sim/spf.ts`) load on demand. No one
 * needs them before the terminal is usable, and the browser's first load has a budget (117 KB
 * gzip) that they would break. The app starts loading them once the terminal is up; Node callers
 * (tests, lesson replays) load them once with `loadAuthChecks()`. Until they are there, `spf` and
 * `dmarc` say so and ask for the command again: nothing typed is lost.
 */
import type * as SpfModule from '../sim/spf';

export type AuthChecks = typeof SpfModule;

let loaded: AuthChecks | undefined;
let loading: Promise<AuthChecks> | undefined;

/** The checks, if they have loaded. */
export function authChecks(): AuthChecks | undefined {
  return loaded;
}

/** Load the checks (once); resolves when `authChecks()` has them. */
export function loadAuthChecks(): Promise<AuthChecks> {
  loading ??= import('../sim/spf').then((module) => {
    loaded = module;
    return module;
  });
  return loading;
}
