// sources admin: GET /sources, GET/PUT/DELETE /sources/{name}, behind the admin token.
// Secrets go in and never come out: responses show how many secrets a source has, not them.
import { Hono } from 'hono';
import type { Logger } from '../runtime/log.js';
import { publicView, type SourceRegistry } from '../runtime/sources.js';
import { requireAdmin } from './auth.js';
import { GatewayError, notFound, onError } from './errors.js';

export interface SourcesDeps {
  sources: Pick<SourceRegistry, 'get' | 'all' | 'put' | 'delete'>;
  adminToken: string | undefined;
  now: () => number;
  log: Logger;
}

export function createSourcesAdmin(deps: SourcesDeps): Hono {
  const app = new Hono();
  app.onError(onError(deps.log));
  app.notFound(notFound());
  app.use('/sources', requireAdmin(deps.adminToken));
  app.use('/sources/*', requireAdmin(deps.adminToken));

  app.get('/sources', (c) => c.json({ sources: deps.sources.all().map(publicView) }));

  app.get('/sources/:name', (c) => {
    const source = deps.sources.get(c.req.param('name'));
    if (!source) throw new GatewayError('not_found', 404, `source ${c.req.param('name')} not found`);
    return c.json(publicView(source));
  });

  app.put('/sources/:name', async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new GatewayError('source_invalid', 400, 'body must be a JSON object');
    }
    const existed = deps.sources.get(c.req.param('name')) !== undefined;
    const source = await deps.sources.put(c.req.param('name'), body, deps.now());
    return c.json(publicView(source), existed ? 200 : 201);
  });

  app.delete('/sources/:name', async (c) => {
    if (!(await deps.sources.delete(c.req.param('name')))) {
      throw new GatewayError('not_found', 404, `source ${c.req.param('name')} not found`);
    }
    return c.json({ name: c.req.param('name'), deleted: true });
  });
  return app;
}
