// Bearer-token guard for admin routes. Constant-time compare; with no token configured the
// routes are refused outright (never silently open), with a message that says how to enable them.
import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { GatewayError } from './errors.js';

/** Requires `Authorization: Bearer <token>`; 401 when missing or wrong, 403 when admin is disabled. */
export function requireAdmin(token: string | undefined): MiddlewareHandler {
  const expected = token === undefined ? undefined : Buffer.from(`Bearer ${token}`);
  return async (c, next) => {
    if (expected === undefined) {
      throw new GatewayError('admin_disabled', 403, 'admin routes are disabled: set ADMIN_TOKEN to enable them');
    }
    const given = Buffer.from(c.req.header('authorization') ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new GatewayError('unauthorized', 401, 'admin routes need Authorization: Bearer <ADMIN_TOKEN>');
    }
    return next();
  };
}
