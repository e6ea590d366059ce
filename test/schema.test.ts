// Migrations and the seed's SQL surface, on a real DuckDB file.
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { migrate } from '../runtime/db.js';
import { renderSqlModule } from '../sql/build.mjs';
import { migrations } from '../sql/index.js';
import { createRule, startGateway, startTarget, tempDir, type TestGateway } from './helpers.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

it('sql/index.ts is up to date with the .sql files (run `npm run sql`)', () => {
  expect(readFileSync('sql/index.ts', 'utf8')).toBe(renderSqlModule());
});

it('applies migrations once, records them, and is safe to re-run', async () => {
  const tmp = tempDir();
  const db = await DuckDBInstance.create(join(tmp.dir, 'm.db'));
  const conn = await db.connect();
  expect(await migrate(conn, Date.now())).toEqual(migrations.map((m) => m.version));
  expect(await migrate(conn, Date.now())).toEqual([]);
  const rows = (await conn.runAndReadAll('SELECT version, name FROM schema_migrations')).getRowObjectsJS();
  expect(rows).toEqual(migrations.map((m) => ({ version: m.version, name: m.name })));
  expect(rows.slice(0, 2)).toEqual([{ version: 1, name: 'init' }, { version: 2, name: 'rules_replay' }]);
  conn.closeSync();
  db.closeSync();
  tmp.cleanup();
});

it("answers the seed's runbook SQL through the seed-compatible tables and views", async () => {
  const t = await startTarget(() => 500);
  gw = await startGateway({}, { realClock: true });
  await createRule(gw, { rule_name: 'failing', filter_query: 'true', transform_query: 'SELECT payload', target_url: t.url, retry_policy: { max_retries: 0 } });
  await gw.post('/webhook/a', { x: 1 });
  await gw.post('/webhook/a', { x: 2 });
  await gw.post('/drain', {});
  // The seed's "top errors in the last hour" query, verbatim.
  const errors = await gw.gateway.store.read(`
    SELECT error_message, COUNT(*) as count, MIN(processing_started_at) as first_occurrence, MAX(processing_started_at) as last_occurrence
    FROM webhook_processing_log
    WHERE error_message IS NOT NULL AND processing_started_at > CURRENT_TIMESTAMP - INTERVAL '1 hour'
    GROUP BY error_message ORDER BY count DESC`);
  expect(errors.map((r) => [r.error_message, Number(r.count)])).toEqual([['target answered 500', 2]]);
  const statuses = await gw.gateway.store.read('SELECT status, COUNT(*)::INT AS count FROM raw_webhooks GROUP BY status');
  expect(statuses).toEqual([{ status: 'failed', count: 2 }]);
  const rules = await gw.gateway.store.read("SELECT rule_name, is_active, priority FROM routing_rules WHERE rule_name = 'failing'");
  expect(rules).toEqual([{ rule_name: 'failing', is_active: true, priority: 100 }]);
  await t.close();
});
