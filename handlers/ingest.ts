// ingest: POST /webhook/{path...}. Raw bytes in, durable group-committed insert, 202 out.
// The 202 is sent only after the transaction holding this webhook has committed.
import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { GroupCommitter } from '../runtime/group-commit.js';
import type { Logger } from '../runtime/log.js';
import type { Metrics } from '../runtime/metrics.js';
import type { NewWebhook } from '../runtime/store.js';
import { GatewayError, notFound, onError } from './errors.js';

export interface IngestDeps {
  committer: Pick<GroupCommitter<NewWebhook, number>, 'submit'>;
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

/**
 * Refuses bodies over `maxSize` with 413. A declared Content-Length is checked without touching
 * the body stream (touching it makes @hono/node-server build a web ReadableStream, ~10% of
 * ingest CPU); chunked bodies are counted as they stream by hono's bodyLimit, which stops
 * reading as soon as the limit is crossed.
 */
function limitBody(maxSize: number, onTooLarge: () => never): MiddlewareHandler {
  const streaming = bodyLimit({ maxSize, onError: onTooLarge });
  return async (c, next) => {
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number(length) > maxSize) onTooLarge();
      return next();
    }
    return streaming(c, next);
  };
}

export function createIngest(deps: IngestDeps): Hono {
  const app = new Hono();
  app.onError(onError(deps.log));
  app.notFound(notFound());

  app.post(
    '/webhook/*',
    limitBody(deps.maxBodyBytes, () => {
      deps.metrics.received.inc({ endpoint: '/webhook', source: 'other', status: 'rejected' });
      throw new GatewayError('payload_too_large', 413, `body exceeds ${deps.maxBodyBytes} bytes`);
    }),
    async (c) => {
      // Hono has already percent-decoded the path (leaving malformed escapes as they were).
      const endpoint = c.req.path.slice('/webhook/'.length);
      if (!endpoint) throw new GatewayError('endpoint_missing', 404, 'POST /webhook/{source}/... needs a path');
      const body = new Uint8Array(await c.req.arrayBuffer());
      const headers = Object.fromEntries(c.req.raw.headers.entries());
      const forwardedFor = headers['x-forwarded-for']?.split(',')[0]?.trim();
      const payload = jsonText(body);
      const webhook: NewWebhook = {
        receivedAt: deps.now(),
        source: endpoint.split('/')[0]!,
        endpoint,
        sourceIp: clientIp(c.env) ?? forwardedFor ?? null,
        contentType: headers['content-type'] ?? null,
        headers: JSON.stringify(headers),
        // JSON bodies are stored once, as payload, when its text is the body byte for byte
        // (a UTF-8 BOM, which the decoder drops, keeps the bytes stored separately).
        body: payload !== null && Buffer.byteLength(payload) === body.length ? null : body,
        payload,
      };
      let id: number;
      try {
        id = await deps.committer.submit(webhook);
      } catch (err) {
        if ((err as { code?: string }).code === 'shutting_down') {
          throw new GatewayError('shutting_down', 503, 'gateway is shutting down; retry later');
        }
        deps.log.error({ err, endpoint }, 'webhook could not be stored');
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
