// Configuration is parsed once, here, from an env object (process.env in production, a plain
// object in tests). Every key is listed in the README with its default and unit.
import { join } from 'node:path';

export interface Config {
  port: number;
  /** With a value, the admin routes are served on this port only (0 = any free port). */
  adminPort: number | undefined;
  host: string;
  databasePath: string;
  /** Drain and retry claim at most this many deliveries per round (seed: BATCH_SIZE). */
  batchSize: number;
  /** Default retry policy for rules that do not set one. */
  maxRetries: number;
  retryDelaySeconds: number;
  backoffMultiplier: number;
  maxRetryDelaySeconds: number;
  /** Fraction of each backoff delay randomised (0.2 = ±20%). */
  retryJitter: number;
  logLevel: string;
  duckdbMemoryLimit: string | undefined;
  duckdbThreads: number | undefined;
  maxBodyBytes: number;
  /** Group commit: how long the first request of a batch may wait for company, and the cap. */
  commitWindowMs: number;
  commitMaxBatch: number;
  /** Group commits in flight at once, each on its own DuckDB connection. */
  commitConcurrency: number;
  /** How long a claimed delivery belongs to this process before others may take it back. */
  leaseMs: number;
  drainIntervalMs: number;
  /** Drain loops run at once, so one batch's HTTP deliveries overlap the next one's database work. */
  drainWorkers: number;
  retryIntervalMs: number;
  deliveryConcurrency: number;
  responseBodyMaxBytes: number;
  ruleTimeoutMs: number;
  shutdownTimeoutMs: number;
  adminToken: string | undefined;
  /** How often the background checkpointer folds the WAL into the file (0 = leave it to DuckDB). */
  checkpointIntervalMs: number;
  /** DuckDB's own checkpoint trigger, a safety net behind the timer. */
  checkpointThreshold: string;
  /** Run the drain and retry timers in this process (off when an external scheduler calls them). */
  processor: boolean;
  /** JSON file of routing rules imported (by rule_name) at start; unset = none. */
  rulesFile: string | undefined;
  /** Backtests and replays copy history into the sandbox this many webhooks at a time. */
  backtestChunkRows: number;
  /** A backtest stops (complete: false) after this long. */
  backtestTimeLimitMs: number;
  /** POST /replay refuses a predicate matching more webhooks than this. */
  replayMaxWebhooks: number;
  /** POST /admin/sql: most rows returned, and the time limit. */
  adminSqlMaxRows: number;
  adminSqlTimeoutMs: number;
  /** JSON file of sources ({"name": {verification, dedup, ...}}) loaded at start; unset = none. */
  sourcesFile: string | undefined;
  /** What happens to webhooks for a source nobody configured: stored unverified, or 404. */
  unknownSources: 'accept' | 'reject';
  /** Keep authorization, cookie and signature headers verbatim in stored headers (masked by default). */
  storeSensitiveHeaders: boolean;
  /** Hosts and CIDRs rule targets must be in (unset = any target but cloud metadata addresses). */
  targetAllowlist: string[] | undefined;
  /** JSON nested deeper than this is stored as bytes only (payload NULL). */
  maxJsonDepth: number;
  /** Node HTTP server limits against slow or oversized requests. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
  maxHeadersCount: number;
  /** In-memory dedup keys kept before the oldest are looked up in DuckDB instead. */
  dedupMemoryKeys: number;
}

export class ConfigError extends Error {
  readonly code = 'config_invalid';
}

function num(env: Record<string, string | undefined>, key: string, fallback: number, min = 0): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new ConfigError(`${key} must be a number >= ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

function bool(env: Record<string, string | undefined>, key: string, fallback: boolean): boolean {
  const raw = env[key]?.toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${key} must be true or false, got ${JSON.stringify(env[key])}`);
}

function oneOf<T extends string>(env: Record<string, string | undefined>, key: string, allowed: readonly T[], fallback: T): T {
  const raw = env[key]?.toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(`${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(env[key])}`);
  return raw as T;
}

/** Parses configuration from environment variables, applying the documented defaults. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const threads = env.DUCKDB_THREADS ? num(env, 'DUCKDB_THREADS', 0, 1) : undefined;
  const port = num(env, 'PORT', 8000);
  const adminPort = env.ADMIN_PORT ? num(env, 'ADMIN_PORT', 0) : undefined;
  if (adminPort !== undefined && adminPort !== 0 && adminPort === port) throw new ConfigError(`ADMIN_PORT must differ from PORT (both ${port})`);
  return {
    port,
    adminPort,
    host: env.HOST || '0.0.0.0',
    databasePath: env.DATABASE_PATH || join('data', 'duckhook.db'),
    batchSize: num(env, 'BATCH_SIZE', 500, 1),
    maxRetries: num(env, 'MAX_RETRIES', 8),
    retryDelaySeconds: num(env, 'RETRY_DELAY', 30),
    backoffMultiplier: num(env, 'BACKOFF_MULTIPLIER', 3, 1),
    maxRetryDelaySeconds: num(env, 'MAX_RETRY_DELAY', 6 * 3600),
    retryJitter: num(env, 'RETRY_JITTER', 0.2),
    logLevel: (env.LOG_LEVEL || 'info').toLowerCase(),
    duckdbMemoryLimit: env.DUCKDB_MEMORY_LIMIT || undefined,
    duckdbThreads: threads,
    maxBodyBytes: num(env, 'MAX_BODY_BYTES', 1024 * 1024, 1),
    commitWindowMs: num(env, 'COMMIT_WINDOW_MS', 2),
    commitMaxBatch: num(env, 'COMMIT_MAX_BATCH', 500, 1),
    commitConcurrency: num(env, 'COMMIT_CONCURRENCY', 2, 1),
    leaseMs: num(env, 'LEASE_MS', 120_000, 1000),
    drainIntervalMs: num(env, 'DRAIN_INTERVAL_MS', 250, 1),
    drainWorkers: num(env, 'DRAIN_WORKERS', 2, 1),
    retryIntervalMs: num(env, 'RETRY_INTERVAL_MS', 1000, 1),
    deliveryConcurrency: num(env, 'DELIVERY_CONCURRENCY', 128, 1),
    responseBodyMaxBytes: num(env, 'RESPONSE_BODY_MAX_BYTES', 1000, 0),
    ruleTimeoutMs: num(env, 'RULE_TIMEOUT_MS', 2000, 1),
    shutdownTimeoutMs: num(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0),
    adminToken: env.ADMIN_TOKEN || undefined,
    checkpointIntervalMs: num(env, 'CHECKPOINT_INTERVAL_MS', 2000),
    checkpointThreshold: env.CHECKPOINT_THRESHOLD || '1GB',
    processor: bool(env, 'PROCESSOR', true),
    rulesFile: env.RULES_FILE || undefined,
    backtestChunkRows: num(env, 'BACKTEST_CHUNK_ROWS', 50_000, 100),
    backtestTimeLimitMs: num(env, 'BACKTEST_TIME_LIMIT_MS', 60_000, 100),
    replayMaxWebhooks: num(env, 'REPLAY_MAX_WEBHOOKS', 100_000, 1),
    adminSqlMaxRows: num(env, 'ADMIN_SQL_MAX_ROWS', 1000, 1),
    adminSqlTimeoutMs: num(env, 'ADMIN_SQL_TIMEOUT_MS', 10_000, 100),
    sourcesFile: env.SOURCES_FILE || undefined,
    unknownSources: oneOf(env, 'UNKNOWN_SOURCES', ['accept', 'reject'] as const, 'accept'),
    storeSensitiveHeaders: bool(env, 'STORE_SENSITIVE_HEADERS', false),
    targetAllowlist: env.TARGET_ALLOWLIST
      ? env.TARGET_ALLOWLIST.split(',').map((s) => s.trim()).filter(Boolean)
      : undefined,
    maxJsonDepth: num(env, 'MAX_JSON_DEPTH', 64, 1),
    headersTimeoutMs: num(env, 'HEADERS_TIMEOUT_MS', 10_000, 1),
    requestTimeoutMs: num(env, 'REQUEST_TIMEOUT_MS', 30_000, 1),
    keepAliveTimeoutMs: num(env, 'KEEP_ALIVE_TIMEOUT_MS', 5_000, 1),
    maxHeaderBytes: num(env, 'MAX_HEADER_BYTES', 16 * 1024, 1024),
    maxHeadersCount: num(env, 'MAX_HEADERS_COUNT', 100, 1),
    dedupMemoryKeys: num(env, 'DEDUP_MEMORY_KEYS', 200_000, 1),
  };
}
