// The seed's metrics, with the seed's names, types and label names, plus the seed exporter's DuckDB
// gauges (prefix duckdb_), which the gateway computes itself at scrape time (runtime/db-metrics.ts):
// the exporter's separate process could not open a file the gateway holds. Every label value is
// bounded: configured source names (unknown ones are 'other'), rule names and target URLs from the
// rules table (admin-controlled), status classes and fixed vocabularies. Nothing a sender types
// (paths, IPs, ids, error text) becomes a label.
//
// The full list (type, labels and their values):
//
// App metrics, as in the seed:
//   webhook_received_total                counter    endpoint="/webhook", source=<configured source>|other
//                                                     every request that reaches ingest, whatever its answer
//   webhook_processed_total               counter    status=completed|failed|unmatched, rule_name=<rule>|no_matching_rule
//                                                     one per delivery attempt (completed = 2xx); unmatched once per webhook
//   internal_api_calls_total              counter    target_url=<rule target URL>, status_code=1xx..5xx|error
//   webhook_processing_duration_seconds   histogram  rule_name            buckets 0.1 .. 10
//   internal_api_duration_seconds         histogram  target_url           buckets 0.1 .. 30
//   webhook_queue_wait_time_seconds       histogram  (none)               received -> first attempt, buckets 1 .. 3600
//   webhook_queue_size                    gauge      status=pending|in_flight|retrying|delivered|dead (deliveries, read at scrape)
//   webhook_active_processing_count       gauge      (none)               deliveries in flight in this process
//   webhook_database_size_bytes           gauge      (none)               the DuckDB file, read at scrape
//   webhook_last_successful_processing_timestamp  gauge  rule_name        unix seconds of the rule's last 2xx
// duckhook's own:
//   webhook_ingest_outcomes_total         counter    source, outcome=accepted|duplicate|rejected|error
//   webhook_verification_failures_total   counter    source, reason=signature_missing|signature_invalid|timestamp_out_of_tolerance
//   webhook_rule_errors_total             counter    rule_name            drain batches in which the rule failed
//   webhook_replayed_deliveries_total     counter    reason=webhook|predicate|delivery_retry
//   webhook_ingest_commit_batch_size      histogram  (none)               webhooks per group commit, buckets 1 .. 1000
//   webhook_ingest_commit_duration_seconds histogram (none)               one group commit (append, flush, COMMIT), buckets 1 ms .. 1 s
// The exporter's gauges, read from DuckDB at scrape time:
//   duckdb_up                             gauge      (none)               1 when the last scrape could read the database
//   duckdb_scrape_duration_seconds        gauge      (none)               time the database part of the scrape took
//   duckdb_table_row_count                gauge      table=webhooks|webhook_routing|deliveries|delivery_attempts|routing_rules|
//                                                     rule_failures|replays|sources|webhook_dedup_keys, and the seed's names
//                                                     raw_webhooks (= webhooks) and webhook_processing_log (= delivery_attempts)
//   duckdb_webhook_status_count           gauge      status=pending|processing|completed|failed|unmatched (raw_webhooks.status)
//   duckdb_webhook_retry_distribution     gauge      retry_count="0".."100" (raw_webhooks.retry_count; bounded by max_retries <= 100)
//   duckdb_oldest_pending_webhook_age_seconds  gauge (none)               age of the oldest due work not yet taken: an unrouted
//                                                     webhook, or a pending/retrying delivery past its next attempt time; 0 if none
//   duckdb_active_routing_rules           gauge      (none)
//   duckdb_routing_rule_matches_hourly    gauge      rule_name            webhooks matched (deliveries created) in the last hour
//   duckdb_routing_rule_outcomes_hourly   gauge      rule_name, outcome=delivered|retrying|dead   attempts in the last hour
//   duckdb_routing_rule_avg_duration_ms   gauge      rule_name            mean attempt duration in the last hour (absent without attempts)
//   duckdb_database_size_bytes            gauge      (none)               the database file
//   duckdb_wal_size_bytes                 gauge      (none)               its write-ahead log (0 right after a checkpoint)
//   duckdb_memory_usage_bytes             gauge      (none)               DuckDB's buffer manager
// Rule-labelled duckdb_ gauges list every active rule (0 when idle) plus any rule with traffic in the window.
// Plus prom-client's default process_* and nodejs_* metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

/** Folds an HTTP status (or a network failure) into a bounded label value. */
export function statusClass(code: number | null): string {
  if (code === null) return 'error';
  return `${Math.floor(code / 100)}xx`;
}

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    received: new Counter({
      name: 'webhook_received_total',
      help: 'Total number of webhooks received',
      labelNames: ['endpoint', 'source'] as const,
      registers: [registry],
    }),
    // How ingest answered, by configured source name ('other' for the rest).
    ingestOutcomes: new Counter({
      name: 'webhook_ingest_outcomes_total',
      help: 'Webhook requests by how ingest answered them',
      labelNames: ['source', 'outcome'] as const,
      registers: [registry],
    }),
    processed: new Counter({
      name: 'webhook_processed_total',
      help: 'Total number of webhooks processed',
      labelNames: ['status', 'rule_name'] as const,
      registers: [registry],
    }),
    apiCalls: new Counter({
      name: 'internal_api_calls_total',
      help: 'Total number of internal API calls',
      labelNames: ['target_url', 'status_code'] as const,
      registers: [registry],
    }),
    processingDuration: new Histogram({
      name: 'webhook_processing_duration_seconds',
      help: 'Time spent processing webhooks',
      labelNames: ['rule_name'] as const,
      buckets: [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
      registers: [registry],
    }),
    apiDuration: new Histogram({
      name: 'internal_api_duration_seconds',
      help: 'Internal API call duration',
      labelNames: ['target_url'] as const,
      buckets: [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
      registers: [registry],
    }),
    queueWait: new Histogram({
      name: 'webhook_queue_wait_time_seconds',
      help: 'Time webhooks spend in queue before processing',
      buckets: [1, 5, 10, 30, 60, 300, 600, 1800, 3600],
      registers: [registry],
    }),
    queueSize: new Gauge({
      name: 'webhook_queue_size',
      help: 'Current number of deliveries by status',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    active: new Gauge({
      name: 'webhook_active_processing_count',
      help: 'Number of webhooks currently being processed',
      registers: [registry],
    }),
    dbSize: new Gauge({
      name: 'webhook_database_size_bytes',
      help: 'Size of DuckDB database file',
      registers: [registry],
    }),
    // rule_name comes from the rules table (admin-controlled); the error text is in the API, not here.
    ruleErrors: new Counter({
      name: 'webhook_rule_errors_total',
      help: 'Drain batches in which a routing rule errored or ran out of time (its matches in that batch were not routed)',
      labelNames: ['rule_name'] as const,
      registers: [registry],
    }),
    replayedDeliveries: new Counter({
      name: 'webhook_replayed_deliveries_total',
      help: 'Deliveries created by replays (webhook, predicate, dead-delivery retry)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    // source is a configured source name or 'other'; reason is one of three verification codes.
    verificationFailures: new Counter({
      name: 'webhook_verification_failures_total',
      help: 'Webhooks refused because their sender could not be verified',
      labelNames: ['source', 'reason'] as const,
      registers: [registry],
    }),
    lastSuccess: new Gauge({
      name: 'webhook_last_successful_processing_timestamp',
      help: 'Timestamp of last successful webhook processing',
      labelNames: ['rule_name'] as const,
      registers: [registry],
    }),
    // Group commit: how many webhooks share a commit and how long one takes. Each commit's flush
    // costs DuckDB a fixed INSERT plan, so small batches under load mean ingest is flush-bound.
    commitBatchSize: new Histogram({
      name: 'webhook_ingest_commit_batch_size',
      help: 'Webhooks written per group commit',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers: [registry],
    }),
    commitDuration: new Histogram({
      name: 'webhook_ingest_commit_duration_seconds',
      help: 'Time one group commit took (append, flush and COMMIT)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    db: {
      up: gauge('duckdb_up', 'Whether the last scrape could read the database (1) or not (0)'),
      scrapeDuration: gauge('duckdb_scrape_duration_seconds', 'Time the database part of the last scrape took'),
      tableRows: gauge('duckdb_table_row_count', 'Number of rows in table', ['table']),
      webhookStatus: gauge('duckdb_webhook_status_count', 'Number of webhooks by status', ['status']),
      retryDistribution: gauge('duckdb_webhook_retry_distribution', 'Distribution of webhook retry counts', ['retry_count']),
      oldestPendingAge: gauge('duckdb_oldest_pending_webhook_age_seconds', 'Age of oldest pending webhook in seconds'),
      activeRules: gauge('duckdb_active_routing_rules', 'Number of active routing rules'),
      ruleMatches: gauge('duckdb_routing_rule_matches_hourly', 'Number of webhooks matched by rule in last hour', ['rule_name']),
      ruleOutcomes: gauge('duckdb_routing_rule_outcomes_hourly', 'Delivery attempts by rule and outcome in last hour', ['rule_name', 'outcome']),
      ruleAvgDuration: gauge('duckdb_routing_rule_avg_duration_ms', 'Average processing duration for rule', ['rule_name']),
      size: gauge('duckdb_database_size_bytes', 'Total database file size in bytes'),
      walSize: gauge('duckdb_wal_size_bytes', 'Size of the database write-ahead log in bytes'),
      memory: gauge('duckdb_memory_usage_bytes', 'Estimated memory usage'),
    },
  };
}
