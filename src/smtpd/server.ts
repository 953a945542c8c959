// smtpd: one persona of the simulated world as a real SMTP server on TCP (with STARTTLS) and,
// optionally, implicit TLS (RFC 8314 "submissions"/smtps) on a second port.
//
// The client's address is used as the socket reports it: no reverse DNS lookup is made (RFC
// 5321 §4.1.4 lets a server verify the EHLO name, but a lookup per connection would make tests
// and benchmarks on loopback depend on the resolver).
import { createServer as createNetServer, type Server, type Socket, type AddressInfo } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type TLSSocket, type SecureContext } from 'node:tls';
import { Timeouts } from '../protocol/limits';
import { SmtpConnection, tlsInfoOf, describeTls, notTls } from './connection';
import { certificateFromFiles, selfSignedCertificate, untrustedCertificate, describeCertificate, type CertificatePair } from './certificates';
import { MaildirStore, SummaryStore, type MessageStore } from './store';
import { silentLogger, streamLogger, type SmtpdLogger } from './log';
import { personaBackend, type PersonaOptions } from './personas';
import { implicitTlsPlan, type TlsHandshakePlan } from '../machines/backend';

export interface SmtpdOptions extends PersonaOptions {
  /** Persona id, e.g. 'friendly'. */
  persona: string;
  /** SMTP port; 0 (default) picks a free one. */
  port?: number;
  /** Also listen for implicit TLS on this port (0 picks a free one). */
  tlsPort?: number;
  /** Listen address; loopback unless told otherwise. */
  host?: string;
  /** The server's name in banner, EHLO and certificate (default: the persona's own). */
  hostname?: string;
  /** Store accepted messages in this maildir; without it, a summary line per message. */
  maildir?: string;
  /** PEM files; without them a self-signed certificate is generated at start. */
  certFile?: string;
  keyFile?: string;
  /** Protocol log lines; default: none. */
  logger?: SmtpdLogger;
  /** Where summaries of accepted messages go when there is no maildir (default stdout). */
  summary?: (line: string) => void;
  /** RFC 5321 §4.5.3.2.7 server timeout; default 5 minutes. */
  idleTimeoutMs?: number;
}

export interface RunningSmtpd {
  persona: string;
  /** The name the server gives in its banner (and its certificate). */
  hostname: string;
  host: string;
  port: number;
  tlsPort?: number;
  /** `smtpd: <persona> listening on <host>:<port>[ tls on <host>:<tlsPort>]` */
  listeningLine: string;
  /** One line describing the certificate served. */
  certificate: string;
  /** Open connections right now. */
  readonly connections: number;
  /** Stops listening, ends open connections, resolves when all is closed. */
  close(): Promise<void>;
}

export async function startSmtpd(options: SmtpdOptions): Promise<RunningSmtpd> {
  const host = options.host ?? '127.0.0.1';
  // One backend per server, shared by its connections: greylisting and rate limits remember
  // clients across connections, as a real server does.
  const backend = personaBackend(options.persona, options);
  const hostname = backend.hostname;
  const logger = options.logger ?? silentLogger;

  const pair: CertificatePair =
    options.certFile !== undefined && options.keyFile !== undefined
      ? await certificateFromFiles(options.certFile, options.keyFile)
      : await selfSignedCertificate(hostname);
  const secureContext: SecureContext = createSecureContext({ key: pair.key, cert: pair.cert, minVersion: 'TLSv1.2' });
  let untrustedPair: Promise<CertificatePair> | undefined;
  let untrustedContext: Promise<SecureContext> | undefined;
  /** Any plan but 'ok' gets one certificate that fails every check (expired, wrong name, self-signed). */
  const certificateFor = (plan: Exclude<TlsHandshakePlan, 'fail'>): Promise<CertificatePair> =>
    plan === 'ok' ? Promise.resolve(pair) : (untrustedPair ??= untrustedCertificate());
  const secureContextFor = (plan: Exclude<TlsHandshakePlan, 'fail'>): Promise<SecureContext> => {
    if (plan === 'ok') return Promise.resolve(secureContext);
    untrustedContext ??= certificateFor(plan).then((bad) => createSecureContext({ key: bad.key, cert: bad.cert, minVersion: 'TLSv1.2' }));
    return untrustedContext;
  };
  const implicitPlan = implicitTlsPlan(backend);

  let store: MessageStore;
  if (options.maildir !== undefined) {
    const maildir = new MaildirStore(options.maildir);
    await maildir.prepare();
    store = maildir;
  } else {
    store = new SummaryStore(options.summary);
  }

  const open = new Set<SmtpConnection>();
  const sockets = new Set<Socket>();
  let nextId = 1;
  const serve = (socket: Socket, implicitTls?: TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const connection: SmtpConnection = new SmtpConnection(
      socket,
      {
        id: nextId++,
        backend,
        secureContextFor,
        store,
        logger,
        idleTimeoutMs: options.idleTimeoutMs ?? Timeouts.serverTimeoutMs,
        handshakeTimeoutMs: 30_000,
        onClosed: () => open.delete(connection),
      },
      implicitTls ? tlsInfoOf(implicitTls) : undefined,
    );
    open.add(connection);
  };

  const plain = createNetServer((socket) => serve(socket));
  const port = await listen(plain, options.port ?? 0, host);

  let tlsServer: Server | undefined;
  let tlsPort: number | undefined;
  if (options.tlsPort !== undefined) {
    if (implicitPlan === 'fail' || implicitPlan === 'refused') {
      // A persona that breaks or refuses TLS serves no TLS here either: plaintext where the
      // ServerHello should be, and the client's handshake fails.
      tlsServer = createNetServer((socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        logger.line(nextId++, 'event', `implicit TLS connection from ${socket.remoteAddress}:${socket.remotePort}: no TLS here (persona ${options.persona})`);
        socket.on('error', () => {});
        socket.end(notTls);
      });
    } else {
      // tls.createServer takes the key and certificate themselves (it builds its own context).
      const served = await certificateFor(implicitPlan);
      tlsServer = createTlsServer({ key: served.key, cert: served.cert, minVersion: 'TLSv1.2', handshakeTimeout: 30_000 }, (secure: TLSSocket) => serve(secure, secure));
      tlsServer.on('tlsClientError', (error, socket) => {
        logger.line(nextId++, 'event', `implicit TLS handshake from ${socket.remoteAddress}:${socket.remotePort} failed: ${error.message}`);
      });
    }
    tlsPort = await listen(tlsServer, options.tlsPort, host);
  }

  const shown = host.includes(':') ? `[${host}]` : host;
  const listeningLine = `smtpd: ${options.persona} listening on ${shown}:${port}${tlsPort !== undefined ? ` tls on ${shown}:${tlsPort}` : ''}`;
  let closing: Promise<void> | undefined;
  return {
    persona: options.persona,
    hostname,
    host,
    port,
    ...(tlsPort !== undefined ? { tlsPort } : {}),
    listeningLine,
    certificate: describeCertificate(pair),
    get connections() {
      return open.size;
    },
    close() {
      closing ??= (async () => {
        const servers = [plain, ...(tlsServer ? [tlsServer] : [])];
        const stopped = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
        for (const socket of sockets) socket.destroy();
        await stopped;
      })();
      return closing;
    },
  };
}

export { describeTls };

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen({ port, host, exclusive: true }, () => {
      server.removeListener('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
