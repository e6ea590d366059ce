// drain: POST /drain. Routes new webhooks, claims due deliveries under a lease, delivers them,
// and returns what it did. The runtime's timer calls the same function.
import { Hono } from 'hono';
import type { Logger } from '../runtime/log.js';
import type { Processor } from '../runtime/processor.js';
import { requireAdmin } from './auth.js';
import { readBudget, type BudgetLimits } from './budget.js';
import { notFound, onError } from './errors.js';

export interface DrainDeps {
  processor: Pick<Processor, 'drain'>;
  limits: BudgetLimits;
  /** Schedulers call with the admin token: drain and retry send webhooks out. */
  adminToken: string | undefined;
  log: Logger;
}

export function createDrain(deps: DrainDeps): Hono {
  const app = new Hono();
  app.onError(onError(deps.log));
  app.notFound(notFound());
  app.use('/drain', requireAdmin(deps.adminToken));
  app.post('/drain', async (c) => c.json(await deps.processor.drain(await readBudget(c, deps.limits))));
  return app;
}
