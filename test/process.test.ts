// Crashes, shutdowns and the one-writer lock, with the gateway as a real child process.
import { DuckDBInstance } from '@duckdb/node-api';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startTarget, tempDir, TEST_ADMIN_TOKEN, type Target } from './helpers.js';
import { burst, postJson, spawnGateway, type Child } from './process-helpers.js';

const children: Child[] = [];
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function gateway(env: Record<string, string>) {
  const c = await spawnGateway(env);
  children.push(c);
  return c;
}

async function deliveredIds(t: Target): Promise<Set<number>> {
  return new Set(t.received.map((r) => Number(r.headers['x-webhook-id'])));
}

async function readDb(path: string, sql: string) {
  const db = await DuckDBInstance.create(path);
  const conn = await db.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJS();
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

describe('the gateway process', () => {
  it('loses nothing acknowledged when SIGKILLed mid-burst, and delivers all of it after restart', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const t = await startTarget();
    cleanups.push(t.close);
    const env = { DATABASE_PATH: join(tmp.dir, 'g.db'), LEASE_MS: '2000', RETRY_INTERVAL_MS: '200' };
    const first = await gateway(env);
    expect((await postJson(first.url, '/routing-rules', { rule_name: 'all', filter_query: 'true', transform_query: 'SELECT payload', target_url: t.url })).status).toBe(201);

    let killed = false;
    const result = await burst(first.url, 3000, 50, (acked) => {
      if (!killed && acked >= 800) {
        killed = true;
        first.proc.kill('SIGKILL');
      }
    });
    await first.exited;
    expect(killed).toBe(true);
    expect(result.acked.length).toBeGreaterThanOrEqual(800);

    const second = await gateway(env);
    // Every acknowledged webhook is there...
    const missing: number[] = [];
    for (const id of result.acked) {
      const s = await fetch(`${second.url}/status/${id}`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
      if (s.status !== 200) missing.push(id);
      await s.arrayBuffer();
    }
    expect(missing).toEqual([]);
    // ...and reaches the target at least once (in-flight ones through lease expiry).
    await eventually(async () => {
      const got = await deliveredIds(t);
      return result.acked.every((id) => got.has(id));
    }, 40_000, 'every acknowledged webhook to be delivered');
  });

  it('exits 0 on SIGTERM under load, losing nothing acknowledged and leaving no lease behind', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const t = await startTarget(async () => {
      await new Promise((r) => setTimeout(r, 20)); // slow target: deliveries are in flight at shutdown
      return 200;
    });
    cleanups.push(t.close);
    const dbPath = join(tmp.dir, 'g.db');
    const gw = await gateway({ DATABASE_PATH: dbPath });
    await postJson(gw.url, '/routing-rules', { rule_name: 'all', filter_query: 'true', transform_query: 'SELECT payload', target_url: t.url });
    let signalled = false;
    const result = await burst(gw.url, 3000, 50, (acked) => {
      if (!signalled && acked >= 500) {
        signalled = true;
        gw.proc.kill('SIGTERM');
      }
    });
    expect(await gw.exited).toBe(0);
    expect(gw.stderr()).toBe('');
    const stored = await readDb(dbPath, 'SELECT id FROM webhooks');
    const ids = new Set(stored.map((r) => Number(r.id)));
    expect(result.acked.filter((id) => !ids.has(id))).toEqual([]);
    expect(await readDb(dbPath, "SELECT count(*)::INT AS n FROM deliveries WHERE status = 'in_flight' OR lease_token IS NOT NULL")).toEqual([{ n: 0 }]);
  });

  it('refuses to start on a database file another process holds, with one clear line and a non-zero exit', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const env = { DATABASE_PATH: join(tmp.dir, 'g.db') };
    await gateway(env);
    const second = spawnGateway(env);
    await expect(second).rejects.toThrow(/exited with 3/);
    await second.catch((err: Error) => {
      expect(err.message).toMatch(/is in use by another process \(PID \d+\); only one duckhook may open it/);
    });
  });
});
