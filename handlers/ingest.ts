// ingest: POST /webhook/{path...}. Raw bytes in, durable group-committed insert, 202 out.
// The 202 is sent only after the transaction holding this webhook has committed.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { GroupCommitter } from '../runtime/group-commit.js';
import type { Logger } from '../runtime/log.js';
import type { Metrics } from '../runtime/metrics.js';
import type { NewWebhook } from '../runtime/store.js';
import { GatewayError, notFound, onError } from './errors.js';

export interface IngestDeps {
  committer: Pick<GroupCommitter<NewWebhook>, 'submit'>;
  allocateId: () => number;
  maxBodyBytes: number;
  now: () => number;
  metrics: Pick<Metrics, 'received'>;
  log: Logger;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as JSON text when it is valid UTF-8 JSON, else null (stored as bytes only). */
function jsonText(body: Uint8Array): string | null {
  if (body.length === 0) return null;
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return null;
  }
  try {
    JSON.parse(text);
    return text;
  } catch {
    return null;
  }
}

/** The sender's address: the socket's when the host exposes it (@hono/node-server does). */
function clientIp(env: unknown): string | null {
  const incoming = (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? null;
}

export function createIngest(deps: IngestDeps): Hono {
  const app = new Hono();
  app.onError(onError(deps.log));
  app.notFound(notFound());

  app.post(
    '/webhook/*',
    bodyLimit({
      maxSize: deps.maxBodyBytes,
      onError: () => {
        deps.metrics.received.inc({ endpoint: '/webhook', source: 'other', status: 'rejected' });
        throw new GatewayError('payload_too_large', 413, `body exceeds ${deps.maxBodyBytes} bytes`);
      },
    }),
    async (c) => {
      // Hono has already percent-decoded the path (leaving malformed escapes as they were).
      const endpoint = c.req.path.slice('/webhook/'.length);
      if (!endpoint) throw new GatewayError('endpoint_missing', 404, 'POST /webhook/{source}/... needs a path');
      const body = new Uint8Array(await c.req.arrayBuffer());
      const headers = Object.fromEntries(c.req.raw.headers.entries());
      const forwardedFor = headers['x-forwarded-for']?.split(',')[0]?.trim();
      const id = deps.allocateId();
      const webhook: NewWebhook = {
        id,
        receivedAt: deps.now(),
        source: endpoint.split('/')[0]!,
        endpoint,
        sourceIp: clientIp(c.env) ?? forwardedFor ?? null,
        contentType: headers['content-type'] ?? null,
        headers: JSON.stringify(headers),
        body,
        payload: jsonText(body),
      };
      try {
        await deps.committer.submit(webhook);
      } catch (err) {
        if ((err as { code?: string }).code === 'shutting_down') {
          throw new GatewayError('shutting_down', 503, 'gateway is shutting down; retry later');
        }
        deps.log.error({ err, webhook_id: id }, 'webhook could not be stored');
        deps.metrics.received.inc({ endpoint: '/webhook', source: 'other', status: 'error' });
        throw new GatewayError('storage_unavailable', 503, 'webhook could not be stored; retry later');
      }
      // Label values are bounded: sources are not configured yet (see the sources issue), so
      // every sender is 'other'; the path never becomes a label.
      deps.metrics.received.inc({ endpoint: '/webhook', source: 'other', status: 'accepted' });
      return c.json({ status: 'accepted', webhook_id: id, message: 'Webhook queued for processing' }, 202);
    },
  );
  return app;
}
