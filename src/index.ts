/**
 * Process entry: load configuration, build the service, listen, shut down cleanly on SIGTERM/SIGINT.
 * Bad configuration or knowledge base: a clear message on stderr naming the variable or file at fault,
 * and exit code 1.
 */
import http from 'node:http';
import v8 from 'node:v8';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { createLogger } from './http/logger.js';
import { describeStartError, startupLine } from './config/startup.js';
import { deprioritizeHelperThreads } from './helper-threads.js';

/**
 * The old generation may grow to 1.3x what survived the last full collection (V8 lets it reach up to 4x
 * when collection is fast). Under a burst of hook calls the survivors are mostly garbage of requests in
 * flight, so the default let an idle ~130 MiB process sit at ~270 MiB after load. At 1.5x it stayed just
 * under 200 MiB until the helper threads, which do most of the marking, gave the event loop precedence
 * (src/helper-threads.ts): marking then ends later and the process reached ~207 MiB. At 1.3x it stays
 * at ~190 MiB for a few more (cheap, concurrent) marking cycles. Set before anything is allocated in bulk.
 */
v8.setFlagsFromString('--heap-growing-percent=30');

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(
      err instanceof ConfigError ? err.message : `Invalid configuration: ${(err as Error).message}`,
    );
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);
  // People at a terminal get plain sentences on stderr; log collectors (no TTY) get JSON lines only.
  const human = process.stderr.isTTY === true;
  if (human) console.error(`starting spine-bone-health-cds (${config.demo ? 'demo mode' : 'service mode'})…`);
  let runtime;
  try {
    // Imported only after the configuration is valid: a bad variable is reported at once, without first
    // loading the whole service, and a person sees "starting" before the slow part.
    const { createRuntime } = await import('./server.js');
    runtime = await createRuntime(config, { logger });
  } catch (err) {
    console.error(`Cannot start: ${describeStartError(err, config)}`);
    process.exit(1);
  }
  const helpers = await deprioritizeHelperThreads(config.helperThreadNice);
  const server = http.createServer(runtime.app);
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;
  server.on('error', (err) => {
    console.error(`Cannot listen on ${config.host}:${config.port} (HOST, PORT): ${err.message}`);
    process.exit(1);
  });
  server.listen(config.port, config.host, () => {
    const { port } = server.address() as { port: number };
    const line = startupLine(config, port);
    logger.info(
      {
        port,
        host: config.host,
        url: line.url,
        publicBaseUrl: config.publicBaseUrl,
        mode: line.mode,
        demo: config.demo,
        next: line.next,
        helperThreads: { nice: config.helperThreadNice, ...helpers },
        startupMs: Math.round(performance.now()),
      },
      'ready',
    );
    if (human) console.error(line.text);
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    server.close(() => {
      runtime
        .close()
        .then(() => process.exit(0))
        .catch(() => process.exit(1));
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

void main();
