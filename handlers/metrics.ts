// metrics: GET /metrics in Prometheus text format. The seed's app metrics come from the process;
// the queue gauges and the seed exporter's duckdb_ gauges are read from DuckDB at scrape time
// (runtime/db-metrics.ts), so there is no separate exporter process (it could not open the file).
// When the database cannot be read the process metrics are still served, with duckdb_up 0.
import { Hono } from 'hono';
import { collectDatabaseMetrics, type DatabaseReader } from '../runtime/db-metrics.js';
import type { Logger } from '../runtime/log.js';
import type { Metrics } from '../runtime/metrics.js';
import { onError } from './errors.js';

export interface MetricsDeps {
  metrics: Metrics;
  store: DatabaseReader;
  now: () => number;
  log: Logger;
}

export function createMetricsHandler(deps: MetricsDeps): Hono {
  const app = new Hono();
  app.onError(onError(deps.log));
  app.get('/metrics', async (c) => {
    try {
      await collectDatabaseMetrics(deps.store, deps.metrics, deps.now());
      deps.metrics.db.up.set(1);
    } catch (err) {
      deps.metrics.db.up.set(0);
      deps.log.warn({ err }, 'metrics: database gauges could not be read; serving the last values');
    }
    return c.text(await deps.metrics.registry.metrics(), 200, { 'content-type': deps.metrics.registry.contentType });
  });
  return app;
}
