import { describe, expect, it } from 'vitest';
import { parseDuration, parseShellLine, shellCommandTypedInSession, tokenize, type ShellCommand } from '../../src/lab/shell';
import { helpLines } from '../../src/lab/help';
import { SEND_OPTIONS } from '../../src/lab/shell';

function command(line: string): ShellCommand {
  const parsed = parseShellLine(line);
  if (!parsed.ok) throw new Error(`expected "${line}" to parse, got: ${parsed.error}`);
  return parsed.command;
}

function failure(line: string) {
  const parsed = parseShellLine(line);
  if (parsed.ok) throw new Error(`expected "${line}" to be refused, got ${JSON.stringify(parsed.command)}`);
  return parsed;
}

describe('dig', () => {
  it.each([
    ['dig MX example.net', { short: false, type: 'MX', domain: 'example.net' }],
    ['dig +short mx example.net', { short: true, type: 'MX', domain: 'example.net' }],
    ['dig example.net MX', { short: false, type: 'MX', domain: 'example.net' }],
    ['dig -t TXT _dmarc.example.com', { short: false, type: 'TXT', domain: '_dmarc.example.com' }],
    ['dig TLSA _25._tcp.mx.example.net', { short: false, type: 'TLSA', domain: '_25._tcp.mx.example.net' }],
    ['dig mx.example.net', { short: false, type: 'A', domain: 'mx.example.net' }],
    ['dig AAAA a', { short: false, type: 'AAAA', domain: 'a' }],
  ])('%s', (line, expected) => {
    expect(command(line)).toEqual({ name: 'dig', ...expected });
  });

  it('keeps @server as given', () => {
    expect(command('dig @192.0.2.53 MX example.net')).toMatchObject({ server: '192.0.2.53', type: 'MX' });
  });

  it('explains the record types this world answers', () => {
    expect(failure('dig NS example.net').error).toMatch(/MX, A, AAAA, TXT, TLSA/);
    expect(failure('dig -t SOA example.net').error).toMatch(/not SOA/);
  });

  it('asks for a name, one name, and a valid one', () => {
    expect(failure('dig MX').error).toMatch(/needs a name.*dig MX example\.net/);
    expect(failure('dig MX example.net example.com').error).toMatch(/one name at a time/);
    expect(failure('dig MX exa mple!.net').error).toBeTruthy();
    expect(failure('dig MX bad!name').error).toMatch(/not a domain name/);
  });

  it('suggests +short for a close misspelling', () => {
    expect(failure('dig +shrt MX example.net').suggestion).toBe('+short');
  });
});

describe('telnet and nc', () => {
  it('opens plain sessions; telnet sends CRLF, nc only with -C', () => {
    expect(command('telnet mx.example.net 25')).toEqual({ name: 'connect', tool: 'telnet', host: 'mx.example.net', port: 25, tls: 'none', crlf: true });
    expect(command('nc mx.example.net 587')).toMatchObject({ tool: 'nc', port: 587, crlf: false });
    expect(command('nc -C mx.example.net 25')).toMatchObject({ tool: 'nc', crlf: true });
    expect(command('nc -vC 192.0.2.25 25')).toMatchObject({ host: '192.0.2.25', crlf: true });
    expect(command('ncat -C mx.example.net 25')).toMatchObject({ tool: 'nc' });
  });

  it('asks for the port, and shows how when host:port was written', () => {
    expect(failure('telnet mx.example.net').error).toMatch(/needs a port.*telnet mx\.example\.net 25/);
    expect(failure('telnet mx.example.net:25').error).toMatch(/two words: telnet mx\.example\.net 25/);
    expect(failure('nc mx.example.net 99999').error).toMatch(/not a port/);
    expect(failure('telnet').error).toMatch(/needs a host and a port/);
  });

  it('warns that port 465 expects TLS first', () => {
    expect(command('telnet mx.example.net 465')).toMatchObject({ warning: expect.stringMatching(/openssl s_client -connect mx\.example\.net:465/) });
  });

  it('refuses unknown nc flags with the ones it knows', () => {
    expect(failure('nc -z mx.example.net 25').error).toMatch(/-C/);
  });
});

describe('openssl s_client', () => {
  it('parses STARTTLS and implicit TLS', () => {
    expect(command('openssl s_client -starttls smtp -connect mx.example.net:25')).toEqual({
      name: 'connect', tool: 'openssl', host: 'mx.example.net', port: 25, tls: 'starttls', crlf: false,
    });
    expect(command('openssl s_client -connect smtp.example.com:465 -crlf -servername smtp.example.com')).toEqual({
      name: 'connect', tool: 'openssl', host: 'smtp.example.com', port: 465, tls: 'implicit', crlf: true, servername: 'smtp.example.com',
    });
    expect(command('openssl s_client -connect [2001:db8::25]:465 -quiet')).toMatchObject({ host: '2001:db8::25', port: 465 });
  });

  it('warns when TLS is started the wrong way for the port', () => {
    expect(command('openssl s_client -connect mx.example.net:25')).toMatchObject({ tls: 'implicit', warning: expect.stringMatching(/-starttls smtp/) });
    expect(command('openssl s_client -starttls smtp -connect mx.example.net:465')).toMatchObject({ warning: expect.stringMatching(/without STARTTLS/) });
  });

  it('explains what is missing or misspelt', () => {
    expect(failure('openssl s_client').error).toMatch(/-connect host:port/);
    expect(failure('openssl s_client -connect mx.example.net').error).toMatch(/host:port in one word/);
    expect(failure('openssl s_client -starttls imap -connect mx.example.net:143').error).toMatch(/-starttls smtp/);
    expect(failure('openssl sclient -connect mx.example.net:465').suggestion).toBe('openssl s_client -connect mx.example.net:465');
    expect(failure('openssl s_client -conect mx.example.net:465').suggestion).toBe('openssl s_client -connect mx.example.net:465');
  });
});

describe('send', () => {
  it('takes a sender, recipients, a subject and a pace', () => {
    expect(command('send --from alice@example.com --to bob@example.net --to carol@example.org --subject "Hello there" --speed 4')).toEqual({
      name: 'send', from: 'alice@example.com', to: ['bob@example.net', 'carol@example.org'], subject: 'Hello there', pace: { mode: 'play', speed: 4 },
    });
    expect(command('send --from=<alice@example.com> --to=bob@example.net,dan@example.net')).toEqual({
      name: 'send', from: 'alice@example.com', to: ['bob@example.net', 'dan@example.net'], pace: { mode: 'play', speed: 4 },
    });
    expect(command('send --from alice@example.com --to bob@example.net --step')).toMatchObject({ pace: { mode: 'step' } });
  });

  it('says what is missing', () => {
    expect(failure('send --to bob@example.net').error).toMatch(/--from/);
    expect(failure('send --from alice@example.com').error).toMatch(/--to/);
    expect(failure('send --from alice --to bob@example.net').error).toMatch(/address like alice@example\.com/);
    expect(failure('send --from a@example.com --to b@example.net --speed 0').error).toMatch(/--speed/);
    expect(failure('send --from a@example.com --to b@example.net --subject').error).toMatch(/quote it/);
    expect(failure('send alice@example.com bob@example.net').error).toMatch(/--from for the sender/);
  });

  it('suggests the option a typo was close to', () => {
    expect(failure('send --form a@example.com --to b@example.net').suggestion).toBe('send --from a@example.com --to b@example.net');
    expect(failure('send --from a@example.com --to b@example.net --notfy b@example.net=NEVER').suggestion).toBe(
      'send --from a@example.com --to b@example.net --notify b@example.net=NEVER',
    );
  });

  it('takes DSN requests (RFC 3461) as npm run sim -- send does: --notify, --ret, --envid', () => {
    expect(
      command('send --from alice@example.com --to bob@example.net --to nobody@strict.example --notify bob@example.net=success,failure --notify <nobody@strict.example>=NEVER --ret hdrs --envid QQ314159'),
    ).toEqual({
      name: 'send',
      from: 'alice@example.com',
      to: ['bob@example.net', 'nobody@strict.example'],
      pace: { mode: 'play', speed: 4 },
      dsn: { notify: { 'bob@example.net': ['SUCCESS', 'FAILURE'], 'nobody@strict.example': 'NEVER' }, ret: 'HDRS', envid: 'QQ314159' },
    });
    expect(command('send --from a@example.com --to B@Example.net --notify=b@example.net=DELAY --envid="two words"')).toMatchObject({
      dsn: { notify: { 'b@example.net': ['DELAY'] }, envid: 'two words' },
    });
  });

  it('refuses bad DSN requests with the option and the rule in the error', () => {
    const base = 'send --from a@example.com --to b@example.net';
    expect(failure(`${base} --notify b@example.net=SOMETIMES`).error).toMatch(/^--notify b@example\.net=SOMETIMES: .*SUCCESS, FAILURE, DELAY.*RFC 3461 §4\.1/);
    expect(failure(`${base} --notify b@example.net=NEVER,FAILURE`).error).toMatch(/NEVER stands alone/);
    expect(failure(`${base} --notify b@example.net`).error).toMatch(/^--notify b@example\.net: write the address, "=", then NEVER/);
    expect(failure(`${base} --notify carol@example.net=NEVER`).error).toBe('--notify names "carol@example.net", which is not a recipient (to: b@example.net).');
    expect(failure(`${base} --notify b@example.net=SUCCESS --notify B@example.net=FAILURE`).error).toMatch(/names B@example\.net twice/);
    expect(failure(`${base} --ret ALL`).error).toBe('--ret ALL: FULL (the whole message in a bounce) or HDRS (its header only).');
    expect(failure(`${base} --envid`).error).toMatch(/^--envid needs a value/);
    expect(failure(`${base} --envid "caf\u00e9"`).error).toMatch(/printable ASCII/);
    expect(failure(`${base} --envid ${'x'.repeat(101)}`).error).toMatch(/too long/);
  });

  it('takes --orcpt <recipient>=<addr-type>;<address>, once per recipient, in either spelling', () => {
    expect(
      command('send --from alice@example.com --to bob@example.net --to nobody@strict.example --orcpt bob@example.net=rfc822;bob@old.example --orcpt=nobody@strict.example=RFC822;nobody@old.example'),
    ).toMatchObject({
      dsn: { orcpt: { 'bob@example.net': 'rfc822;bob@old.example', 'nobody@strict.example': 'rfc822;nobody@old.example' } },
    });
    expect(SEND_OPTIONS).toContain('--orcpt');
    expect(failure('send --from a@example.com --to b@example.net --orcp b@example.net=rfc822;b@old.example').suggestion).toBe(
      'send --from a@example.com --to b@example.net --orcpt b@example.net=rfc822;b@old.example',
    );
  });

  it('refuses a bad --orcpt with the option, the value and the rule in the error', () => {
    const base = 'send --from a@example.com --to b@example.net';
    expect(failure(`${base} --orcpt`).error).toBe('--orcpt needs a value. Example: --orcpt bob@example.net=rfc822;bob@old.example');
    expect(failure(`${base} --orcpt carol@example.net=rfc822;carol@old.example`).error).toBe(
      '--orcpt names "carol@example.net", which is not a recipient (to: b@example.net).',
    );
    expect(failure(`${base} --orcpt b@example.net=rfc/822;b@old.example`).error).toBe(
      '--orcpt b@example.net=rfc/822;b@old.example: "rfc/822" is not an address type; before the ";" come letters, digits and hyphens, such as rfc822 (RFC 3461 §4.2).',
    );
    expect(failure(`${base} --orcpt b@example.net=b@old.example`).error).toMatch(/^--orcpt b@example\.net=b@old\.example: write the recipient, "=", the address type, ";"/);
    expect(failure(`${base} --orcpt "b@example.net=rfc822;b\u00e9@old.example"`).error).toMatch(/^--orcpt b@example\.net=rfc822;b\u00e9@old\.example: the original address must be printable ASCII/);
    expect(failure(`${base} --orcpt b@example.net=rfc822;${'x'.repeat(494)}`).error).toMatch(/^--orcpt is too long: 501 characters as it goes on the wire, at most 500/);
    expect(failure(`${base} --orcpt b@example.net=rfc822;x@old.example --orcpt b@example.net=rfc822;y@old.example`).error).toMatch(/names b@example\.net twice/);
  });
});

describe('the small commands', () => {
  it.each([
    ['personas', { name: 'personas' }],
    ['world', { name: 'world' }],
    ['clear', { name: 'clear' }],
    ['reset', { name: 'reset' }],
    ['history', { name: 'history' }],
    ['export', { name: 'export' }],
    ['help', { name: 'help' }],
    ['help DIG', { name: 'help', topic: 'dig' }],
    ['mode real', { name: 'mode', mode: 'real' }],
    ['mailbox <bob@example.net>', { name: 'mailbox', address: 'bob@example.net' }],
    ['clock', { name: 'clock', advanceMs: null }],
    ['clock +30m', { name: 'clock', advanceMs: 30 * 60_000 }],
    ['clock +5d', { name: 'clock', advanceMs: 5 * 86_400_000 }],
    ['   ', { name: 'empty' }],
  ])('%s', (line, expected) => {
    expect(command(line)).toEqual(expected);
  });

  it('refuses arguments where there are none, and bad durations', () => {
    expect(failure('world now').error).toMatch(/no arguments/);
    expect(failure('clock +30').error).toMatch(/needs a unit.*clock \+30m/);
    expect(failure('clock -5m').error).toMatch(/only moves forward/);
    expect(failure('mode fake').error).toMatch(/sim.*real/);
    expect(failure('mailbox').error).toMatch(/mailbox bob@example\.net/);
  });

  it('adds durations written in parts', () => {
    expect(parseDuration('+1h30m')).toBe(90 * 60_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('+61d')).toEqual({ error: expect.stringMatching(/60 days/) });
  });
});

describe('a shell command typed in a session', () => {
  it("is named by the verb the server refused, aliases included; SMTP's own HELP and other words are not", () => {
    expect(shellCommandTypedInSession('CLOCK')).toMatch(/^\(clock is a command of this lab's shell, not SMTP/);
    expect(shellCommandTypedInSession('TELNET')).toMatch(/^\(telnet is a command/);
    expect(shellCommandTypedInSession('NETCAT')).toMatch(/^\(netcat is a command/);
    expect(shellCommandTypedInSession('HELP')).toBeUndefined();
    expect(shellCommandTypedInSession('XYZZY')).toBeUndefined();
    expect(shellCommandTypedInSession('SWAKS')).toBeUndefined();
  });
});

describe('unknown input', () => {
  it('suggests the nearest command, keeping the arguments', () => {
    const parsed = failure('telent mx.example.net 25');
    expect(parsed.error).toMatch(/command not found/);
    expect(parsed.suggestion).toBe('telnet mx.example.net 25');
    expect(failure('hlep').suggestion).toBe('help');
    expect(failure('xyzzy').suggestion).toBeUndefined();
  });

  it('names the command that does the job of a tool known from elsewhere, and writes its line', () => {
    const connect = failure('connect mx1.example.net');
    expect(connect.error).toBe('connect: command not found. To talk SMTP by hand here, open a session with telnet (or nc -C).');
    expect(connect.suggestion).toBe('telnet mx1.example.net 25');
    expect(failure('smtp mx2.example.net 587').suggestion).toBe('telnet mx2.example.net 587');
    const swaks = failure('swaks --to carol@example.net -f alice@example.com --header "Subject: lunch at noon"');
    expect(swaks.error).toMatch(/^swaks: command not found\. Here, send does that job/);
    expect(swaks.suggestion).toBe('send --from alice@example.com --to carol@example.net --subject "lunch at noon"');
    expect(failure('mail -s hello bob@example.net carol@example.net').suggestion).toBe('send --from alice@example.com --to bob@example.net --to carol@example.net --subject hello');
    expect(failure('sendmail').suggestion).toBe('send --from alice@example.com --to bob@example.net');
    expect(failure('nslookup -type=mx example.net').suggestion).toBe('dig MX example.net');
    expect(failure('host -t mx null.example').suggestion).toBe('dig MX null.example');
    expect(failure('host mx1.example.net').suggestion).toBe('dig A mx1.example.net');
    expect(failure('drill example.net txt').suggestion).toBe('dig TXT example.net');
    expect(failure('postqueue -p').error).toMatch(/mailq shows the sending server's queue/);
    // Every suggestion is a line this shell takes as it stands.
    for (const line of ['connect mx1.example.net', 'swaks --to carol@example.net --header "Subject: lunch at noon"', 'mail -s hello bob@example.net', 'nslookup -query=MX example.net', 'postqueue -p']) {
      const suggested = failure(line).suggestion!;
      expect(parseShellLine(suggested).ok, suggested).toBe(true);
    }
    // SMTP typed at the prompt is still recognised as SMTP.
    expect(failure('mail FROM:<alice@example.com>').error).toMatch(/SMTP command/);
  });

  it('tells a learner typing SMTP at the shell to connect first', () => {
    expect(failure('EHLO client.example').error).toMatch(/SMTP command.*telnet mx\.example\.net 25/);
    expect(failure('quit').error).toMatch(/not in a session/);
  });

  it('reports an unclosed quote instead of guessing', () => {
    expect(failure('send --subject "oops').error).toMatch(/quote is not closed/);
    expect(tokenize(`a 'b c' "d \\"e\\"" f\\ g`)).toEqual({ words: ['a', 'b c', 'd "e"', 'f g'] });
  });
});

describe('help', () => {
  it('lists every command and explains one in detail', () => {
    const all = helpLines().join('\n');
    for (const name of ['dig', 'telnet', 'nc', 'openssl', 'send', 'personas', 'world', 'clock', 'mailbox', 'clear', 'reset', 'mode', 'history', 'export']) {
      expect(all).toMatch(new RegExp(`^  ${name} `, 'm'));
    }
    const narrow = helpLines(undefined, 40);
    expect(narrow).toContain('  dig');
    expect(narrow).toContain('      look a name up in DNS (MX tells where mail for a domain goes)');
    expect(helpLines('dig').join('\n')).toMatch(/usage: +dig \[\+short\]/);
    expect(helpLines('keys').join('\n')).toMatch(/Ctrl-C/);
    expect(helpLines('ehlo').join('\n')).toMatch(/MAIL FROM:</);
    expect(helpLines('dgi')[0]).toMatch(/Did you mean: help dig/);
  });

  it('help send names every option send takes, DSN requests included, in lines of at most 80 columns', () => {
    const lines = helpLines('send');
    const text = lines.join('\n');
    for (const option of SEND_OPTIONS) expect(text).toContain(option);
    expect(text).toMatch(/NEVER for no report at all/);
    // The usage line may wrap in the terminal; the explanation lines are laid out for 80 columns.
    for (const line of lines.filter((l) => !l.startsWith('  usage:'))) expect(line.length, line).toBeLessThanOrEqual(80);
  });
});

describe('spf and dmarc', () => {
  it.each([
    ['spf 192.0.2.25 example.com', { name: 'spf', ip: '192.0.2.25', domain: 'example.com' }],
    ['spf 2001:db8::25 Example.COM.', { name: 'spf', ip: '2001:db8::25', domain: 'example.com' }],
    ['spf 192.0.2.25 alice@example.com', { name: 'spf', ip: '192.0.2.25', domain: 'example.com', sender: 'alice@example.com' }],
    ['spf 192.0.2.25 <alice@example.com>', { name: 'spf', ip: '192.0.2.25', domain: 'example.com', sender: 'alice@example.com' }],
  ])('%s', (line, expected) => {
    expect(command(line)).toEqual(expected);
  });

  it('spf explains what is missing or wrong, with an example', () => {
    expect(failure('spf').error).toMatch(/connecting IP address and the MAIL FROM domain.*spf 192\.0\.2\.25 example\.com/);
    expect(failure('spf 192.0.2.25').error).toMatch(/^Which domain\?/);
    expect(failure('spf example.com').error).toMatch(/^Which IP address/);
    expect(failure('spf example.com 192.0.2.25').error).toBe('Give the IP address first, then the domain: spf 192.0.2.25 example.com');
    expect(failure('spf 192.0.2.300 example.com').error).toMatch(/"192\.0\.2\.300" is not an IPv4 or IPv6 address/);
    expect(failure('spf 192.0.2.25 bad!name').error).toMatch(/"bad!name" is not a domain name/);
    expect(failure('spf 192.0.2.25 example.com extra').error).toMatch(/two words, not 3/);
  });

  it('dmarc takes the From: domain and optional SPF and DKIM domains', () => {
    expect(command('dmarc example.com')).toEqual({ name: 'dmarc', fromDomain: 'example.com' });
    expect(command('dmarc news@example.com --spf-domain bounce.example.com --ip 198.51.100.140 --dkim-domain example.com')).toEqual({
      name: 'dmarc',
      fromDomain: 'example.com',
      spfDomain: 'bounce.example.com',
      ip: '198.51.100.140',
      dkimDomain: 'example.com',
    });
    expect(command('dmarc --spf-domain=mailer.example example.com')).toEqual({ name: 'dmarc', fromDomain: 'example.com', spfDomain: 'mailer.example' });
  });

  it('dmarc refuses bad input with the usage, and suggests a misspelt option', () => {
    expect(failure('dmarc').error).toMatch(/needs the domain of the From: header.*Usage: dmarc/);
    expect(failure('dmarc example.com example.net').error).toMatch(/one From: domain, not example\.com and example\.net/);
    expect(failure('dmarc example.com --ip 198.51.100.140').error).toMatch(/add --spf-domain/);
    expect(failure('dmarc example.com --spf-domain mailer.example --ip nowhere').error).toMatch(/--ip needs the connecting IPv4 or IPv6 address, not "nowhere"/);
    expect(failure('dmarc example.com --spf-domain').error).toMatch(/--spf-domain needs a domain/);
    const typo = failure('dmarc example.com --dkim-domian example.com');
    expect(typo.error).toMatch(/does not take --dkim-domian/);
    expect(typo.suggestion).toBe('dmarc example.com --dkim-domain example.com');
  });

  it('help lists both and explains the results; no help line is wider than 80 columns', () => {
    const all = helpLines();
    expect(all.some((l) => /^ {2}spf +check SPF/.test(l))).toBe(true);
    expect(all.some((l) => /^ {2}dmarc +check DMARC/.test(l))).toBe(true);
    const spfHelp = helpLines('spf');
    expect(spfHelp.join('\n')).toMatch(/usage: +spf <ip> <domain\|address>[\s\S]*~softfail[\s\S]*permerror/);
    expect(helpLines('dmarc').join('\n')).toMatch(/p=[\s\S]*quarantine[\s\S]*--dkim-domain/);
    for (const line of [...all, ...spfHelp, ...helpLines('dmarc')]) expect(line.length, line).toBeLessThanOrEqual(80);
  });
});
