// Outbound HTTP with undici: one keep-alive Pool per target origin, connect/header/body
// timeouts, redirects never followed (a 3xx is an answer, not an instruction), and only the
// first bytes of the response body kept. Every connection goes through the NetGuard
// (runtime/netguard.ts): the name is resolved by the guard, and the socket's actual peer address
// is checked once connected, so a cloud metadata address is never spoken to.
import type { Socket } from 'node:net';
import { buildConnector, Pool } from 'undici';
import { canonicalIp, NetGuard, TargetForbiddenError } from './netguard.js';

export interface DeliveryRequest {
  url: string;
  body: Buffer | string;
  contentType: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

export interface DeliveryResponse {
  statusCode: number | null;
  /** Truncated response body (text), or null when the request never got an answer. */
  body: string | null;
  retryAfter: string | undefined;
  error: string | null;
  durationMs: number;
  /** The target was refused by policy (metadata address, allowlist): final, never retried. */
  refused?: boolean;
}

export interface DelivererOptions {
  connections: number;
  responseBodyMaxBytes: number;
  connectTimeoutMs: number;
  /** Outbound policy; the default refuses cloud metadata addresses only. */
  guard?: NetGuard;
}

export class Deliverer {
  private readonly pools = new Map<string, Pool>();
  private readonly guard: NetGuard;
  private readonly connect: buildConnector.connector;

  constructor(private readonly opts: DelivererOptions) {
    const guard = (this.guard = opts.guard ?? new NetGuard());
    const base = buildConnector({ timeout: opts.connectTimeoutMs, lookup: guard.lookup } as buildConnector.BuildOptions);
    this.connect = (options, callback) => {
      // net.connect skips lookup for an IP literal, so literals are checked here.
      const literal = canonicalIp(options.hostname);
      const early = literal === null ? null : guard.refusal(literal, options.hostname);
      if (early) {
        callback(new TargetForbiddenError(`target refused: ${early}`), null);
        return;
      }
      base(options, (err, socket) => {
        if (err || !socket) {
          callback(err ?? new Error('connect failed'), null);
          return;
        }
        // The address actually dialled, whatever resolved it.
        const why = guard.refusal((socket as Socket).remoteAddress ?? '', options.hostname);
        if (why) {
          socket.destroy();
          callback(new TargetForbiddenError(`target refused: ${why}`), null);
          return;
        }
        callback(null, socket);
      });
    };
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.opts.connections,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        connect: this.connect,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  async send(req: DeliveryRequest): Promise<DeliveryResponse> {
    const started = performance.now();
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return { statusCode: null, body: null, retryAfter: undefined, error: 'invalid target url', durationMs: 0 };
    }
    try {
      const res = await this.pool(url.origin).request({
        method: 'POST',
        path: `${url.pathname}${url.search}`,
        headers: { ...req.headers, 'content-type': req.contentType },
        body: req.body,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
        signal: AbortSignal.timeout(req.timeoutMs),
      });
      const body = await this.readTruncated(res.body);
      const retryAfter = res.headers['retry-after'];
      return {
        statusCode: res.statusCode,
        body,
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
        error: null,
        durationMs: performance.now() - started,
      };
    } catch (err) {
      const e = err as { code?: string; message?: string; name?: string; cause?: { code?: string; message?: string } };
      // undici may wrap a connector's error; the guard's code is found either way.
      const forbidden = e.code === 'target_forbidden' ? e : e.cause?.code === 'target_forbidden' ? e.cause : null;
      if (forbidden) {
        return { statusCode: null, body: null, retryAfter: undefined, error: `target_forbidden: ${(forbidden.message ?? '').replace(/^target refused: /, '')}`.slice(0, 500), durationMs: performance.now() - started, refused: true };
      }
      const reason = e.name === 'TimeoutError' ? 'timeout' : (e.code ?? e.name ?? 'error');
      return {
        statusCode: null,
        body: null,
        retryAfter: undefined,
        error: `${reason}: ${e.message ?? String(err)}`.slice(0, 500),
        durationMs: performance.now() - started,
      };
    }
  }

  private async readTruncated(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
    const max = this.opts.responseBodyMaxBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= max) {
        body.destroy();
        break;
      }
    }
    return Buffer.concat(chunks).subarray(0, max).toString('utf8');
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }
}
