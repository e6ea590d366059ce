// drain: POST /drain. Routes new webhooks, claims due deliveries under a lease, delivers them,
// and returns what it did. The runtime's timer calls the same function.
import { Hono } from 'hono';
import type { Logger } from '../runtime/log.js';
import type { Processor } from '../runtime/processor.js';
import { readBudget, type BudgetLimits } from './budget.js';
import { notFound, onError } from './errors.js';

export interface DrainDeps {
  processor: Pick<Processor, 'drain'>;
  limits: BudgetLimits;
  log: Logger;
}

export function createDrain(deps: DrainDeps): Hono {
  const app = new Hono();
  app.onError(onError(deps.log));
  app.notFound(notFound());
  app.post('/drain', async (c) => c.json(await deps.processor.drain(await readBudget(c, deps.limits))));
  return app;
}
