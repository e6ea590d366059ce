// replay: POST /webhooks/{id}/replay, POST /replay (a SQL predicate over stored webhooks, with
// dry_run), POST /deliveries/{id}/retry. All add new deliveries; none rewrites history.
import { Hono } from 'hono';
import type { Logger } from '../runtime/log.js';
import type { Replayer } from '../runtime/replay.js';
import { idParam, intField, jsonObject, timeField } from './admin.js';
import { requireAdmin } from './auth.js';
import { GatewayError, notFound, onError } from './errors.js';

export interface ReplayDeps {
  replayer: Replayer;
  adminToken: string | undefined;
  log: Logger;
}

function target(body: Record<string, unknown>) {
  const ruleId = body.rule_id;
  if (ruleId !== undefined && ruleId !== null && (typeof ruleId !== 'number' || !Number.isSafeInteger(ruleId) || ruleId < 1)) {
    throw new GatewayError('replay_invalid', 400, 'rule_id must be a positive integer');
  }
  if (body.force !== undefined && typeof body.force !== 'boolean') throw new GatewayError('replay_invalid', 400, 'force must be true or false');
  if (body.force && ruleId == null) throw new GatewayError('replay_invalid', 400, 'force needs a rule_id');
  return { ruleId: (ruleId ?? undefined) as number | undefined, force: body.force === true };
}

export function createReplay(deps: ReplayDeps): Hono {
  const app = new Hono();
  app.onError(onError(deps.log));
  app.notFound(notFound());
  const guard = requireAdmin(deps.adminToken);
  app.use('/webhooks/*', guard);
  app.use('/replay', guard);
  app.use('/deliveries/*', guard);

  app.post('/webhooks/:id/replay', async (c) => {
    const body = await jsonObject(c, 'replay_invalid');
    return c.json(await deps.replayer.replayWebhook(idParam(c), target(body)), 201);
  });

  app.post('/replay', async (c) => {
    const body = await jsonObject(c, 'replay_invalid');
    const where = body.where ?? body.predicate;
    if (typeof where !== 'string' || !where.trim()) {
      throw new GatewayError('replay_invalid', 400, 'where is required: a SQL boolean expression over webhooks, e.g. "source = \'stripe\'"');
    }
    if (body.dry_run !== undefined && typeof body.dry_run !== 'boolean') throw new GatewayError('replay_invalid', 400, 'dry_run must be true or false');
    const result = await deps.replayer.replayWhere({
      where,
      ...target(body),
      since: timeField(body, 'since', 'replay_invalid'),
      until: timeField(body, 'until', 'replay_invalid'),
      dryRun: body.dry_run === true,
      sample: intField(body, 'sample', 10, 0, 1000, 'replay_invalid'),
    });
    return c.json(result, result.dry_run ? 200 : 201);
  });

  app.post('/deliveries/:id/retry', async (c) => c.json(await deps.replayer.retryDelivery(idParam(c)), 201));
  return app;
}
