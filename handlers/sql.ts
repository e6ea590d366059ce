// sql: POST /admin/sql {"sql": "...", "max_rows"?: n}. Read-only statements only, rows as JSON
// with a cap: how operators query history while the gateway holds the database file.
import { Hono } from 'hono';
import type { AdminSql } from '../runtime/admin-sql.js';
import type { Logger } from '../runtime/log.js';
import { intField, jsonObject } from './admin.js';
import { requireAdmin } from './auth.js';
import { GatewayError, notFound, onError } from './errors.js';

export interface SqlDeps {
  sql: Pick<AdminSql, 'query'>;
  maxRows: number;
  adminToken: string | undefined;
  log: Logger;
}

export function createSql(deps: SqlDeps): Hono {
  const app = new Hono();
  app.onError(onError(deps.log));
  app.notFound(notFound());
  app.use('/admin/*', requireAdmin(deps.adminToken));
  app.post('/admin/sql', async (c) => {
    const body = await jsonObject(c, 'sql_invalid');
    if (typeof body.sql !== 'string') throw new GatewayError('sql_invalid', 400, 'body must be {"sql": "SELECT ..."}');
    const maxRows = intField(body, 'max_rows', deps.maxRows, 1, deps.maxRows, 'sql_invalid');
    deps.log.info({ sql: body.sql.slice(0, 500) }, 'ad-hoc sql');
    return c.json(await deps.sql.query(body.sql, maxRows));
  });
  return app;
}
