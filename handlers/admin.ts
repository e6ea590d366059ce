// admin: routing rules (the seed's GET/POST /routing-rules and PUT /{id}/toggle, plus get,
// replace, patch, delete, failures), backtests against stored history, and rules as files
// (export/import). Every route needs the admin token; every write is validated and dry-run in the
// sandbox first.
import { Hono, type Context } from 'hono';
import type { BacktestRequest } from '../runtime/backtest.js';
import type { Logger } from '../runtime/log.js';
import type { RuleService } from '../runtime/rules.js';
import type { DuckDBStore } from '../runtime/store.js';
import { requireAdmin } from './auth.js';
import { GatewayError, notFound, onError } from './errors.js';

export interface AdminDeps {
  store: Pick<DuckDBStore, 'listRules' | 'getRule' | 'toggleRule' | 'ruleFailures'>;
  rules: RuleService;
  backtest: (req: BacktestRequest) => Promise<unknown>;
  adminToken: string | undefined;
  now: () => number;
  log: Logger;
}

type Body = Record<string, unknown>;

/** The request body as a JSON object, or 400 `code`. */
export async function jsonObject(c: Context, code = 'request_invalid'): Promise<Body> {
  let body: unknown;
  try {
    const text = await c.req.text();
    body = text.trim() ? JSON.parse(text) : {};
  } catch {
    throw new GatewayError(code, 400, 'body must be a JSON object');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new GatewayError(code, 400, 'body must be a JSON object');
  return body as Body;
}

/** A positive integer path parameter, or 400 id_invalid. */
export function idParam(c: Context, name = 'id'): number {
  const id = Number(c.req.param(name));
  if (!Number.isSafeInteger(id) || id < 1) throw new GatewayError('id_invalid', 400, `${name} must be a positive integer`);
  return id;
}

/** An optional ISO-8601 time (or epoch ms) field as epoch ms. */
export function timeField(body: Body, key: string, code: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw new GatewayError(code, 400, `${key} must be an ISO-8601 time or epoch milliseconds`);
  return ms;
}

/** An optional integer field within [min, max]. */
export function intField(body: Body, key: string, fallback: number, min: number, max: number, code: string): number {
  const v = body[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new GatewayError(code, 400, `${key} must be an integer in [${min}, ${max}]`);
  return v;
}

export function createAdmin(deps: AdminDeps): Hono {
  const app = new Hono();
  app.onError(onError(deps.log));
  app.notFound(notFound());
  app.use('/routing-rules', requireAdmin(deps.adminToken));
  app.use('/routing-rules/*', requireAdmin(deps.adminToken));

  app.get('/routing-rules', async (c) => c.json({ rules: await deps.store.listRules() }));

  app.post('/routing-rules', async (c) => {
    const { id, testResult } = await deps.rules.create(await jsonObject(c, 'rule_invalid'));
    return c.json({ id, message: 'Routing rule created successfully', test_result: testResult }, 201);
  });

  // Files first, so "export" is never taken for an id.
  app.get('/routing-rules/export', async (c) => c.json(await deps.rules.exportRules()));

  app.post('/routing-rules/import', async (c) => {
    let doc: unknown;
    try {
      doc = await c.req.json();
    } catch {
      throw new GatewayError('rule_invalid', 400, 'body must be JSON: an array of rules or {"rules": [...]}');
    }
    return c.json(await deps.rules.importRules(doc));
  });

  const backtestRequest = (body: Body, base?: { filter_query: string | null; transform_query: string | null; id: number | null }): BacktestRequest => {
    const filter = body.filter_query ?? base?.filter_query;
    const transform = body.transform_query ?? base?.transform_query ?? 'SELECT payload';
    if (typeof filter !== 'string') throw new GatewayError('rule_invalid', 400, 'filter_query is required');
    if (typeof transform !== 'string') throw new GatewayError('rule_invalid', 400, 'transform_query must be a string');
    return {
      filterQuery: filter,
      transformQuery: transform,
      since: timeField(body, 'since', 'request_invalid'),
      until: timeField(body, 'until', 'request_invalid'),
      limit: intField(body, 'limit', 10_000_000, 1, 100_000_000, 'request_invalid'),
      sample: intField(body, 'sample', 5, 0, 100, 'request_invalid'),
      ruleId: base?.id ?? undefined,
      testPayload: body.test_payload,
    };
  };

  app.post('/routing-rules/test', async (c) => c.json(await deps.backtest(backtestRequest(await jsonObject(c)))));

  app.post('/routing-rules/:id/test', async (c) => {
    const rule = await deps.store.getRule(idParam(c));
    if (!rule) throw new GatewayError('not_found', 404, `rule ${c.req.param('id')} not found`);
    return c.json(await deps.backtest(backtestRequest(await jsonObject(c), rule)));
  });

  app.get('/routing-rules/:id', async (c) => {
    const rule = await deps.store.getRule(idParam(c));
    if (!rule) throw new GatewayError('not_found', 404, `rule ${c.req.param('id')} not found`);
    return c.json(rule);
  });

  app.get('/routing-rules/:id/errors', async (c) => {
    const id = idParam(c);
    const rule = await deps.store.getRule(id);
    if (!rule) throw new GatewayError('not_found', 404, `rule ${id} not found`);
    const failures = await deps.store.ruleFailures(id, 100);
    return c.json({
      rule_id: id,
      rule_name: rule.rule_name,
      error_count: rule.error_count,
      failures: failures.map((f) => ({
        ...f,
        // Those webhooks got no delivery from this rule: this body sends them to it once it is fixed.
        replay: { where: `id BETWEEN ${f.first_webhook_id} AND ${f.last_webhook_id}`, rule_id: id },
      })),
    });
  });

  const write = (merge: boolean) => async (c: Context) => {
    const { id, testResult } = await deps.rules.update(idParam(c), await jsonObject(c, 'rule_invalid'), merge);
    return c.json({ id, message: 'Routing rule updated successfully', test_result: testResult, rule: await deps.store.getRule(id) });
  };
  app.put('/routing-rules/:id', write(false));
  app.patch('/routing-rules/:id', write(true));

  app.delete('/routing-rules/:id', async (c) => {
    const id = idParam(c);
    await deps.rules.remove(id);
    return c.json({ id, message: 'Routing rule deleted successfully' });
  });

  app.put('/routing-rules/:id/toggle', async (c) => {
    const id = Number(c.req.param('id'));
    const active = Number.isSafeInteger(id) ? await deps.store.toggleRule(id, deps.now()) : null;
    if (active === null) throw new GatewayError('not_found', 404, `rule ${c.req.param('id')} not found`);
    return c.json({ id, is_active: active, message: 'Rule toggled successfully' });
  });
  return app;
}
