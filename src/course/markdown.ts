/**
 * A small, safe Markdown renderer for lesson prose. Everything is escaped first, so no HTML in a
 * lesson file can reach the page; the only markup is what this file writes. Supported:
 * paragraphs, `### headings` (levels 3-4), **bold**, *emphasis*, `code`, fenced code blocks,
 * bullet and numbered lists, [links](https://...) (http, https and mailto only, opened with
 * rel="noopener noreferrer"), and `> ` quotes.
 */

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}

/**
 * Stands in for a code span while links, bold and emphasis are matched, so that markup may wrap
 * code (bold around a code span) while the code itself stays literal. A private-use character:
 * lesson prose has no reason to contain one, and a link may not (see SAFE_URL).
 */
const CODE_MARK = '\uE000';
const CODE_SLOT = /\uE000(\d+)\uE000/g;

const SAFE_URL = /^(?:https?:\/\/|mailto:)[^\s"'<>`\uE000]+$/i;

/** Inline markup over one run of text: code spans first (their content is literal), then links, bold, emphasis. */
function inline(text: string): string {
  if (text.includes(CODE_MARK)) return inlineBySegments(text);
  const codes: string[] = [];
  const withSlots = text.replace(/`([^`]*)`/g, (_, code: string) => {
    codes.push(`<code>${escapeHtml(code)}</code>`);
    return `${CODE_MARK}${codes.length - 1}${CODE_MARK}`;
  });
  return spans(withSlots).replace(CODE_SLOT, (_, index: string) => codes[Number(index)]!);
}

/**
 * The same markup for text that already holds CODE_MARK (slots would be ambiguous): each stretch
 * between code spans is marked up on its own, so markup cannot wrap code, but nothing is lost.
 */
function inlineBySegments(text: string): string {
  const parts: string[] = [];
  let rest = text;
  while (rest.length > 0) {
    const tick = rest.indexOf('`');
    const close = tick < 0 ? -1 : rest.indexOf('`', tick + 1);
    if (close < 0) {
      parts.push(spans(rest));
      break;
    }
    parts.push(spans(rest.slice(0, tick)));
    parts.push(`<code>${escapeHtml(rest.slice(tick + 1, close))}</code>`);
    rest = rest.slice(close + 1);
  }
  return parts.join('');
}

/** Links, bold and emphasis in text that holds no code span. */
function spans(text: string): string {
  const out: string[] = [];
  const link = /\[([^\]\n]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  for (const match of text.matchAll(link)) {
    out.push(emphasis(text.slice(last, match.index)));
    const [, label, url] = match;
    if (SAFE_URL.test(url!)) {
      out.push(`<a href="${escapeHtml(url!)}" target="_blank" rel="noopener noreferrer">${emphasis(label!)}</a>`);
    } else {
      // An unsafe scheme (javascript:, data:, ...) keeps its words and loses the link.
      out.push(emphasis(label!));
    }
    last = match.index! + match[0].length;
  }
  out.push(emphasis(text.slice(last)));
  return out.join('');
}

function emphasis(text: string): string {
  return escapeHtml(text)
    .replace(/\*\*(?=\S)([^*]*?\S)\*\*/g, '<strong>$1</strong>')
    .replace(/(^|[^*\w])\*(?=\S)([^*]*?\S)\*(?![*\w])/g, '$1<em>$2</em>');
}

type Block =
  | { kind: 'paragraph'; lines: string[] }
  | { kind: 'heading'; level: number; text: string }
  | { kind: 'code'; lines: string[]; language: string }
  | { kind: 'list'; ordered: boolean; items: string[] }
  | { kind: 'quote'; lines: string[] };

const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d{1,3}[.)]\s+(.*)$/;

function blocks(markdown: string): Block[] {
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n');
  const result: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    const fence = /^\s*(```|~~~)\s*([\w-]*)\s*$/.exec(line);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i]!.trim().startsWith(fence[1]!)) body.push(lines[i++]!);
      i++; // the closing fence (or the end of the text)
      result.push({ kind: 'code', lines: body, language: fence[2] ?? '' });
      continue;
    }
    if (line.trim() === '') {
      i++;
      continue;
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      // Lesson prose sits under the lesson's own title, so headings start at level 3.
      result.push({ kind: 'heading', level: Math.min(Math.max(heading[1]!.length, 3), 4), text: heading[2]! });
      i++;
      continue;
    }
    const listMatch = BULLET.exec(line) ?? NUMBERED.exec(line);
    if (listMatch) {
      const ordered = !BULLET.test(line);
      const pattern = ordered ? NUMBERED : BULLET;
      const items: string[] = [];
      while (i < lines.length) {
        const item = pattern.exec(lines[i]!);
        if (item) {
          items.push(item[1]!);
          i++;
        } else if (items.length > 0 && /^\s{2,}\S/.test(lines[i]!) && !BULLET.test(lines[i]!) && !NUMBERED.test(lines[i]!)) {
          items[items.length - 1] += ` ${lines[i]!.trim()}`;
          i++;
        } else break;
      }
      result.push({ kind: 'list', ordered, items });
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quoted: string[] = [];
      while (i < lines.length && /^\s*>/.test(lines[i]!)) quoted.push(lines[i++]!.replace(/^\s*>\s?/, ''));
      result.push({ kind: 'quote', lines: quoted });
      continue;
    }
    const paragraph: string[] = [];
    while (
      i < lines.length &&
      lines[i]!.trim() !== '' &&
      !/^\s*(```|~~~)/.test(lines[i]!) &&
      !/^#{1,6}\s/.test(lines[i]!) &&
      !BULLET.test(lines[i]!) &&
      !NUMBERED.test(lines[i]!) &&
      !/^\s*>/.test(lines[i]!)
    ) {
      paragraph.push(lines[i++]!.trim());
    }
    result.push({ kind: 'paragraph', lines: paragraph });
  }
  return result;
}

/** Markdown to an HTML string that is safe to insert: all text escaped, links checked. */
export function renderMarkdown(markdown: string): string {
  return blocks(markdown)
    .map((block) => {
      switch (block.kind) {
        case 'paragraph':
          return `<p>${inline(block.lines.join(' '))}</p>`;
        case 'heading':
          return `<h${block.level}>${inline(block.text)}</h${block.level}>`;
        case 'code': {
          const language = block.language ? ` class="language-${escapeHtml(block.language)}"` : '';
          return `<pre><code${language}>${escapeHtml(block.lines.join('\n'))}</code></pre>`;
        }
        case 'list': {
          const tag = block.ordered ? 'ol' : 'ul';
          return `<${tag}>${block.items.map((item) => `<li>${inline(item)}</li>`).join('')}</${tag}>`;
        }
        case 'quote':
          return `<blockquote><p>${inline(block.lines.join(' '))}</p></blockquote>`;
      }
    })
    .join('\n');
}
