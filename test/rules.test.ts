// Routing rules through the admin API: validation on every write, the sandbox against malicious
// SQL (refused on save, harmless when forced into the table), fan-out order, toggles, backtests,
// rules as files.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRule, startGateway, targetsClosedAfterEach, tempDir, type TestGateway } from './helpers.js';

const target = targetsClosedAfterEach();
let gw: TestGateway | undefined;
const cleanups: (() => void)[] = [];
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  for (const c of cleanups.splice(0)) c();
});

const call = async (g: TestGateway, method: string, path: string, body?: unknown) => {
  const res = await fetch(g.url + path, {
    method,
    headers: { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
};

const orders = "json_extract_string(payload, '$.event_type') = 'order.created'";

/** Everything issue 3 names as malicious, as filters (and one as a transform). */
function maliciousRules(dir: string) {
  const out = join(dir, 'stolen.csv');
  const attached = join(dir, 'attached.db');
  return {
    files: [out, attached],
    rules: [
      { name: 'read_csv', filter: "(SELECT count(*) FROM read_csv('/etc/passwd')) > 0" },
      { name: 'read_text', filter: "(SELECT content FROM read_text('/etc/passwd')) IS NOT NULL" },
      { name: 'read_text_transform', filter: 'true', transform: "SELECT (SELECT content FROM read_text('/etc/passwd')) AS passwd" },
      { name: 'glob', filter: "(SELECT count(*) FROM glob('/etc/*')) > 0" },
      { name: 'attach', filter: `true; ATTACH '${attached}' AS evil` },
      { name: 'copy', filter: `true; COPY (SELECT 42) TO '${out}'` },
      { name: 'install', filter: 'true; INSTALL httpfs' },
      { name: 'set', filter: "true; SET enable_external_access = true" },
      { name: 'drop', filter: '1=1; DROP TABLE routing_rules' },
      { name: 'own_tables', filter: '(SELECT count(*) FROM routing_rules) > 0' },
      { name: 'own_webhooks', filter: '(SELECT count(*) FROM webhooks) >= 0' },
      { name: 'other_webhooks', filter: 'true', transform: 'SELECT (SELECT list(payload) FROM batch) AS everyone' },
      { name: 'breakout', filter: 'true) UNION ALL SELECT webhook_id, NULL FROM batch WHERE (true' },
      { name: 'recursive', filter: '(WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t) > 0' },
    ],
  };
}

describe('rules API', () => {
  it('creates, reads, replaces, patches and deletes a rule; names are unique', async () => {
    gw = await startGateway();
    const id = await createRule(gw, { rule_name: 'orders', filter_query: orders, target_url: 'http://127.0.0.1:9/a', priority: 5 });
    const got = await call(gw, 'GET', `/routing-rules/${id}`);
    expect(got.json).toMatchObject({ id, rule_name: 'orders', priority: 5, transform_query: 'SELECT payload', is_active: true, error_count: 0, last_error: null });

    const put = await call(gw, 'PUT', `/routing-rules/${id}`, { rule_name: 'orders2', filter_query: 'true', target_url: 'http://127.0.0.1:9/b' });
    expect(put.status).toBe(200);
    expect(put.json.rule).toMatchObject({ rule_name: 'orders2', filter_query: 'true', priority: 100, target_url: 'http://127.0.0.1:9/b' });

    const patch = await call(gw, 'PATCH', `/routing-rules/${id}`, { priority: 7, transform_query: "SELECT payload->>'x' AS x" });
    expect(patch.json.rule).toMatchObject({ rule_name: 'orders2', filter_query: 'true', priority: 7, transform_query: "SELECT payload->>'x' AS x" });

    const badPatch = await call(gw, 'PATCH', `/routing-rules/${id}`, { filter_query: 'nope_col > 1' });
    expect(badPatch.status).toBe(400);
    expect(badPatch.json.error).toMatchObject({ code: 'rule_invalid', message: expect.stringMatching(/nope_col/) });

    await createRule(gw, { rule_name: 'other', filter_query: 'true', target_url: 'http://127.0.0.1:9/c' });
    expect((await gw.post('/routing-rules', { rule_name: 'other', filter_query: 'true', target_url: 'http://127.0.0.1:9/c' })).status).toBe(409);
    const clash = await call(gw, 'PATCH', `/routing-rules/${id}`, { rule_name: 'other' });
    expect(clash.status).toBe(409);
    expect(clash.json.error.code).toBe('rule_exists');

    expect((await call(gw, 'DELETE', `/routing-rules/${id}`)).status).toBe(200);
    expect((await call(gw, 'GET', `/routing-rules/${id}`)).json.error.code).toBe('not_found');
    expect((await call(gw, 'DELETE', `/routing-rules/${id}`)).status).toBe(404);
    // A deleted rule's id is never handed out again.
    const next = await createRule(gw, { rule_name: 'again', filter_query: 'true', target_url: 'http://127.0.0.1:9/d' });
    expect(next).toBeGreaterThan(id + 1);
  });

  it('validates on save: one expression, one SELECT list, an absolute http(s) URL', async () => {
    gw = await startGateway();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ filter_query: 'true, false' }, /STRUCT/],
      [{ filter_query: 'true), (false' }, /exactly one SQL expression/],
      [{ filter_query: 'true', transform_query: 'SELECT 1 AS a FROM batch' }, /without FROM/],
      [{ filter_query: 'true', transform_query: 'DELETE FROM batch' }, /not a SELECT list/],
      [{ filter_query: 'true', transform_query: 'SELECT 1; SELECT 2' }, /exactly one statement/],
      [{ filter_query: 'true', target_url: '/relative' }, /absolute http/],
      [{ filter_query: "json_extract_string(payload, '$.a') = 'x' AND" }, /does not parse/],
    ];
    for (const [fields, reason] of cases) {
      const res = await gw.post('/routing-rules', { rule_name: 'r', target_url: 'http://127.0.0.1:9/x', ...fields });
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect(res.json.error.code).toBe('rule_invalid');
      expect(res.json.error.message).toMatch(reason);
    }
    // The dry run uses test_payload, and reports what the rule did with it.
    const ok = await gw.post('/routing-rules', {
      rule_name: 'ok', filter_query: orders, transform_query: "SELECT json_extract(payload, '$.order_id') AS id",
      target_url: 'http://127.0.0.1:9/x', test_payload: { event_type: 'order.created', order_id: 3 },
    });
    expect(ok.json.test_result).toEqual({ matched: true, body: '{"id":3}' });
  });

  it('refuses every malicious rule on save with rule_invalid', async () => {
    gw = await startGateway({ RULE_TIMEOUT_MS: '300' });
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const { rules, files } = maliciousRules(tmp.dir);
    for (const r of rules) {
      const res = await gw.post('/routing-rules', { rule_name: r.name, filter_query: r.filter, transform_query: r.transform, target_url: 'http://127.0.0.1:9/x' });
      expect(res.status, r.name).toBe(400);
      expect(res.json.error.code, r.name).toBe('rule_invalid');
    }
    expect((await gw.get('/routing-rules')).json.rules).toEqual([]);
    for (const f of files) expect(existsSync(f)).toBe(false);
  });

  it('makes malicious rules forced into routing_rules harmless: errors recorded, nothing read or written, the queue flows', async () => {
    const t = await target();
    gw = await startGateway({ RULE_TIMEOUT_MS: '300' });
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const { rules, files } = maliciousRules(tmp.dir);
    const good = await createRule(gw, { rule_name: 'good', filter_query: 'true', transform_query: "SELECT payload->>'n' AS n", target_url: t.url, priority: 1 });
    let id = 100;
    for (const r of rules) {
      await gw.gateway.store.read(
        `INSERT INTO routing_rules (id, rule_name, filter_query, transform_query, target_url, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, now(), now())`,
        [id++, r.name, r.filter, r.transform ?? 'SELECT payload', t.url],
      );
    }
    for (let i = 0; i < 5; i++) expect((await gw.post('/webhook/shop', { n: i })).status).toBe(202);
    const started = Date.now();
    const drained = await gw.post('/drain', { max: 100 });
    expect(drained.json).toMatchObject({ routed: 5, deliveries_created: 5, delivered: 5 });
    expect(Object.keys(drained.json.rule_errors).sort()).toEqual(rules.map((r) => r.name).sort());
    expect(drained.json.rule_errors.recursive).toMatch(/timed out after 300 ms/);
    // Only the recursive CTE ran at all (and was cut off); the rest were refused before running.
    expect(Date.now() - started).toBeLessThan(5_000);
    // The good rule delivered everything; no body carries anything it should not.
    expect(t.received.map((r) => JSON.parse(r.body.toString()).n).sort()).toEqual(['0', '1', '2', '3', '4']);
    for (const r of t.received) expect(r.body.toString()).not.toMatch(/root:|everyone/);
    // Nothing written: no files, the table is still there, no setting changed.
    for (const f of files) expect(existsSync(f)).toBe(false);
    const listed = (await gw.get('/routing-rules')).json.rules as { rule_name: string; error_count: number; last_error: string | null }[];
    expect(listed).toHaveLength(rules.length + 1);
    // Each failure is recorded against its rule, with the id range to replay once it is fixed.
    for (const r of listed.filter((x) => x.rule_name !== 'good')) {
      expect(r.error_count, r.rule_name).toBe(1);
      expect(r.last_error, r.rule_name).toBeTruthy();
    }
    const errors = await call(gw, 'GET', '/routing-rules/100/errors');
    expect(errors.json.failures[0]).toMatchObject({ first_webhook_id: 1, last_webhook_id: 5, webhooks: 5, replay: { where: 'id BETWEEN 1 AND 5', rule_id: 100 } });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/webhook_rule_errors_total\{rule_name="recursive"\} 1/);
    expect(metrics).toMatch(/webhook_rule_errors_total\{rule_name="read_csv"\} 1/);
    // The next batch still flows.
    await gw.post('/webhook/shop', { n: 'later' });
    expect((await gw.post('/drain', {})).json).toMatchObject({ routed: 1, delivered: 1 });
    const s = await gw.get('/status/6');
    expect(s.json.deliveries.map((d: { rule_id: number }) => d.rule_id)).toEqual([good]);
    expect(Object.keys(s.json.routing.rule_errors)).toContain('recursive');
  });
});

describe('routing', () => {
  it('fans out in priority order, and a priority change or toggle applies from the next batch', async () => {
    const seen: string[] = [];
    const t = await target((_n, r) => {
      seen.push(r.path);
      return 200;
    });
    gw = await startGateway({ DELIVERY_CONCURRENCY: '1' });
    const a = await createRule(gw, { rule_name: 'a', filter_query: 'true', target_url: `${t.url}/a`, priority: 30 });
    await createRule(gw, { rule_name: 'b', filter_query: 'true', target_url: `${t.url}/b`, priority: 20 });
    await createRule(gw, { rule_name: 'c', filter_query: "source = 'shop'", target_url: `${t.url}/c`, priority: 10 });
    await gw.post('/webhook/shop', { n: 1 });
    await gw.post('/drain', {});
    expect(seen).toEqual(['/a', '/b', '/c']);
    const s = await gw.get('/status/1');
    expect(s.json.deliveries.map((d: { rule_name: string }) => d.rule_name)).toEqual(['a', 'b', 'c']);

    await call(gw, 'PATCH', `/routing-rules/${a}`, { priority: 1 });
    await gw.put(`/routing-rules/${a}/toggle`);
    await gw.post('/webhook/shop', { n: 2 });
    await gw.post('/drain', {});
    expect(seen.slice(3)).toEqual(['/b', '/c']);
    await gw.put(`/routing-rules/${a}/toggle`);
    await gw.post('/webhook/shop', { n: 3 });
    await gw.post('/drain', {});
    expect(seen.slice(5)).toEqual(['/b', '/c', '/a']);
  });
});

describe('backtest', () => {
  async function fixture(g: TestGateway) {
    // 12 order.created (ids 1-12), 6 refund.created, 9 other, spread over three hours.
    const kinds = [...Array(12).fill('order.created'), ...Array(6).fill('refund.created'), ...Array(9).fill('ping')];
    for (const [i, kind] of kinds.entries()) {
      if (i === 9 || i === 18) g.clock.advance(3_600_000);
      expect((await g.post(`/webhook/${kind === 'ping' ? 'monitor' : 'shop'}`, { event_type: kind, n: i })).status).toBe(202);
    }
  }

  it('counts matches exactly over stored history, samples transformed bodies, and reports shadowing', async () => {
    gw = await startGateway();
    await fixture(gw);
    const existing = await createRule(gw, { rule_name: 'all_shop', filter_query: "source = 'shop'", target_url: 'http://127.0.0.1:9/x', priority: 50 });
    await createRule(gw, { rule_name: 'refunds', filter_query: "(payload->>'event_type') = 'refund.created'", target_url: 'http://127.0.0.1:9/y' });
    const res = await gw.post('/routing-rules/test', {
      filter_query: orders,
      transform_query: "SELECT (payload->>'n')::INT AS n",
      sample: 3,
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ scanned: 27, matched: 12, complete: true, window: { first_webhook_id: 1, last_webhook_id: 27 } });
    expect(res.json.sample).toEqual([{ webhook_id: 12, body: { n: 11 } }, { webhook_id: 11, body: { n: 10 } }, { webhook_id: 10, body: { n: 9 } }]);
    expect(res.json.shadowing).toEqual([{ rule_id: existing, rule_name: 'all_shop', priority: 50, also_matched: 12 }]);

    // A window (the second hour) and a limit (newest first).
    const hour = Date.parse('2026-01-01T01:00:00Z');
    const windowed = await gw.post('/routing-rules/test', { filter_query: orders, since: new Date(hour).toISOString(), until: new Date(hour + 3_600_000).toISOString() });
    expect(windowed.json).toMatchObject({ scanned: 9, matched: 3 });
    const limited = await gw.post('/routing-rules/test', { filter_query: "source = 'shop'", limit: 10 });
    expect(limited.json).toMatchObject({ scanned: 10, matched: 1 });

    // An existing rule, tested in place: it is not listed as shadowing itself.
    const own = await gw.post(`/routing-rules/${existing}/test`, {});
    expect(own.json).toMatchObject({ scanned: 27, matched: 18 });
    expect(own.json.shadowing.map((s: { rule_name: string }) => s.rule_name)).toEqual(['refunds']);
    expect(own.json.shadowing[0].also_matched).toBe(6);

    const bad = await gw.post('/routing-rules/test', { filter_query: "(SELECT count(*) FROM read_text('/etc/passwd')) > 0" });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('rule_invalid');
  });

  it('works in chunks: the same counts with a chunk of 100 webhooks', async () => {
    gw = await startGateway({ BACKTEST_CHUNK_ROWS: '100' });
    await Promise.all(Array.from({ length: 450 }, (_, i) => gw!.post('/webhook/shop', { event_type: i % 3 === 0 ? 'order.created' : 'other', n: i })));
    const res = await gw.post('/routing-rules/test', { filter_query: orders, sample: 0 });
    expect(res.json).toMatchObject({ scanned: 450, matched: 150, sample: [] });
  });
});

describe('rules as files', () => {
  it('exports and imports by rule_name, idempotently', async () => {
    gw = await startGateway();
    await createRule(gw, { rule_name: 'one', filter_query: orders, target_url: 'http://127.0.0.1:9/1', priority: 3, retry_policy: { max_retries: 2 } });
    await createRule(gw, { rule_name: 'two', filter_query: 'true', target_url: 'http://127.0.0.1:9/2' });
    const exported = (await gw.get('/routing-rules/export')).json;
    expect(exported.rules.map((r: { rule_name: string }) => r.rule_name).sort()).toEqual(['one', 'two']);
    expect(exported.rules.find((r: { rule_name: string }) => r.rule_name === 'one')).toEqual({
      rule_name: 'one', description: '', filter_query: orders, transform_query: 'SELECT payload', target_url: 'http://127.0.0.1:9/1',
      priority: 3, timeout_seconds: 30, retry_policy: { max_retries: 2 }, is_active: true, forward_headers: null,
    });

    const again = await gw.post('/routing-rules/import', exported);
    expect(again.json).toEqual({ created: [], updated: [], unchanged: expect.arrayContaining(['one', 'two']) });

    const changed = structuredClone(exported);
    changed.rules[0].priority = 99;
    changed.rules.push({ rule_name: 'three', filter_query: 'false', target_url: 'http://127.0.0.1:9/3', is_active: false });
    const res = await gw.post('/routing-rules/import', changed);
    expect(res.json.created).toEqual(['three']);
    expect(res.json.updated).toHaveLength(1);
    expect((await gw.post('/routing-rules/import', changed)).json.unchanged).toHaveLength(3);
    const rules = (await gw.get('/routing-rules')).json.rules;
    expect(rules.find((r: { rule_name: string }) => r.rule_name === 'three').is_active).toBe(false);

    // One invalid rule: nothing from the file is written.
    const bad = await gw.post('/routing-rules/import', [{ rule_name: 'four', filter_query: 'true', target_url: 'http://127.0.0.1:9/4' }, { rule_name: 'five', filter_query: 'nope(', target_url: 'http://127.0.0.1:9/5' }]);
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/rules\[1\] \(five\)/);
    expect((await gw.get('/routing-rules')).json.rules).toHaveLength(3);
  });

  it('loads RULES_FILE at start and routes by it', async () => {
    const t = await target();
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const file = join(tmp.dir, 'rules.json');
    writeFileSync(file, JSON.stringify({ rules: [{ rule_name: 'from_file', filter_query: orders, target_url: t.url }] }));
    gw = await startGateway({ RULES_FILE: file });
    expect((await gw.get('/routing-rules')).json.rules.map((r: { rule_name: string }) => r.rule_name)).toEqual(['from_file']);
    await gw.post('/webhook/shop', { event_type: 'order.created' });
    await gw.post('/drain', {});
    expect(t.received).toHaveLength(1);
  });
});

describe('admin auth', () => {
  it('answers 401 on every admin route without the token or with a wrong one; health, metrics and ingest stay open', async () => {
    gw = await startGateway();
    const routes: [string, string][] = [
      ['GET', '/routing-rules'], ['POST', '/routing-rules'], ['GET', '/routing-rules/1'], ['PUT', '/routing-rules/1'],
      ['PATCH', '/routing-rules/1'], ['DELETE', '/routing-rules/1'], ['PUT', '/routing-rules/1/toggle'],
      ['POST', '/routing-rules/test'], ['POST', '/routing-rules/1/test'], ['GET', '/routing-rules/export'],
      ['POST', '/routing-rules/import'], ['GET', '/routing-rules/1/errors'], ['POST', '/webhooks/1/replay'], ['POST', '/replay'],
      ['POST', '/deliveries/1/retry'], ['POST', '/admin/sql'], ['POST', '/drain'], ['POST', '/retry'], ['GET', '/status/1'],
    ];
    for (const [method, path] of routes) {
      for (const auth of [undefined, 'Bearer wrong-token', 'test-admin-token']) {
        const res = await fetch(gw.url + path, { method, headers: auth ? { authorization: auth } : {} });
        expect(res.status, `${method} ${path} ${auth}`).toBe(401);
        expect(((await res.json()) as any).error.code).toBe('unauthorized');
      }
    }
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
    expect((await fetch(`${gw.url}/metrics`)).status).toBe(200);
    expect((await fetch(`${gw.url}/webhook/x`, { method: 'POST', body: '{}' })).status).toBe(202);
  });
});
