import { describe, expect, it } from 'vitest';
import { readShareFragment, shareFragment } from '../../src/ui/share';
import { createLab } from '../../src/lab/lab';

describe('share links', () => {
  it('round-trips the scenario and every typed line, UTF-8 and empty lines included', () => {
    const session = { scenario: 'strict', lines: ['telnet mx.strict.example 25', 'EHLO x.example', '', '..like this', 'Subject: héllo ✉'] };
    const fragment = shareFragment(session);
    expect(fragment).toMatch(/^#\/share\/[A-Za-z0-9_-]+$/);
    expect(readShareFragment(fragment)).toEqual({ ok: true, session });
  });

  it('says plainly when a link is damaged, and ignores other fragments', () => {
    const fragment = shareFragment({ lines: ['help'] });
    const cut = readShareFragment(fragment.slice(0, -3));
    expect(cut.ok).toBe(false);
    if (cut.ok === false) expect(cut.error).toMatch(/damaged/);
    expect(readShareFragment('#/share/!!!')).toMatchObject({ ok: false });
    expect(readShareFragment('#top')).toEqual({ ok: 'none' });
    expect(readShareFragment('')).toEqual({ ok: 'none' });
  });

  it('replays into a fresh lab and gives the same transcript', async () => {
    const typed = ['telnet mx.strict.example 25', 'EHLO a.example', 'MAIL FROM:<alice@example.com>', 'RCPT TO:<nobody@strict.example>', 'QUIT'];
    const first = createLab();
    for (const line of typed) await first.input(line);
    const read = readShareFragment(shareFragment({ lines: first.record.typed.map((t) => t.text) }));
    expect(read.ok).toBe(true);
    const second = createLab();
    if (read.ok === true) for (const line of read.session.lines) await second.input(line);
    const view = (lab: typeof first) => lab.transcript.map((l) => `${l.dir} ${l.text}`);
    expect(view(second)).toEqual(view(first));
    expect(view(second)).toContain('<- 550 5.1.1 <nobody@strict.example>: Recipient address rejected: User unknown');
  });
});
