// Phase: what a GET /metrics scrape (and GET /dashboard/summary) costs with 1M stored webhooks,
// deliveries and attempts. The gateway runs in this process on a temp database filled with
// INSERT ... SELECT FROM range(); requests go through its Hono app (no socket), so the time is
// the handler's: DuckDB reads plus Prometheus text.
import { join } from 'node:path';
import { loadConfig } from '../runtime/config.js';
import { createGateway } from '../runtime/gateway.js';
import { createLogger } from '../runtime/log.js';
import { fileSize, fmt, median, out, progress, recordTarget, table } from './util.js';

export interface MetricsSettings {
  tmp: string;
  webhooks: number;
  runs: number;
}

const SPAN_MS = 86_400_000; // the history spans one day, so the last hour holds ~1/24 of it

/** Fills `n` webhooks (each routed, with one delivery and one attempt) received over one day ending at `end`. */
async function fill(conn: Awaited<ReturnType<Awaited<ReturnType<typeof createGateway>>['store']['instance']['connect']>>, n: number, end: number) {
  const step = SPAN_MS / n;
  const at = (col: string, plus = 0) => `make_timestamp(CAST((${end - SPAN_MS + plus} + ${col} * ${step}) * 1000 AS BIGINT))`;
  const payload = `'{"event_type":"order.created","order_id":' || i || ',"total":4497,"currency":"USD"}'`;
  await conn.run('BEGIN TRANSACTION');
  for (const [id, name] of [[1, 'orders'], [2, 'audit'], [3, 'billing']] as const) {
    await conn.run(`INSERT INTO routing_rules (id, rule_name, description, filter_query, transform_query, target_url, timeout_seconds, retry_policy, is_active, priority, created_at, updated_at)
      VALUES (${id}, '${name}', '', 'true', 'SELECT payload', 'http://127.0.0.1:9/${name}', 30, '{}', true, 100, now(), now())`);
  }
  await conn.run(`INSERT INTO webhooks
    SELECT i, ${at('i')}, 'shop', 'shop/orders', '127.0.0.1', 'application/json', '{"content-type":"application/json"}', NULL, ${payload}
    FROM range(1, ${n + 1}) t(i)`);
  await conn.run(`INSERT INTO webhook_routing SELECT i, ${at('i', 5)}, 1, NULL FROM range(1, ${n + 1}) t(i)`);
  await conn.run(`INSERT INTO deliveries
    SELECT i, i, 1 + i % 3, ['orders', 'audit', 'billing'][1 + i % 3], 100, 'http://127.0.0.1:9/hook', NULL, 30, 3, 2, 1,
           'pending', 0, ${at('i', 5)}, NULL, NULL, NULL, NULL, NULL, ${at('i', 5)}, ${at('i', 5)}
    FROM range(1, ${n + 1}) t(i)`);
  await conn.run('COMMIT');
  // As the gateway moves them: claimed, then delivered; every 1000th retried, every 997th dead,
  // the newest 200 still pending. Updates widen the status column's zone maps as real traffic does.
  await conn.run(`UPDATE deliveries SET status = 'in_flight' WHERE id <= ${n - 200}`);
  await conn.run(`UPDATE deliveries SET status = 'delivered', attempts = 1, last_status_code = 200 WHERE id <= ${n - 200}`);
  await conn.run(`UPDATE deliveries SET status = 'retrying', attempts = 2 WHERE id <= ${n - 200} AND id % 1000 = 0`);
  await conn.run(`UPDATE deliveries SET status = 'dead', attempts = 4 WHERE id <= ${n - 200} AND id % 997 = 0`);
  await conn.run(`INSERT INTO delivery_attempts
    SELECT i, i, i, 1, ${at('i', 10)}, ${at('i', 60)}, 'http://127.0.0.1:9/hook', 200, '{"ok":true}', NULL, 50, 'delivered'
    FROM range(1, ${n - 200 + 1}) t(i)`);
  await conn.run('CHECKPOINT');
}

async function timed(runs: number, fn: () => Promise<unknown>): Promise<number[]> {
  await fn(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

export async function metricsPhase(s: MetricsSettings): Promise<void> {
  out('## Metrics: GET /metrics and GET /dashboard/summary at scale');
  out();
  const path = join(s.tmp, 'metrics.db');
  const end = Date.parse('2026-01-02T00:00:00Z');
  const config = loadConfig({ DATABASE_PATH: path, PROCESSOR: 'false', LOG_LEVEL: 'warn', CHECKPOINT_INTERVAL_MS: '0' });
  const gw = await createGateway(config, { now: () => end + 1000, log: createLogger('warn') });
  try {
    progress(`metrics: filling ${fmt.int(s.webhooks)} webhooks, deliveries and attempts`);
    const filled = performance.now();
    const conn = await gw.store.instance.connect();
    await fill(conn, s.webhooks, end);
    const seedView = await timed(3, () => conn.runAndReadAll('SELECT status, count(*) FROM raw_webhooks GROUP BY status'));
    conn.closeSync();
    const fillS = (performance.now() - filled) / 1000;

    let text = '';
    const scrape = await timed(s.runs, async () => {
      const res = await gw.app.request('/metrics');
      text = await res.text();
    });
    const summary = await timed(Math.max(3, Math.floor(s.runs / 4)), async () => (await gw.app.request('/dashboard/summary')).json());
    const dbPart = Number(/^duckdb_scrape_duration_seconds (\S+)$/m.exec(text)?.[1] ?? NaN) * 1000;
    const p = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
    out(`${fmt.int(s.webhooks)} webhooks received over one day (each routed, one delivery, one attempt; ~1/24 in the last`);
    out(`hour), filled in ${fmt.ms(fillS)} s, database ${fmt.mb(fileSize(path))}. ${s.runs} scrapes after one warm-up, in ms.`);
    out();
    out(
      table(
        ['<request', 'median', 'p90', 'max'],
        [
          ['GET /metrics', fmt.ms(median(scrape)), fmt.ms(p(scrape, 0.9)), fmt.ms(scrape[scrape.length - 1])],
          ['  of which DuckDB reads (last scrape)', fmt.ms(dbPart), '', ''],
          ['GET /dashboard/summary', fmt.ms(median(summary)), fmt.ms(p(summary, 0.9)), fmt.ms(summary[summary.length - 1])],
          ["the seed exporter's status query on raw_webhooks", fmt.ms(median(seedView)), '', ''],
        ],
      ),
    );
    out();
    recordTarget(`GET /metrics at ${fmt.int(s.webhooks)} webhooks (median)`, '<= 50 ms', `${fmt.ms(median(scrape))} ms`, median(scrape) <= 50);
  } finally {
    await gw.stop();
  }
}
