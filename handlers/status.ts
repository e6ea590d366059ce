// status: GET /status/{id} (the seed's shape plus deliveries and their attempts), GET /deliveries
// (newest first, by status, rule or webhook: the dead-letter view), GET /health, and
// GET /dashboard/summary (the seed's summary JSON). The summary shows counts and rule names only,
// no payloads, headers or ids, as /metrics does, so it stays open like /metrics for dashboards.
import { Hono } from 'hono';
import type { Logger } from '../runtime/log.js';
import type { DashboardSummary } from '../runtime/summary.js';
import { DELIVERY_STATUSES, type DeliveryStatus, type DuckDBStore } from '../runtime/store.js';
import { requireAdmin } from './auth.js';
import { GatewayError, notFound, onError } from './errors.js';

export interface StatusDeps {
  store: Pick<DuckDBStore, 'webhookStatus' | 'listDeliveries' | 'ping'>;
  /** 'running' (own timers), 'external' (a scheduler calls /drain and /retry) or 'stopped'. */
  processorState: () => 'running' | 'external' | 'stopped';
  /** The summary as of now (runtime/summary.ts). */
  summary: () => Promise<DashboardSummary>;
  /** /status shows stored webhooks and needs the admin token; /health and the summary stay open. */
  adminToken: string | undefined;
  /** Serve the admin reads, GET /status/{id} and GET /deliveries (default true); false on the public port when admin has its own. */
  adminReads?: boolean;
  log: Logger;
}

/** An optional integer query parameter in [min, max]; 400 query_invalid otherwise. */
function intQuery(raw: string | undefined, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new GatewayError('query_invalid', 400, `${name} must be an integer in [${min}, ${max}]`);
  return n;
}

export function createStatus(deps: StatusDeps): Hono {
  const app = new Hono();
  app.onError(onError(deps.log));
  app.notFound(notFound());
  if (deps.adminReads ?? true) {
    app.use('/status/*', requireAdmin(deps.adminToken));
    app.get('/status/:id', async (c) => {
      const id = Number(c.req.param('id'));
      if (!Number.isSafeInteger(id) || id < 1) throw new GatewayError('id_invalid', 400, 'webhook id must be a positive integer');
      const status = await deps.store.webhookStatus(id);
      if (!status) throw new GatewayError('not_found', 404, `webhook ${id} not found`);
      return c.json(status);
    });

    // The dead-letter view (and any other state): newest first, one page at a time.
    app.use('/deliveries', requireAdmin(deps.adminToken));
    app.get('/deliveries', async (c) => {
      const q = c.req.query();
      const status = q.status;
      if (status !== undefined && !(DELIVERY_STATUSES as readonly string[]).includes(status)) {
        throw new GatewayError('query_invalid', 400, `status must be one of ${DELIVERY_STATUSES.join(', ')}`);
      }
      const limit = intQuery(q.limit, 'limit', 1, 1000) ?? 100;
      const deliveries = await deps.store.listDeliveries({
        status: status as DeliveryStatus | undefined,
        ruleId: intQuery(q.rule_id, 'rule_id', 1),
        webhookId: intQuery(q.webhook_id, 'webhook_id', 1),
        beforeId: intQuery(q.before_id, 'before_id', 1),
        limit,
      });
      // A full page may have more behind it: the next page starts below its last id.
      const next = deliveries.length === limit ? deliveries[deliveries.length - 1]!.id : null;
      return c.json({ deliveries, next_before_id: next });
    });
  }

  app.get('/dashboard/summary', async (c) => c.json(await deps.summary()));

  app.get('/health', async (c) => {
    const processor = deps.processorState();
    try {
      await deps.store.ping();
    } catch (err) {
      deps.log.error({ err }, 'health check: database unreachable');
      return c.json({ status: 'unhealthy', database: 'unreachable', processor }, 503);
    }
    const healthy = processor !== 'stopped';
    return c.json({ status: healthy ? 'healthy' : 'unhealthy', database: 'connected', processor }, healthy ? 200 : 503);
  });
  return app;
}
