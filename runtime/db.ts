// Opening the DuckDB file: settings, the one-writer lock, and migrations.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { migrations } from '../sql/index.js';

export class DatabaseLockedError extends Error {
  readonly code = 'database_locked';
}

export interface OpenOptions {
  path: string;
  /** WAL size at which DuckDB checkpoints by itself; set high because the gateway checkpoints on a timer. */
  checkpointThreshold?: string | undefined;
  memoryLimit?: string | undefined;
  threads?: number | undefined;
}

/** Opens (creating if needed) the database file; a file held by another process is a DatabaseLockedError. */
export async function openDatabase(opts: OpenOptions): Promise<DuckDBInstance> {
  if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
  const settings: Record<string, string> = {};
  if (opts.memoryLimit) settings.memory_limit = opts.memoryLimit;
  if (opts.threads) settings.threads = String(opts.threads);
  if (opts.checkpointThreshold) settings.checkpoint_threshold = opts.checkpointThreshold;
  try {
    return await DuckDBInstance.create(opts.path, settings);
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    if (/Could not set lock|Conflicting lock/i.test(message)) {
      const pid = /PID (\d+)/.exec(message)?.[1];
      throw new DatabaseLockedError(
        `database file ${opts.path} is in use by another process${pid ? ` (PID ${pid})` : ''}; only one duckhook may open it`,
      );
    }
    throw err;
  }
}

/** Applies the migrations not yet recorded in schema_migrations, each in its own transaction. */
export async function migrate(conn: DuckDBConnection, now: number): Promise<number[]> {
  await conn.run(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)',
  );
  const applied = new Set(
    (await conn.runAndReadAll('SELECT version FROM schema_migrations')).getRowsJS().map((r) => Number(r[0])),
  );
  const done: number[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    await conn.run('BEGIN TRANSACTION');
    try {
      await conn.run(m.sql);
      await conn.run('INSERT INTO schema_migrations VALUES ($1, $2, make_timestamp($3))', [m.version, m.name, now * 1000]);
      await conn.run('COMMIT');
    } catch (err) {
      await conn.run('ROLLBACK');
      throw new Error(`migration ${m.version}_${m.name} failed: ${(err as Error).message}`);
    }
    done.push(m.version);
  }
  return done;
}
