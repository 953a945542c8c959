/**
 * A small model of a terminal screen for the renderer's tests: enough of VT100/xterm behaviour
 * (printing with wrap and pending wrap, CR, LF, cursor moves, erase) to check what a user would
 * see after the renderer's output is written. Wide characters: CJK ideographs take two columns.
 */
export class Screen {
  rows: string[][] = [[]];
  row = 0;
  col = 0;
  private pendingWrap = false;

  constructor(readonly cols: number) {}

  private line(r: number): string[] {
    while (this.rows.length <= r) this.rows.push([]);
    return this.rows[r];
  }

  private width(ch: string): number {
    const cp = ch.codePointAt(0) ?? 0;
    return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xac00 && cp <= 0xd7a3) ? 2 : 1;
  }

  private put(ch: string) {
    const w = this.width(ch);
    if (this.pendingWrap || this.col + w > this.cols) {
      this.row += 1;
      this.col = 0;
      this.pendingWrap = false;
    }
    const line = this.line(this.row);
    while (line.length < this.col) line.push(' ');
    line[this.col] = ch;
    if (w === 2) line[this.col + 1] = '';
    this.col += w;
    if (this.col >= this.cols) {
      this.col = this.cols - 1;
      this.pendingWrap = true;
    }
  }

  write(data: string) {
    let i = 0;
    while (i < data.length) {
      const ch = data[i];
      if (ch === '\x1b') {
        const m = /^\x1b\[([0-9;?]*)([A-Za-z~])/.exec(data.slice(i));
        if (!m) throw new Error(`unexpected escape at ${JSON.stringify(data.slice(i, i + 8))}`);
        this.csi(m[1], m[2]);
        i += m[0].length;
        continue;
      }
      if (ch === '\r') {
        this.col = 0;
        this.pendingWrap = false;
      } else if (ch === '\n') {
        this.row += 1;
        this.line(this.row);
        this.pendingWrap = false;
      } else if (ch === '\x07') {
        // bell: nothing to see
      } else {
        const cp = data.codePointAt(i) ?? 0;
        const glyph = String.fromCodePoint(cp);
        this.put(glyph);
        i += glyph.length;
        continue;
      }
      i += 1;
    }
  }

  private csi(params: string, final: string) {
    const n = params === '' ? 1 : Number(params.split(';')[0]);
    this.pendingWrap = false;
    switch (final) {
      case 'A':
        this.row = Math.max(0, this.row - n);
        break;
      case 'B':
        this.row += n;
        this.line(this.row);
        break;
      case 'C':
        this.col = Math.min(this.cols - 1, this.col + n);
        break;
      case 'D':
        this.col = Math.max(0, this.col - n);
        break;
      case 'K':
        this.line(this.row).length = Math.min(this.line(this.row).length, this.col);
        break;
      case 'J':
        if (params === '2') {
          for (const line of this.rows) line.length = 0;
        } else {
          this.line(this.row).length = Math.min(this.line(this.row).length, this.col);
          this.rows.length = this.row + 1;
        }
        break;
      case 'H':
        this.row = 0;
        this.col = 0;
        break;
      case 'm':
      case 'h':
      case 'l':
        break;
      default:
        throw new Error(`unmodelled CSI ${params}${final}`);
    }
  }

  /** The visible text, trailing blank rows dropped. */
  text(): string[] {
    const out = this.rows.map((r) => r.join('').replace(/\s+$/, ''));
    while (out.length && out[out.length - 1] === '') out.pop();
    return out;
  }
}
