// The seed exporter's DuckDB gauges, computed by the gateway at scrape time through the store's
// read connection (the exporter's own process could not open a file the gateway holds). A scrape
// must stay fast however long the history: four statements, each reading either counts (no
// column data), the small set of deliveries that are open or were retried, or the last hour's
// rows, which zone maps find without scanning older row groups. See bench/metrics.ts.
import { statSync } from 'node:fs';
import type { DuckDBValue } from '@duckdb/node-api';
import { queries } from '../sql/index.js';
import type { Metrics } from './metrics.js';
import { DELIVERY_STATUSES, type DeliveryStatus, type Row } from './store.js';
import { numOf, strOf, ts } from './values.js';

export interface DatabaseReader {
  read(sql: string, params?: DuckDBValue[]): Promise<Row[]>;
  readonly path: string;
}

/** The seed's webhook statuses (raw_webhooks.status), plus 'unmatched'. */
export const WEBHOOK_STATUSES = ['pending', 'processing', 'completed', 'failed', 'unmatched'] as const;
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];


export const TABLES = [
  'webhooks', 'webhook_routing', 'deliveries', 'delivery_attempts', 'routing_rules',
  'rule_failures', 'replays', 'sources', 'webhook_dedup_keys',
] as const;

const HOUR_MS = 3_600_000;

export interface WebhookState {
  /** Rows per table. */
  tables: Record<(typeof TABLES)[number], number>;
  activeRules: number;
  /** Webhooks by raw_webhooks.status. */
  webhooks: Record<WebhookStatus, number>;
  /** Deliveries by status. */
  deliveries: Record<DeliveryStatus, number>;
  /** Webhooks by raw_webhooks.retry_count (every webhook is in exactly one bucket). */
  retries: Map<number, number>;
  /** Epoch ms when the oldest due, untaken work became due; null when there is none. */
  oldestDueAt: number | null;
}

/**
 * The queue's state as the seed's views would report it, without scanning them: raw_webhooks
 * joins every webhook to its deliveries (~200 ms at 1M), while this reads row counts and the open
 * or retried deliveries only (test/metrics.test.ts checks both agree).
 */
export async function readWebhookState(db: DatabaseReader, now: number): Promise<WebhookState> {
  const counts = new Map((await db.read(queries.metrics_table_rows)).map((r) => [strOf(r.name)!, numOf(r.n) ?? 0]));
  const tables = Object.fromEntries(TABLES.map((name) => [name, counts.get(name) ?? 0])) as WebhookState['tables'];
  const open = await db.read(queries.metrics_open_work, [ts(now)]);
  const deliveries = Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, 0])) as WebhookState['deliveries'];
  const retries = new Map<number, number>();
  // Webhooks with an open delivery ('open') or else a dead one ('dead'), and how many of those are
  // unrouted or unmatched, which raw_webhooks reports as such whatever their deliveries.
  const states = { open: { all: 0, not_matched: 0 }, dead: { all: 0, not_matched: 0 } };
  let oldestDueAt: number | null = null;
  for (const r of open) {
    const key = strOf(r.key);
    const n = numOf(r.n) ?? 0;
    switch (strOf(r.kind)) {
      case 'queue':
        if (key !== null && key in deliveries) deliveries[key as keyof typeof deliveries] = n;
        break;
      case 'retries':
        retries.set(Number(key), n);
        break;
      case 'open':
      case 'dead':
        states[strOf(r.kind) as 'open' | 'dead'][key as 'all' | 'not_matched'] = n;
        break;
      case 'oldest_due':
        oldestDueAt = numOf(r.n);
        break;
    }
  }
  deliveries.delivered = tables.deliveries - deliveries.pending - deliveries.in_flight - deliveries.retrying - deliveries.dead;
  let retried = 0;
  for (const n of retries.values()) retried += n;
  retries.set(0, tables.webhooks - retried);
  // One routing row per routed webhook; matched = 0 is 'unmatched', whatever replays did since.
  const routed = tables.webhook_routing;
  const unmatched = counts.get('unmatched') ?? 0;
  const processing = states.open.all - states.open.not_matched;
  const failed = states.dead.all - states.dead.not_matched;
  return {
    tables,
    activeRules: counts.get('active_rules') ?? 0,
    webhooks: {
      pending: tables.webhooks - routed,
      processing,
      completed: routed - unmatched - processing - failed,
      failed,
      unmatched,
    },
    deliveries,
    retries,
    oldestDueAt,
  };
}

export interface RuleHour {
  matched: number;
  outcomes: Record<'delivered' | 'retrying' | 'dead', number>;
  durationMs: number;
}

/** Per rule name, the last hour's matches and attempt outcomes. */
export async function readRulesHourly(db: DatabaseReader, now: number): Promise<Map<string, RuleHour>> {
  const rows = await db.read(queries.metrics_rules_hourly, [ts(now - HOUR_MS)]);
  const out = new Map<string, RuleHour>();
  for (const r of rows) {
    const name = strOf(r.rule_name)!;
    let h = out.get(name);
    if (!h) out.set(name, (h = { matched: 0, outcomes: { delivered: 0, retrying: 0, dead: 0 }, durationMs: 0 }));
    const kind = strOf(r.kind)!;
    const n = numOf(r.n) ?? 0;
    if (kind === 'matched') h.matched = n;
    else if (kind in h.outcomes) {
      h.outcomes[kind as keyof RuleHour['outcomes']] = n;
      h.durationMs += numOf(r.duration_ms) ?? 0;
    }
  }
  return out;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    // ':memory:', or no WAL right after a checkpoint.
    return 0;
  }
}

/** Reads the database and sets every duckdb_ gauge and webhook_queue_size / webhook_database_size_bytes. */
export async function collectDatabaseMetrics(db: DatabaseReader, metrics: Metrics, now: number): Promise<void> {
  const g = metrics.db;
  const started = performance.now();
  const state = await readWebhookState(db, now);
  const hourly = await readRulesHourly(db, now);
  const active = await db.read(queries.active_rules);
  const [mem] = await db.read(queries.metrics_memory);

  // Everything below is synchronous, so a concurrent scrape never sees half-reset gauges.
  for (const status of DELIVERY_STATUSES) metrics.queueSize.set({ status }, state.deliveries[status]);
  for (const table of TABLES) g.tableRows.set({ table }, state.tables[table]);
  g.tableRows.set({ table: 'raw_webhooks' }, state.tables.webhooks);
  g.tableRows.set({ table: 'webhook_processing_log' }, state.tables.delivery_attempts);
  for (const status of WEBHOOK_STATUSES) g.webhookStatus.set({ status }, state.webhooks[status]);
  g.retryDistribution.reset();
  for (const [retries, n] of [...state.retries].sort((a, b) => a[0] - b[0])) g.retryDistribution.set({ retry_count: String(retries) }, n);
  g.oldestPendingAge.set(state.oldestDueAt === null ? 0 : Math.max(0, now - state.oldestDueAt) / 1000);
  g.activeRules.set(state.activeRules);

  // Every active rule shows, idle ones at 0; rules with traffic in the window show too.
  const names = new Set([...active.map((r) => strOf(r.rule_name)!), ...hourly.keys()]);
  g.ruleMatches.reset();
  g.ruleOutcomes.reset();
  g.ruleAvgDuration.reset();
  for (const rule_name of names) {
    const h = hourly.get(rule_name);
    g.ruleMatches.set({ rule_name }, h?.matched ?? 0);
    let attempts = 0;
    for (const outcome of ['delivered', 'retrying', 'dead'] as const) {
      const n = h?.outcomes[outcome] ?? 0;
      attempts += n;
      g.ruleOutcomes.set({ rule_name, outcome }, n);
    }
    if (h && attempts > 0) g.ruleAvgDuration.set({ rule_name }, h.durationMs / attempts);
  }

  const size = fileSize(db.path);
  metrics.dbSize.set(size);
  g.size.set(size);
  g.walSize.set(fileSize(`${db.path}.wal`));
  g.memory.set(numOf(mem?.bytes) ?? 0);
  g.scrapeDuration.set((performance.now() - started) / 1000);
}
