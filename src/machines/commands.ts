/**
 * The server's command table: for each verb, where it is allowed, whether this session offers
 * it, and what it does. The machine (server.ts) runs its guards against this table in a fixed
 * order, then calls `handle`.
 */
import type { Reply } from '../protocol/reply';
import { Replies } from '../protocol/replies';
import { parseCommand, type Command } from '../protocol/command';
import type { Path } from '../protocol/address';
import { decodeLogin, decodePlain, LoginPrompts } from '../protocol/sasl';
import { DataCollector } from '../protocol/framing';
import { paramsNotAdvertised, type MailParameters, type RcptParameters } from '../protocol/params';
import { extensionKeywords, toHookAnswer, type Envelope, type Extensions, type SaslMechanism } from './backend';
import type { AuthExchange, Decision, HandlerHelpers, LineEvent, ServerContext } from './server';

/** The states in which the machine reads a line as a command. */
export type CommandPhase = 'waitingForHelo' | 'ready' | 'mail' | 'rcpt';

/** A command as the server needs it: the parsed paths reduced to the text of the address. */
export type ServerCommand =
  | { verb: 'EHLO'; domain: string }
  | { verb: 'HELO'; domain: string }
  | { verb: 'MAIL'; reversePath: string; utf8: boolean; params: MailParameters }
  | { verb: 'RCPT'; forwardPath: string; utf8: boolean; params: RcptParameters }
  | { verb: 'DATA' }
  | { verb: 'RSET' }
  | { verb: 'NOOP' }
  | { verb: 'QUIT' }
  | { verb: 'STARTTLS' }
  | { verb: 'VRFY'; argument: string }
  | { verb: 'EXPN'; argument: string }
  | { verb: 'HELP'; argument: string }
  | { verb: 'AUTH'; mechanism: string; initialResponse?: string };

export type VerbName = ServerCommand['verb'];

export type ParsedLine = { ok: true; command: ServerCommand } | { ok: false; reply: Reply };

type CommandOf<V extends VerbName> = Extract<ServerCommand, { verb: V }>;

export interface CommandSpec<V extends VerbName> {
  /** The reply when the verb is not allowed in this phase (503/554), or undefined when it is. */
  sequenceError(context: ServerContext, phase: CommandPhase): Reply | undefined;
  /** The reply when this session does not offer the command (RFC 5321 §4.2.4: 502), if so. */
  notOffered?(context: ServerContext, extensions: Extensions): Reply | undefined;
  handle(context: ServerContext, command: CommandOf<V>, phase: CommandPhase, helpers: HandlerHelpers, line: LineEvent): Decision;
  /** AUTH only: the next line of a SASL exchange. */
  continueExchange?(context: ServerContext, exchange: AuthExchange, response: string, helpers: HandlerHelpers): Decision;
}

// ─── Parsing: protocol's parseCommand, reduced to what the server needs ───────────────────

/** Read one command line. Errors come back as the catalogue reply the client should get. */
export function parseLine(text: string): ParsedLine {
  const result = parseCommand(text);
  if (!result.ok) return { ok: false, reply: result.reply };
  return { ok: true, command: toServerCommand(result.command) };
}

/** The address a path names: "" for the null path `<>`, "Postmaster" for the bare `<Postmaster>`. */
function pathText(path: Path): string {
  if (path.kind === 'null') return '';
  if (path.kind === 'postmaster') return 'Postmaster';
  return path.mailbox.text;
}

function toServerCommand(command: Command): ServerCommand {
  switch (command.verb) {
    case 'EHLO':
      return { verb: 'EHLO', domain: command.domain };
    case 'HELO':
      return { verb: 'HELO', domain: command.domain };
    case 'MAIL':
      return { verb: 'MAIL', reversePath: pathText(command.reversePath), utf8: command.utf8, params: command.params };
    case 'RCPT':
      return { verb: 'RCPT', forwardPath: pathText(command.forwardPath), utf8: command.utf8, params: command.params };
    case 'VRFY':
      return { verb: 'VRFY', argument: command.argument };
    case 'EXPN':
      return { verb: 'EXPN', argument: command.argument };
    case 'HELP':
      return { verb: 'HELP', argument: command.topic ?? '' };
    case 'NOOP':
      return { verb: 'NOOP' };
    case 'AUTH':
      return command.initialResponse === undefined
        ? { verb: 'AUTH', mechanism: command.mechanism.toUpperCase() }
        : { verb: 'AUTH', mechanism: command.mechanism.toUpperCase(), initialResponse: command.initialResponse };
    case 'DATA':
    case 'RSET':
    case 'QUIT':
    case 'STARTTLS':
      return { verb: command.verb } as ServerCommand;
  }
}

// ─── Shared rules ─────────────────────────────────────────────────────────────────────────

const anyTime = (): Reply | undefined => undefined;

function reply(_context: ServerContext, r: Reply, next: ReturnType<HandlerHelpers['idlePhase']> | 'mail' | 'rcpt' | 'data' | 'auth' | 'closed'): Decision {
  return { outcome: { emits: [{ type: 'reply', reply: r }], next, delayMs: 0 } };
}

// ─── The table ────────────────────────────────────────────────────────────────────────────

export const commandTable: { [V in VerbName]: CommandSpec<V> } = {
  EHLO: {
    sequenceError: anyTime,
    handle(context, command, phase, h) {
      // RFC 5321 §4.1.4: EHLO in the middle of a transaction resets it, as RSET would.
      const answer = toHookAnswer(context.backend.onEhlo?.(command.domain, context.facts));
      const greetedFacts = { ...context.facts, heloName: command.domain, esmtp: true };
      const keywords = extensionKeywordsFor(context, greetedFacts, h);
      const outcome = h.fromAnswer(answer, Replies.ehlo(context.backend.hostname, command.domain, keywords), 'ready', phase);
      return outcome.positive ? { facts: greetedFacts, envelope: undefined, refusedRecipients: 0, outcome } : { outcome };
    },
  },
  HELO: {
    sequenceError: anyTime,
    handle(context, command, phase, h) {
      const answer = toHookAnswer(context.backend.onHelo?.(command.domain, context.facts));
      const outcome = h.fromAnswer(answer, Replies.helo(context.backend.hostname, command.domain), 'ready', phase);
      return outcome.positive
        ? { facts: { ...context.facts, heloName: command.domain, esmtp: false }, envelope: undefined, refusedRecipients: 0, outcome }
        : { outcome };
    },
  },
  MAIL: {
    sequenceError(_context, phase) {
      if (phase === 'waitingForHelo') return Replies.badSequence('send EHLO or HELO first');
      // RFC 5321 §3.3: MAIL starts a transaction; one is already open.
      if (phase === 'mail' || phase === 'rcpt') return Replies.badSequence('nested MAIL command');
      return undefined;
    },
    handle(context, command, phase, h) {
      const params = command.params;
      // RFC 5321 §4.1.1.11 / RFC 1869: parameters exist only after EHLO, and only for the
      // extensions this session advertised; anything else is 555 5.5.4.
      const first = params.list[0];
      if (first && !context.facts.esmtp) return h.clientError(context, Replies.paramNotImplemented(first.keyword), phase);
      // Without parameters (the common MAIL) there is nothing to check against the extensions.
      if (first) {
        const extensions = h.extensionsOf(context);
        const notAdvertised = paramsNotAdvertised(params, extensionKeywords(extensions));
        if (notAdvertised) return h.clientError(context, notAdvertised, phase);
        // RFC 1870 §6.1: a declared size over the fixed limit is refused at MAIL with 552 5.3.4.
        if (params.size !== undefined && extensions.size !== undefined && extensions.size > 0 && params.size > extensions.size) {
          return reply(context, Replies.messageTooBig(extensions.size), phase);
        }
      }
      const smtpUtf8 = params.smtputf8;
      // RFC 6531 §3.5: a non-ASCII address needs SMTPUTF8 on this MAIL command.
      if (command.utf8 && !smtpUtf8) return reply(context, Replies.smtputf8Required(), phase);
      const answer = toHookAnswer(context.backend.onMail?.(command.reversePath, command.params, context.facts));
      const outcome = h.fromAnswer(answer, Replies.senderOk(), 'mail', phase);
      if (!outcome.positive) return { outcome };
      const envelope: Envelope = {
        reversePath: command.reversePath,
        mailParams: params,
        recipients: [],
        bodyType: params.body ?? '7BIT',
        smtpUtf8,
        ...(params.size !== undefined ? { declaredSize: params.size } : {}),
      };
      return { envelope, refusedRecipients: 0, outcome };
    },
  },
  RCPT: {
    sequenceError(_context, phase) {
      if (phase === 'waitingForHelo') return Replies.badSequence('send EHLO or HELO first');
      if (phase === 'ready') return Replies.badSequence('need MAIL before RCPT');
      return undefined;
    },
    handle(context, command, phase, h) {
      const envelope = context.envelope!;
      const refused = (outcome: Decision['outcome']): Decision => ({ refusedRecipients: context.refusedRecipients + 1, outcome });
      // RFC 3461 parameters (NOTIFY, ORCPT) only when DSN was advertised (RFC 5321 §4.1.1.11: 555).
      const notAdvertised =
        command.params.list.length > 0 ? paramsNotAdvertised(command.params, extensionKeywords(h.extensionsOf(context))) : undefined;
      if (notAdvertised) return h.clientError(context, notAdvertised, phase);
      if (command.utf8 && !envelope.smtpUtf8) return refused(reply(context, Replies.smtputf8Required(), phase).outcome);
      // RFC 5321 §4.5.3.1.10: past the recipient limit, 452 and the client sends the rest later.
      if (envelope.recipients.length >= context.maxRecipients) {
        return refused(reply(context, Replies.tooManyRecipients(), phase).outcome);
      }
      const answer = toHookAnswer(context.backend.onRcpt?.(command.forwardPath, command.params, envelope, context.facts));
      const outcome = h.fromAnswer(answer, Replies.recipientOk(), 'rcpt', phase);
      if (!outcome.positive) return refused(outcome);
      return {
        envelope: { ...envelope, recipients: [...envelope.recipients, { address: command.forwardPath, params: command.params }] },
        outcome,
      };
    },
  },
  DATA: {
    sequenceError(context, phase) {
      if (phase === 'waitingForHelo') return Replies.badSequence('send EHLO or HELO first');
      if (phase === 'ready') return Replies.badSequence('need MAIL before DATA');
      // RFC 5321 §3.3: "If there was no MAIL, or no RCPT, command, or all such commands were
      // rejected, the server MAY return a 'command out of sequence' (503) or 'no valid
      // recipients' (554) reply". 554 when RCPTs were tried and refused, 503 when none came.
      if (phase === 'mail') return context.refusedRecipients > 0 ? Replies.noValidRecipients() : Replies.badSequence('need RCPT before DATA');
      return undefined;
    },
    handle(context, _command, phase, h, line) {
      const answer = toHookAnswer(context.backend.onDataStart?.(context.envelope!, context.facts));
      const outcome = h.fromAnswer(answer, Replies.startMailInput(), 'data', phase);
      if (!outcome.positive) return { outcome };
      // The line ending of the DATA command is the first CRLF of <CRLF>.<CRLF> (RFC 5321
      // §4.1.1.4), so an empty message is "DATA", "." — unless DATA itself ended in a bare LF.
      const size = h.extensionsOf(context).size ?? 0;
      const data = new DataCollector({
        endOfData: context.backend.lenientEndOfData ? 'any-line-ending' : 'crlf-only',
        previousEnding: line.ending,
        ...(size > 0 ? { maxMessageOctets: size } : {}),
      });
      return { data, outcome };
    },
  },
  RSET: {
    sequenceError: anyTime,
    // RFC 5321 §4.1.1.5: RSET clears the transaction, not the session (EHLO stays).
    handle: (context, _command, _phase, h) => ({
      envelope: undefined,
      refusedRecipients: 0,
      ...reply(context, Replies.ok(), h.idlePhase(context)),
    }),
  },
  NOOP: {
    sequenceError: anyTime,
    handle: (context, _command, phase) => reply(context, Replies.ok(), phase),
  },
  // RFC 5321 §3.5.3: a server that will not verify says 252 and accepts mail anyway.
  VRFY: {
    sequenceError: anyTime,
    handle: (context, _command, phase) => reply(context, Replies.cannotVerify(), phase),
  },
  // RFC 5321 §3.5.2: EXPN may be disabled for security; 502 says so.
  EXPN: {
    sequenceError: anyTime,
    handle: (context, _command, phase) => reply(context, Replies.notImplemented('EXPN'), phase),
  },
  HELP: {
    sequenceError: anyTime,
    handle: (context, _command, phase) =>
      reply(
        context,
        Replies.help(['Commands: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT STARTTLS AUTH', 'See RFC 5321']),
        phase,
      ),
  },
  QUIT: {
    sequenceError: anyTime,
    // RFC 5321 §4.1.1.10: 221, then the server closes.
    handle: (context) => ({
      outcome: { emits: [{ type: 'reply', reply: Replies.bye(context.backend.hostname) }, { type: 'close', reason: 'quit' }], next: 'closed', delayMs: 0 },
    }),
  },
  STARTTLS: {
    sequenceError(_context, phase) {
      if (phase === 'waitingForHelo') return Replies.badSequence('send EHLO first');
      if (phase === 'mail' || phase === 'rcpt') return Replies.badSequence('mail transaction in progress');
      return undefined;
    },
    notOffered(context, extensions) {
      if (context.facts.tls) return Replies.tlsAlreadyActive();
      return extensions.starttls ? undefined : Replies.notImplemented('STARTTLS');
    },
    handle(context, _command, phase, h) {
      const result = context.backend.onStartTls?.(context.facts);
      if (result !== undefined && 'handshake' in result) {
        return {
          outcome: {
            emits: [h.emitReply(Replies.readyToStartTls()), { type: 'starttls', handshake: result.handshake }],
            next: 'tlsHandshake',
            delayMs: result.delayMs ?? 0,
          },
        };
      }
      const answer = toHookAnswer(result);
      // RFC 3207 §4: 220 and the handshake, or 454 4.7.0 (TLS not available) and carry on.
      const outcome = h.fromAnswer(answer, Replies.readyToStartTls(), 'tlsHandshake', phase, [{ type: 'starttls', handshake: 'ok' }]);
      return { outcome };
    },
  },
  AUTH: {
    sequenceError(_context, phase) {
      if (phase === 'waitingForHelo') return Replies.badSequence('send EHLO first');
      // RFC 4954 §4: "The AUTH command is not permitted during a mail transaction."
      if (phase === 'mail' || phase === 'rcpt') return Replies.badSequence('mail transaction in progress');
      return undefined;
    },
    notOffered(context, extensions) {
      if (!extensions.auth || extensions.auth.length === 0) return Replies.notImplemented('AUTH');
      // RFC 4954 §4: "After a successful AUTH command completes, a server MUST reject any
      // further AUTH commands with a 503 reply."
      if (context.facts.authenticatedUser !== undefined) return Replies.alreadyAuthenticated();
      return undefined;
    },
    handle(context, command, phase, h) {
      const offered = h.extensionsOf(context).auth ?? [];
      const mechanism = offered.find((m) => m === command.mechanism);
      // RFC 4954 §4: an unknown (or not offered) mechanism gets 504 5.5.4.
      if (!mechanism) return reply(context, Replies.unknownMechanism(), phase);
      const exchange: AuthExchange =
        mechanism === 'PLAIN' ? { mechanism, expecting: 'plain' } : { mechanism, expecting: 'username' };
      if (command.initialResponse !== undefined) {
        // RFC 4954 §4: "=" is an initial response of zero length.
        return commandTable.AUTH.continueExchange!(context, exchange, command.initialResponse === '=' ? '' : command.initialResponse, h);
      }
      return challenge(exchange);
    },
    continueExchange(context, exchange, response, h) {
      const back = h.idlePhase(context);
      const fail = (r: Reply): Decision => ({ auth: undefined, ...reply(context, r, back) });
      if (exchange.expecting === 'plain') {
        // RFC 4616 §2: message = [authzid] NUL authcid NUL passwd, in base64.
        const plain = decodePlain(response);
        if (!plain.ok) return fail(Replies.badBase64());
        // Acting as another identity (authzid) is not something these servers allow.
        if (plain.authzid !== '' && plain.authzid !== plain.user) return fail(Replies.authFailed());
        return h.finishAuth(context, 'PLAIN', plain.user, plain.password);
      }
      const decoded = decodeLogin(response);
      if (decoded === undefined) return fail(Replies.badBase64());
      if (exchange.expecting === 'username') return challenge({ ...exchange, expecting: 'password', username: decoded });
      return h.finishAuth(context, exchange.mechanism, exchange.username ?? '', decoded);
    },
  },
};

/** The 334 challenge for the next step of an exchange; LOGIN asks "Username:" then "Password:". */
function challenge(exchange: AuthExchange): Decision {
  // RFC 4954 §4: PLAIN's first challenge is empty ("334 ").
  const text = exchange.expecting === 'username' ? LoginPrompts.usernameBase64 : exchange.expecting === 'password' ? LoginPrompts.passwordBase64 : '';
  return {
    auth: exchange,
    outcome: { emits: [{ type: 'reply', reply: Replies.authChallenge(text) }], next: 'auth', delayMs: 0 },
  };
}

function extensionKeywordsFor(context: ServerContext, facts: ServerContext['facts'], h: HandlerHelpers): string[] {
  return extensionKeywords(h.extensionsOf({ ...context, facts }));
}

export type { SaslMechanism };
