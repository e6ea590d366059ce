import type { Context } from 'hono';
import { GatewayError } from './errors.js';

export interface BudgetLimits {
  defaultMax: number;
  defaultTimeMs: number;
}

/** Reads an optional `{"max": n, "time_ms": t}` budget from the request body. */
export async function readBudget(c: Context, limits: BudgetLimits): Promise<{ max: number; timeMs: number }> {
  const text = await c.req.text();
  if (!text.trim()) return { max: limits.defaultMax, timeMs: limits.defaultTimeMs };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new GatewayError('budget_invalid', 400, 'body must be JSON like {"max": 100, "time_ms": 1000}');
  }
  const { max = limits.defaultMax, time_ms = limits.defaultTimeMs } = (body ?? {}) as { max?: unknown; time_ms?: unknown };
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 100_000) {
    throw new GatewayError('budget_invalid', 400, 'max must be an integer between 1 and 100000');
  }
  if (typeof time_ms !== 'number' || time_ms < 1 || time_ms > 600_000) {
    throw new GatewayError('budget_invalid', 400, 'time_ms must be a number between 1 and 600000');
  }
  return { max, timeMs: time_ms };
}
