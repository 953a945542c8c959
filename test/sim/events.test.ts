// The world's event log: what readers and listeners see of the events appended to it.
import { describe, expect, it } from 'vitest';
import { EventLog, type WorldEvent } from '../../src/sim/events';
import { WORLD_EPOCH } from '../../src/sim/clock';

const command = (line: string, at = WORLD_EPOCH) => ({ kind: 'command' as const, at, host: 'mx1.example.net', connectionId: 'c1', line });

describe('EventLog', () => {
  it('numbers events in order and keeps each one frozen, as appended', () => {
    const log = new EventLog();
    const first = log.append(command('EHLO a.example'));
    const second = log.append({ kind: 'reply', at: WORLD_EPOCH + 5, host: 'mx1.example.net', connectionId: 'c1', reply: { code: 250, lines: ['mx1.example.net'] } });
    expect([first.seq, second.seq]).toEqual([1, 2]);
    expect(first).toMatchObject({ kind: 'command', line: 'EHLO a.example', at: WORLD_EPOCH, host: 'mx1.example.net' });
    expect(Object.isFrozen(first)).toBe(true);
    expect(() => {
      (first as { line: string }).line = 'changed';
    }).toThrow(TypeError);
    expect(log.all().map((e) => e.kind)).toEqual(['command', 'reply']);
    expect(log.ofKind('command').map((e) => e.line)).toEqual(['EHLO a.example']);
    expect(log.ofKind('reply').map((e) => e.reply.code)).toEqual([250]);
    expect(log.ofKind('bounce')).toEqual([]);
  });

  it('takes an event that was appended before as a new entry, leaving the first one as it was', () => {
    const log = new EventLog();
    const first = log.append(command('NOOP'));
    const again = log.append(first);
    expect(again.seq).toBe(2);
    expect(first.seq).toBe(1);
    expect(again).not.toBe(first);
    expect(log.since(0).map((e) => [e.seq, e.kind])).toEqual([
      [1, 'command'],
      [2, 'command'],
    ]);
  });

  it('gives the events after a sequence number to readers that poll', () => {
    const log = new EventLog();
    for (const line of ['EHLO a.example', 'MAIL FROM:<a@example.com>', 'QUIT']) log.append(command(line));
    expect(log.since(1).map((e) => (e.kind === 'command' ? e.line : ''))).toEqual(['MAIL FROM:<a@example.com>', 'QUIT']);
    expect(log.since(3)).toEqual([]);
    expect(log.since(-4)).toHaveLength(3);
    expect(log.size).toBe(3);
  });

  it('lets the listeners of the moment hear an event, whoever subscribes or leaves meanwhile', () => {
    const log = new EventLog();
    const heard: string[] = [];
    let stopLate: () => void = () => {};
    const late = (e: WorldEvent) => heard.push(`late ${e.seq}`);
    const stopFirst = log.subscribe((e) => {
      heard.push(`first ${e.seq}`);
      // Joining during an event: heard from the next one on. Leaving during it: still hears this one.
      if (e.seq === 1) stopLate = log.subscribe(late);
      if (e.seq === 2) stopLate();
    });
    log.append(command('one'));
    log.append(command('two'));
    log.append(command('three'));
    stopFirst();
    log.append(command('four'));
    expect(heard).toEqual(['first 1', 'first 2', 'late 2', 'first 3']);
  });

  it('hears a listener subscribed twice once, and stops it with either unsubscribe', () => {
    const log = new EventLog();
    const heard: number[] = [];
    const listener = (e: WorldEvent) => heard.push(e.seq);
    const stopA = log.subscribe(listener);
    const stopB = log.subscribe(listener);
    log.append(command('one'));
    stopB();
    log.append(command('two'));
    stopA();
    expect(heard).toEqual([1]);
  });
});
