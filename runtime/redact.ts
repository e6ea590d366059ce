// What must never be shown: credentials in headers and the sources' secrets. Headers are masked
// by name (here and in pino's redact paths, runtime/log.ts); secrets are masked by value in every
// log line, since a secret can surface in text no redact path names.
export const MASK = '[redacted]';

/** Header names that carry signatures, by scheme; masked in logs and stored headers. */
export const SIGNATURE_HEADERS = [
  'webhook-signature',
  'svix-signature',
  'x-hub-signature',
  'x-hub-signature-256',
  'stripe-signature',
  'x-shopify-hmac-sha256',
  'x-slack-signature',
] as const;

/** Incoming header names whose values are credentials or signatures. */
export const SENSITIVE_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  ...SIGNATURE_HEADERS,
]);

/** A copy of `headers` with sensitive values (and `extra` names, lower case) replaced by the mask. */
export function maskHeaders(headers: Record<string, string>, extra?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = SENSITIVE_HEADERS.has(k) || k === extra ? MASK : v;
  return out;
}

// Secrets shorter than this are not masked by value: masking "abc" everywhere would mangle logs
// and tell a reader the secret anyway.
const MIN_MASKED = 6;
const secrets = new Set<string>();
let pattern: RegExp | null = null;

/** Adds secrets to the set masked in every log line (process-wide: the logger is too). */
export function maskSecrets(values: readonly string[]): void {
  let added = false;
  for (const v of values) {
    if (v.length < MIN_MASKED || secrets.has(v)) continue;
    secrets.add(v);
    added = true;
  }
  if (!added) return;
  // A log line is JSON, so a secret appears JSON-escaped; mask both spellings, longest first.
  const forms = new Set<string>();
  for (const s of secrets) {
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  const escaped = [...forms].sort((a, b) => b.length - a.length).map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  pattern = new RegExp(escaped.join('|'), 'g');
}

/** `text` with every known secret replaced by the mask. */
export function scrubSecrets(text: string): string {
  return pattern === null ? text : text.replace(pattern, MASK);
}
