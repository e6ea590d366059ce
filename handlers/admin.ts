// admin: the routing rules API (seed-compatible GET/POST /routing-rules, PUT /{id}/toggle).
// Every rule is dry-run in the sandbox before it is saved.
import { Hono } from 'hono';
import type { Logger } from '../runtime/log.js';
import type { RuleSandbox } from '../runtime/sandbox.js';
import type { DuckDBStore, NewRule } from '../runtime/store.js';
import { requireAdmin } from './auth.js';
import { GatewayError, notFound, onError } from './errors.js';

export interface AdminDeps {
  store: Pick<DuckDBStore, 'listRules' | 'insertRule' | 'toggleRule'>;
  sandbox: Pick<RuleSandbox, 'check'>;
  adminToken: string | undefined;
  now: () => number;
  log: Logger;
}

const bad = (message: string) => new GatewayError('rule_invalid', 400, message);

function parseRule(body: Record<string, unknown>): NewRule {
  const str = (key: string, required = true): string => {
    const v = body[key];
    if (v === undefined || v === null) {
      if (required) throw bad(`${key} is required`);
      return '';
    }
    if (typeof v !== 'string') throw bad(`${key} must be a string`);
    return v;
  };
  const targetUrl = str('target_url');
  let url: URL;
  try {
    url = new URL(targetUrl);
  } catch {
    throw bad('target_url must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('target_url must be an absolute http(s) URL');
  const policy = (body.retry_policy ?? {}) as Record<string, unknown>;
  if (typeof policy !== 'object' || Array.isArray(policy)) throw bad('retry_policy must be an object');
  const positive = (v: unknown, name: string, min: number, max: number) => {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw bad(`${name} must be a number in [${min}, ${max}]`);
    return v;
  };
  const maxRetries = positive(policy.max_retries, 'retry_policy.max_retries', 0, 100);
  if (maxRetries !== undefined && !Number.isInteger(maxRetries)) throw bad('retry_policy.max_retries must be an integer');
  const name = str('rule_name');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw bad('rule_name must be 1-64 letters, digits, _ . -');
  return {
    ruleName: name,
    description: str('description', false),
    filterQuery: str('filter_query'),
    transformQuery: str('transform_query', false) || 'SELECT payload',
    targetUrl,
    timeoutSeconds: positive(body.timeout_seconds, 'timeout_seconds', 1, 60) ?? 30,
    priority: positive(body.priority, 'priority', -1_000_000, 1_000_000) ?? 100,
    retryPolicy: {
      maxRetries,
      backoffMultiplier: positive(policy.backoff_multiplier, 'retry_policy.backoff_multiplier', 1, 100),
      baseDelaySeconds: positive(policy.base_delay_seconds, 'retry_policy.base_delay_seconds', 0, 86_400),
    },
  };
}

export function createAdmin(deps: AdminDeps): Hono {
  const app = new Hono();
  app.onError(onError(deps.log));
  app.notFound(notFound());
  app.use('/routing-rules', requireAdmin(deps.adminToken));
  app.use('/routing-rules/*', requireAdmin(deps.adminToken));

  app.get('/routing-rules', async (c) => c.json({ rules: await deps.store.listRules() }));

  app.post('/routing-rules', async (c) => {
    let body: Record<string, unknown>;
    try {
      body = (await c.req.json()) as Record<string, unknown>;
    } catch {
      throw bad('body must be a JSON object');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('body must be a JSON object');
    const rule = parseRule(body);
    const sample = await deps.sandbox.check(rule, body.test_payload ?? {});
    let id: number;
    try {
      id = await deps.store.insertRule(rule, deps.now());
    } catch (err) {
      if (/unique|duplicate key/i.test((err as Error).message)) {
        throw new GatewayError('rule_exists', 409, `a rule named ${rule.ruleName} already exists`);
      }
      throw err;
    }
    deps.log.info({ rule_id: id, rule_name: rule.ruleName }, 'routing rule created');
    return c.json(
      { id, message: 'Routing rule created successfully', test_result: { matched: sample.length > 0, body: sample[0]?.body ?? null } },
      201,
    );
  });

  app.put('/routing-rules/:id/toggle', async (c) => {
    const id = Number(c.req.param('id'));
    const active = Number.isSafeInteger(id) ? await deps.store.toggleRule(id, deps.now()) : null;
    if (active === null) throw new GatewayError('not_found', 404, `rule ${c.req.param('id')} not found`);
    return c.json({ id, is_active: active, message: 'Rule toggled successfully' });
  });
  return app;
}
