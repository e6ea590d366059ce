// Ad-hoc SQL over the queue database while the gateway holds it (no other process may open the
// file). Three layers: the parse tree must be exactly one SELECT with no outward-reaching table
// function (runtime/rule-sql.ts), it runs inside a READ ONLY transaction on a connection of its
// own, and it is cut off after a row cap and a time limit.
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { Mutex } from './mutex.js';
import { checkReadOnlySql, SqlCheckError } from './rule-sql.js';

export interface AdminSqlOptions {
  timeoutMs: number;
  maxRows: number;
}

/** A DuckDB value as plain JSON: BIGINT as a number when exact, else a string; timestamps as ISO text. */
function jsonValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? String(v) : v.toISOString();
  if (v instanceof Uint8Array) return { base64: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return v.map(jsonValue);
  if (typeof v === 'object') {
    const entries = (v as { entries?: unknown }).entries;
    if (Array.isArray(entries)) return entries.map((e: { key: unknown; value: unknown }) => ({ key: jsonValue(e.key), value: jsonValue(e.value) }));
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, jsonValue(x)]));
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

export class AdminSql {
  private readonly lock = new Mutex();

  private constructor(
    private readonly conn: DuckDBConnection,
    private readonly opts: AdminSqlOptions,
  ) {}

  static async create(instance: DuckDBInstance, opts: AdminSqlOptions): Promise<AdminSql> {
    return new AdminSql(await instance.connect(), opts);
  }

  /** Runs one read-only statement; throws SqlCheckError with a stable code when refused or failed. */
  query(sql: string, maxRows = this.opts.maxRows) {
    const cap = Math.max(1, Math.min(maxRows, this.opts.maxRows));
    return this.lock.run(async () => {
      await checkReadOnlySql(this.conn, sql);
      const started = performance.now();
      await this.conn.run('BEGIN TRANSACTION READ ONLY');
      const timer = setTimeout(() => this.conn.interrupt(), this.opts.timeoutMs);
      try {
        const reader = await this.conn.runAndReadUntil(sql, cap + 1);
        const rows = reader.getRowObjectsJS().slice(0, cap).map((r) => jsonValue(r));
        return {
          columns: reader.columnNames().map((name, i) => ({ name, type: reader.columnType(i).toString() })),
          rows,
          row_count: rows.length,
          truncated: reader.currentRowCount > cap,
          duration_ms: Math.round(performance.now() - started),
        };
      } catch (err) {
        const message = (err as Error).message;
        if (/interrupt/i.test(message)) throw new SqlCheckError('sql_timeout', `query ran longer than ${this.opts.timeoutMs} ms`);
        if (/read-only/i.test(message)) throw new SqlCheckError('sql_not_read_only', message);
        throw new SqlCheckError('sql_failed', message);
      } finally {
        clearTimeout(timer);
        await this.conn.run('ROLLBACK').catch(() => undefined);
      }
    });
  }

  close(): void {
    this.conn.closeSync();
  }
}
