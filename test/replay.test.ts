// Replay through the HTTP interface: by predicate (with dry_run), one webhook, a dead delivery,
// and webhooks a failing rule missed. Replays add deliveries; history is never rewritten.
import { afterEach, describe, expect, it } from 'vitest';
import { createRule, startGateway, targetsClosedAfterEach, type TestGateway } from './helpers.js';

const target = targetsClosedAfterEach();
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const count = async (g: TestGateway, sql: string) => Number((await g.gateway.store.read(sql))[0]!.n);

describe('replay', () => {
  it('by predicate enqueues exactly the matching set; dry_run enqueues nothing', async () => {
    const t = await target();
    gw = await startGateway();
    await createRule(gw, { rule_name: 'all', filter_query: 'true', target_url: `${t.url}/all`, priority: 10 });
    await createRule(gw, { rule_name: 'stripe_only', filter_query: "source = 'stripe'", transform_query: "SELECT payload->>'n' AS n", target_url: `${t.url}/stripe`, priority: 20 });
    for (let i = 0; i < 20; i++) {
      await gw.post(`/webhook/${i % 4 === 0 ? 'stripe' : 'github'}`, { n: i, kind: i % 2 === 0 ? 'even' : 'odd' });
      if (i === 9) gw.clock.advance(86_400_000);
    }
    await gw.post('/drain', { max: 1000 });
    expect(t.received).toHaveLength(25);
    const before = await count(gw, 'SELECT count(*) AS n FROM deliveries');

    const where = "source = 'stripe' OR (payload->>'kind') = 'odd'";
    const dry = await gw.post('/replay', { where, dry_run: true, sample: 2 });
    expect(dry.status, JSON.stringify(dry.json)).toBe(200);
    // stripe: ids 1,5,9,13,17 (n = 0,4,8,12,16); odd: n = 1,3,...,19 (10 webhooks). 15 webhooks, 20 deliveries.
    expect(dry.json).toMatchObject({ dry_run: true, matched: 15, deliveries: 20, deliveries_created: 0 });
    expect(dry.json.sample).toEqual([{ webhook_id: 1, rules: ['stripe_only', 'all'] }, { webhook_id: 2, rules: ['all'] }]);
    expect(await count(gw, 'SELECT count(*) AS n FROM deliveries')).toBe(before);

    const real = await gw.post('/replay', { where });
    expect(real.status).toBe(201);
    expect(real.json).toMatchObject({ dry_run: false, matched: 15, deliveries_created: 20 });
    const replayed = await gw.gateway.store.read("SELECT DISTINCT webhook_id FROM replays WHERE reason = 'predicate' ORDER BY 1");
    const n = (id: number) => id - 1;
    expect(replayed.map((r) => Number(r.webhook_id)).filter((id) => !(n(id) % 4 === 0 || n(id) % 2 === 1))).toEqual([]);
    expect(replayed).toHaveLength(15);
    await gw.post('/drain', { max: 1000 });
    expect(t.received).toHaveLength(45);
    // Old deliveries are untouched: still one delivered attempt each.
    expect(await count(gw, `SELECT count(*) AS n FROM deliveries WHERE id <= ${before} AND (status <> 'delivered' OR attempts <> 1)`)).toBe(0);

    // To one rule, with a time window: the second day only, and the rule's filter still applies.
    const day2 = new Date(Date.parse('2026-01-02T00:00:00Z')).toISOString();
    const one = await gw.post('/replay', { where: 'true', rule_id: 2, since: day2, dry_run: true });
    expect(one.json).toMatchObject({ matched: 10, deliveries: 2 });
    const forced = await gw.post('/replay', { where: 'true', rule_id: 2, force: true, since: day2, dry_run: true });
    expect(forced.json).toMatchObject({ matched: 10, deliveries: 10 });
  });

  it('refuses a predicate that is not one harmless expression, and one matching too much', async () => {
    gw = await startGateway({ REPLAY_MAX_WEBHOOKS: '3' });
    for (let i = 0; i < 5; i++) await gw.post('/webhook/x', { i });
    for (const where of ["true; DELETE FROM webhooks", "(SELECT count(*) FROM webhooks) > 0", "(SELECT count(*) FROM read_text('/etc/passwd')) > 0", 'no_such_column = 1']) {
      const res = await gw.post('/replay', { where, dry_run: true });
      expect(res.status, where).toBe(400);
      expect(res.json.error.code, where).toBe('rule_invalid');
    }
    const big = await gw.post('/replay', { where: 'true' });
    expect(big.status).toBe(400);
    expect(big.json.error.code).toBe('replay_too_large');
    expect(await count(gw, 'SELECT count(*) AS n FROM webhooks')).toBe(5);
    expect((await gw.post('/replay', {})).json.error.code).toBe('replay_invalid');
  });

  it('replays one webhook to the rules that match now, or to one rule', async () => {
    const t = await target();
    gw = await startGateway();
    const { json } = await gw.post('/webhook/shop', { event_type: 'order.created' });
    await gw.post('/drain', {});
    expect((await gw.get(`/status/${json.webhook_id}`)).json.webhook.status).toBe('unmatched');
    // A rule added later: replaying sends the webhook to it.
    const id = await createRule(gw, { rule_name: 'late', filter_query: "(payload->>'event_type') = 'order.created'", target_url: t.url });
    await createRule(gw, { rule_name: 'never', filter_query: 'false', target_url: t.url });
    const res = await gw.post(`/webhooks/${json.webhook_id}/replay`, {});
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ webhook_id: 1, deliveries_created: 1, deliveries: [{ rule_id: id, rule_name: 'late' }] });
    await gw.post('/drain', {});
    expect(t.received).toHaveLength(1);
    const forced = await gw.post(`/webhooks/${json.webhook_id}/replay`, { rule_id: id + 1, force: true });
    expect(forced.json.deliveries_created).toBe(1);
    expect((await gw.post('/webhooks/999/replay', {})).status).toBe(404);
    expect((await gw.post('/webhooks/1/replay', { rule_id: 999 })).json.error.code).toBe('not_found');
  });

  it('revives a dead delivery as a new one; the dead one stays dead with its attempts', async () => {
    let up = false;
    const t = await target(() => (up ? 200 : 404));
    gw = await startGateway();
    await createRule(gw, { rule_name: 'r', filter_query: 'true', transform_query: "SELECT 'x' AS y", target_url: t.url });
    await gw.post('/webhook/x', { a: 1 });
    expect((await gw.post('/drain', {})).json.dead).toBe(1);
    const notDead = await gw.post('/deliveries/1/retry', {});
    expect(notDead.status).toBe(201);
    expect((await gw.post(`/deliveries/${notDead.json.id}/retry`, {})).json.error.code).toBe('delivery_not_dead');
    up = true;
    await gw.post('/drain', {});
    const s = await gw.get('/status/1');
    expect(s.json.deliveries.map((d: { id: number; status: string; attempts: number }) => [d.id, d.status, d.attempts])).toEqual([
      [1, 'dead', 1],
      [notDead.json.id, 'delivered', 1],
    ]);
    expect(t.received.map((r) => r.body.toString())).toEqual(['{"y":"x"}', '{"y":"x"}']);
    expect((await gw.post('/deliveries/999/retry', {})).status).toBe(404);
    expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(/webhook_replayed_deliveries_total\{reason="delivery_retry"\} 1/);
  });

  it('lists dead deliveries newest first, page by page, by rule and webhook', async () => {
    const down = await target(() => 500);
    const up = await target();
    gw = await startGateway();
    const broken = await createRule(gw, { rule_name: 'broken', filter_query: 'true', target_url: down.url, retry_policy: { max_retries: 0 } });
    const fine = await createRule(gw, { rule_name: 'fine', filter_query: 'true', target_url: up.url });
    for (let i = 0; i < 3; i++) await gw.post('/webhook/x', { i });
    expect((await gw.post('/drain', {})).json).toMatchObject({ delivered: 3, dead: 3 });

    const dead = await gw.get('/deliveries?status=dead');
    expect(dead.status).toBe(200);
    const ids = dead.json.deliveries.map((d: { id: number }) => d.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(dead.json.deliveries).toHaveLength(3);
    for (const d of dead.json.deliveries) {
      expect(d).toMatchObject({ rule_id: broken, rule_name: 'broken', status: 'dead', attempts: 1, last_status_code: 500, target_url: down.url });
      expect(d.last_error).toMatch(/500/);
    }
    expect(dead.json.next_before_id).toBeNull();

    // Pages of one, following next_before_id, give the same deliveries in the same order.
    const paged: number[] = [];
    let cursor: number | null = null;
    do {
      const page = await gw.get(`/deliveries?status=dead&limit=1${cursor ? `&before_id=${cursor}` : ''}`);
      paged.push(...page.json.deliveries.map((d: { id: number }) => d.id));
      cursor = page.json.next_before_id;
    } while (cursor !== null);
    expect(paged).toEqual(ids);

    expect((await gw.get(`/deliveries?rule_id=${fine}`)).json.deliveries.map((d: { status: string }) => d.status)).toEqual(['delivered', 'delivered', 'delivered']);
    const one = (await gw.get('/deliveries?webhook_id=2')).json.deliveries;
    expect(one.map((d: { webhook_id: number; rule_name: string }) => [d.webhook_id, d.rule_name]).sort()).toEqual([[2, 'broken'], [2, 'fine']]);
    expect((await gw.get('/deliveries')).json.deliveries).toHaveLength(6);

    for (const bad of ['status=lost', 'limit=0', 'limit=5000', 'rule_id=abc', 'before_id=-1']) {
      const res = await gw.get(`/deliveries?${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.json.error.code).toBe('query_invalid');
    }
    expect((await fetch(`${gw.url}/deliveries?status=dead`)).status).toBe(401);
  });

  it('sends the webhooks a failing rule missed, once it is fixed, using the range recorded against it', async () => {
    const t = await target();
    gw = await startGateway({ RULE_TIMEOUT_MS: '200' });
    await gw.gateway.store.read(
      `INSERT INTO routing_rules (id, rule_name, filter_query, transform_query, target_url, created_at, updated_at)
       VALUES (1, 'slow', '(WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t) > 0', 'SELECT payload', $1, now(), now())`,
      [t.url],
    );
    for (let i = 0; i < 4; i++) await gw.post('/webhook/x', { i });
    expect((await gw.post('/drain', {})).json.rule_errors.slow).toMatch(/timed out/);
    const failures = (await gw.get('/routing-rules/1/errors')).json.failures;
    expect(failures).toHaveLength(1);
    expect((await gw.put('/routing-rules/1', { rule_name: 'slow', filter_query: "(payload->>'i')::INT % 2 = 0", target_url: t.url })).status).toBe(200);
    const replay = await gw.post('/replay', failures[0].replay);
    expect(replay.json).toMatchObject({ matched: 4, deliveries_created: 2 });
    await gw.post('/drain', {});
    expect(t.received.map((r) => JSON.parse(r.body.toString()).i)).toEqual([0, 2]);
  });
});
