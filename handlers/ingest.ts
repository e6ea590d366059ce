// ingest: POST /webhook/{source}/{path...}. Raw bytes in, checks, durable group-committed insert,
// 202 out. The order is the point: the source's limits and content types are checked before the
// body is read, the sender is verified on the raw bytes before anything is parsed, duplicates are
// answered before anything is stored, and the 202 is sent only after the webhook's transaction
// has committed.
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { DedupResult } from '../runtime/dedup.js';
import type { GroupCommitter } from '../runtime/group-commit.js';
import type { Logger } from '../runtime/log.js';
import type { Metrics } from '../runtime/metrics.js';
import { maskHeaders } from '../runtime/redact.js';
import { acceptsContentType, atPath, type Source } from '../runtime/sources.js';
import type { NewWebhook } from '../runtime/store.js';
import { errorBody, GatewayError, notFound, onError } from './errors.js';

export interface IngestDeps {
  committer: Pick<GroupCommitter<NewWebhook, number>, 'submit'>;
  maxBodyBytes: number;
  now: () => number;
  metrics: Pick<Metrics, 'received'> & Partial<Pick<Metrics, 'verificationFailures' | 'ingestOutcomes'>>;
  log: Logger;
  /** Configured sources; without them every sender is an unknown source. */
  sources?: { get(name: string): Source | undefined };
  dedup?: { once(source: string, key: string, now: number, windowMs: number, store: () => Promise<number>): Promise<DedupResult> };
  /** Unknown sources: stored unverified ('accept', the default) or refused with 404. */
  unknownSources?: 'accept' | 'reject';
  /** Keep credential and signature headers verbatim in stored headers (default: masked). */
  storeSensitiveHeaders?: boolean;
  /** JSON nested deeper than this is stored as bytes only (default 64). */
  maxJsonDepth?: number;
  /** More request headers than this is a 431 (default 100). */
  maxHeadersCount?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The deepest nesting of `[`/`{` in JSON text, stopping as soon as it passes `limit`. */
function depthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > limit) return true;
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return false;
}

/**
 * The body as JSON text and value when it is valid UTF-8 JSON no deeper than `maxDepth`, else
 * null: such bodies are stored as bytes only. The depth check comes first, so a body nested
 * 100,000 deep never reaches JSON.parse, DuckDB's JSON cast or a rule.
 */
function parseJson(body: Uint8Array, maxDepth: number): { text: string; value: unknown } | null {
  if (body.length === 0) return null;
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return null;
  }
  if (depthExceeds(text, maxDepth)) return null;
  try {
    return { text, value: JSON.parse(text) };
  } catch {
    return null;
  }
}

/** The sender's address: the socket's when the host exposes it (@hono/node-server does). */
function clientIp(env: unknown): string | null {
  const incoming = (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? null;
}

/** Header lines as received: the raw count on Node hosts (repeats included), else the merged count. */
function headerCount(c: Context): number {
  const raw = (c.env as { incoming?: { rawHeaders?: string[] } } | undefined)?.incoming?.rawHeaders;
  if (raw) return raw.length / 2;
  let n = 0;
  c.req.raw.headers.forEach(() => n++);
  return n;
}

const limiters = new Map<number, MiddlewareHandler>();

/**
 * The body, or null when it is over `maxSize`. A declared Content-Length is checked before a byte
 * is read (and without touching the body stream, which makes @hono/node-server build a web
 * ReadableStream, ~10% of ingest CPU); a chunked body is counted as it streams by hono's
 * bodyLimit, which stops reading as soon as the limit is crossed. The unread rest is discarded
 * by the host (@hono/node-server drains at most 64 MB or 500 ms, then closes the socket).
 */
async function readBody(c: Context, maxSize: number): Promise<Uint8Array | null> {
  const length = c.req.header('content-length');
  if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
    if (Number(length) > maxSize) return null;
    return new Uint8Array(await c.req.arrayBuffer());
  }
  let limiter = limiters.get(maxSize);
  if (!limiter) {
    limiter = bodyLimit({ maxSize, onError: (ctx) => ctx.body(null, 413) });
    limiters.set(maxSize, limiter);
  }
  let body: Uint8Array | null = null;
  await limiter(c, async () => {
    body = new Uint8Array(await c.req.arrayBuffer());
  });
  return body;
}

export function createIngest(deps: IngestDeps): Hono {
  const app = new Hono();
  app.onError(onError(deps.log));
  app.notFound(notFound());
  const maxJsonDepth = deps.maxJsonDepth ?? 64;
  const maxHeadersCount = deps.maxHeadersCount ?? 100;

  app.post('/webhook/*', async (c) => {
    // Hono has already percent-decoded the path (leaving malformed escapes as they were).
    const endpoint = c.req.path.slice('/webhook/'.length);
    if (!endpoint) throw new GatewayError('endpoint_missing', 404, 'POST /webhook/{source}/... needs a path');
    const sourceName = endpoint.split('/')[0]!;
    const source = deps.sources?.get(sourceName);
    // Metric labels stay bounded: a configured source's name, or 'other' for anything a sender made up.
    const label = source ? source.name : 'other';
    // The seed counts every webhook request on arrival; how it was answered is counted apart.
    deps.metrics.received.inc({ endpoint: '/webhook', source: label });
    const answered = (outcome: 'accepted' | 'duplicate' | 'rejected' | 'error') => deps.metrics.ingestOutcomes?.inc({ source: label, outcome });
    const refuse = (code: string, status: 401 | 404 | 413 | 415 | 431, message: string, extra?: Record<string, string>) => {
      answered('rejected');
      return c.json(errorBody(code, message), status, extra);
    };

    if (!source && deps.unknownSources === 'reject') return refuse('source_unknown', 404, `no source named ${sourceName} is configured`);
    if (headerCount(c) > maxHeadersCount) return refuse('too_many_headers', 431, `more than ${maxHeadersCount} request headers`);
    const contentType = c.req.header('content-type');
    if (source && !acceptsContentType(source, contentType)) {
      return refuse('unsupported_media_type', 415, `source ${source.name} accepts ${source.contentTypes!.join(', ')}`);
    }
    const maxBody = source?.maxBodyBytes ?? deps.maxBodyBytes;
    const body = await readBody(c, maxBody);
    // Connection: close tells the sender to stop sending the rest.
    if (body === null) return refuse('payload_too_large', 413, `body exceeds ${maxBody} bytes`, { connection: 'close' });

    const headers = Object.fromEntries(c.req.raw.headers.entries());
    if (source) {
      try {
        source.verify(body, headers, deps.now());
      } catch (err) {
        const e = err as { code?: string; message?: string };
        if (e.code !== 'signature_missing' && e.code !== 'signature_invalid' && e.code !== 'timestamp_out_of_tolerance') throw err;
        deps.metrics.verificationFailures?.inc({ source: label, reason: e.code });
        deps.log.info({ source: label, reason: e.code }, 'webhook refused: sender not verified');
        return refuse(e.code, 401, e.message ?? e.code);
      }
    }

    const json = parseJson(body, maxJsonDepth);
    let dedupKey: string | null = null;
    if (source?.dedup) {
      dedupKey = 'header' in source.dedup ? (headers[source.dedup.header] ?? null) : json ? atPath(json.value, source.dedup.jsonPath) : null;
    }
    const forwardedFor = headers['x-forwarded-for']?.split(',')[0]?.trim();
    const hmacHeader = source?.verification.scheme === 'hmac' ? source.verification.header : undefined;
    const webhook: NewWebhook = {
      receivedAt: deps.now(),
      source: sourceName,
      endpoint,
      sourceIp: clientIp(c.env) ?? forwardedFor ?? null,
      contentType: contentType ?? null,
      headers: JSON.stringify(deps.storeSensitiveHeaders ? headers : maskHeaders(headers, hmacHeader)),
      // JSON bodies are stored once, as payload, when its text is the body byte for byte
      // (a UTF-8 BOM, which the decoder drops, keeps the bytes stored separately).
      body: json !== null && Buffer.byteLength(json.text) === body.length ? null : body,
      payload: json?.text ?? null,
      dedupKey,
    };

    let result: DedupResult;
    try {
      result =
        dedupKey !== null && deps.dedup && source
          ? await deps.dedup.once(source.name, dedupKey, webhook.receivedAt, source.dedupWindowMs, () => deps.committer.submit(webhook))
          : { id: await deps.committer.submit(webhook), duplicate: false };
    } catch (err) {
      if ((err as { code?: string }).code === 'shutting_down') {
        answered('error');
        throw new GatewayError('shutting_down', 503, 'gateway is shutting down; retry later');
      }
      deps.log.error({ err, endpoint }, 'webhook could not be stored');
      answered('error');
      throw new GatewayError('storage_unavailable', 503, 'webhook could not be stored; retry later');
    }
    if (result.duplicate) {
      answered('duplicate');
      return c.json({ status: 'duplicate', webhook_id: result.id }, 200);
    }
    answered('accepted');
    deps.log.debug({ webhook_id: result.id, source: label }, 'webhook accepted');
    return c.json({ status: 'accepted', webhook_id: result.id, message: 'Webhook queued for processing' }, 202);
  });
  return app;
}
