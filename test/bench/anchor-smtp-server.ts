/**
 * The anchor server for the benchmark: nodemailer's `smtp-server` configured to accept every
 * sender and recipient and throw each message away, so the benchmark compares SMTP handling
 * and nothing else. Started in its own process by servers.ts; prints
 * "listening on 127.0.0.1:PORT" once it accepts connections.
 *
 * Usage: node --import tsx test/bench/anchor-smtp-server.ts [--port N]
 */
import { SMTPServer } from 'smtp-server';

const portFlag = process.argv.indexOf('--port');
const requestedPort = portFlag >= 0 ? Number(process.argv[portFlag + 1]) : 0;
if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
  console.error(`anchor-smtp-server: --port needs a number 0..65535, got ${process.argv[portFlag + 1]}`);
  process.exit(2);
}

const server = new SMTPServer({
  // Plain throughput: no TLS upgrade on offer, no authentication asked for.
  disabledCommands: ['STARTTLS'],
  authOptional: true,
  // Reverse DNS of the client would measure the resolver, not the SMTP server.
  disableReverseLookup: true,
  logger: false,
  banner: 'anchor ready',
  onData(stream, _session, callback) {
    stream.on('end', () => callback());
    stream.resume();
  },
});

server.on('error', (error) => {
  console.error(`anchor-smtp-server: ${error.message}`);
});

server.listen(requestedPort, '127.0.0.1', () => {
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  console.log(`listening on 127.0.0.1:${address.port}`);
});

// Exit at once: a graceful close would wait for the benchmark's idle connections to time out.
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
