// POST /admin/sql: read-only SQL over the live database, rows as JSON with a cap.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createRule, startGateway, startTarget, tempDir, type TestGateway } from './helpers.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

it("answers the seed's runbook queries while the gateway runs", async () => {
  const t = await startTarget(() => 500);
  gw = await startGateway({}, { realClock: true });
  await createRule(gw, { rule_name: 'failing', filter_query: 'true', target_url: t.url, retry_policy: { max_retries: 0 } });
  await gw.post('/webhook/a', { x: 1 });
  await gw.post('/webhook/a', { x: 2 });
  await gw.post('/drain', {});
  const errors = await gw.post('/admin/sql', {
    sql: `SELECT error_message, COUNT(*) as count, MIN(processing_started_at) as first_occurrence, MAX(processing_started_at) as last_occurrence
          FROM webhook_processing_log
          WHERE error_message IS NOT NULL AND processing_started_at > CURRENT_TIMESTAMP - INTERVAL '1 hour'
          GROUP BY error_message ORDER BY count DESC`,
  });
  expect(errors.status).toBe(200);
  expect(errors.json.rows).toEqual([{ error_message: 'target answered 500', count: 2, first_occurrence: expect.any(String), last_occurrence: expect.any(String) }]);
  expect(errors.json.columns.map((c: { name: string }) => c.name)).toEqual(['error_message', 'count', 'first_occurrence', 'last_occurrence']);
  const statuses = await gw.post('/admin/sql', { sql: 'SELECT status, COUNT(*) AS count FROM raw_webhooks GROUP BY status' });
  expect(statuses.json.rows).toEqual([{ status: 'failed', count: 2 }]);
  const rules = await gw.post('/admin/sql', { sql: "WITH r AS (SELECT * FROM routing_rules) SELECT rule_name, is_active, priority FROM r WHERE rule_name = 'failing';" });
  expect(rules.json.rows).toEqual([{ rule_name: 'failing', is_active: true, priority: 100 }]);
  await t.close();
});

it('caps the rows it returns', async () => {
  gw = await startGateway({ ADMIN_SQL_MAX_ROWS: '50' });
  const res = await gw.post('/admin/sql', { sql: 'SELECT * FROM range(100000) t(i)' });
  expect(res.json).toMatchObject({ row_count: 50, truncated: true });
  expect(res.json.rows[49]).toEqual({ i: 49 });
  expect((await gw.post('/admin/sql', { sql: 'SELECT * FROM range(10) t(i)', max_rows: 5 })).json).toMatchObject({ row_count: 5, truncated: true });
  expect((await gw.post('/admin/sql', { sql: 'SELECT 1 AS one' })).json).toMatchObject({ rows: [{ one: 1 }], truncated: false });
});

it('refuses anything that writes, attaches, copies, changes settings or is more than one statement', async () => {
  gw = await startGateway();
  await gw.post('/webhook/a', { x: 1 });
  const tmp = tempDir();
  const out = join(tmp.dir, 'out.csv');
  const refused: [string, string][] = [
    ["INSERT INTO webhooks (id, received_at, source, endpoint, headers) VALUES (99, now(), 'a', 'a', '{}')", 'sql_not_read_only'],
    ["UPDATE routing_rules SET is_active = false", 'sql_not_read_only'],
    ['DELETE FROM webhooks', 'sql_not_read_only'],
    [`COPY webhooks TO '${out}'`, 'sql_not_read_only'],
    [`ATTACH '${join(tmp.dir, 'x.db')}' AS x`, 'sql_not_read_only'],
    ['SET threads = 1', 'sql_not_read_only'],
    ["PRAGMA database_size", 'sql_not_read_only'],
    ['CREATE TABLE evil (a INT)', 'sql_not_read_only'],
    ['DROP TABLE webhooks', 'sql_not_read_only'],
    ['INSTALL httpfs', 'sql_not_read_only'],
    ['SELECT 1; DELETE FROM webhooks', 'sql_multiple_statements'],
    ['SELECT 1; SELECT 2', 'sql_multiple_statements'],
    ["SELECT * FROM read_csv('/etc/passwd')", 'sql_function_refused'],
    ["SELECT * FROM read_text('/etc/passwd')", 'sql_function_refused'],
    ["SELECT * FROM glob('/etc/*')", 'sql_function_refused'],
    ['SELEC nonsense', 'sql_invalid'],
    ['SELECT no_such_column FROM webhooks', 'sql_failed'],
  ];
  for (const [sql, code] of refused) {
    const res = await gw.post('/admin/sql', { sql });
    expect(res.status, sql).toBe(400);
    expect(res.json.error.code, sql).toBe(code);
  }
  expect(existsSync(out)).toBe(false);
  expect((await gw.post('/admin/sql', { sql: 'SELECT count(*) AS n FROM webhooks' })).json.rows).toEqual([{ n: 1 }]);
  expect((await gw.post('/admin/sql', { sql: 'SELECT count(*) AS n FROM routing_rules' })).status).toBe(200);
  // The gateway keeps working after all that.
  expect((await gw.post('/webhook/a', { x: 2 })).status).toBe(202);
  tmp.cleanup();
});

it('stops a query that runs too long', async () => {
  gw = await startGateway({ ADMIN_SQL_TIMEOUT_MS: '200' });
  const res = await gw.post('/admin/sql', { sql: 'SELECT count(*) FROM range(100000000000) a' });
  expect(res.json.error.code).toBe('sql_timeout');
  expect((await gw.post('/admin/sql', { sql: 'SELECT 1 AS ok' })).json.rows).toEqual([{ ok: 1 }]);
});
