// A Link to the simulated world behaves like a socket: asynchronous data, refusals and
// timeouts, STARTTLS with certificates that may or may not verify.
import { describe, expect, it } from 'vitest';
import { connectSim, simLinkFactory } from '../../src/net/simLink';
import { ConnectError, type Link } from '../../src/net/link';
import { createWorld } from '../../src/sim/world';
import { ReplyParser, type Reply } from '../../src/protocol/reply';

/** Collect replies from a link; `next(n)` waits until n more have come. */
function replies(link: Link) {
  const parser = new ReplyParser();
  const got: Reply[] = [];
  const waiters: Array<() => void> = [];
  link.on('data', (text) => {
    got.push(...parser.push(text));
    waiters.splice(0).forEach((w) => w());
  });
  let read = 0;
  return {
    async next(count = 1): Promise<Reply[]> {
      while (got.length < read + count) await new Promise<void>((r) => waiters.push(r));
      const out = got.slice(read, read + count);
      read += count;
      return out;
    },
  };
}

describe('simLink', () => {
  it('delivers server output asynchronously, like a socket', async () => {
    const world = createWorld();
    const link = await connectSim(world, 'mx1.example.net', 25);
    let sync = true;
    const firstData = new Promise<string>((resolve) => link.on('data', (t) => resolve(`${sync ? 'sync' : 'async'}:${t}`)));
    sync = false;
    expect(await firstData).toMatch(/^async:220 mx1\.example\.net/);
    link.close();
  });

  it('runs a whole transaction with pipelining and STARTTLS, and the mail arrives', async () => {
    const world = createWorld();
    const link = await connectSim(world, 'mx1.example.net', 25);
    const r = replies(link);
    expect((await r.next())[0]!.code).toBe(220);
    link.send('EHLO learner.example\r\n');
    expect((await r.next())[0]!.lines).toContain('STARTTLS');
    link.send('STARTTLS\r\n');
    expect((await r.next())[0]!.code).toBe(220);
    const tlsEvents: string[] = [];
    link.on('tls', (report) => tlsEvents.push(report.protocol));
    const report = await link.startTls();
    expect(report).toMatchObject({ authorized: true, protocol: 'TLSv1.3' });
    expect(report.certificate?.subject).toBe('CN=mx1.example.net');
    expect(link.secure).toBe(true);
    expect(tlsEvents).toEqual(['TLSv1.3']);
    link.send('EHLO learner.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n');
    expect((await r.next(4)).map((x) => x.code)).toEqual([250, 250, 250, 354]);
    link.send('Subject: typed by hand\r\n\r\nhello\r\n.\r\n');
    expect((await r.next())[0]!.code).toBe(250);
    const closed = new Promise((resolve) => link.on('close', resolve));
    link.send('QUIT\r\n');
    expect((await r.next())[0]!.code).toBe(221);
    expect(await closed).toMatchObject({ by: 'server' });
    expect(world.mailboxes.list('bob@example.net')).toHaveLength(1);
  });

  it('refuses, times out in virtual time, and says which', async () => {
    const world = createWorld();
    world.setHostDown('mx1.example.net', 'refused');
    await expect(connectSim(world, 'mx1.example.net', 25)).rejects.toMatchObject({ code: 'refused' });
    const before = world.clock.now();
    await expect(simLinkFactory(world)('mx2.down.example', 25)).rejects.toBeInstanceOf(ConnectError);
    expect(world.clock.now() - before).toBe(30_000);
    await expect(connectSim(world, 'nowhere.example', 25)).rejects.toMatchObject({ code: 'unknown-host' });
  });

  it('reports an untrusted certificate, and rejects a failed handshake and closes', async () => {
    const world = createWorld();
    const untrusted = await connectSim(world, 'mx.tls-untrusted.example', 25);
    const r1 = replies(untrusted);
    await r1.next();
    untrusted.send('EHLO l.example\r\nSTARTTLS\r\n');
    await r1.next(2);
    await expect(untrusted.startTls()).resolves.toMatchObject({ authorized: false, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' });

    const broken = await connectSim(world, 'mx.tls-handshake.example', 25);
    const r2 = replies(broken);
    await r2.next();
    broken.send('EHLO l.example\r\nSTARTTLS\r\n');
    await r2.next(2);
    const closed = new Promise((resolve) => broken.on('close', resolve));
    await expect(broken.startTls()).rejects.toThrow(/handshake/);
    await closed;
    expect(broken.closed).toBe(true);
  });

  it('lets virtual time pass while a tarpit holds its banner back', async () => {
    const world = createWorld();
    const before = world.clock.now();
    const link = await connectSim(world, 'mx.tarpit.example', 25);
    const r = replies(link);
    expect((await r.next())[0]!.code).toBe(220);
    expect(world.clock.now() - before).toBeGreaterThan(0);
    link.close();
  });
});
