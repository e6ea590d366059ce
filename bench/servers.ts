// The servers the benchmark starts as child processes of its own bundle
// (`node dist/bench.js --serve bare|seed|target PORT [DBPATH]`), so the load generator never
// shares their event loop. Each prints `... listening on http://127.0.0.1:PORT` when ready.
import { createServer, type Server } from 'node:http';
import { serve } from '@hono/node-server';
import { DuckDBInstance } from '@duckdb/node-api';
import { Hono } from 'hono';

function announce(server: Server, name: string): void {
  server.on('listening', () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    process.stdout.write(`bench-${name} listening on http://127.0.0.1:${port}\n`);
  });
}

const honoServerOptions = { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 };

/** (a) Hono on @hono/node-server: reads the body, stores nothing, answers 202 with the gateway's JSON shape. */
function bare(port: number): void {
  const app = new Hono();
  let next = 1;
  app.post('/webhook/*', async (c) => {
    await c.req.arrayBuffer();
    return c.json({ status: 'accepted', webhook_id: next++, message: 'Webhook queued for processing' }, 202);
  });
  const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1', serverOptions: honoServerOptions }) as Server;
  announce(server, 'bare');
}

/**
 * (b) The seed article's ingest: one shared connection, one auto-committed
 * `INSERT INTO raw_webhooks ... RETURNING id` per request (so one WAL fsync per request), with the
 * seed's table, sequence, primary key and indexes. Requests wait their turn on the connection, as
 * the seed's synchronous `conn.execute` in an async FastAPI handler made them.
 */
async function seed(port: number, dbPath: string): Promise<void> {
  const instance = await DuckDBInstance.create(dbPath);
  const conn = await instance.connect();
  for (const sql of [
    'CREATE SEQUENCE IF NOT EXISTS webhook_seq START 1',
    `CREATE TABLE IF NOT EXISTS raw_webhooks (
        id BIGINT PRIMARY KEY DEFAULT nextval('webhook_seq'),
        received_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        source_ip VARCHAR,
        endpoint VARCHAR,
        headers JSON,
        payload JSON,
        status VARCHAR DEFAULT 'pending',
        retry_count INT DEFAULT 0,
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)`,
    'CREATE INDEX IF NOT EXISTS idx_webhook_status ON raw_webhooks(status, retry_count, received_at)',
    'CREATE INDEX IF NOT EXISTS idx_webhook_created ON raw_webhooks(created_at)',
  ]) {
    await conn.run(sql);
  }
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const result = tail.then(fn, fn);
    tail = result.catch(() => undefined);
    return result;
  };

  const app = new Hono();
  app.post('/webhook/*', async (c) => {
    const endpoint = c.req.path.slice('/webhook/'.length);
    const text = await c.req.text();
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      payload = { raw_body: text };
    }
    const headers = Object.fromEntries(c.req.raw.headers.entries());
    const ip = (c.env as { incoming?: { socket?: { remoteAddress?: string } } }).incoming?.socket?.remoteAddress ?? null;
    try {
      const rows = await serial(() =>
        conn.runAndReadAll(
          'INSERT INTO raw_webhooks (source_ip, endpoint, headers, payload) VALUES ($1, $2, $3, $4) RETURNING id',
          [ip, endpoint, JSON.stringify(headers), JSON.stringify(payload)],
        ),
      );
      const id = Number(rows.getRowsJS()[0]?.[0]);
      return c.json({ status: 'accepted', webhook_id: id, message: 'Webhook queued for processing' }, 202);
    } catch (err) {
      process.stderr.write(`seed insert failed: ${(err as Error).message}\n`);
      return c.json({ error: 'Internal server error' }, 500);
    }
  });
  const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1', serverOptions: honoServerOptions }) as Server;
  announce(server, 'seed');
  process.on('SIGTERM', () => {
    server.close();
    conn.closeSync();
    instance.closeSync();
    process.exit(0);
  });
}

/**
 * The end-to-end delivery target: plain node:http, answers 200 to every POST and counts them
 * (total, and distinct X-Delivery-Id values, so duplicates show). GET /count reports the counts
 * and this process's CPU time.
 */
function target(port: number): void {
  let total = 0;
  const seen = new Set<string>();
  let firstAt = 0;
  let lastAt = 0;
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/count') {
      const cpu = process.cpuUsage();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ total, unique: seen.size, firstAt, lastAt, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
      return;
    }
    req.on('data', () => undefined);
    req.on('end', () => {
      total++;
      const now = Date.now();
      if (!firstAt) firstAt = now;
      lastAt = now;
      const id = req.headers['x-delivery-id'];
      if (typeof id === 'string') seen.add(id);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  server.keepAliveTimeout = 60_000;
  announce(server, 'target');
  server.listen(port, '127.0.0.1');
}

export async function serveChild(kind: string | undefined, port: number, dbPath: string | undefined): Promise<void> {
  if (kind === 'bare') return bare(port);
  if (kind === 'target') return target(port);
  if (kind === 'seed') {
    if (!dbPath) throw new Error('--serve seed PORT DBPATH');
    return seed(port, dbPath);
  }
  throw new Error(`unknown server kind ${JSON.stringify(kind)} (bare, seed, target)`);
}
