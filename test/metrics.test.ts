// GET /metrics through real HTTP on a real DuckDB file: the seed's names, types and label sets;
// the exporter's duckdb_ gauges equal to what SQL over the seed's views says; and bounded series.
import { afterEach, describe, expect, it } from 'vitest';
import { createRule, startGateway, startTarget, type Target, type TestGateway } from './helpers.js';
import { buildHistory, EXPECTED_STATUSES } from './observability-scenario.js';

let gw: TestGateway | undefined;
const targets: Target[] = [];
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  for (const t of targets.splice(0)) await t.close();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text: samples and each family's TYPE. */
function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)!;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

async function scrape(g: TestGateway) {
  const res = await fetch(`${g.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parse(await res.text());
}

/** name -> the label names its samples carry (histogram samples folded into the family, `le` dropped). */
function labelSets(samples: Sample[], types: Map<string, string>): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const s of samples) {
    const family = types.has(s.name) ? s.name : s.name.replace(/_(bucket|sum|count)$/, '');
    const set = out.get(family) ?? new Set<string>();
    for (const k of Object.keys(s.labels)) if (k !== 'le') set.add(k);
    out.set(family, set);
  }
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).map((s) => s.value);

// The seed's app metrics (its prometheus_client definitions), with types and label names.
const SEED = {
  webhook_received_total: ['counter', ['endpoint', 'source']],
  webhook_processed_total: ['counter', ['rule_name', 'status']],
  internal_api_calls_total: ['counter', ['status_code', 'target_url']],
  webhook_processing_duration_seconds: ['histogram', ['rule_name']],
  internal_api_duration_seconds: ['histogram', ['target_url']],
  webhook_queue_wait_time_seconds: ['histogram', []],
  webhook_queue_size: ['gauge', ['status']],
  webhook_active_processing_count: ['gauge', []],
  webhook_database_size_bytes: ['gauge', []],
  webhook_last_successful_processing_timestamp: ['gauge', ['rule_name']],
} as const;

// The seed exporter's gauges the gateway serves (names from the exporter), and the one it adds.
const EXPORTER = {
  duckdb_table_row_count: ['table'],
  duckdb_webhook_status_count: ['status'],
  duckdb_webhook_retry_distribution: ['retry_count'],
  duckdb_oldest_pending_webhook_age_seconds: [],
  duckdb_active_routing_rules: [],
  duckdb_routing_rule_matches_hourly: ['rule_name'],
  duckdb_routing_rule_avg_duration_ms: ['rule_name'],
  duckdb_routing_rule_outcomes_hourly: ['outcome', 'rule_name'],
  duckdb_database_size_bytes: [],
  duckdb_memory_usage_bytes: [],
} as const;

describe('names, types and labels', () => {
  it("the seed's app metrics and the exporter's gauges, with the seed's types and label sets", async () => {
    gw = await startGateway();
    const { target } = await buildHistory(gw);
    targets.push(target);
    const { samples, types } = await scrape(gw);
    const labels = labelSets(samples, types);
    for (const [name, [type, names]] of Object.entries(SEED)) {
      expect([name, types.get(name), labels.get(name)]).toEqual([name, type, [...names]]);
    }
    for (const [name, names] of Object.entries(EXPORTER)) {
      expect([name, types.get(name), labels.get(name)]).toEqual([name, 'gauge', [...names]]);
    }
    expect(value(samples, 'duckdb_up')).toEqual([1]);
  });

  it('label values are bounded vocabularies: source names, rule names and targets, status classes', async () => {
    gw = await startGateway();
    const { target } = await buildHistory(gw);
    targets.push(target);
    const { samples } = await scrape(gw);
    const values = (name: string, label: string) => [...new Set(samples.filter((s) => s.name === name).map((s) => s.labels[label]))].sort();
    expect(values('webhook_received_total', 'endpoint')).toEqual(['/webhook']);
    expect(values('webhook_received_total', 'source')).toEqual(['other']);
    expect(values('internal_api_calls_total', 'status_code')).toEqual(['2xx', '5xx']);
    expect(values('internal_api_calls_total', 'target_url')).toEqual(['/bad', '/flaky', '/ok', '/ok/audit'].map((p) => target.url + p));
    expect(values('webhook_processed_total', 'status')).toEqual(['completed', 'failed', 'unmatched']);
    expect(values('webhook_processed_total', 'rule_name')).toEqual(['audit', 'bad', 'flaky', 'no_matching_rule', 'ok']);
    expect(values('webhook_queue_size', 'status')).toEqual(['dead', 'delivered', 'in_flight', 'pending', 'retrying']);
    expect(values('duckdb_webhook_status_count', 'status')).toEqual(['completed', 'failed', 'pending', 'processing', 'unmatched']);
    // Active rules (idle ones at 0) and rules with traffic in the hour; the inactive 'off' has neither.
    expect(values('duckdb_routing_rule_matches_hourly', 'rule_name')).toEqual(['audit', 'bad', 'flaky', 'idle', 'ok']);
  });
});

describe('duckdb_ gauges equal SQL over the tables and the seed views', () => {
  it('rows, statuses, retries, queue, rules, last hour, oldest pending', async () => {
    gw = await startGateway();
    const { target } = await buildHistory(gw);
    targets.push(target);
    const { samples } = await scrape(gw);
    const read = gw.gateway.store.read.bind(gw.gateway.store);
    const n = (v: unknown) => Number(v);

    const statuses = Object.fromEntries((await read('SELECT status, count(*) AS n FROM raw_webhooks GROUP BY status')).map((r) => [r.status, n(r.n)]));
    expect(statuses).toEqual(EXPECTED_STATUSES);
    for (const [status, count] of Object.entries(EXPECTED_STATUSES)) {
      expect([status, value(samples, 'duckdb_webhook_status_count', { status })]).toEqual([status, [count]]);
    }

    const retries = (await read('SELECT retry_count, count(*) AS n FROM raw_webhooks GROUP BY retry_count ORDER BY retry_count')).map((r) => [String(r.retry_count), n(r.n)]);
    expect(retries).toEqual([['0', 9], ['1', 3]]);
    expect(samples.filter((s) => s.name === 'duckdb_webhook_retry_distribution').map((s) => [s.labels.retry_count, s.value])).toEqual(retries);

    const queue = await read('SELECT status, count(*) AS n FROM deliveries GROUP BY status');
    for (const status of ['pending', 'in_flight', 'retrying', 'delivered', 'dead']) {
      const expected = n(queue.find((r) => r.status === status)?.n ?? 0);
      expect([status, value(samples, 'webhook_queue_size', { status })]).toEqual([status, [expected]]);
    }
    expect(value(samples, 'webhook_queue_size', { status: 'delivered' })).toEqual([12]);

    for (const table of ['webhooks', 'deliveries', 'delivery_attempts', 'webhook_routing', 'routing_rules', 'sources', 'raw_webhooks', 'webhook_processing_log']) {
      const [row] = await read(`SELECT count(*) AS n FROM ${table}`);
      expect([table, value(samples, 'duckdb_table_row_count', { table })]).toEqual([table, [n(row!.n)]]);
    }
    expect(value(samples, 'duckdb_table_row_count', { table: 'webhooks' })).toEqual([12]);
    expect(value(samples, 'duckdb_active_routing_rules')).toEqual([5]);

    // The last hour, from the seed's attempt log view.
    const now = gw.clock.now();
    const since = new Date(now - 3_600_000).toISOString();
    const hourly = await read(
      `SELECT l.rule_name, a.outcome, count(*) AS n, avg(l.processing_duration_ms) AS avg_ms
       FROM webhook_processing_log l JOIN delivery_attempts a ON a.id = l.id
       WHERE l.processing_completed_at >= CAST($1 AS TIMESTAMP) GROUP BY ALL`,
      [since],
    );
    expect(hourly.map((r) => [r.rule_name, r.outcome, n(r.n)]).sort()).toEqual([['audit', 'delivered', 1], ['ok', 'delivered', 1]]);
    for (const r of hourly) {
      expect(value(samples, 'duckdb_routing_rule_outcomes_hourly', { rule_name: String(r.rule_name), outcome: String(r.outcome) })).toEqual([n(r.n)]);
      expect(value(samples, 'duckdb_routing_rule_avg_duration_ms', { rule_name: String(r.rule_name) })).toEqual([n(r.avg_ms)]);
    }
    expect(value(samples, 'duckdb_routing_rule_outcomes_hourly', { rule_name: 'bad', outcome: 'dead' })).toEqual([0]);
    expect(value(samples, 'duckdb_routing_rule_avg_duration_ms', { rule_name: 'bad' })).toEqual([]);
    const matched = await read(
      'SELECT rule_name, count(DISTINCT webhook_id) AS n FROM deliveries WHERE created_at >= CAST($1 AS TIMESTAMP) GROUP BY rule_name',
      [since],
    );
    expect(matched.map((r) => [r.rule_name, n(r.n)]).sort()).toEqual([['audit', 1], ['ok', 1]]);
    expect(value(samples, 'duckdb_routing_rule_matches_hourly', { rule_name: 'ok' })).toEqual([1]);
    expect(value(samples, 'duckdb_routing_rule_matches_hourly', { rule_name: 'idle' })).toEqual([0]);

    // The oldest due work is the flaky delivery, due 20 s after its retry, two hours ago.
    const [due] = await read(
      `SELECT epoch_ms(min(t)) AS t FROM (
         SELECT next_attempt_at AS t FROM deliveries WHERE status IN ('pending', 'retrying') AND next_attempt_at <= CAST($1 AS TIMESTAMP)
         UNION ALL SELECT received_at FROM raw_webhooks WHERE status = 'pending')`,
      [new Date(now).toISOString()],
    );
    expect(value(samples, 'duckdb_oldest_pending_webhook_age_seconds')).toEqual([(now - n(due!.t)) / 1000]);
    expect(value(samples, 'duckdb_oldest_pending_webhook_age_seconds')[0]).toBeCloseTo(2 * 3600 + 30 - 20, 0);

    // Retried, the flaky delivery is no longer due: the two pending webhooks (30 s) are the oldest.
    await gw.post('/retry', {});
    expect(value((await scrape(gw)).samples, 'duckdb_oldest_pending_webhook_age_seconds')).toEqual([30]);
  });

  it('agree with raw_webhooks when replays give deliveries to unmatched and unrouted webhooks', async () => {
    gw = await startGateway();
    const { target } = await buildHistory(gw);
    targets.push(target);
    const read = gw.gateway.store.read.bind(gw.gateway.store);
    const [bad] = await read("SELECT id FROM routing_rules WHERE rule_name = 'bad'");
    const idsOf = async (status: string) => (await read(`SELECT id FROM raw_webhooks WHERE status = '${status}' ORDER BY id`)).map((r) => Number(r.id));
    // An unmatched webhook and a not yet routed one each get a delivery that will fail: open, then dead.
    for (const id of [(await idsOf('unmatched'))[0]!, (await idsOf('pending'))[0]!]) {
      expect((await gw.post(`/webhooks/${id}/replay`, { rule_id: Number(bad!.id) })).status).toBe(201);
    }
    const check = async () => {
      const { samples } = await scrape(gw!);
      const statuses = await read('SELECT status, count(*) AS n FROM raw_webhooks GROUP BY status');
      const expected = Object.fromEntries(['pending', 'processing', 'completed', 'failed', 'unmatched'].map((s) => [s, Number(statuses.find((r) => r.status === s)?.n ?? 0)]));
      const got = Object.fromEntries(Object.keys(expected).map((s) => [s, value(samples, 'duckdb_webhook_status_count', { status: s })[0]]));
      expect(got).toEqual(expected);
      const retries = (await read('SELECT retry_count, count(*) AS n FROM raw_webhooks GROUP BY retry_count ORDER BY retry_count')).map((r) => [String(r.retry_count), Number(r.n)]);
      expect(samples.filter((s) => s.name === 'duckdb_webhook_retry_distribution').map((s) => [s.labels.retry_count, s.value])).toEqual(retries);
    };
    await check();
    // Claimed by the drain (which first routes the pending ones), failed, retried, dead.
    await gw.post('/drain', { max: 1000 });
    await check();
    gw.clock.advance(60_000);
    await gw.post('/retry', { max: 1000 });
    await check();
  });

  it('webhook_database_size_bytes and duckdb_database_size_bytes are the file size', async () => {
    gw = await startGateway();
    await gw.post('/webhook/x', { a: 1 });
    await gw.gateway.store.checkpoint(true);
    const { samples } = await scrape(gw);
    const { statSync } = await import('node:fs');
    const size = statSync(gw.dbPath).size;
    expect(value(samples, 'webhook_database_size_bytes')).toEqual([size]);
    expect(value(samples, 'duckdb_database_size_bytes')).toEqual([size]);
  });
});

it('10,000 webhooks to 10,000 distinct paths do not change the number of series in /metrics', async () => {
  gw = await startGateway();
  const target = await startTarget(() => 200);
  targets.push(target);
  await gw.put('/sources/shop', { verification: { scheme: 'none' } });
  await createRule(gw, { rule_name: 'all', filter_query: 'true', transform_query: 'SELECT payload', target_url: target.url });
  // Node's own GC and event-loop metrics gain series as the process warms up, whatever the traffic.
  const series = async () =>
    (await scrape(gw!)).samples.filter((s) => !s.name.startsWith('nodejs_') && !s.name.startsWith('process_')).map((s) => `${s.name}${JSON.stringify(s.labels)}`).sort();
  // Warm up: one webhook from a configured source and one from an unknown one, delivered.
  await gw.post('/webhook/shop/warmup', {});
  await gw.post('/webhook/warmup/x', {});
  await gw.post('/drain', {});
  const before = await series();
  for (let i = 0; i < 10_000; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) => gw!.post(i + j < 5_000 ? `/webhook/shop/orders/${i + j}` : `/webhook/sender-${i + j}/p/${i + j}`, { i: i + j })),
    );
  }
  let delivered = 0;
  while (delivered < 10_000) {
    const r = await gw.post('/drain', { max: 10_000, time_ms: 30_000 });
    if (r.json.claimed === 0) break;
    delivered += r.json.delivered;
  }
  expect(delivered).toBe(10_000);
  expect(await series()).toEqual(before);
  const { samples } = await scrape(gw);
  expect(value(samples, 'webhook_received_total', { source: 'shop' })).toEqual([5_001]);
  expect(value(samples, 'webhook_received_total', { source: 'other' })).toEqual([5_001]);
  expect(value(samples, 'duckdb_webhook_status_count', { status: 'completed' })).toEqual([10_002]);
}, 120_000);
