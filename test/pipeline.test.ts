// The core pipeline through its HTTP interface: ingest -> drain -> delivery -> retry -> dead.
import { afterEach, describe, expect, it } from 'vitest';
import { createRule, eventually, startGateway, targetsClosedAfterEach, type TestGateway } from './helpers.js';

const target = targetsClosedAfterEach();
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const orderFilter = "json_extract_string(payload, '$.event_type') = 'order.created'";

describe('ingest', () => {
  it('answers 202 with the seed body only after the webhook is committed', async () => {
    gw = await startGateway();
    const res = await gw.post('/webhook/shop/orders', { event_type: 'order.created', order_id: 1 });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ status: 'accepted', webhook_id: 1, message: 'Webhook queued for processing' });
    const rows = await gw.gateway.store.read("SELECT source, endpoint, decode(raw_body) AS body, payload->>'order_id' AS oid FROM webhooks_raw");
    expect(rows).toEqual([{ source: 'shop', endpoint: 'shop/orders', body: '{"event_type":"order.created","order_id":1}', oid: '1' }]);
  });

  it('stores any content type as exact bytes, parsing only JSON', async () => {
    gw = await startGateway();
    const bytes = new Uint8Array([0x00, 0xff, 0xfe, 0x41, 0x0a]);
    const a = await gw.post('/webhook/bin', bytes, { 'content-type': 'application/octet-stream' });
    const b = await gw.post('/webhook/form', 'a=1&b=2', { 'content-type': 'application/x-www-form-urlencoded' });
    expect([a.status, b.status]).toEqual([202, 202]);
    const rows = await gw.gateway.store.read('SELECT id, raw_body AS body, payload, content_type FROM webhooks_raw ORDER BY id');
    expect(Buffer.from((rows[0]!.body as { bytes: Uint8Array }).bytes)).toEqual(Buffer.from(bytes));
    expect(rows[0]!.payload).toBeNull();
    expect(rows[1]!.content_type).toBe('application/x-www-form-urlencoded');
    expect(rows[1]!.payload).toBeNull();
  });

  it('keeps the exact bytes of a JSON body, whitespace and byte-order mark included', async () => {
    gw = await startGateway();
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":  1}')]);
    const spaced = Buffer.from('{ "b" :\n [1, 2] }');
    for (const body of [withBom, spaced]) {
      expect((await gw.post('/webhook/j', new Uint8Array(body), { 'content-type': 'application/json' })).status).toBe(202);
    }
    const rows = await gw.gateway.store.read('SELECT raw_body, payload->>\'a\' AS a FROM webhooks_raw ORDER BY id');
    expect(rows.map((r) => Buffer.from((r.raw_body as { bytes: Uint8Array }).bytes))).toEqual([withBom, spaced]);
  });

  it('refuses a body over MAX_BODY_BYTES with 413 payload_too_large and stores nothing', async () => {
    gw = await startGateway({ MAX_BODY_BYTES: '1024' });
    const res = await gw.post('/webhook/big', 'x'.repeat(2048), { 'content-type': 'text/plain' });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('payload_too_large');
    expect(await gw.gateway.store.read('SELECT count(*)::INT AS n FROM webhooks')).toEqual([{ n: 0 }]);
  });

  it('group-commits concurrent requests: many webhooks per transaction, as /metrics reports', async () => {
    // A wide window, so the batching shows even when this process is slow to accept the requests.
    gw = await startGateway({ COMMIT_WINDOW_MS: '50' });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => gw!.post(`/webhook/s/${i}`, { i })));
    expect(results.every((r) => r.status === 202)).toBe(true);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const sample = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    // Every webhook was in exactly one commit, and commits held many webhooks each.
    expect(sample('webhook_ingest_commit_batch_size_sum')).toBe(200);
    const commits = sample('webhook_ingest_commit_batch_size_count');
    expect(commits).toBeGreaterThan(0);
    expect(commits).toBeLessThan(50);
    expect(sample('webhook_ingest_commit_duration_seconds_count')).toBe(commits);
    expect(Number(/^webhook_ingest_commit_batch_size_bucket\{le="2"\} (\S+)$/m.exec(text)?.[1])).toBeLessThan(commits);
  });
});

describe('drain', () => {
  it('delivers 500 concurrent webhooks exactly once each, with the transformed body', async () => {
    const t = await target();
    gw = await startGateway({ PROCESSOR: 'true', BATCH_SIZE: '100' }, { realClock: true });
    await createRule(gw, {
      rule_name: 'orders',
      filter_query: orderFilter,
      transform_query: "SELECT json_extract(payload, '$.order_id') AS order_id, upper(json_extract_string(payload, '$.customer')) AS customer",
      target_url: `${t.url}/orders`,
    });
    const accepted = await Promise.all(
      Array.from({ length: 500 }, (_, i) => gw!.post('/webhook/shop', { event_type: 'order.created', order_id: i, customer: `c${i}` })),
    );
    expect(accepted.every((r) => r.status === 202)).toBe(true);
    await eventually(() => t.received.length >= 500, 30_000, '500 deliveries');
    await new Promise((r) => setTimeout(r, 300)); // would catch a duplicate delivery
    expect(t.received).toHaveLength(500);
    const bodies = t.received.map((r) => JSON.parse(r.body.toString()));
    expect(new Set(bodies.map((b) => b.order_id)).size).toBe(500);
    expect(bodies.find((b) => b.order_id === 7)).toEqual({ order_id: 7, customer: 'C7' });
    expect(t.received[0]!.headers['x-webhook-gateway']).toBe('duckhook');
    await eventually(async () => (await gw!.get(`/status/${accepted[499]!.json.webhook_id}`)).json.webhook.status === 'completed');
    for (const r of accepted.slice(0, 20)) {
      const s = await gw.get(`/status/${r.json.webhook_id}`);
      expect(s.json.webhook.status).toBe('completed');
      expect(s.json.deliveries).toHaveLength(1);
      expect(s.json.deliveries[0].status).toBe('delivered');
    }
  });

  it('fans out to every matching rule in priority order; a webhook matching none is unmatched', async () => {
    const a = await target();
    const b = await target();
    gw = await startGateway();
    await createRule(gw, { rule_name: 'low', filter_query: orderFilter, transform_query: 'SELECT payload', target_url: `${a.url}/a`, priority: 10 });
    await createRule(gw, {
      rule_name: 'high',
      filter_query: "json_extract_string(payload, '$.event_type') LIKE 'order.%'",
      transform_query: "SELECT json_extract(payload, '$.order_id') AS id",
      target_url: `${b.url}/b`,
      priority: 500,
    });
    const raw = '{"event_type":"order.created",  "order_id": 9}';
    const both = await gw.post('/webhook/shop', raw, { 'content-type': 'application/json' });
    const none = await gw.post('/webhook/shop', { event_type: 'refund.created' });
    const drained = await gw.post('/drain', { max: 10 });
    expect(drained.status).toBe(200);
    expect(drained.json).toMatchObject({ routed: 2, unmatched: 1, deliveries_created: 2, delivered: 2 });
    // `SELECT payload` forwards the exact bytes; the transform builds a new JSON body.
    expect(a.received.map((r) => r.body.toString())).toEqual([raw]);
    expect(b.received.map((r) => JSON.parse(r.body.toString()))).toEqual([{ id: 9 }]);
    const s = await gw.get(`/status/${both.json.webhook_id}`);
    expect(s.json.deliveries.map((d: { rule_name: string }) => d.rule_name)).toEqual(['high', 'low']);
    const u = await gw.get(`/status/${none.json.webhook_id}`);
    expect(u.json.webhook.status).toBe('unmatched');
    expect(u.json.routing.matched).toBe(0);
    const seed = await gw.gateway.store.read("SELECT count(*)::INT AS n FROM raw_webhooks WHERE status = 'unmatched'");
    expect(seed).toEqual([{ n: 1 }]);
  });

  it('routes each webhook once when several drains run at the same time', async () => {
    const t = await target();
    gw = await startGateway();
    await createRule(gw, { rule_name: 'all', filter_query: 'true', transform_query: 'SELECT payload', target_url: t.url });
    await Promise.all(Array.from({ length: 300 }, (_, i) => gw!.post('/webhook/x', { i })));
    const results = await Promise.all(Array.from({ length: 4 }, () => gw!.post('/drain', { max: 1000 })));
    expect(results.reduce((n, r) => n + r.json.routed, 0)).toBe(300);
    expect(results.reduce((n, r) => n + r.json.delivered, 0)).toBe(300);
    expect(t.received).toHaveLength(300);
    expect(new Set(t.received.map((r) => r.headers['x-webhook-id'])).size).toBe(300);
  });

  it('takes a toggled rule out of the next batch', async () => {
    const t = await target();
    gw = await startGateway();
    const id = await createRule(gw, { rule_name: 'all', filter_query: 'true', transform_query: 'SELECT payload', target_url: t.url });
    expect((await gw.put(`/routing-rules/${id}/toggle`)).json.is_active).toBe(false);
    await gw.post('/webhook/x', { a: 1 });
    expect((await gw.post('/drain', {})).json).toMatchObject({ routed: 1, unmatched: 1 });
    expect(t.received).toHaveLength(0);
  });

  it('rejects a rule whose SQL does not run, with DuckDB reason and rule_invalid', async () => {
    gw = await startGateway();
    const res = await gw.post('/routing-rules', { rule_name: 'bad', filter_query: 'no_such_column = 1', transform_query: 'SELECT payload', target_url: 'http://127.0.0.1:1/x' });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('rule_invalid');
    expect(res.json.error.message).toMatch(/no_such_column/);
    const url = await gw.post('/routing-rules', { rule_name: 'bad2', filter_query: 'true', target_url: 'ftp://x/y' });
    expect(url.json.error.code).toBe('rule_invalid');
    const file = await gw.post('/routing-rules', { rule_name: 'bad3', filter_query: "(SELECT count(*) FROM read_text('/etc/passwd')) > 0", target_url: 'http://127.0.0.1:1/x' });
    expect(file.status).toBe(400);
  });
});

describe('retry', () => {
  it('500, 500, 200: delivered on attempt 3, three attempts logged, delays follow the policy', async () => {
    const t = await target((n) => (n < 2 ? 500 : 200));
    gw = await startGateway();
    await createRule(gw, {
      rule_name: 'flaky',
      filter_query: 'true',
      transform_query: 'SELECT payload',
      target_url: t.url,
      retry_policy: { max_retries: 5, backoff_multiplier: 3, base_delay_seconds: 10 },
    });
    const { json } = await gw.post('/webhook/x', { n: 1 });
    expect((await gw.post('/drain', {})).json).toMatchObject({ claimed: 1, retrying: 1 });
    // Not due yet: 10 s base delay.
    gw.clock.advance(9_999);
    expect((await gw.post('/retry', {})).json.claimed).toBe(0);
    gw.clock.advance(1);
    expect((await gw.post('/retry', {})).json).toMatchObject({ claimed: 1, retrying: 1 });
    // Second failure waits base * multiplier = 30 s.
    gw.clock.advance(29_999);
    expect((await gw.post('/retry', {})).json.claimed).toBe(0);
    gw.clock.advance(1);
    expect((await gw.post('/retry', {})).json).toMatchObject({ claimed: 1, delivered: 1 });

    const s = await gw.get(`/status/${json.webhook_id}`);
    expect(s.json.webhook.status).toBe('completed');
    const d = s.json.deliveries[0];
    expect(d).toMatchObject({ status: 'delivered', attempts: 3, last_status_code: 200 });
    const log = [...d.attempts_log].reverse();
    expect(log.map((a: { attempt: number; response_status: number }) => [a.attempt, a.response_status])).toEqual([[1, 500], [2, 500], [3, 200]]);
    const gaps = log.slice(1).map((a: { started_at: string }, i: number) => Date.parse(a.started_at) - Date.parse(log[i].completed_at));
    expect(gaps).toEqual([10_000, 30_000]);
    // Every attempt carried the same delivery id, so the target can de-duplicate.
    expect(new Set(t.received.map((r) => r.headers['x-delivery-id'])).size).toBe(1);
    expect(t.received.map((r) => r.headers['x-delivery-attempt'])).toEqual(['1', '2', '3']);
    // The seed's log view answers too.
    const seedLog = await gw.gateway.store.read('SELECT attempt_number, response_status FROM webhook_processing_log WHERE webhook_id = $1 ORDER BY attempt_number', [json.webhook_id]);
    expect(seedLog).toEqual([{ attempt_number: 1, response_status: 500 }, { attempt_number: 2, response_status: 500 }, { attempt_number: 3, response_status: 200 }]);
  });

  it('dead-letters after max_retries + 1 attempts while other deliveries keep flowing', async () => {
    const down = await target(() => 503);
    const up = await target();
    gw = await startGateway();
    await createRule(gw, {
      rule_name: 'down',
      filter_query: "json_extract_string(payload, '$.to') = 'down'",
      transform_query: 'SELECT payload',
      target_url: down.url,
      retry_policy: { max_retries: 2, backoff_multiplier: 2, base_delay_seconds: 1 },
    });
    await createRule(gw, { rule_name: 'up', filter_query: "json_extract_string(payload, '$.to') = 'up'", transform_query: 'SELECT payload', target_url: up.url });
    const doomed = await gw.post('/webhook/x', { to: 'down' });
    await gw.post('/drain', {});
    for (let i = 0; i < 3; i++) {
      await gw.post('/webhook/x', { to: 'up', i });
      await gw.post('/drain', {});
      gw.clock.advance(60_000);
      await gw.post('/retry', {});
    }
    expect(down.received).toHaveLength(3);
    expect(up.received).toHaveLength(3);
    const s = await gw.get(`/status/${doomed.json.webhook_id}`);
    expect(s.json.webhook.status).toBe('failed');
    expect(s.json.deliveries[0]).toMatchObject({ status: 'dead', attempts: 3, last_status_code: 503 });
    gw.clock.advance(3_600_000);
    expect((await gw.post('/retry', {})).json.claimed).toBe(0);
    expect(down.received).toHaveLength(3);
  });

  it('honours Retry-After on 429', async () => {
    const t = await target((n) => (n === 0 ? { status: 429, headers: { 'retry-after': '120' } } : 200));
    gw = await startGateway();
    await createRule(gw, { rule_name: 'limited', filter_query: 'true', transform_query: 'SELECT payload', target_url: t.url, retry_policy: { base_delay_seconds: 1 } });
    await gw.post('/webhook/x', {});
    await gw.post('/drain', {});
    gw.clock.advance(119_000);
    expect((await gw.post('/retry', {})).json.claimed).toBe(0);
    gw.clock.advance(1_000);
    expect((await gw.post('/retry', {})).json.delivered).toBe(1);
  });

  it('does not retry a 4xx answer: the delivery is dead at once', async () => {
    const t = await target(() => 404);
    gw = await startGateway();
    await createRule(gw, { rule_name: 'gone', filter_query: 'true', transform_query: 'SELECT payload', target_url: t.url });
    await gw.post('/webhook/x', {});
    expect((await gw.post('/drain', {})).json).toMatchObject({ dead: 1 });
  });

  it('redelivers a delivery whose lease expired; a late completion with the stale token changes nothing', async () => {
    let releaseFirst!: () => void;
    const firstHangs = new Promise<void>((resolve) => (releaseFirst = resolve));
    // The first attempt hangs (a worker stuck mid-delivery); later ones answer at once.
    const t = await target(async (n) => {
      if (n === 0) await firstHangs;
      return n === 0 ? 500 : 200;
    });
    gw = await startGateway({ LEASE_MS: '60000' });
    await createRule(gw, { rule_name: 'r', filter_query: 'true', transform_query: 'SELECT payload', target_url: t.url, timeout_seconds: 30 });
    const { json } = await gw.post('/webhook/x', { a: 1 });
    const stuck = gw.post('/drain', {});
    await eventually(() => t.received.length === 1, 5_000, 'first attempt to reach the target');
    // Lease still valid: retry leaves it alone.
    gw.clock.advance(59_000);
    expect((await gw.post('/retry', {})).json).toMatchObject({ reclaimed: 0, claimed: 0 });
    // Lease expired: retry takes it back and delivers it again.
    gw.clock.advance(2_000);
    expect((await gw.post('/retry', {})).json).toMatchObject({ reclaimed: 1, claimed: 1, delivered: 1 });
    expect(t.received).toHaveLength(2);
    // The stuck worker finally hears back (a 500) and reports with its stale lease: nothing changes.
    releaseFirst();
    expect((await stuck).json).toMatchObject({ claimed: 1, stale: 1 });
    const s = await gw.get(`/status/${json.webhook_id}`);
    expect(s.json.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 1, last_status_code: 200 });
    expect(s.json.deliveries[0].attempts_log).toHaveLength(1);
    // And a hand-made late completion with that token is refused by the store too.
    const applied = await gw.gateway.store.complete([
      { deliveryId: s.json.deliveries[0].id, leaseToken: 'stale-token', startedAt: 0, completedAt: 0, statusCode: 500,
        responseBody: null, error: 'late', durationMs: 1, outcome: 'dead', nextAttemptAt: null },
    ]);
    expect(applied).toBe(0);
  });
});

describe('admin auth', () => {
  it('answers 401 unauthorized without the token or with a wrong one', async () => {
    gw = await startGateway();
    const missing = await fetch(`${gw.url}/routing-rules`);
    expect(missing.status).toBe(401);
    expect((await missing.json()).error.code).toBe('unauthorized');
    const wrong = await fetch(`${gw.url}/routing-rules`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect((await gw.get('/routing-rules')).status).toBe(200);
  });

  it('refuses admin routes when no ADMIN_TOKEN is configured, saying how to enable them', async () => {
    gw = await startGateway({ ADMIN_TOKEN: '' });
    const res = await gw.get('/routing-rules');
    expect(res.status).toBe(403);
    expect(res.json.error).toEqual({ code: 'admin_disabled', message: expect.stringMatching(/set ADMIN_TOKEN/) });
    // Ingest stays open.
    expect((await gw.post('/webhook/x', { a: 1 })).status).toBe(202);
  });
});

describe('status and health', () => {
  it('answers 404 not_found for an unknown webhook and 400 for a bad id', async () => {
    gw = await startGateway();
    expect((await gw.get('/status/999')).json.error.code).toBe('not_found');
    expect((await gw.get('/status/abc')).status).toBe(400);
  });

  it('reports healthy with the database connected and the processor running', async () => {
    gw = await startGateway({ PROCESSOR: 'true' });
    const h = await gw.get('/health');
    expect(h.status).toBe(200);
    expect(h.json).toEqual({ status: 'healthy', database: 'connected', processor: 'running' });
  });

  it('reports healthy when an external scheduler drives drain and retry', async () => {
    gw = await startGateway({ PROCESSOR: 'false' });
    expect((await gw.get('/health')).json).toEqual({ status: 'healthy', database: 'connected', processor: 'external' });
  });

  it('reports 503 once the processor has stopped', async () => {
    gw = await startGateway({ PROCESSOR: 'true' });
    const g = gw.gateway;
    await gw.close();
    gw = undefined;
    // The database is closed too: the handler answers 503 rather than throwing.
    const res = await g.app.request('/health');
    expect(res.status).toBe(503);
    expect((await res.json()).status).toBe('unhealthy');
  });
});
