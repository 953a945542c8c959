/**
 * The five-day bench world's whole record, one JSON line per item, for telling whether a change
 * that should only make the run cheaper left what it does alone: every logged event with its
 * virtual time, every recipient's state, every mailbox copy and every DSN the queue wrote. Run it
 * on the tree before and after the change and compare the files; they must be the same, byte
 * for byte (times here are virtual: the record does not depend on the machine).
 *
 *   npx tsx test/bench/worldRecord.ts before.txt      (then, on the changed tree, after.txt)
 *   cmp before.txt after.txt
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createWorld } from '../../src/sim/world';
import { runFiveDays } from './virtualTime';

/** The same world, messages and five days as the bench's section 6. */
export function fiveDayRecord(): string[] {
  const world = createWorld({ seed: 42 });
  runFiveDays(world);
  const lines: string[] = [];
  for (const event of world.log.all()) lines.push(JSON.stringify(event));
  for (const handle of world.deliveries()) lines.push(JSON.stringify({ id: handle.id, report: handle.report, recipients: handle.recipients(), timeline: handle.timeline() }));
  for (const message of world.mailboxes.all()) lines.push(JSON.stringify({ ...message, headers: message.headers, body: message.body }));
  for (const handle of world.deliveries()) lines.push(JSON.stringify({ id: handle.id, done: handle.done, dsns: handle.dsns }));
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: npx tsx test/bench/worldRecord.ts <out file>\n');
    process.exit(2);
  }
  const lines = fiveDayRecord();
  writeFileSync(out, `${lines.join('\n')}\n`);
  process.stdout.write(`${lines.length} lines written to ${out}\n`);
}
