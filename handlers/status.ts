// status: GET /status/{id} (the seed's shape plus deliveries and their attempts), GET /health, and
// GET /dashboard/summary (the seed's summary JSON). The summary shows counts and rule names only,
// no payloads, headers or ids, as /metrics does, so it stays open like /metrics for dashboards.
import { Hono } from 'hono';
import type { Logger } from '../runtime/log.js';
import type { DashboardSummary } from '../runtime/summary.js';
import type { DuckDBStore } from '../runtime/store.js';
import { requireAdmin } from './auth.js';
import { GatewayError, notFound, onError } from './errors.js';

export interface StatusDeps {
  store: Pick<DuckDBStore, 'webhookStatus' | 'ping'>;
  /** 'running' (own timers), 'external' (a scheduler calls /drain and /retry) or 'stopped'. */
  processorState: () => 'running' | 'external' | 'stopped';
  /** The summary as of now (runtime/summary.ts). */
  summary: () => Promise<DashboardSummary>;
  /** /status shows stored webhooks and needs the admin token; /health and the summary stay open. */
  adminToken: string | undefined;
  /** Serve GET /status/{id} here (default true); false on the public port when admin has its own. */
  statusRoute?: boolean;
  log: Logger;
}

export function createStatus(deps: StatusDeps): Hono {
  const app = new Hono();
  app.onError(onError(deps.log));
  app.notFound(notFound());
  if (deps.statusRoute ?? true) {
    app.use('/status/*', requireAdmin(deps.adminToken));
    app.get('/status/:id', async (c) => {
      const id = Number(c.req.param('id'));
      if (!Number.isSafeInteger(id) || id < 1) throw new GatewayError('id_invalid', 400, 'webhook id must be a positive integer');
      const status = await deps.store.webhookStatus(id);
      if (!status) throw new GatewayError('not_found', 404, `webhook ${id} not found`);
      return c.json(status);
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
