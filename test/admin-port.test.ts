// ADMIN_PORT: the admin routes on a listener of their own, so the public port (ingest, health,
// metrics, summary) can be exposed alone; and unknown routes answer with an error code on either.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway, tempDir, TEST_ADMIN_TOKEN, type TestGateway } from './helpers.js';
import { postJson, spawnGateway, type Child } from './process-helpers.js';

const children: Child[] = [];
const cleanups: (() => void)[] = [];
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  for (const c of children.splice(0)) {
    c.proc.kill('SIGTERM');
    await c.exited;
  }
  for (const c of cleanups.splice(0)) c();
});

async function call(url: string, path: string, init: RequestInit = {}) {
  const res = await fetch(url + path, { ...init, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...init.headers } });
  const text = await res.text();
  return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) : text };
}

/** The admin listener's URL, from the line the gateway prints once it is bound. */
async function adminUrl(child: Child): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const m = /admin API on (http:\/\/[\d.:]+)/.exec(child.stdout());
    if (m) return m[1]!;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no admin listening line in: ${child.stdout()}`);
}

describe('ADMIN_PORT', () => {
  it('serves admin routes on the admin port only, and ingest, health and metrics on the public one', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const child = await spawnGateway({ DATABASE_PATH: join(tmp.dir, 'g.db'), ADMIN_PORT: '0', PROCESSOR: 'false' });
    children.push(child);
    const pub = child.url;
    const admin = await adminUrl(child);
    expect(admin).not.toBe(pub);

    const rule = { rule_name: 'all', filter_query: 'true', transform_query: 'SELECT payload', target_url: 'http://127.0.0.1:9/in' };
    // The public port knows no admin route, even with the right token.
    for (const [method, path] of [['GET', '/routing-rules'], ['GET', '/status/1'], ['POST', '/admin/sql'], ['POST', '/drain'], ['GET', '/sources'], ['GET', '/deliveries']]) {
      const res = await call(pub, path!, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.json.error.code).toBe('not_found');
    }
    expect((await postJson(pub, '/routing-rules', rule)).status).toBe(404);

    const created = await postJson(admin, '/routing-rules', rule);
    expect(created.status).toBe(201);
    const accepted = await postJson(pub, '/webhook/shop/orders', { event_type: 'order.created' });
    expect(accepted.status).toBe(202);
    const status = await call(admin, `/status/${accepted.json.webhook_id}`);
    expect(status.status).toBe(200);
    expect(status.json.webhook.endpoint).toBe('shop/orders');
    // Ingest is public only; health and the summary answer on both.
    expect((await postJson(admin, '/webhook/shop/orders', {})).json.error.code).toBe('not_found');
    for (const url of [pub, admin]) {
      expect((await call(url, '/health')).status).toBe(200);
      expect((await call(url, '/dashboard/summary')).json.overview.total_webhooks).toBe(1);
    }
    expect((await call(pub, '/metrics')).json).toContain('webhook_received_total');
    // The admin port still wants the token.
    expect((await fetch(`${admin}/routing-rules`)).status).toBe(401);
  });

  it('refuses an ADMIN_PORT equal to PORT with a clear message', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const start = spawnGateway({ DATABASE_PATH: join(tmp.dir, 'g.db'), PORT: '18231', ADMIN_PORT: '18231' });
    await expect(start).rejects.toThrow(/exited with 2.*ADMIN_PORT must differ from PORT/s);
  });
});

it('answers an unknown route 404 with an error code', async () => {
  gw = await startGateway();
  for (const path of ['/nope', '/webhook', '/routing-rules/1/unknown']) {
    const res = await gw.get(path);
    expect(res.status, path).toBe(404);
    expect(res.json.error.code).toBe('not_found');
  }
  const res = await fetch(`${gw.url}/metrics`, { method: 'DELETE' });
  expect(res.status).toBe(404);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
});
