/**
 * Every line of a conversation, explained in words: what a client command asks for, what a
 * reply code and its enhanced code mean, what each EHLO extension is, what an AUTH line's
 * base64 hides, and where the message's dot-stuffing happened. The transcript shows these on
 * hover, focus or click; the terminal shows the short form after a reply.
 */
import { explainCode, explainEnhanced, explainExtension } from '../protocol/codes';
import { parseCommand } from '../protocol/command';
import { formatPath } from '../protocol/address';
import { decodeBase64Text } from '../protocol/base64';
import { decodePlain } from '../protocol/sasl';
import type { Reply } from '../protocol/reply';

/** Where the client was when it sent a line: it decides how the line is read. */
export type LineContext = 'command' | 'data' | 'auth';

/** Makes control characters visible: a learner must see a NUL or a bare LF, not guess it. */
export function showControls(text: string): string {
  return text.replace(/\0/g, '\\0').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

function explainAuthPayload(base64: string): string {
  const plain = decodePlain(base64);
  if (plain.ok) {
    const authzid = plain.authzid === '' ? '' : `authorise as "${plain.authzid}", `;
    return `base64 of "${showControls(`${plain.authzid}\0${plain.user}\0${plain.password}`)}": ${authzid}user "${plain.user}", password "${plain.password}". Base64 is an encoding, not encryption: anyone who sees this line can read the password, which is why AUTH belongs inside TLS.`;
  }
  const text = decodeBase64Text(base64);
  if (text !== undefined) return `base64 of "${showControls(text)}". Base64 hides nothing: it only makes bytes safe to type.`;
  return 'This is not valid base64, so the server will refuse it (501).';
}

/** What a line the client sent means. `context` says whether it was a command, message data or an AUTH answer. */
export function explainClientLine(line: string, context: LineContext = 'command'): string {
  if (context === 'data') {
    if (line === '.') return 'A line holding only "." ends the message (RFC 5321 §4.1.1.4). The server answers for the whole message now.';
    if (line.startsWith('..')) {
      return `Dot-stuffing (RFC 5321 §4.5.2): the message line starts with ".", so the client doubled it to "${line.slice(0, 2)}". The server removes the extra dot; the mailbox gets "${line.slice(1, 40)}".`;
    }
    if (line === '') return 'The empty line separates the headers above from the body below (RFC 5322 §2.1).';
    const header = /^([A-Za-z][A-Za-z0-9-]*):/.exec(line);
    if (header) {
      const name = header[1]!.toLowerCase();
      if (name === 'from' || name === 'to' || name === 'cc') {
        return `A header line (RFC 5322), part of the message itself. "${header[1]}:" is what a mail program displays; the server delivers by the envelope (MAIL FROM / RCPT TO), not by this header.`;
      }
      return `A header line (RFC 5322) of the message: "${header[1]}". Headers are part of the data, not of the SMTP envelope.`;
    }
    return 'A line of the message body, sent as is.';
  }
  if (context === 'auth') {
    if (line === '*') return 'A lone "*" cancels the AUTH exchange (RFC 4954 §4); the server answers 501.';
    return `The answer to the server's 334 challenge: ${explainAuthPayload(line)}`;
  }
  const parsed = parseCommand(line);
  if (!parsed.ok) return `The server cannot read this command: it will answer ${parsed.reply.code} (${explainCode(parsed.reply.code)}).`;
  const command = parsed.command;
  switch (command.verb) {
    case 'EHLO':
      return `EHLO introduces the client as "${command.domain}" and asks which ESMTP extensions the server offers (RFC 5321 §4.1.1.1).`;
    case 'HELO':
      return `HELO introduces the client as "${command.domain}" the old way: no extensions are listed, so no STARTTLS, SIZE or PIPELINING (RFC 5321 §4.1.1.1).`;
    case 'STARTTLS':
      return 'STARTTLS asks to turn this connection into TLS (RFC 3207). After the 220 the TLS handshake runs, and everything said before is forgotten: the client must EHLO again.';
    case 'AUTH': {
      const initial = command.initialResponse;
      const payload = initial && initial !== '=' ? ` The initial response is ${explainAuthPayload(initial)}` : '';
      return `AUTH logs in with the SASL mechanism ${command.mechanism} (RFC 4954).${payload}`;
    }
    case 'MAIL':
      return command.reversePath.kind === 'null'
        ? 'MAIL FROM:<> starts a transaction with the null reverse path: this message is itself a bounce or notice, and nothing may bounce back to it (RFC 5321 §4.5.5).'
        : `MAIL FROM starts a transaction. ${formatPath(command.reversePath)} is the envelope sender (the "return path"): bounces go there, whatever the From: header says.`;
    case 'RCPT':
      return `RCPT TO adds the envelope recipient ${formatPath(command.forwardPath)}. Each recipient gets its own reply; some may be refused while others are accepted.`;
    case 'DATA':
      return 'DATA asks to send the message itself: headers, an empty line, the body, then a line holding only ".".';
    case 'RSET':
      return 'RSET abandons the current transaction (sender and recipients) but keeps the connection and the EHLO (RFC 5321 §4.1.1.5).';
    case 'NOOP':
      return 'NOOP does nothing but ask for a 250: a way to check the connection is alive.';
    case 'VRFY':
      return 'VRFY asks whether a mailbox exists. Most servers answer 252 ("cannot verify, but will try") so spammers cannot harvest addresses.';
    case 'EXPN':
      return 'EXPN asks for the members of a mailing list; almost every server refuses for privacy.';
    case 'HELP':
      return 'HELP asks the server for help text (214).';
    case 'QUIT':
      return 'QUIT asks the server to say goodbye (221) and close the connection.';
  }
}

/** The meaning of a reply code, its enhanced code, and, after EHLO, of each extension. */
export function explainReply(reply: Reply, to?: string): string {
  const parts = [`${reply.code}: ${explainCode(reply.code)}`];
  if (reply.enhanced) parts.push(`${reply.enhanced}: ${explainEnhanced(reply.enhanced)}`);
  if (to === 'EHLO' && reply.code === 250) {
    const extensions = reply.lines.slice(1).filter((line) => line.trim() !== '');
    if (extensions.length > 0) parts.push(...extensions.map((line) => `${line.split(' ')[0]}: ${explainExtension(line)}`));
    else parts.push('No extensions are offered.');
  }
  if (to === 'DATA-END' && reply.code === 250) {
    parts.push('The server has taken responsibility for the message. This is not delivery to a mailbox: it may still bounce later, by a DSN sent to the envelope sender. Note the queue id for debugging.');
  }
  return parts.join('\n');
}

/** The same for one raw reply line as it appeared on the wire (`250-SIZE 10240000`). */
export function explainReplyLine(line: string): string {
  const match = /^(\d{3})[ -]?(?:([245]\.\d{1,3}\.\d{1,3}) )?(.*)$/.exec(line);
  if (!match) return 'This line is not a well-formed reply: a reply line starts with a three-digit code.';
  const code = Number(match[1]);
  const parts = [`${code}: ${explainCode(code)}`];
  if (match[2]) parts.push(`${match[2]}: ${explainEnhanced(match[2])}`);
  if (line[3] === '-') parts.push('The "-" after the code means more lines of this reply follow; the last line has a space instead.');
  return parts.join('\n');
}
