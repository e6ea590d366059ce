// The seed's metrics, with the seed's names and types. Label values are bounded: rule names and
// target URLs come from the rules table (admin-controlled), status codes are folded into classes,
// and nothing a sender types (paths, IPs, ids, error text) becomes a label.
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
  return {
    registry,
    received: new Counter({
      name: 'webhook_received_total',
      help: 'Total number of webhooks received',
      labelNames: ['endpoint', 'source', 'status'] as const,
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
  };
}
