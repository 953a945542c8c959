import { parseDsn, type ParsedDsn } from '../../src/sim/dsn';
import type { World } from '../../src/sim/world';

/** Every DSN in a mailbox (alice@example.com's unless named), parsed; a message that is not a DSN fails the test. */
export function reportsTo(world: World, address = 'alice@example.com'): ParsedDsn[] {
  return world.mailboxes
    .list(address)
    .filter((m) => m.isDsn)
    .map((m) => {
      const parsed = parseDsn(m.raw);
      if (!parsed.ok) throw new Error(parsed.error);
      return parsed.dsn;
    });
}

/** The recipients a receiving host logged as bounced after accepting them (the bouncer's kind). */
export function bouncesLoggedBy(world: World, host: string): string[] {
  return world.log
    .ofKind('bounce')
    .filter((e) => e.host === host)
    .flatMap((e) => e.recipients);
}
