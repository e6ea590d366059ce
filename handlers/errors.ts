// Errors carry a stable code; callers and the onError handler match on the code, never on
// instanceof, because each esbuild bundle carries its own copy of this module.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export class GatewayError extends Error {
  constructor(
    readonly code: string,
    readonly status: ContentfulStatusCode,
    message: string,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

interface Coded {
  code: string;
  status: ContentfulStatusCode;
  message: string;
}

function isCoded(err: unknown): err is Coded {
  const e = err as Partial<Coded> | null;
  return typeof e?.code === 'string' && typeof e.status === 'number' && typeof e.message === 'string';
}

/** The JSON error body every handler answers with. */
export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

interface ErrorLogger {
  error(obj: object, msg: string): void;
}

/** Turns coded errors into `{error:{code,message}}` with their status; anything else is a 500 that leaks nothing. */
export function onError(log: ErrorLogger) {
  return (err: Error, c: Context) => {
    if (isCoded(err)) return c.json(errorBody(err.code, err.message), err.status);
    // Hono's HTTPException (e.g. from a malformed request) carries a status of its own.
    const status = (err as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return c.json(errorBody('bad_request', err.message || 'bad request'), status as ContentfulStatusCode);
    }
    log.error({ err, path: c.req.path, method: c.req.method }, 'unhandled error');
    return c.json(errorBody('internal_error', 'internal error'), 500);
  };
}

export function notFound() {
  return (c: Context) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404);
}
