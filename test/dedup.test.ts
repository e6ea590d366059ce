// De-duplication through the real HTTP interface: concurrent copies in one group commit, header
// and JSON-path keys, the window, a restart, and keys older than what memory holds.
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startGateway, tempDir, type TestGateway } from './helpers.js';

const open: TestGateway[] = [];
afterEach(async () => {
  for (const g of open.splice(0)) await g.close();
});

async function gateway(env: Record<string, string> = {}) {
  const g = await startGateway(env);
  open.push(g);
  return g;
}

async function count(g: TestGateway, where = 'true'): Promise<number> {
  const [row] = await g.gateway.store.read(`SELECT count(*)::INT AS n FROM webhooks WHERE ${where}`);
  return row!.n as number;
}

it('stores exactly one of 20 concurrent copies of a key, and answers all 20 with its id', async () => {
  const g = await gateway({ COMMIT_WINDOW_MS: '20' });
  await g.put('/sources/gh', { verification: { scheme: 'none' }, dedup: { header: 'X-GitHub-Delivery' } });
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => g.post('/webhook/gh/push', { copy: i }, { 'x-github-delivery': 'delivery-1' })),
  );
  expect(await count(g)).toBe(1);
  const ids = new Set(results.map((r) => r.json.webhook_id));
  expect(ids.size).toBe(1);
  expect(results.filter((r) => r.status === 202)).toHaveLength(1);
  const duplicates = results.filter((r) => r.status === 200);
  expect(duplicates).toHaveLength(19);
  expect(duplicates[0]!.json).toEqual({ status: 'duplicate', webhook_id: [...ids][0] });
});

it('de-duplicates by a JSON path in the body, per source', async () => {
  const g = await gateway();
  await g.put('/sources/stripe', { verification: { scheme: 'none' }, dedup: { json_path: '$.data.object["id"]' } });
  const first = await g.post('/webhook/stripe', { data: { object: { id: 'evt_1' } }, n: 1 });
  const again = await g.post('/webhook/stripe', { data: { object: { id: 'evt_1' } }, n: 2 });
  const other = await g.post('/webhook/stripe', { data: { object: { id: 'evt_2' } } });
  const noKey = await g.post('/webhook/stripe', { data: {} });
  const otherSource = await g.post('/webhook/elsewhere', { data: { object: { id: 'evt_1' } } });
  expect([first.status, again.status, other.status, noKey.status, otherSource.status]).toEqual([202, 200, 202, 202, 202]);
  expect(again.json).toEqual({ status: 'duplicate', webhook_id: first.json.webhook_id });
  expect(await count(g)).toBe(4);
});

it('stores a key again once its window has passed', async () => {
  const g = await gateway();
  await g.put('/sources/shop', { verification: { scheme: 'none' }, dedup: { header: 'X-Shopify-Event-Id' }, dedup_window_seconds: 60 });
  const send = () => g.post('/webhook/shop', { a: 1 }, { 'x-shopify-event-id': 'e-1' });
  const first = await send();
  g.clock.advance(59_000);
  expect((await send()).json).toEqual({ status: 'duplicate', webhook_id: first.json.webhook_id });
  g.clock.advance(2_000);
  const later = await send();
  expect(later.status).toBe(202);
  expect(later.json.webhook_id).not.toBe(first.json.webhook_id);
});

it('remembers keys across a restart', async () => {
  const tmp = tempDir();
  try {
    const env = { DATABASE_PATH: join(tmp.dir, 'dedup.db') };
    const g1 = await startGateway(env);
    await g1.put('/sources/sw', { verification: { scheme: 'none' }, dedup: { header: 'webhook-id' } });
    const first = await g1.post('/webhook/sw', { a: 1 }, { 'webhook-id': 'msg_restart' });
    await g1.close();
    const g2 = await gateway(env);
    const again = await g2.post('/webhook/sw', { a: 1 }, { 'webhook-id': 'msg_restart' });
    expect(again.json).toEqual({ status: 'duplicate', webhook_id: first.json.webhook_id });
    expect(await count(g2)).toBe(1);
  } finally {
    tmp.cleanup();
  }
});

it('finds keys that no longer fit in memory in DuckDB', async () => {
  const g = await gateway({ DEDUP_MEMORY_KEYS: '3' });
  await g.put('/sources/gh', { verification: { scheme: 'none' }, dedup: { header: 'X-GitHub-Delivery' } });
  const ids: number[] = [];
  for (let i = 0; i < 10; i++) {
    g.clock.advance(1000);
    ids.push((await g.post('/webhook/gh', { i }, { 'x-github-delivery': `d-${i}` })).json.webhook_id);
  }
  g.clock.advance(1000);
  const again = await g.post('/webhook/gh', { i: 0 }, { 'x-github-delivery': 'd-0' });
  expect(again.json).toEqual({ status: 'duplicate', webhook_id: ids[0] });
  expect(await count(g)).toBe(10);
});
