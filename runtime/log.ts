// Structured logs: one JSON object per line, secrets redacted at the logger.
import { pino, type Logger } from 'pino';
import { scrubSecrets, SIGNATURE_HEADERS } from './redact.js';

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
  'headers["proxy-authorization"]',
  'req.headers["x-api-key"]',
  ...SIGNATURE_HEADERS.map((h) => `headers["${h}"]`),
  ...SIGNATURE_HEADERS.map((h) => `req.headers["${h}"]`),
  'secrets',
  '*.secrets',
  '*.*.secrets',
];

/** A pino logger at `level`, writing to `destination` (stdout by default). */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const normalised = level === 'warning' ? 'warn' : level;
  return pino(
    {
      level: normalised,
      base: { service: 'duckhook' },
      redact: { paths: REDACT, censor: '[redacted]' },
      // Configured secrets are masked by value too, wherever they appear in a line.
      hooks: { streamWrite: scrubSecrets },
    },
    destination ?? pino.destination({ sync: false }),
  );
}
