import { describe, expect, it } from 'vitest';
import { createEditor, keysFromData, reduce, viewOf, type EditorState, type LineView } from '../../src/ui/lineEditor';
import { colour, columns, wrapWords, positionAfter, render, renderPrint, toneOfReplyLine } from '../../src/ui/terminalRenderer';
import { Screen } from './screen';

/** Runs keystrokes through the editor and the renderer into a model screen, as the Terminal does. */
function session(cols: number, prompt = '$ ') {
  const screen = new Screen(cols);
  let state: EditorState = createEditor(prompt);
  let drawn: LineView | null = null;
  const first = render([{ op: 'draw', view: viewOf(state) }], drawn, cols);
  screen.write(first.ansi);
  drawn = first.drawn;
  return {
    screen,
    keys(...chunks: string[]) {
      for (const chunk of chunks) {
        for (const key of keysFromData(chunk)) {
          const result = reduce(state, key);
          state = result.state;
          const out = render(result.output, drawn, cols);
          drawn = out.drawn;
          screen.write(out.ansi);
        }
      }
      return this;
    },
    type(text: string) {
      return this.keys(...Array.from(text));
    },
    print(text: string) {
      const out = renderPrint([{ text, tone: toneOfReplyLine(text) }], drawn, viewOf(state), cols);
      drawn = out.drawn;
      screen.write(out.ansi);
      return this;
    },
    get state() {
      return state;
    },
  };
}

describe('terminal renderer on a model screen', () => {
  it('shows the prompt and the typed text, cursor after it', () => {
    const s = session(40).type('help');
    expect(s.screen.text()).toEqual(['$ help']);
    expect([s.screen.row, s.screen.col]).toEqual([0, 6]);
  });

  it('redraws an insertion in the middle of the line in place', () => {
    const s = session(40).type('dg MX').keys('\x1b[H', '\x1b[C', 'i');
    expect(s.screen.text()).toEqual(['$ dig MX']);
    expect([s.screen.row, s.screen.col]).toEqual([0, 4]);
  });

  it('keeps a line that wraps over several rows right while editing it', () => {
    const line = 'MAIL FROM:<a.very.long.sender@example.com>';
    const s = session(16).type(line);
    expect(s.screen.text()).toEqual(['$ MAIL FROM:<a.v', 'ery.long.sender@', 'example.com>']);
    s.keys('\x01', '\x1b[3~', '\x1b[3~', '\x1b[3~', '\x1b[3~', '\x1b[3~');
    expect(s.screen.text()).toEqual(['$ FROM:<a.very.l', 'ong.sender@examp', 'le.com>']);
    expect([s.screen.row, s.screen.col]).toEqual([0, 2]);
    s.keys('\x05');
    expect([s.screen.row, s.screen.col]).toEqual([2, 7]);
  });

  it('puts the cursor on the next row when the line exactly fills a row', () => {
    const s = session(10).type('12345678');
    expect(s.screen.text()).toEqual(['$ 12345678']);
    expect([s.screen.row, s.screen.col]).toEqual([1, 0]);
    s.keys('\x7f');
    expect(s.screen.text()).toEqual(['$ 1234567']);
    expect([s.screen.row, s.screen.col]).toEqual([0, 9]);
  });

  it('counts wide characters as two columns', () => {
    const s = session(10).type('用户@例子');
    expect(s.screen.text()).toEqual(['$ 用户@例', '子']);
    s.keys('\x01');
    expect([s.screen.row, s.screen.col]).toEqual([0, 2]);
  });

  it('starts a fresh prompt on the next line after Enter, leaving the submitted line', () => {
    const s = session(30).type('EHLO client.example').keys('\r');
    expect(s.screen.text()).toEqual(['$ EHLO client.example', '$']);
    expect([s.screen.row, s.screen.col]).toEqual([1, 2]);
  });

  it('shows ^C after an abandoned line', () => {
    const s = session(30).type('dig MX').keys('\x03');
    expect(s.screen.text()).toEqual(['$ dig MX^C', '$']);
  });

  it('prints output above the line being typed and redraws that line below it', () => {
    const s = session(30).type('RCPT TO:<b');
    s.print('250 2.1.0 Ok');
    expect(s.screen.text()).toEqual(['250 2.1.0 Ok', '$ RCPT TO:<b']);
    expect([s.screen.row, s.screen.col]).toEqual([1, 12]);
  });

  it('shows completion choices below the line and the line again under them', () => {
    const s = session(40);
    const state = { ...s.state, buffer: 'h', cursor: 1 };
    const out = render(
      [{ op: 'list', items: ['help', 'history'] }, { op: 'draw', view: viewOf(state) }],
      viewOf(state),
      40,
    );
    s.type('h');
    s.screen.write(out.ansi);
    expect(s.screen.text()).toEqual(['$ h', 'help     history', '$ h']);
  });

  it('clears the screen on Ctrl-L and draws the line at the top', () => {
    const s = session(30).type('one').keys('\r').type('two').keys('\x0c');
    expect(s.screen.text()).toEqual(['$ two']);
    expect(s.screen.row).toBe(0);
  });
});

describe('renderer helpers', () => {
  it('gives each reply class its colour and client lines dim', () => {
    expect(toneOfReplyLine('250-PIPELINING')).toBe('positive');
    expect(toneOfReplyLine('354 End data with <CR><LF>.<CR><LF>')).toBe('intermediate');
    expect(toneOfReplyLine('451 4.7.1 Try again later')).toBe('transient');
    expect(toneOfReplyLine('550 5.1.1 No such user')).toBe('permanent');
    expect(toneOfReplyLine('Connected to mx.example.net')).toBe('plain');
    expect(toneOfReplyLine('2500 not a reply')).toBe('plain');
    expect(colour('250 Ok', 'positive')).toBe('\x1b[32m250 Ok\x1b[0m');
    expect(colour('550 No', 'permanent')).toBe('\x1b[31m550 No\x1b[0m');
    expect(colour('MAIL FROM:<>', 'client')).toBe('\x1b[2mMAIL FROM:<>\x1b[0m');
    expect(colour('text', 'plain')).toBe('text');
  });

  it('shows control characters from a server as ^X instead of obeying them', () => {
    const screen = new Screen(40);
    screen.write(renderPrint([{ text: '220 hi\x1b[2Jthere', tone: 'plain' }], null, null, 40).ansi);
    expect(screen.text()).toEqual(['220 hi^[[2Jthere']);
  });

  it('wraps long printed lines at spaces, keeping their indentation', () => {
    expect(wrapWords('telnet: answered by the simulated mail servers', 20)).toEqual(['telnet: answered by', 'the simulated mail', 'servers']);
    expect(wrapWords('      read mail delivered here', 16)).toEqual(['      read mail', '      delivered', '      here']);
    expect(wrapWords('short', 20)).toEqual(['short']);
    const screen = new Screen(20);
    screen.write(renderPrint([{ text: 'telnet: answered by the simulated mail servers', tone: 'info' }], null, null, 20).ansi);
    expect(screen.text()).toEqual(['telnet: answered by', 'the simulated mail', 'servers']);
  });

  it('lays completion choices out in columns that fit the width', () => {
    expect(columns(['EHLO', 'HELO', 'MAIL', 'RCPT'], 13)).toEqual(['EHLO  HELO', 'MAIL  RCPT']);
    expect(columns([], 80)).toEqual([]);
  });

  it('computes positions with the forced wrap at a full row', () => {
    expect(positionAfter('abcd', 4)).toEqual({ row: 1, col: 0 });
    expect(positionAfter('abc', 4)).toEqual({ row: 0, col: 3 });
    expect(positionAfter('ab用', 3)).toEqual({ row: 1, col: 2 });
  });
});
