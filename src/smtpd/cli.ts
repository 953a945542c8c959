// `npm run smtpd -- --persona <id> ...`: a persona as a real SMTP server until SIGINT/SIGTERM.
import { parseSmtpdArguments, usage, UsageError } from './args';
import { startSmtpd, type RunningSmtpd } from './server';
import { personaSummaries } from './personas';
import { bufferedOutput, streamLogger } from './log';

/** Exit codes: 0 clean stop or --help, 1 could not start, 2 bad command line. */
export async function main(argv: readonly string[]): Promise<number> {
  const personas = personaSummaries();
  let parsed;
  try {
    parsed = parseSmtpdArguments(argv, personas);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`smtpd: ${error.message}\nRun with --help for the flags and personas.\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(usage(personas) + '\n');
    return 0;
  }

  // One write per turn of the event loop rather than one per protocol line (see bufferedOutput).
  const output = bufferedOutput((text) => process.stdout.write(text));
  process.on('exit', () => output.flush());
  const print = (line: string) => output.line(line);
  let server: RunningSmtpd;
  try {
    server = await startSmtpd({
      persona: parsed.persona,
      port: parsed.port,
      host: parsed.host,
      ...(parsed.tlsPort !== undefined ? { tlsPort: parsed.tlsPort } : {}),
      ...(parsed.greylistDelayMs !== undefined ? { greylistDelayMs: parsed.greylistDelayMs } : {}),
      ...(parsed.maildir !== undefined ? { maildir: parsed.maildir } : {}),
      ...(parsed.certFile !== undefined && parsed.keyFile !== undefined ? { certFile: parsed.certFile, keyFile: parsed.keyFile } : {}),
      ...(parsed.variant !== undefined ? { variant: parsed.variant } : {}),
      ...(parsed.hostname !== undefined ? { hostname: parsed.hostname } : {}),
      summary: print,
      ...(parsed.quiet ? {} : { logger: streamLogger(print) }),
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const reason =
      e.code === 'EADDRINUSE'
        ? `address in use: another program listens on ${parsed.host}:${e.message.match(/:(\d+)$/)?.[1] ?? parsed.port} (try --port 0)`
        : e.code === 'EACCES'
          ? `permission denied listening on ${parsed.host} (ports below 1024 need privileges; try --port 2525)`
          : e.message;
    output.flush();
    process.stderr.write(`smtpd: cannot start: ${reason}\n`);
    return 1;
  }

  print(server.listeningLine);
  if (!parsed.quiet) print(`smtpd: ${server.hostname}; certificate ${server.certificate}`);

  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      print(`smtpd: ${signal}, closing`);
      void server.close().then(() => {
        output.flush();
        resolve(0);
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`smtpd: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
