import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../src/course/markdown';

describe('renderMarkdown', () => {
  it('paragraphs, bold, emphasis and code', () => {
    expect(renderMarkdown('Hello **bold** and *em* with `MAIL FROM:<a@b>`.\nSame paragraph.\n\nNext one.')).toBe(
      '<p>Hello <strong>bold</strong> and <em>em</em> with <code>MAIL FROM:&lt;a@b&gt;</code>. Same paragraph.</p>\n<p>Next one.</p>',
    );
  });

  it('code spans keep their stars and brackets literal', () => {
    expect(renderMarkdown('`**not bold**` and `[x](https://example.com)`')).toBe(
      '<p><code>**not bold**</code> and <code>[x](https://example.com)</code></p>',
    );
  });

  it('bold around a code span is bold, and the code stays literal', () => {
    expect(renderMarkdown('ends with **`-all`**, and **`<CR><LF>.<CR><LF>`** ends the data')).toBe(
      '<p>ends with <strong><code>-all</code></strong>, and <strong><code>&lt;CR&gt;&lt;LF&gt;.&lt;CR&gt;&lt;LF&gt;</code></strong> ends the data</p>',
    );
  });

  it('fenced code blocks, lists and headings', () => {
    const html = renderMarkdown('### Steps\n\n1. DNS\n2. TCP\n\n- one\n- two\n\n```\nEHLO a.example\n<tag>\n```');
    expect(html).toBe(
      '<h3>Steps</h3>\n<ol><li>DNS</li><li>TCP</li></ol>\n<ul><li>one</li><li>two</li></ul>\n<pre><code>EHLO a.example\n&lt;tag&gt;</code></pre>',
    );
  });

  it('links open safely', () => {
    expect(renderMarkdown('[RFC 5321](https://www.rfc-editor.org/rfc/rfc5321)')).toBe(
      '<p><a href="https://www.rfc-editor.org/rfc/rfc5321" target="_blank" rel="noopener noreferrer">RFC 5321</a></p>',
    );
  });

  it('HTML in the source is shown as text, never run', () => {
    const html = renderMarkdown('<script>alert(1)</script>\n\n<img src=x onerror="alert(1)">\n\n**<b>x</b>**');
    expect(html).not.toMatch(/<script|<img|<b>/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
  });

  it('javascript:, data: and other schemes lose the link but keep the words', () => {
    for (const url of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:x', '//evil.example/x']) {
      const html = renderMarkdown(`[click](${url})`);
      expect(html, url).not.toContain('href');
      expect(html, url).toContain('click');
    }
  });

  it('a link URL cannot break out of its attribute', () => {
    const html = renderMarkdown('[x](https://example.com/"onmouseover="alert(1))');
    expect(html).not.toMatch(/href="[^"]*"\s*onmouseover/);
    expect(html).not.toContain('onmouseover="alert');
  });

  it('every lesson text renders without raw HTML', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join, resolve, dirname } = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const dir = resolve(dirname(fileURLToPath(import.meta.url)), '../../lessons');
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.json') && n !== 'index.json')) {
      const lesson = JSON.parse(readFileSync(join(dir, name), 'utf8'));
      const texts: string[] = [lesson.intro, ...lesson.steps.flatMap((s: any) => [s.instruction, s.explanation, ...s.hints])];
      for (const text of texts) {
        const html = renderMarkdown(text);
        // Only the tags this renderer writes may appear.
        const tags = [...html.matchAll(/<\/?([a-z0-9]+)/g)].map((m) => m[1]);
        expect(tags.filter((t) => !['p', 'strong', 'em', 'code', 'pre', 'ul', 'ol', 'li', 'a', 'h3', 'h4', 'blockquote'].includes(t!)), name).toEqual([]);
      }
    }
  });
});
