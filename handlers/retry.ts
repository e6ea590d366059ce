// retry: POST /retry. Recovers expired leases, dead-letters the exhausted, and re-delivers
// failed deliveries whose backoff has elapsed.
import { Hono } from 'hono';
import type { Logger } from '../runtime/log.js';
import type { Processor } from '../runtime/processor.js';
import { requireAdmin } from './auth.js';
import { readBudget, type BudgetLimits } from './budget.js';
import { notFound, onError } from './errors.js';

export interface RetryDeps {
  processor: Pick<Processor, 'retry'>;
  limits: BudgetLimits;
  /** Schedulers call with the admin token: drain and retry send webhooks out. */
  adminToken: string | undefined;
  log: Logger;
}

export function createRetry(deps: RetryDeps): Hono {
  const app = new Hono();
  app.onError(onError(deps.log));
  app.notFound(notFound());
  app.use('/retry', requireAdmin(deps.adminToken));
  app.post('/retry', async (c) => c.json(await deps.processor.retry(await readBudget(c, deps.limits))));
  return app;
}
