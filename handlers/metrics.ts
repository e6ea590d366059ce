// metrics: GET /metrics in Prometheus text format. Queue gauges are read from DuckDB at scrape
// time, so there is no separate exporter process (it could not open the file anyway).
import { statSync } from 'node:fs';
import { Hono } from 'hono';
import type { Logger } from '../runtime/log.js';
import type { Metrics } from '../runtime/metrics.js';
import type { DuckDBStore } from '../runtime/store.js';
import { onError } from './errors.js';

const STATUSES = ['pending', 'in_flight', 'retrying', 'delivered', 'dead'];

export interface MetricsDeps {
  metrics: Metrics;
  store: Pick<DuckDBStore, 'queueCounts' | 'path'>;
  log: Logger;
}

export function createMetricsHandler(deps: MetricsDeps): Hono {
  const app = new Hono();
  app.onError(onError(deps.log));
  app.get('/metrics', async (c) => {
    const counts = await deps.store.queueCounts();
    for (const status of STATUSES) deps.metrics.queueSize.set({ status }, counts[status] ?? 0);
    try {
      deps.metrics.dbSize.set(statSync(deps.store.path).size);
    } catch {
      // ':memory:' or a file not yet written: the gauge keeps its last value.
    }
    return c.text(await deps.metrics.registry.metrics(), 200, { 'content-type': deps.metrics.registry.contentType });
  });
  return app;
}
