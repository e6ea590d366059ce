// The esbuild bundles are what ops deploy: mount the bundled ingest handler on a plain
// node:http server (no @hono/node-server in the serving path) and serve a webhook through it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const dist = (file: string) => pathToFileURL(join(process.cwd(), 'dist', file)).href;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** The few lines any Node host needs to serve a fetch-style app. */
function nodeAdapter(fetchApp: (req: Request) => Response | Promise<Response>) {
  return createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    const response = await fetchApp(
      new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined }),
    );
    res.writeHead(response.status, Object.fromEntries(response.headers.entries()));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
}

it('serves a webhook through the bundled ingest handler on a plain node:http server', async () => {
  const runtime = await import(dist('runtime.js'));
  const { createIngest } = await import(dist('handlers/ingest.js'));
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const gw = await runtime.createGateway(runtime.loadConfig({ DATABASE_PATH: join(tmp.dir, 'b.db'), PROCESSOR: 'false', LOG_LEVEL: 'error' }));
  cleanups.push(() => gw.stop());
  const ingest = createIngest({
    committer: gw.committer,
    maxBodyBytes: 1024,
    now: Date.now,
    metrics: gw.metrics,
    log: gw.log,
  });
  const server: Server = nodeAdapter((req) => ingest.fetch(req));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  const { port } = server.address() as AddressInfo;

  const res = await fetch(`http://127.0.0.1:${port}/webhook/bundled/path`, { method: 'POST', body: '{"hello":"bundle"}', headers: { 'content-type': 'application/json' } });
  expect(res.status).toBe(202);
  const body = await res.json();
  expect(body).toMatchObject({ status: 'accepted', message: 'Webhook queued for processing' });
  const rows = await gw.store.read('SELECT endpoint, decode(raw_body) AS body FROM webhooks_raw WHERE id = $1', [body.webhook_id]);
  expect(rows).toEqual([{ endpoint: 'bundled/path', body: '{"hello":"bundle"}' }]);

  const tooBig = await fetch(`http://127.0.0.1:${port}/webhook/bundled`, { method: 'POST', body: 'x'.repeat(2000) });
  expect(tooBig.status).toBe(413);
  expect((await tooBig.json()).error.code).toBe('payload_too_large');
});
