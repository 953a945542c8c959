import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DNS_TYPES, SEND_OPTIONS, SHELL_COMMAND_NAMES } from '../../src/lab/shellNames';
import { SHELL_COMMANDS, parseShellLine } from '../../src/lab/shell';
import { DSN_OPTIONS } from '../../src/lab/shellNames';

describe('shell names', () => {
  it('names every command of the shell, in the order help lists them', () => {
    expect([...SHELL_COMMAND_NAMES]).toEqual(Object.keys(SHELL_COMMANDS));
  });

  it.each([...SHELL_COMMAND_NAMES])('the shell knows the command %s', (name) => {
    const parsed = parseShellLine(name);
    expect(parsed.ok ? '' : parsed.error).not.toMatch(/command not found/);
  });

  it.each([...SEND_OPTIONS])('send accepts the option %s', (option) => {
    const parsed = parseShellLine(`send --from alice@example.com --to bob@example.net ${option}`);
    expect(parsed.ok ? '' : parsed.error).not.toMatch(/does not take/);
  });

  it('offers every DSN option that send reads', () => {
    for (const option of DSN_OPTIONS) expect(SEND_OPTIONS).toContain(option);
  });

  it.each([...DNS_TYPES])('dig asks for %s records', (type) => {
    const parsed = parseShellLine(`dig ${type} example.net`);
    expect(parsed).toEqual({ ok: true, command: { name: 'dig', short: false, type, domain: 'example.net' } });
  });

  it('loads no other module at run time, so completion does not pull the parsers in', () => {
    const source = readFileSync(fileURLToPath(new URL('../../src/lab/shellNames.ts', import.meta.url)), 'utf8');
    const runtimeImports = source.split('\n').filter((line) => /^\s*(import|export)\b.*\bfrom\s/.test(line) && !/^\s*import type\b/.test(line));
    expect(runtimeImports).toEqual([]);
  });
});
