// The DSN options shared by the lab's `send` and `npm run sim -- send`: what they accept, what
// they refuse, and the MAIL/RCPT lines they stand for (checked against the server's own parser).
import { describe, expect, it } from 'vitest';
import { dsnWireParameters, finishDsnOptions, noDsnOptions, readDsnOption } from '../../src/lab/dsnOptions';
import { parseMailParams, parseRcptParams } from '../../src/protocol/params';

function read(...pairs: Array<[Parameters<typeof readDsnOption>[1], string]>) {
  const values = noDsnOptions();
  const errors = pairs.map(([option, value]) => readDsnOption(values, option, value)).filter((e) => e !== undefined);
  return { values, errors };
}

describe('reading the options', () => {
  it('no option at all asks for nothing, so send gives the world no dsn', () => {
    expect(finishDsnOptions(noDsnOptions(), ['bob@example.net'])).toEqual({ ok: true });
  });

  it('--notify keeps the conditions in upper case, once each; NEVER stands alone', () => {
    const { values, errors } = read(['--notify', 'bob@example.net=delay,Success,DELAY'], ['--notify', 'nobody@strict.example=never']);
    expect(errors).toEqual([]);
    expect(finishDsnOptions(values, ['bob@example.net', 'nobody@strict.example'])).toEqual({
      ok: true,
      dsn: { notify: { 'bob@example.net': ['DELAY', 'SUCCESS'], 'nobody@strict.example': 'NEVER' } },
    });
    expect(read(['--notify', 'bob@example.net=NEVER,DELAY']).errors[0]).toMatch(/NEVER stands alone/);
    expect(read(['--notify', 'bob@example.net=']).errors[0]).toMatch(/one or more of SUCCESS, FAILURE, DELAY/);
    expect(read(['--notify', 'bob@example.net=SUCCESS,,FAILURE']).errors[0]).toMatch(/one or more of SUCCESS, FAILURE, DELAY/);
    expect(read(['--notify', 'bob=SUCCESS']).errors[0]).toBe('--notify bob=SUCCESS: "bob" is not an address like bob@example.net');
  });

  it('an address with "=" in its local part: the last "=" splits', () => {
    const { values, errors } = read(['--notify', 'a=b@example.net=FAILURE']);
    expect(errors).toEqual([]);
    expect(values.notify).toEqual({ 'a=b@example.net': ['FAILURE'] });
  });

  it('--notify for an address that is not a recipient is refused once all options are read', () => {
    const { values } = read(['--notify', 'carol@example.net=NEVER']);
    expect(finishDsnOptions(values, ['bob@example.net'])).toEqual({ ok: false, error: '--notify names "carol@example.net", which is not a recipient (to: bob@example.net)' });
    // Recipients compare without regard to case, as the world does.
    expect(finishDsnOptions(values, ['Carol@Example.net']).ok).toBe(true);
  });

  it('--ret and --envid', () => {
    const { values, errors } = read(['--ret', 'full'], ['--envid', 'QQ 314159']);
    expect(errors).toEqual([]);
    expect(finishDsnOptions(values, ['bob@example.net'])).toEqual({ ok: true, dsn: { ret: 'FULL', envid: 'QQ 314159' } });
    expect(read(['--ret', 'BODY']).errors).toEqual(['--ret BODY: FULL (the whole message in a bounce) or HDRS (its header only)']);
    expect(read(['--envid', 'tab\there']).errors[0]).toMatch(/printable ASCII/);
    // 100 characters fit; 34 spaces take 102 on the wire (+20 each), so they do not.
    expect(read(['--envid', 'x'.repeat(100)]).errors).toEqual([]);
    expect(read(['--envid', ' '.repeat(34)]).errors[0]).toMatch(/too long/);
  });
});

describe('--orcpt <recipient>=<addr-type>;<address> (RFC 3461 §4.2)', () => {
  it('keeps the original address per recipient, its type in lower case', () => {
    const { values, errors } = read(['--orcpt', 'bob@example.net=RFC822;bob@old.example'], ['--orcpt', '<nobody@strict.example>=rfc822;x=y;z@old.example']);
    expect(errors).toEqual([]);
    expect(finishDsnOptions(values, ['bob@example.net', 'nobody@strict.example'])).toEqual({
      ok: true,
      dsn: { orcpt: { 'bob@example.net': 'rfc822;bob@old.example', 'nobody@strict.example': 'rfc822;x=y;z@old.example' } },
    });
    // A local part with "=" in it: the "=" before the address type splits.
    expect(read(['--orcpt', 'a=b@example.net=rfc822;a@old.example']).values.orcpt).toEqual({ 'a=b@example.net': 'rfc822;a@old.example' });
  });

  it('refuses each malformed value with the option, the value and the rule', () => {
    expect(read(['--orcpt', 'bob@example.net']).errors).toEqual([
      '--orcpt bob@example.net: write the recipient, "=", the address type, ";" and the address as first written, e.g. bob@example.net=rfc822;bob@old.example',
    ]);
    expect(read(['--orcpt', 'bob@example.net=rfc822']).errors[0]).toMatch(/^--orcpt bob@example\.net=rfc822: write the recipient, "=", the address type, ";"/);
    expect(read(['--orcpt', 'bob=rfc822;bob@old.example']).errors).toEqual(['--orcpt bob=rfc822;bob@old.example: "bob" is not an address like bob@example.net']);
    expect(read(['--orcpt', 'bob@example.net=rfc 822;bob@old.example']).errors).toEqual([
      '--orcpt bob@example.net=rfc 822;bob@old.example: "rfc 822" is not an address type; before the ";" come letters, digits and hyphens, such as rfc822 (RFC 3461 §4.2)',
    ]);
    expect(read(['--orcpt', 'bob@example.net=;bob@old.example']).errors[0]).toMatch(/^--orcpt bob@example\.net=;bob@old\.example: "" is not an address type/);
    expect(read(['--orcpt', 'bob@example.net=-x;bob@old.example']).errors[0]).toMatch(/"-x" is not an address type/);
    expect(read(['--orcpt', 'bob@example.net=rfc822;']).errors).toEqual(['--orcpt bob@example.net=rfc822;: the original address is missing after "rfc822;"']);
    expect(read(['--orcpt', 'bob@example.net=rfc822;b\u00f6b@old.example']).errors).toEqual([
      '--orcpt bob@example.net=rfc822;b\u00f6b@old.example: the original address must be printable ASCII without spaces (RFC 3461 §4.2 carries it as xtext)',
    ]);
    expect(read(['--orcpt', 'bob@example.net=rfc822;bob @old.example']).errors[0]).toMatch(/printable ASCII without spaces/);
  });

  it('counts the length as the value goes on the wire: at most 500 characters of addr-type;xtext', () => {
    // "rfc822;" is 7 characters, so 493 plain ones fit and 494 do not.
    expect(read(['--orcpt', `bob@example.net=rfc822;${'x'.repeat(487)}@b.net`]).errors).toEqual([]);
    expect(read(['--orcpt', `bob@example.net=rfc822;${'x'.repeat(488)}@b.net`]).errors).toEqual([
      '--orcpt is too long: 501 characters as it goes on the wire, at most 500 (+ and = take three each), RFC 3461 §4.2',
    ]);
    // Each "=" becomes "+3D": 100 of them are 300 characters on the wire, 170 are 510.
    expect(read(['--orcpt', `bob@example.net=rfc822;${'='.repeat(100)}@b.net`]).errors).toEqual([]);
    expect(read(['--orcpt', `bob@example.net=rfc822;${'='.repeat(170)}@b.net`]).errors[0]).toMatch(/^--orcpt is too long: 523 characters/);
  });

  it('a recipient has one original address, and must be among --to', () => {
    expect(read(['--orcpt', 'bob@example.net=rfc822;a@old.example'], ['--orcpt', 'BOB@example.net=rfc822;b@old.example']).errors).toEqual([
      '--orcpt names BOB@example.net twice: a recipient has one original address',
    ]);
    const { values } = read(['--orcpt', 'carol@example.net=rfc822;carol@old.example']);
    expect(finishDsnOptions(values, ['bob@example.net'])).toEqual({ ok: false, error: '--orcpt names "carol@example.net", which is not a recipient (to: bob@example.net)' });
    expect(finishDsnOptions(values, ['Carol@Example.net']).ok).toBe(true);
  });
});

describe('the MAIL and RCPT lines they stand for', () => {
  it('RET and ENVID (in xtext) on MAIL, NOTIFY on each RCPT that has one; the server parser reads them back', () => {
    const { values } = read(['--ret', 'HDRS'], ['--envid', 'QQ 3+1=4'], ['--notify', 'bob@example.net=SUCCESS,FAILURE'], ['--notify', 'nobody@strict.example=NEVER']);
    const to = ['bob@example.net', 'carol@example.net', 'nobody@strict.example'];
    const finished = finishDsnOptions(values, to);
    if (!finished.ok) throw new Error(finished.error);
    const wire = dsnWireParameters('alice@example.com', to, finished.dsn);
    expect(wire).toEqual({
      mail: 'MAIL FROM:<alice@example.com> RET=HDRS ENVID=QQ+203+2B1+3D4',
      rcpt: ['RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE', 'RCPT TO:<carol@example.net>', 'RCPT TO:<nobody@strict.example> NOTIFY=NEVER'],
    });
    const mail = parseMailParams(wire.mail.replace('MAIL FROM:<alice@example.com> ', ''));
    expect(mail.ok && { ret: mail.params.ret, envid: mail.params.envid }).toEqual({ ret: 'HDRS', envid: 'QQ 3+1=4' });
    const rcpt = parseRcptParams(wire.rcpt[0]!.replace('RCPT TO:<bob@example.net> ', ''));
    expect(rcpt.ok && rcpt.params.notify).toEqual(['SUCCESS', 'FAILURE']);
  });

  it('ORCPT on the RCPT of its recipient, the address in xtext; the server parser reads it back', () => {
    const { values } = read(['--notify', 'bob@example.net=FAILURE'], ['--orcpt', 'bob@example.net=rfc822;bob+list=x@old.example']);
    const finished = finishDsnOptions(values, ['bob@example.net', 'carol@example.net']);
    if (!finished.ok) throw new Error(finished.error);
    const wire = dsnWireParameters('alice@example.com', ['bob@example.net', 'carol@example.net'], finished.dsn);
    expect(wire.rcpt).toEqual(['RCPT TO:<bob@example.net> NOTIFY=FAILURE ORCPT=rfc822;bob+2Blist+3Dx@old.example', 'RCPT TO:<carol@example.net>']);
    const rcpt = parseRcptParams(wire.rcpt[0]!.replace('RCPT TO:<bob@example.net> ', ''));
    expect(rcpt.ok && rcpt.params.orcpt).toEqual({ addressType: 'rfc822', address: 'bob+list=x@old.example' });
  });

  it('without requests the lines are plain', () => {
    expect(dsnWireParameters('alice@example.com', ['bob@example.net'], undefined)).toEqual({ mail: 'MAIL FROM:<alice@example.com>', rcpt: ['RCPT TO:<bob@example.net>'] });
  });
});
