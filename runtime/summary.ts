// GET /dashboard/summary: the seed's summary JSON (overview, volume, performance,
// rules_performance), with the seed's keys and numbers from our tables. The overview comes from
// the same reads as /metrics' duckdb_webhook_status_count (runtime/db-metrics.ts), so the two
// never disagree; times are relative to the injected clock.
import { queries } from '../sql/index.js';
import { readWebhookState, type DatabaseReader } from './db-metrics.js';
import { numOf, strOf, ts } from './values.js';

/** Rounds to `digits` decimals, keeping null. */
function round(v: number | null, digits = 2): number | null {
  if (v === null) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export async function dashboardSummary(db: DatabaseReader, now: number) {
  const state = await readWebhookState(db, now);
  const [volume] = await db.read(queries.dashboard_volume, [ts(now)]);
  const [perf] = await db.read(queries.dashboard_performance, [ts(now)]);
  const rules = await db.read(queries.dashboard_rules);
  const w = state.webhooks;
  const finished = w.completed + w.failed;
  return {
    overview: {
      total_webhooks: state.tables.webhooks,
      completed: w.completed,
      // Every delivery of these is dead (retries exhausted or refused): final, as the seed's
      // "failed with retry_count >= 3" meant to be.
      failed: w.failed,
      pending: w.pending,
      processing: w.processing,
      unmatched: w.unmatched,
      // completed / (completed + failed), in percent; null before anything finished.
      success_rate: finished > 0 ? round((100 * w.completed) / finished) : null,
    },
    volume: {
      last_hour: numOf(volume?.last_hour) ?? 0,
      last_day: numOf(volume?.last_day) ?? 0,
      last_week: numOf(volume?.last_week) ?? 0,
    },
    // Delivery attempts completed in the last hour; null when there were none.
    performance: {
      avg_duration_ms: round(numOf(perf?.avg_duration_ms)),
      min_duration_ms: numOf(perf?.min_duration_ms),
      max_duration_ms: numOf(perf?.max_duration_ms),
      p50_duration_ms: round(numOf(perf?.p50_duration_ms)),
      p95_duration_ms: round(numOf(perf?.p95_duration_ms)),
      p99_duration_ms: round(numOf(perf?.p99_duration_ms)),
      attempts: numOf(perf?.attempts) ?? 0,
    },
    rules_performance: rules.map((r) => ({
      rule_id: numOf(r.rule_id),
      rule_name: strOf(r.rule_name),
      webhook_count: numOf(r.webhook_count),
      avg_duration_ms: round(numOf(r.avg_duration_ms)),
      deliveries: numOf(r.deliveries),
      delivered: numOf(r.delivered),
      dead: numOf(r.dead),
      open: numOf(r.open),
      attempts: numOf(r.attempts),
    })),
  };
}

export type DashboardSummary = Awaited<ReturnType<typeof dashboardSummary>>;
