// GET /dashboard/summary through real HTTP on a real DuckDB file: the seed's keys, and every
// number equal to what the test computes itself from the rows in the database.
import { afterEach, expect, it } from 'vitest';
import { startGateway, type Target, type TestGateway } from './helpers.js';
import { buildHistory, EXPECTED_STATUSES } from './observability-scenario.js';

let gw: TestGateway | undefined;
let target: Target | undefined;
afterEach(async () => {
  await gw?.close();
  await target?.close();
  gw = undefined;
  target = undefined;
});

const round2 = (v: number) => Math.round(v * 100) / 100;

/** Linear-interpolated quantile, as DuckDB's quantile_cont and the seed's PERCENTILE_CONT. */
function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

it("answers the seed's keys with numbers equal to counts computed from the database", async () => {
  gw = await startGateway();
  ({ target } = await buildHistory(gw));
  const res = await fetch(`${gw.url}/dashboard/summary`);
  expect(res.status).toBe(200);
  const summary = await res.json();
  expect(Object.keys(summary)).toEqual(['overview', 'volume', 'performance', 'rules_performance']);

  const read = gw.gateway.store.read.bind(gw.gateway.store);
  const now = gw.clock.now();
  const ms = (v: unknown) => Number((v as { micros: bigint }).micros / 1000n);

  // overview: each webhook's status worked out here from its routing row and its deliveries.
  const hooks = await read('SELECT id, received_at FROM webhooks');
  const routing = new Map((await read('SELECT webhook_id, matched FROM webhook_routing')).map((r) => [Number(r.webhook_id), Number(r.matched)]));
  const deliveries = await read('SELECT id, webhook_id, rule_id, status FROM deliveries');
  const status = (id: number) => {
    if (!routing.has(id)) return 'pending';
    if (routing.get(id) === 0) return 'unmatched';
    const mine = deliveries.filter((d) => Number(d.webhook_id) === id).map((d) => d.status);
    if (mine.some((s) => s === 'pending' || s === 'in_flight' || s === 'retrying')) return 'processing';
    if (mine.includes('dead')) return 'failed';
    return 'completed';
  };
  const counts: Record<string, number> = { pending: 0, processing: 0, completed: 0, failed: 0, unmatched: 0 };
  for (const h of hooks) counts[status(Number(h.id))]!++;
  expect(counts).toEqual(EXPECTED_STATUSES);
  expect(summary.overview).toEqual({
    total_webhooks: hooks.length,
    ...counts,
    success_rate: round2((100 * counts.completed!) / (counts.completed! + counts.failed!)),
  });
  expect(summary.overview.success_rate).toBe(75);

  // volume: received in the last hour, day, week.
  const received = hooks.map((h) => ms(h.received_at));
  const within = (span: number) => received.filter((t) => t > now - span).length;
  expect(summary.volume).toEqual({ last_hour: within(3_600_000), last_day: within(86_400_000), last_week: within(7 * 86_400_000) });
  expect(summary.volume).toEqual({ last_hour: 3, last_day: 10, last_week: 12 });

  // performance: attempts completed in the last hour.
  const attempts = await read('SELECT delivery_id, completed_at, duration_ms FROM delivery_attempts');
  const recent = attempts.filter((a) => ms(a.completed_at) > now - 3_600_000).map((a) => Number(a.duration_ms)).sort((a, b) => a - b);
  expect(recent.length).toBe(2);
  expect(summary.performance).toEqual({
    avg_duration_ms: round2(recent.reduce((a, b) => a + b, 0) / recent.length),
    min_duration_ms: recent[0],
    max_duration_ms: recent[recent.length - 1],
    p50_duration_ms: round2(quantile(recent, 0.5)),
    p95_duration_ms: round2(quantile(recent, 0.95)),
    p99_duration_ms: round2(quantile(recent, 0.99)),
    attempts: 2,
  });

  // rules_performance: every active rule, in priority order, from its deliveries and attempts.
  const rules = await read('SELECT id, rule_name FROM routing_rules WHERE is_active ORDER BY priority DESC, id');
  const expected = rules.map((r) => {
    const mine = deliveries.filter((d) => d.rule_id === r.id);
    const ids = new Set(mine.map((d) => Number(d.id)));
    const durations = attempts.filter((a) => ids.has(Number(a.delivery_id))).map((a) => Number(a.duration_ms));
    return {
      rule_id: Number(r.id),
      rule_name: r.rule_name,
      webhook_count: new Set(mine.map((d) => Number(d.webhook_id))).size,
      avg_duration_ms: durations.length ? round2(durations.reduce((a, b) => a + b, 0) / durations.length) : null,
      deliveries: mine.length,
      delivered: mine.filter((d) => d.status === 'delivered').length,
      dead: mine.filter((d) => d.status === 'dead').length,
      open: mine.filter((d) => ['pending', 'in_flight', 'retrying'].includes(String(d.status))).length,
      attempts: durations.length,
    };
  });
  expect(summary.rules_performance).toEqual(expected);
  expect(summary.rules_performance.map((r: { rule_name: string; webhook_count: number }) => [r.rule_name, r.webhook_count])).toEqual([
    ['ok', 6], ['audit', 6], ['bad', 2], ['flaky', 1], ['idle', 0],
  ]);
});

it('is open without the admin token, and answers on an empty database', async () => {
  gw = await startGateway({ ADMIN_TOKEN: '' });
  const res = await fetch(`${gw.url}/dashboard/summary`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({
    overview: { total_webhooks: 0, completed: 0, failed: 0, pending: 0, processing: 0, unmatched: 0, success_rate: null },
    volume: { last_hour: 0, last_day: 0, last_week: 0 },
    performance: { avg_duration_ms: null, min_duration_ms: null, max_duration_ms: null, p50_duration_ms: null, p95_duration_ms: null, p99_duration_ms: null, attempts: 0 },
    rules_performance: [],
  });
});
