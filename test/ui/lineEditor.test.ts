import { describe, expect, it } from 'vitest';
import { createEditor, keysFromData, reduce, type EditorContext, type EditorResult, type EditorState } from '../../src/ui/lineEditor';
import { completeShell, completeSmtp } from '../../src/ui/completion';

/** Feeds terminal input as xterm would report it, one chunk per keystroke. */
function press(state: EditorState, chunks: readonly string[], context: EditorContext = {}) {
  const submitted: string[] = [];
  const results: EditorResult[] = [];
  for (const chunk of chunks) {
    for (const key of keysFromData(chunk)) {
      const result = reduce(state, key, context);
      results.push(result);
      submitted.push(...result.submitted);
      state = result.state;
    }
  }
  return { state, submitted, results, last: results[results.length - 1] };
}

/** Typing text one character at a time, like a person. */
const typed = (text: string) => Array.from(text);

const LEFT = '\x1b[D';
const RIGHT = '\x1b[C';
const UP = '\x1b[A';
const DOWN = '\x1b[B';
const HOME = '\x1b[H';
const END = '\x1b[F';
const DELETE = '\x1b[3~';
const BACKSPACE = '\x7f';
const ENTER = '\r';

describe('line editor: typing and moving', () => {
  it('inserts printable text and submits it with Enter', () => {
    const { state, submitted, last } = press(createEditor('$ '), [...typed('help'), ENTER]);
    expect(submitted).toEqual(['help']);
    expect(state.buffer).toBe('');
    expect(state.cursor).toBe(0);
    expect(last.output.map((op) => op.op)).toEqual(['draw', 'newline', 'draw']);
  });

  it('inserts at the cursor after Left, Home and End', () => {
    let { state } = press(createEditor('$ '), [...typed('dg MX'), HOME, RIGHT, 'i']);
    expect(state.buffer).toBe('dig MX');
    ({ state } = press(state, [END, ...typed(' example.net')]));
    expect(state.buffer).toBe('dig MX example.net');
    ({ state } = press(state, [LEFT, LEFT, LEFT, LEFT, '-']));
    expect(state.buffer).toBe('dig MX example-.net');
    expect(state.cursor).toBe(15);
  });

  it('Ctrl-A and Ctrl-E go to the start and the end', () => {
    let { state } = press(createEditor('$ '), [...typed('EHLO'), '\x01']);
    expect(state.cursor).toBe(0);
    ({ state } = press(state, ['\x05']));
    expect(state.cursor).toBe(4);
  });

  it('Backspace deletes before the cursor, Delete under it', () => {
    let { state } = press(createEditor('$ '), [...typed('QUITT'), BACKSPACE]);
    expect(state.buffer).toBe('QUIT');
    ({ state } = press(state, [HOME, DELETE]));
    expect(state.buffer).toBe('UIT');
    expect(state.cursor).toBe(0);
  });

  it('rings the bell on Backspace at the start and does nothing on Delete at the end', () => {
    const start = press(createEditor('$ '), [BACKSPACE]);
    expect(start.last.output).toEqual([{ op: 'bell' }]);
    const end = press(createEditor('$ '), [...typed('ab'), DELETE]);
    expect(end.state.buffer).toBe('ab');
    expect(end.last.output).toEqual([]);
  });

  it('counts the cursor in characters, so wide and astral characters edit as one', () => {
    const { state } = press(createEditor('$ '), [...typed('用户😀x'), LEFT, BACKSPACE]);
    expect(state.buffer).toBe('用户x');
    expect(state.cursor).toBe(2);
  });

  it('never inserts control characters as text', () => {
    const { state } = press(createEditor('$ '), ['a\x00b\x1bc']);
    expect(state.buffer).not.toMatch(/[\x00-\x1f]/);
    expect(state.buffer.startsWith('ab')).toBe(true);
  });
});

describe('line editor: killing text', () => {
  it('Ctrl-U deletes from the cursor back to the start, keeping the rest', () => {
    const { state } = press(createEditor('$ '), [...typed('RCPT TO:<bob@example.net>'), ...Array(25 - 8).fill(LEFT), '\x15']);
    expect(state.buffer).toBe('<bob@example.net>');
    expect(state.cursor).toBe(0);
  });

  it('Ctrl-W deletes the word before the cursor, Ctrl-K to the end', () => {
    let { state } = press(createEditor('$ '), [...typed('telnet mx.example.net 25  '), '\x17']);
    expect(state.buffer).toBe('telnet mx.example.net ');
    ({ state } = press(state, [HOME, RIGHT, RIGHT, RIGHT, '\x0b']));
    expect(state.buffer).toBe('tel');
  });
});

describe('line editor: history', () => {
  it('Up recalls earlier lines, Down comes back to the draft being typed', () => {
    let { state } = press(createEditor('$ '), [...typed('EHLO a.example'), ENTER, ...typed('NOOP'), ENTER, ...typed('MAI')]);
    ({ state } = press(state, [UP]));
    expect(state.buffer).toBe('NOOP');
    ({ state } = press(state, [UP]));
    expect(state.buffer).toBe('EHLO a.example');
    const top = press(state, [UP]);
    expect(top.state.buffer).toBe('EHLO a.example');
    expect(top.last.output).toEqual([{ op: 'bell' }]);
    ({ state } = press(state, [DOWN, DOWN]));
    expect(state.buffer).toBe('MAI');
    expect(state.cursor).toBe(3);
  });

  it('submits an edited history line and remembers it without duplicates or blanks', () => {
    const { state, submitted } = press(createEditor('$ '), [
      ...typed('NOOP'), ENTER, ENTER, UP, ENTER, UP, BACKSPACE, ...typed('E'), ENTER,
    ]);
    expect(submitted).toEqual(['NOOP', '', 'NOOP', 'NOOE']);
    expect(state.history).toEqual(['NOOP', 'NOOE']);
  });

  it('keeps message lines out of history when asked to', () => {
    const { state, submitted } = press(createEditor('data> '), [...typed('Subject: hi'), ENTER], { remember: false });
    expect(submitted).toEqual(['Subject: hi']);
    expect(state.history).toEqual([]);
  });
});

describe('line editor: control keys', () => {
  it('Ctrl-C abandons the line without submitting it and signals an interrupt', () => {
    const { state, submitted, last } = press(createEditor('$ '), [...typed('dig MX'), '\x03']);
    expect(submitted).toEqual([]);
    expect(state.buffer).toBe('');
    expect(last.signal).toBe('interrupt');
    expect(last.output[0]).toEqual({ op: 'cancel' });
  });

  it('Ctrl-L clears the screen and keeps the line', () => {
    const { state, last } = press(createEditor('$ '), [...typed('dig'), '\x0c']);
    expect(state.buffer).toBe('dig');
    expect(last.output.map((op) => op.op)).toEqual(['clearScreen', 'draw']);
  });

  it('Ctrl-D signals end of input on an empty line and deletes otherwise', () => {
    expect(press(createEditor('smtp> '), ['\x04']).last.signal).toBe('eof');
    const { state, last } = press(createEditor('$ '), [...typed('ab'), LEFT, '\x04']);
    expect(state.buffer).toBe('a');
    expect(last.signal).toBeUndefined();
  });

  it('Ctrl-] signals the escape out of a session', () => {
    expect(press(createEditor('smtp> '), ['\x1d']).last.signal).toBe('escape');
  });
});

describe('line editor: completion', () => {
  it('completes a unique command with a trailing space', () => {
    const { state } = press(createEditor('$ '), [...typed('tel'), '\t'], { complete: completeShell });
    expect(state.buffer).toBe('telnet ');
  });

  it('lists the choices when the typed prefix is ambiguous', () => {
    const { state, last } = press(createEditor('$ '), [...typed('h'), '\t'], { complete: completeShell });
    expect(state.buffer).toBe('h');
    const list = last.output.find((op) => op.op === 'list');
    expect(list && 'items' in list ? [...list.items].sort() : []).toEqual(['help', 'history']);
  });

  it('extends to the common prefix of several choices', () => {
    const { state } = press(createEditor('$ '), [...typed('send --s'), '\t'], { complete: completeShell });
    expect(state.buffer).toBe('send --s');
    const more = press(createEditor('$ '), [...typed('send --su'), '\t'], { complete: completeShell });
    expect(more.state.buffer).toBe('send --subject ');
  });

  it('completes the DSN request options of send (RFC 3461)', () => {
    const notify = press(createEditor('$ '), [...typed('send --to bob@example.net --no'), '\t'], { complete: completeShell });
    expect(notify.state.buffer).toBe('send --to bob@example.net --notify ');
    const envid = press(createEditor('$ '), [...typed('send --en'), '\t'], { complete: completeShell });
    expect(envid.state.buffer).toBe('send --envid ');
  });

  it('completes SMTP verbs in a session, MAIL to its FROM:< opening', () => {
    const mail = press(createEditor('smtp> '), [...typed('ma'), '\t'], { complete: completeSmtp });
    expect(mail.state.buffer).toBe('MAIL FROM:<');
    const start = press(createEditor('smtp> '), [...typed('sta'), '\t'], { complete: completeSmtp });
    expect(start.state.buffer).toBe('STARTTLS ');
  });

  it('rings the bell when nothing matches or no completer is given', () => {
    expect(press(createEditor('$ '), [...typed('zz'), '\t'], { complete: completeShell }).last.output).toEqual([{ op: 'bell' }]);
    expect(press(createEditor('$ '), ['\t']).last.output).toEqual([{ op: 'bell' }]);
  });
});

describe('line editor: paste', () => {
  it('submits every complete line of a bracketed paste and keeps the rest in the editor', () => {
    const paste = '\x1b[200~EHLO client.example\rMAIL FROM:<a@example.com>\rRCPT TO:<b@example.net>\rDA\x1b[201~';
    const { state, submitted, results } = press(createEditor('smtp> '), [paste]);
    expect(submitted).toEqual(['EHLO client.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.net>']);
    expect(results).toHaveLength(1);
    expect(results[0].submitted).toHaveLength(3);
    expect(state.buffer).toBe('DA');
  });

  it('joins the first pasted line to the text before the cursor', () => {
    const { submitted, state } = press(createEditor('smtp> '), [...typed('RCPT TO:'), '\x1b[200~<b@example.net>\nQUIT\n\x1b[201~']);
    expect(submitted).toEqual(['RCPT TO:<b@example.net>', 'QUIT']);
    expect(state.buffer).toBe('');
  });

  it('treats an unbracketed chunk with line breaks as a paste too', () => {
    const { submitted } = press(createEditor('data> '), ['Subject: hello\r\rbody\r.\r']);
    expect(submitted).toEqual(['Subject: hello', '', 'body', '.']);
  });

  it('inserts a one-line paste without submitting it', () => {
    const { submitted, state } = press(createEditor('$ '), ['\x1b[200~dig MX example.net\x1b[201~']);
    expect(submitted).toEqual([]);
    expect(state.buffer).toBe('dig MX example.net');
  });
});

describe('keysFromData', () => {
  it('maps both cursor-key modes and the Home/End variants', () => {
    const kinds = keysFromData('\x1b[A\x1bOB\x1b[C\x1bOD\x1b[1~\x1b[4~\x1bOH\x1bOF\x1b[1;5D\x1b[1;5C').map((k) => k.kind);
    expect(kinds).toEqual(['up', 'down', 'right', 'left', 'home', 'end', 'home', 'end', 'wordLeft', 'wordRight']);
  });

  it('skips unknown escape sequences whole, such as function keys', () => {
    expect(keysFromData('\x1b[15~a')).toEqual([{ kind: 'text', text: 'a' }]);
    expect(keysFromData('\x1bOP')).toEqual([]);
  });
});
