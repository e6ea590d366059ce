// Conversions between JS values and DuckDB values, in one place.
import { DuckDBBlobValue, DuckDBTimestampValue, type DuckDBValue } from '@duckdb/node-api';

/** Epoch milliseconds → a TIMESTAMP parameter. */
export function ts(ms: number): DuckDBTimestampValue {
  return new DuckDBTimestampValue(BigInt(Math.round(ms)) * 1000n);
}

/** A TIMESTAMP read back → epoch milliseconds (null stays null). */
export function msOf(value: DuckDBValue | undefined): number | null {
  if (value === null || value === undefined) return null;
  if (value instanceof DuckDBTimestampValue) return Number(value.micros / 1000n);
  throw new TypeError(`expected a TIMESTAMP, got ${String(value)}`);
}

export function isoOf(value: DuckDBValue | undefined): string | null {
  const ms = msOf(value);
  return ms === null ? null : new Date(ms).toISOString();
}

export function numOf(value: DuckDBValue | undefined): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number') return value;
  return Number(String(value));
}

export function strOf(value: DuckDBValue | undefined): string | null {
  if (value === null || value === undefined) return null;
  return String(value);
}

export function bytesOf(value: DuckDBValue | undefined): Buffer | null {
  if (value === null || value === undefined) return null;
  if (value instanceof DuckDBBlobValue) return Buffer.from(value.bytes);
  throw new TypeError('expected a BLOB');
}
