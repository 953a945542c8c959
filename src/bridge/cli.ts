/**
 * `npm run bridge -- [flags]`: start the WebSocket-to-TCP bridge for real-network mode.
 * Bad flags print a clear error and exit with status 2 (the usual "usage error" status).
 */
import { bridgeUsage, parseBridgeArgs } from './args';
import { startBridge, type BridgeOptions } from './server';

async function main(): Promise<void> {
  let options: BridgeOptions | 'help';
  try {
    options = parseBridgeArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`bridge: ${(error as Error).message}\nRun "npm run bridge -- --help" for the flags.`);
    process.exit(2);
  }
  if (options === 'help') {
    console.log(bridgeUsage());
    return;
  }
  let bridge;
  try {
    bridge = await startBridge(options);
  } catch (error) {
    // Policy, DNS server and listen errors are configuration mistakes too.
    console.error(`bridge: ${(error as Error).message}`);
    process.exit(2);
  }
  console.log(`bridge listening on ${bridge.url} (loopback ports ${bridge.policy.loopbackPorts.join(', ')}${bridge.policy.allowPublic ? '; public 25, 465, 587' : ''})`);
  const stop = (): void => {
    void bridge.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main();
