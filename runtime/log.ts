// Structured logs: one JSON object per line, secrets redacted at the logger.
import { pino, type Logger } from 'pino';
import { scrubSecrets, SENSITIVE_HEADERS } from './redact.js';

export type { Logger };

// Every sensitive header (runtime/redact.ts) under `headers`, `req.headers` and any one-level
// parent's `headers` (e.g. `webhook.headers`), so a header logged any of those ways is masked.
const REDACT = [
  ...[...SENSITIVE_HEADERS].flatMap((h) => [`headers["${h}"]`, `req.headers["${h}"]`, `*.headers["${h}"]`]),
  '*.adminToken',
  'adminToken',
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
