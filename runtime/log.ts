// Structured logs: one JSON object per line, secrets redacted at the logger.
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.adminToken',
  'adminToken',
];

/** A pino logger at `level`, writing to `destination` (stdout by default). */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const normalised = level === 'warning' ? 'warn' : level;
  return pino(
    { level: normalised, base: { service: 'duckhook' }, redact: { paths: REDACT, censor: '[redacted]' } },
    destination ?? pino.destination({ sync: false }),
  );
}
