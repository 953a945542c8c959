/**
 * `npm start` (after `npm run build`): everything a learner needs on one machine, no internet.
 *
 * - the built app (dist/) from a small static web server, plus `/config.json` telling the page
 *   where the bridge is and which local SMTP servers it can talk to;
 * - the WebSocket-to-TCP bridge, admitting only the app's own origins and allowing the local
 *   smtpd's ports on loopback;
 * - a local smtpd: persona `friendly` (with implicit TLS, RFC 8314) and `submission` (RFC 6409).
 *
 * Bad flags print a clear error and exit 2; a port in use or a missing build exits 1.
 * SIGINT and SIGTERM stop every service and exit 0.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { networkInterfaces } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBridge, type BridgeHandle } from '../bridge/server';
import type { LocalSmtpdEntry, RealModeConfig } from '../net/bridgeClient';
import { startSmtpd, type RunningSmtpd } from '../smtpd/server';
import { parseStartArgs, startUsage, UsageError, type StartOptions } from './startArgs';

/** The build vite writes (src/ui/vite.config.ts: outDir ../../dist). */
export const DIST_DIR = fileURLToPath(new URL('../../dist', import.meta.url));

const MIME_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.wasm': 'application/wasm',
  '.webmanifest': 'application/manifest+json',
};

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/**
 * The origins the page can have: the browser writes the host as typed in the address bar, so
 * 127.0.0.1 and localhost are both the app; a wildcard listener is reachable on every address.
 */
export function appOrigins(host: string, port: number): string[] {
  const hosts = new Set(['127.0.0.1', 'localhost']);
  if (isWildcard(host)) {
    for (const entries of Object.values(networkInterfaces())) {
      for (const entry of entries ?? []) if (!entry.internal && !entry.address.includes('%')) hosts.add(entry.address);
    }
    hosts.add('::1');
  } else {
    hosts.add(host);
  }
  return [...hosts].map((name) => `http://${hostForUrl(name)}:${port}`);
}

export interface StaticServerOptions {
  root: string;
  host: string;
  port: number;
  /** Answers `/config.json` for the request (the bridge URL follows the host the page was loaded from). */
  config: (request: IncomingMessage) => RealModeConfig;
}

/** Map a URL path onto a file under root, or null when it would leave root or is malformed. */
export function fileForPath(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  // A NUL or backslash has no business in a URL path to a built asset; both are old traversal tricks.
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const relative = normalize(decoded === '/' || decoded === '' ? '/index.html' : decoded).replace(/^[/\\]+/, '');
  const file = resolve(root, relative);
  if (file !== root && !file.startsWith(root + sep)) return null;
  return file;
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'X-Content-Type-Options': 'nosniff' });
  response.end(body);
}

export function startStaticServer(options: StaticServerOptions): Promise<Server> {
  const root = resolve(options.root);
  const server = createServer((request, response) => {
    const method = request.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      send(response, 405, 'text/plain; charset=utf-8', 'only GET and HEAD are served here\n');
      return;
    }
    const path = (request.url ?? '/').split(/[?#]/)[0]!;
    if (path === '/config.json') {
      const body = JSON.stringify(options.config(request), null, 2) + '\n';
      response.writeHead(200, { 'Content-Type': MIME_TYPES['.json']!, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
      response.end(method === 'HEAD' ? undefined : body);
      return;
    }
    const file = fileForPath(root, path);
    if (file === null) {
      send(response, 400, 'text/plain; charset=utf-8', 'bad path\n');
      return;
    }
    let size: number;
    try {
      const stats = statSync(file);
      if (!stats.isFile()) throw new Error('not a file');
      size = stats.size;
    } catch {
      send(response, 404, 'text/plain; charset=utf-8', `not found: ${path}\n`);
      return;
    }
    const type = MIME_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    // Vite puts a content hash in every asset name, so only the page itself must be revalidated.
    const cache = file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache';
    response.writeHead(200, { 'Content-Type': type, 'Content-Length': size, 'Cache-Control': cache, 'X-Content-Type-Options': 'nosniff' });
    if (method === 'HEAD') {
      response.end();
      return;
    }
    const stream = createReadStream(file);
    stream.on('error', () => response.destroy());
    stream.pipe(response);
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolvePromise(server);
    });
  });
}

function listeningPort(server: Server): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** Why a service could not start, in words that say what to do. */
function startError(service: string, flag: string, error: NodeJS.ErrnoException): string {
  if (error.code === 'EADDRINUSE') return `${service}: the port is in use by another program (choose another with ${flag} N, or ${flag} 0 for any free port)`;
  if (error.code === 'EACCES') return `${service}: permission denied for that port (ports below 1024 need privileges)`;
  if (error.code === 'EADDRNOTAVAIL') return `${service}: this machine has no such address to listen on (check --host)`;
  return `${service}: ${error.message}`;
}

/** A reason not to start that the user can act on: printed without a stack trace. */
export class StartFailure extends Error {}

export interface RunningStart {
  appUrl: string;
  bridge: BridgeHandle;
  smtpd: RunningSmtpd[];
  close(): Promise<void>;
}

export async function start(options: StartOptions, print: (line: string) => void, distDir: string = DIST_DIR): Promise<RunningStart> {
  if (!existsSync(join(distDir, 'index.html'))) {
    throw new StartFailure('the built app (dist/index.html) is missing: run npm run build first (npm start does it for you)');
  }
  const stoppers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
  };
  try {
    // The mail servers first: the bridge's policy must know their ports.
    const smtpd: RunningSmtpd[] = [];
    if (options.smtpd) {
      const friendly = await startSmtpd({
        persona: 'friendly',
        port: options.smtpd.port,
        tlsPort: options.smtpd.tlsPort,
        summary: (line) => print(`smtpd: ${line}`),
      }).catch((error: NodeJS.ErrnoException) => {
        throw new StartFailure(startError('smtpd', '--smtpd-port / --smtpd-tls-port', error));
      });
      stoppers.push(() => friendly.close());
      smtpd.push(friendly);
      const submission = await startSmtpd({
        persona: 'submission',
        // The article's submission server: alice@example.com logs in here before sending.
        hostname: 'smtp.example.com',
        port: options.smtpd.submissionPort,
        summary: (line) => print(`smtpd: ${line}`),
      }).catch((error: NodeJS.ErrnoException) => {
        throw new StartFailure(startError('smtpd submission', '--submission-port', error));
      });
      stoppers.push(() => submission.close());
      smtpd.push(submission);
    }
    const localEntries: LocalSmtpdEntry[] = smtpd.flatMap((server) => [
      { host: server.host, port: server.port, persona: server.persona, tls: 'none' as const },
      ...(server.tlsPort !== undefined ? [{ host: server.host, port: server.tlsPort, persona: server.persona, tls: 'implicit' as const }] : []),
    ]);

    // The web server next, so the bridge's origins come from the port it really got.
    let bridgePort = 0;
    let bridgeHost = options.host;
    const originHosts = new Set<string>();
    const web = await startStaticServer({
      root: distDir,
      host: options.host,
      port: options.port,
      config: (request) => {
        // Send the page to the bridge under the name it was loaded with (localhost or 127.0.0.1),
        // but only a name the app answers to: the Host header is the client's to write.
        const requested = (request.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1').toLowerCase();
        const name = originHosts.has(requested) ? requested : isWildcard(bridgeHost) ? '127.0.0.1' : bridgeHost;
        return { bridgeUrl: `ws://${hostForUrl(name)}:${bridgePort}/`, localSmtpd: localEntries };
      },
    }).catch((error: NodeJS.ErrnoException) => {
      throw new StartFailure(startError('app', '--port', error));
    });
    stoppers.push(
      () =>
        new Promise<void>((resolveClose) => {
          web.close(() => resolveClose());
          web.closeAllConnections();
        }),
    );
    const appPort = listeningPort(web);
    const origins = appOrigins(options.host, appPort);
    for (const origin of origins) originHosts.add(new URL(origin).hostname.replace(/^\[(.*)\]$/, '$1'));

    const bridge = await startBridge({
      host: options.host,
      port: options.bridgePort,
      origins,
      policy: { localPorts: localEntries.map((entry) => entry.port) },
      ...(options.dnsServers.length > 0 ? { dnsServers: options.dnsServers } : {}),
      log: print,
    }).catch((error: NodeJS.ErrnoException) => {
      throw new StartFailure(startError('bridge', '--bridge-port', error));
    });
    stoppers.push(() => bridge.close());
    bridgePort = bridge.port;
    bridgeHost = bridge.host;

    const appHost = isWildcard(options.host) ? '127.0.0.1' : options.host;
    const appUrl = `http://${hostForUrl(appHost)}:${appPort}/`;
    print(`app: ${appUrl} (serving dist/, config at ${appUrl}config.json)`);
    print(`bridge: ws://${hostForUrl(isWildcard(bridge.host) ? '127.0.0.1' : bridge.host)}:${bridge.port}/ (origins ${origins.join(' ')})`);
    for (const server of smtpd) {
      print(`smtpd: ${server.persona} on ${hostForUrl(server.host)}:${server.port}${server.tlsPort !== undefined ? `, implicit TLS on ${hostForUrl(server.host)}:${server.tlsPort}` : ''} (banner ${server.hostname})`);
    }
    if (!options.smtpd) print('smtpd: not started (--no-smtpd)');
    print(`Open ${appUrl} in your browser. Ctrl-C stops everything.`);
    return { appUrl, bridge, smtpd, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseStartArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`start: ${error.message}\nRun "npm start -- --help" for the flags.\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(startUsage() + '\n');
    return 0;
  }
  const print = (line: string): void => {
    process.stdout.write(line + '\n');
  };
  let running: RunningStart;
  try {
    running = await start(parsed, print);
  } catch (error) {
    process.stderr.write(`start: ${error instanceof StartFailure ? error.message : ((error as Error).stack ?? String(error))}\n`);
    return 1;
  }
  return new Promise<number>((resolveExit) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      print(`start: ${signal}, stopping the app, the bridge and smtpd`);
      // A session that will not close must not keep the process alive.
      setTimeout(() => resolveExit(0), 5000).unref();
      void running.close().then(() => resolveExit(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

// Run only as the entry point, so tests can import the helpers above without starting servers.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exit(code);
    },
    (error: unknown) => {
      process.stderr.write(`start: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
