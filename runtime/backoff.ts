// Retry policy is data: a schedule computed from (base, multiplier, cap) with proportional jitter.
import type { RetryPolicy } from './store.js';

export interface BackoffOptions {
  maxDelaySeconds: number;
  /** 0.2 means each delay is scaled by a factor in [0.8, 1.2). */
  jitter: number;
  /** Returns a number in [0, 1); injected so tests are deterministic. */
  random: () => number;
}

/** Delay before attempt `failedAttempts + 1`, in ms: base * multiplier^(failedAttempts - 1), capped, jittered. */
export function backoffMs(policy: RetryPolicy, failedAttempts: number, opts: BackoffOptions): number {
  const raw = policy.baseDelaySeconds * policy.backoffMultiplier ** Math.max(0, failedAttempts - 1);
  const capped = Math.min(raw, opts.maxDelaySeconds);
  const factor = 1 + opts.jitter * (2 * opts.random() - 1);
  return Math.max(0, capped * factor * 1000);
}

/** The whole default schedule, for the README and for people choosing a policy. */
export function schedule(policy: RetryPolicy, opts: Omit<BackoffOptions, 'random'>): number[] {
  return Array.from({ length: policy.maxRetries }, (_, i) =>
    backoffMs(policy, i + 1, { ...opts, jitter: 0, random: () => 0.5 }),
  );
}

/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns ms from now, or null
 * when absent or unparseable.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}
