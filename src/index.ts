/**
 * Process entry: load configuration, build the service, listen, shut down cleanly on SIGTERM/SIGINT.
 * Bad configuration or knowledge base: a clear message on stderr and exit code 1.
 */
import http from 'node:http';
import { ConfigError, loadConfig } from './config/config.js';
import { createLogger } from './http/logger.js';
import { createRuntime } from './server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(
      err instanceof ConfigError ? err.message : `Invalid configuration: ${(err as Error).message}`,
    );
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);
  let runtime;
  try {
    runtime = await createRuntime(config, { logger });
  } catch (err) {
    console.error(`Cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
  const server = http.createServer(runtime.app);
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;
  server.on('error', (err) => {
    console.error(`Cannot listen on ${config.host}:${config.port}: ${err.message}`);
    process.exit(1);
  });
  server.listen(config.port, config.host, () => {
    logger.info({ port: config.port, publicBaseUrl: config.publicBaseUrl, demo: config.demo }, 'listening');
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
