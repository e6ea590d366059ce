// De-duplication by a per-source key (a header or a JSON path) within a window.
//
// The race that matters: two copies of one webhook arrive at once, possibly in the same group
// commit, possibly in two batches committing on two connections. So the first copy puts a
// *pending* entry in an in-memory map synchronously, before any await, and every later copy
// awaits that entry's id instead of being stored. The key is written to DuckDB
// (webhook_dedup_keys) in the original's own transaction (runtime/store.ts), so a restart still
// knows it; the newest DEDUP_MEMORY_KEYS keys are reloaded at start, and keys older than the
// oldest one in memory are looked up in DuckDB on a miss.
import { queries } from '../sql/index.js';
import type { DuckDBStore } from './store.js';
import { msOf, numOf, strOf, ts } from './values.js';

export interface StoredKey {
  webhookId: number;
  seenAt: number;
}

export interface DedupDeps {
  /** The original for `key` seen in [from, to], from DuckDB. */
  find: (source: string, key: string, from: number, to: number) => Promise<StoredKey | null>;
  /** Most keys held in memory; the oldest are dropped first (and then found in DuckDB). */
  capacity: number;
}

interface Entry {
  /** The original's id: a promise while it is being looked up or committed. */
  id: number | Promise<number>;
  seenAt: number;
}

export interface DedupResult {
  id: number;
  duplicate: boolean;
}

export class Deduplicator {
  private readonly entries = new Map<string, Entry>();
  /** Keys seen before this time may have been dropped from memory: ask DuckDB about them. */
  private completeSince = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: DedupDeps) {}

  /** Fills the map from stored keys (newest first, as recent_dedup_keys returns them). */
  load(keys: Array<{ source: string; key: string } & StoredKey>, truncated: boolean): void {
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      this.entries.set(mapKey(k.source, k.key), { id: k.webhookId, seenAt: k.seenAt });
    }
    if (truncated && keys.length > 0) this.completeSince = keys[keys.length - 1]!.seenAt;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Runs `store` unless `key` was seen within `windowMs` before `now`; either way returns the id
   * of the one stored copy. Concurrent calls with one key share the first call's outcome; if that
   * store fails, they fail with it (and the key is forgotten, so a resend is stored).
   */
  async once(source: string, key: string, now: number, windowMs: number, store: () => Promise<number>): Promise<DedupResult> {
    const k = mapKey(source, key);
    const seen = this.entries.get(k);
    if (seen && now - seen.seenAt < windowMs) return { id: await seen.id, duplicate: true };
    if (seen) this.entries.delete(k); // outside its window: this copy is a new original

    let duplicate = false;
    const from = now - windowMs;
    const entry: Entry = { id: 0, seenAt: now };
    entry.id = (async () => {
      if (from < this.completeSince) {
        const found = await this.deps.find(source, key, from, Math.min(now, this.completeSince));
        if (found) {
          duplicate = true;
          entry.seenAt = found.seenAt;
          return found.webhookId;
        }
      }
      return store();
    })();
    this.entries.set(k, entry);
    this.evict();
    try {
      const id = await entry.id;
      entry.id = id;
      return { id, duplicate };
    } catch (err) {
      if (this.entries.get(k) === entry) this.entries.delete(k);
      throw err;
    }
  }

  /** Drops the oldest entries beyond capacity; DuckDB answers for them from then on. */
  private evict(): void {
    const excess = this.entries.size - this.deps.capacity;
    if (excess <= 0) return;
    let n = 0;
    for (const [k, e] of this.entries) {
      if (n++ >= excess) break;
      this.entries.delete(k);
      this.completeSince = Math.max(this.completeSince, e.seenAt + 1);
    }
  }
}

function mapKey(source: string, key: string): string {
  return `${source}\n${key}`;
}

/**
 * A Deduplicator over the stored keys: prunes keys older than every source's window, loads the
 * newest `capacity` of the rest into memory, and looks older ones up in DuckDB on a miss.
 */
export async function openDeduplicator(store: Pick<DuckDBStore, 'read'>, now: number, longestWindowMs: number, capacity: number): Promise<Deduplicator> {
  const from = now - longestWindowMs;
  await store.read(queries.prune_dedup_keys, [ts(from)]);
  const dedup = new Deduplicator({
    capacity,
    find: async (source, key, lo, hi) => {
      const [row] = await store.read(queries.find_dedup_key, [source, key, ts(lo), ts(hi)]);
      return row ? { webhookId: numOf(row.webhook_id)!, seenAt: msOf(row.seen_at)! } : null;
    },
  });
  const rows = await store.read(queries.recent_dedup_keys, [ts(from), capacity + 1]);
  const keys = rows.slice(0, capacity).map((r) => ({
    source: strOf(r.source)!,
    key: strOf(r.dedup_key)!,
    webhookId: numOf(r.webhook_id)!,
    seenAt: msOf(r.seen_at)!,
  }));
  dedup.load(keys, rows.length > capacity);
  return dedup;
}
