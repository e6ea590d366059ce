// The process entry: config from the environment, one HTTP listener for every handler (two with
// ADMIN_PORT: the admin routes on their own), the drain/retry timers, and graceful shutdown on
// SIGTERM/SIGINT. The only file that imports @hono/node-server.
import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from './config.js';
import { createGateway } from './gateway.js';
import { hardenServer, serverOptions } from './http-limits.js';

export { createGateway } from './gateway.js';
export { loadConfig } from './config.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`duckhook: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  let gateway;
  try {
    gateway = await createGateway(config);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'database_locked') {
      process.stderr.write(`duckhook: ${e.message}\n`);
      process.exit(3);
    }
    throw err;
  }
  const { app, adminApp, log } = gateway;

  /** One listener with the gateway's limits; `announce` gets the port it really bound. */
  const listen = (fetch: typeof app.fetch, port: number, announce: (port: number) => void): Server => {
    const server = serve({ fetch, port, hostname: config.host, serverOptions: serverOptions(config) }) as Server;
    hardenServer(server, config);
    server.on('listening', () => {
      const addr = server.address();
      announce(typeof addr === 'object' && addr ? addr.port : port);
    });
    return server;
  };
  const servers = [
    listen(app.fetch, config.port, (port) => {
      log.info({ port, database: config.databasePath }, 'duckhook listening');
      // A line for humans and for tests that start the gateway as a child process.
      process.stdout.write(`duckhook listening on http://127.0.0.1:${port}\n`);
    }),
  ];
  if (adminApp && config.adminPort !== undefined) {
    servers.push(
      listen(adminApp.fetch, config.adminPort, (port) => {
        log.info({ port }, 'duckhook admin API listening');
        process.stdout.write(`duckhook admin API on http://127.0.0.1:${port}\n`);
      }),
    );
  }
  gateway.start();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const closed = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    for (const server of servers) server.closeIdleConnections();
    const force = setTimeout(() => {
      for (const server of servers) server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    try {
      await gateway.stop();
      await closed;
      clearTimeout(force);
      log.flush();
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      log.flush();
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`duckhook: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
