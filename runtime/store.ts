// The queue's storage, behind a small interface (enqueue batch, route, claim, complete,
// reclaim, read) so a PostgreSQL-protocol store can be added later without touching handlers.
// This is the DuckDB implementation: one process owns the file; ids come from in-process
// counters that resume from max(id) at open.
import { randomUUID } from 'node:crypto';
import { DuckDBInstance, listValue, type DuckDBAppender, type DuckDBConnection, type DuckDBDataChunk, type DuckDBValue } from '@duckdb/node-api';
import { queries } from '../sql/index.js';
import { migrate } from './db.js';
import { Mutex } from './mutex.js';
import { MASK } from './redact.js';
import { deliveryJson, parsePolicy, revivableDelivery, ruleFailureJson, ruleJson, ruleParams, webhookStatusJson } from './rows.js';
import { bytesOf, msOf, numOf, strOf, ts } from './values.js';

export interface NewWebhook {
  receivedAt: number;
  source: string;
  endpoint: string;
  sourceIp: string | null;
  contentType: string | null;
  headers: string;
  /** Null when the body is `payload`'s UTF-8 text byte for byte (it is then stored once). */
  body: Uint8Array | null;
  payload: string | null;
  /** The source's de-duplication key, written with the webhook (webhook_dedup_keys); see runtime/dedup.ts. */
  dedupKey?: string | null;
}

export interface UnroutedWebhook {
  id: number;
  source: string;
  endpoint: string;
  headers: string;
  payload: string | null;
  /** Also visible to rules; absent in a dry run's sample. */
  receivedAt?: number;
  sourceIp?: string | null;
  contentType?: string | null;
}

export interface RetryPolicy {
  maxRetries: number;
  backoffMultiplier: number;
  baseDelaySeconds: number;
}

export interface Rule {
  id: number;
  ruleName: string;
  filterQuery: string;
  transformQuery: string;
  targetUrl: string;
  timeoutSeconds: number;
  priority: number;
  retryPolicy: Partial<RetryPolicy>;
}

export interface NewDelivery {
  webhookId: number;
  rule: Rule;
  policy: RetryPolicy;
  transformedBody: string | null;
}

export interface RoutingRecord {
  webhookId: number;
  matched: number;
  ruleErrors: Record<string, string> | null;
}

export interface ClaimedDelivery {
  id: number;
  webhookId: number;
  ruleId: number;
  ruleName: string;
  targetUrl: string;
  transformedBody: string | null;
  timeoutSeconds: number;
  policy: RetryPolicy;
  attempts: number;
  leaseToken: string;
  /** From the webhook: the raw body, its content type, the sender's IP, when it arrived. */
  rawBody: Buffer;
  contentType: string | null;
  sourceIp: string | null;
  receivedAt: number;
  /** Incoming headers the rule forwards (its forward_headers), as stored. */
  forwardHeaders: Record<string, string>;
}

export type OutcomeStatus = 'delivered' | 'retrying' | 'dead';

/** A delivery's states: the values of deliveries.status (and of webhook_queue_size{status}). */
export const DELIVERY_STATUSES = ['pending', 'in_flight', 'retrying', 'delivered', 'dead'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface DeliveryFilter {
  status?: DeliveryStatus;
  ruleId?: number;
  webhookId?: number;
  /** Only deliveries with a smaller id: the previous page's next_before_id. */
  beforeId?: number;
  limit: number;
}

export interface Outcome {
  deliveryId: number;
  leaseToken: string;
  startedAt: number;
  completedAt: number;
  statusCode: number | null;
  responseBody: string | null;
  error: string | null;
  durationMs: number;
  outcome: OutcomeStatus;
  nextAttemptAt: number | null;
}

export interface NewRule {
  ruleName: string;
  description: string;
  filterQuery: string;
  transformQuery: string;
  targetUrl: string;
  timeoutSeconds: number;
  retryPolicy: Partial<RetryPolicy>;
  priority: number;
  /** Defaults to true. */
  isActive?: boolean;
}

export type Row = Record<string, DuckDBValue>;
export type { RuleJson } from './rows.js';

interface IngestSlot {
  conn: DuckDBConnection;
  appender: DuckDBAppender;
  dedupAppender: DuckDBAppender;
  lock: Mutex;
}

export class DuckDBStore {
  private nextWebhook = 0;
  private nextDelivery = 0;
  private nextAttempt = 0;
  /** Last webhook id the rules have looked at; the drain's cursor into the append-only table. */
  routedUpTo = 0;
  /** One mutex per connection: a connection runs one transaction at a time. */
  private readonly workLock = new Mutex();
  /** Ids at or below this are committed (or their batch failed and left a gap): safe to route. */
  private committedUpTo = 0;
  /** Committed id ranges above the watermark, keyed by first id (batches can commit out of order). */
  private readonly settled = new Map<number, number>();
  private nextIngestSlot = 0;
  private readonly readLock = new Mutex();
  private readonly checkpointLock = new Mutex();
  /** Commits since the last checkpoint; the checkpointer skips idle periods. */
  private dirty = false;
  readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;

  private constructor(
    readonly instance: DuckDBInstance,
    readonly path: string,
    private readonly ingestSlots: IngestSlot[],
    private readonly workConn: DuckDBConnection,
    private readonly readConn: DuckDBConnection,
    private readonly checkpointConn: DuckDBConnection,
    private readonly outcomeAppender: DuckDBAppender,
  ) {}

  /**
   * Migrates the database and prepares its connections: `ingestConnections` for concurrent group
   * commits, one for drain/retry work, one for reads, one for checkpoints.
   */
  static async open(instance: DuckDBInstance, path: string, now: number, ingestConnections = 2): Promise<DuckDBStore> {
    const migrator = await instance.connect();
    await migrate(migrator, now);
    migrator.closeSync();
    const ingestSlots: IngestSlot[] = [];
    for (let i = 0; i < ingestConnections; i++) {
      const conn = await instance.connect();
      ingestSlots.push({
        conn,
        appender: await conn.createAppender('webhooks'),
        dedupAppender: await conn.createAppender('webhook_dedup_keys'),
        lock: new Mutex(),
      });
    }
    const workConn = await instance.connect();
    const readConn = await instance.connect();
    const checkpointConn = await instance.connect();
    await workConn.run(`CREATE TEMP TABLE outcomes (
      delivery_id BIGINT, lease_token VARCHAR, attempt_id BIGINT, started_at TIMESTAMP, completed_at TIMESTAMP,
      status_code INTEGER, response_body VARCHAR, error VARCHAR, duration_ms INTEGER, outcome VARCHAR,
      next_attempt_at TIMESTAMP)`);
    const store = new DuckDBStore(
      instance,
      path,
      ingestSlots,
      workConn,
      readConn,
      checkpointConn,
      await workConn.createAppender('outcomes', 'main', 'temp'),
    );
    const ids = (await readConn.runAndReadAll(queries.max_ids)).getRowObjects()[0]!;
    store.nextWebhook = numOf(ids.webhook)! + 1;
    store.committedUpTo = numOf(ids.webhook)!;
    store.nextDelivery = numOf(ids.delivery)! + 1;
    store.nextAttempt = numOf(ids.attempt)! + 1;
    store.routedUpTo = numOf(ids.routed)!;
    return store;
  }

  /**
   * Stores a batch of webhooks in one transaction (one WAL fsync for the lot) and returns their
   * ids. Ids are assigned before the first await, so each batch holds a contiguous range and
   * ranges are handed out in call order; batches on different connections may commit out of
   * order, which the committed watermark accounts for.
   */
  insertWebhooks(batch: readonly NewWebhook[]): Promise<number[]> {
    const first = this.nextWebhook;
    this.nextWebhook += batch.length;
    const ids = batch.map((_, i) => first + i);
    const slot = this.ingestSlots[this.nextIngestSlot++ % this.ingestSlots.length]!;
    return slot.lock
      .run(async () => {
        const a = slot.appender;
        await slot.conn.run('BEGIN TRANSACTION');
        try {
          batch.forEach((w, i) => {
            a.appendBigInt(BigInt(first + i));
            a.appendTimestamp(ts(w.receivedAt));
            a.appendVarchar(w.source);
            a.appendVarchar(w.endpoint);
            if (w.sourceIp === null) a.appendNull();
            else a.appendVarchar(w.sourceIp);
            if (w.contentType === null) a.appendNull();
            else a.appendVarchar(w.contentType);
            a.appendVarchar(w.headers);
            if (w.body === null) a.appendNull();
            else a.appendBlob(w.body);
            if (w.payload === null) a.appendNull();
            else a.appendVarchar(w.payload);
            a.endRow();
          });
          // flushSync runs on the main thread, but it only moves rows into the open transaction;
          // the fsync happens in the async COMMIT below.
          a.flushSync();
          // Dedup keys commit with their webhooks, so a restart never forgets an acknowledged key.
          if (batch.some((w) => w.dedupKey != null)) {
            const d = slot.dedupAppender;
            batch.forEach((w, i) => {
              if (w.dedupKey == null) return;
              d.appendVarchar(w.source);
              d.appendVarchar(w.dedupKey);
              d.appendBigInt(BigInt(first + i));
              d.appendTimestamp(ts(w.receivedAt));
              d.endRow();
            });
            d.flushSync();
          }
          await slot.conn.run('COMMIT');
          this.dirty = true;
        } catch (err) {
          a.clear();
          slot.dedupAppender.clear();
          await slot.conn.run('ROLLBACK').catch(() => undefined);
          throw err;
        }
        return ids;
      })
      .finally(() => this.settle(first, first + batch.length - 1));
  }

  /** Marks [lo, hi] as decided (committed or failed) and advances the watermark past settled ranges. */
  private settle(lo: number, hi: number): void {
    if (hi < lo) return;
    this.settled.set(lo, hi);
    let next: number | undefined;
    while ((next = this.settled.get(this.committedUpTo + 1)) !== undefined) {
      this.settled.delete(this.committedUpTo + 1);
      this.committedUpTo = next;
    }
  }

  unrouted(max: number): Promise<UnroutedWebhook[]> {
    return this.workLock.run(async () => {
      const rows = (
        await this.workConn.runAndReadAll(queries.unrouted_webhooks, [this.routedUpTo, this.committedUpTo, max])
      ).getRowObjects();
      return rows.map((r) => ({
        id: numOf(r.id)!,
        source: strOf(r.source)!,
        endpoint: strOf(r.endpoint)!,
        headers: strOf(r.headers)!,
        payload: strOf(r.payload),
        receivedAt: msOf(r.received_at)!,
        sourceIp: strOf(r.source_ip),
        contentType: strOf(r.content_type),
      }));
    });
  }

  activeRules(): Promise<Rule[]> {
    return this.workLock.run(async () => {
      const rows = (await this.workConn.runAndReadAll(queries.active_rules)).getRowObjects();
      return rows.map((r) => ({
        id: numOf(r.id)!,
        ruleName: strOf(r.rule_name)!,
        filterQuery: strOf(r.filter_query)!,
        transformQuery: strOf(r.transform_query)!,
        targetUrl: strOf(r.target_url)!,
        timeoutSeconds: numOf(r.timeout_seconds)!,
        priority: numOf(r.priority)!,
        retryPolicy: parsePolicy(strOf(r.retry_policy)),
      }));
    });
  }

  /** Writes the routing outcome of a batch and its deliveries, and moves the cursor, in one transaction. */
  recordRouting(now: number, upTo: number, records: readonly RoutingRecord[], deliveries: readonly NewDelivery[]): Promise<number[]> {
    return this.workLock.run(async () => {
      const conn = this.workConn;
      await conn.run('BEGIN TRANSACTION');
      try {
        const ids = await this.appendDeliveries(now, deliveries);
        if (records.length > 0) {
          const a = await conn.createAppender('webhook_routing');
          for (const r of records) {
            a.appendBigInt(BigInt(r.webhookId));
            a.appendTimestamp(ts(now));
            a.appendInteger(r.matched);
            if (r.ruleErrors === null) a.appendNull();
            else a.appendVarchar(JSON.stringify(r.ruleErrors));
            a.endRow();
          }
          a.flushSync();
          a.closeSync();
        }
        await conn.run('COMMIT');
        this.dirty = true;
        this.routedUpTo = Math.max(this.routedUpTo, upTo);
        return ids;
      } catch (err) {
        await conn.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Appends new pending deliveries inside the work connection's open transaction; returns their ids. */
  private async appendDeliveries(now: number, deliveries: readonly NewDelivery[]): Promise<number[]> {
    const ids: number[] = [];
    if (deliveries.length === 0) return ids;
    const a = await this.workConn.createAppender('deliveries');
    for (const d of deliveries) {
      const id = this.nextDelivery++;
      ids.push(id);
      a.appendBigInt(BigInt(id));
      a.appendBigInt(BigInt(d.webhookId));
      a.appendInteger(d.rule.id);
      a.appendVarchar(d.rule.ruleName);
      a.appendInteger(d.rule.priority);
      a.appendVarchar(d.rule.targetUrl);
      if (d.transformedBody === null) a.appendNull();
      else a.appendVarchar(d.transformedBody);
      a.appendDouble(d.rule.timeoutSeconds);
      a.appendInteger(d.policy.maxRetries);
      a.appendDouble(d.policy.backoffMultiplier);
      a.appendDouble(d.policy.baseDelaySeconds);
      a.appendVarchar('pending');
      a.appendInteger(0);
      a.appendTimestamp(ts(now));
      a.appendNull(); // lease_owner
      a.appendNull(); // lease_token
      a.appendNull(); // lease_expires_at
      a.appendNull(); // last_status_code
      a.appendNull(); // last_error
      a.appendTimestamp(ts(now));
      a.appendTimestamp(ts(now));
      a.endRow();
    }
    a.flushSync();
    a.closeSync();
    return ids;
  }

  /**
   * Replays: new pending deliveries (history is never rewritten) and a `replays` row for each,
   * in one transaction. Returns the new delivery ids.
   */
  enqueueReplays(now: number, items: readonly { delivery: NewDelivery; replayOf: number | null; reason: string }[]): Promise<number[]> {
    if (items.length === 0) return Promise.resolve([]);
    return this.workLock.run(async () => {
      const conn = this.workConn;
      await conn.run('BEGIN TRANSACTION');
      try {
        const ids = await this.appendDeliveries(now, items.map((i) => i.delivery));
        const a = await conn.createAppender('replays');
        items.forEach((item, i) => {
          a.appendBigInt(BigInt(ids[i]!));
          a.appendBigInt(BigInt(item.delivery.webhookId));
          a.appendInteger(item.delivery.rule.id);
          if (item.replayOf === null) a.appendNull();
          else a.appendBigInt(BigInt(item.replayOf));
          a.appendVarchar(item.reason);
          a.appendTimestamp(ts(now));
          a.endRow();
        });
        a.flushSync();
        a.closeSync();
        await conn.run('COMMIT');
        this.dirty = true;
        return ids;
      } catch (err) {
        await conn.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Leases up to `max` due deliveries in `status`; the lease token guards every later write. */
  claim(status: 'pending' | 'retrying', now: number, max: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    return this.workLock.run(async () => {
      const token = randomUUID();
      const rows = (
        await this.workConn.runAndReadAll(queries.claim, [status, ts(now), max, token, this.owner, ts(now + leaseMs)])
      ).getRowObjects();
      if (rows.length === 0) return [];
      const webhookIds = [...new Set(rows.map((r) => numOf(r.webhook_id)!))];
      const hooks = (
        await this.workConn.runAndReadAll(queries.claimed_webhooks, [
          Math.min(...webhookIds),
          Math.max(...webhookIds),
          listValue(webhookIds.map((id) => BigInt(id))),
        ])
      ).getRowObjects();
      const byId = new Map(hooks.map((h) => [numOf(h.id)!, h]));
      const forwards = new Map(
        (await this.workConn.runAndReadAll(queries.rule_forward_headers))
          .getRowObjects()
          .map((f) => [numOf(f.id)!, JSON.parse(strOf(f.forward_headers)!) as string[]]),
      );
      const forwarded = (ruleId: number, hook: Row | undefined): Record<string, string> => {
        const names = forwards.get(ruleId);
        if (!names?.length || !hook?.headers) return {};
        const incoming = JSON.parse(strOf(hook.headers)!) as Record<string, string>;
        // A header stored masked (STORE_SENSITIVE_HEADERS off) is not forwarded: its value is gone.
        return Object.fromEntries(names.filter((n) => incoming[n] !== undefined && incoming[n] !== MASK).map((n) => [n, incoming[n]!]));
      };
      return rows.map((r) => {
        const hook = byId.get(numOf(r.webhook_id)!);
        return {
          id: numOf(r.id)!,
          webhookId: numOf(r.webhook_id)!,
          ruleId: numOf(r.rule_id)!,
          ruleName: strOf(r.rule_name)!,
          targetUrl: strOf(r.target_url)!,
          transformedBody: strOf(r.transformed_body),
          timeoutSeconds: numOf(r.timeout_seconds)!,
          policy: {
            maxRetries: numOf(r.max_retries)!,
            backoffMultiplier: numOf(r.backoff_multiplier)!,
            baseDelaySeconds: numOf(r.base_delay_seconds)!,
          },
          attempts: numOf(r.attempts)!,
          leaseToken: token,
          rawBody: bytesOf(hook?.body) ?? Buffer.alloc(0),
          contentType: strOf(hook?.content_type),
          sourceIp: strOf(hook?.source_ip),
          receivedAt: msOf(hook?.received_at) ?? now,
          forwardHeaders: forwarded(numOf(r.rule_id)!, hook),
        };
      });
    });
  }

  /** Records attempts and moves deliveries on, only where the lease token still matches. Returns rows applied. */
  complete(outcomes: readonly Outcome[]): Promise<number> {
    if (outcomes.length === 0) return Promise.resolve(0);
    return this.workLock.run(async () => {
      const conn = this.workConn;
      const a = this.outcomeAppender;
      const ids = outcomes.map((o) => o.deliveryId);
      const range = [Math.min(...ids), Math.max(...ids)];
      await conn.run('BEGIN TRANSACTION');
      try {
        for (const o of outcomes) {
          a.appendBigInt(BigInt(o.deliveryId));
          a.appendVarchar(o.leaseToken);
          a.appendBigInt(BigInt(this.nextAttempt++));
          a.appendTimestamp(ts(o.startedAt));
          a.appendTimestamp(ts(o.completedAt));
          if (o.statusCode === null) a.appendNull();
          else a.appendInteger(o.statusCode);
          if (o.responseBody === null) a.appendNull();
          else a.appendVarchar(o.responseBody);
          if (o.error === null) a.appendNull();
          else a.appendVarchar(o.error);
          a.appendInteger(Math.round(o.durationMs));
          a.appendVarchar(o.outcome);
          if (o.nextAttemptAt === null) a.appendNull();
          else a.appendTimestamp(ts(o.nextAttemptAt));
          a.endRow();
        }
        a.flushSync();
        await conn.run(queries.record_attempts, range);
        const applied = await conn.run(queries.apply_outcomes, range);
        await conn.run('DELETE FROM temp.main.outcomes');
        await conn.run('COMMIT');
        this.dirty = true;
        return Number(applied.rowsChanged);
      } catch (err) {
        a.clear();
        await conn.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  private workUpdate(sql: string, params: DuckDBValue[]): Promise<number> {
    return this.workLock.run(async () => Number((await this.workConn.run(sql, params)).rowsChanged));
  }

  reclaimExpired(now: number): Promise<number> {
    return this.workUpdate(queries.reclaim_expired, [ts(now)]);
  }

  deadLetterExhausted(now: number): Promise<number> {
    return this.workUpdate(queries.dead_letter_exhausted, [ts(now)]);
  }

  releaseLeases(now: number): Promise<number> {
    return this.workUpdate(queries.release_leases, [ts(now), this.owner]);
  }

  // ---- reads and admin writes, on their own connection so they never wait for a drain ----

  /** Runs a statement on the read connection and returns plain rows. */
  read(sql: string, params: DuckDBValue[] = []): Promise<Row[]> {
    return this.readLock.run(async () => (await this.readConn.runAndReadAll(sql, params)).getRowObjects());
  }

  async ping(): Promise<void> {
    await this.read('SELECT 1');
  }

  async webhookStatus(id: number) {
    const [hook] = await this.read(queries.webhook_status, [id]);
    if (!hook) return null;
    const [routing] = await this.read(queries.webhook_routing, [id]);
    const deliveries = await this.read(queries.webhook_deliveries, [id]);
    const attempts = await this.read(queries.webhook_attempts, [id]);
    return webhookStatusJson(hook, routing, deliveries, attempts);
  }

  /** One page of deliveries, newest first, filtered by status, rule and webhook (each optional). */
  async listDeliveries(f: DeliveryFilter) {
    const rows = await this.read(queries.list_deliveries, [f.status ?? null, f.ruleId ?? null, f.webhookId ?? null, f.beforeId ?? null, f.limit]);
    return rows.map(deliveryJson);
  }

  async listRules() {
    return (await this.read(queries.list_rules)).map(ruleJson);
  }

  /** One rule in the API's shape, with its failure summary; null when there is none. */
  async getRule(id: number) {
    const [row] = await this.read(queries.get_rule, [id]);
    return row ? ruleJson(row) : null;
  }

  async insertRule(rule: NewRule, now: number): Promise<number> {
    const [row] = await this.read(queries.insert_rule, [...ruleParams(rule), ts(now), rule.isActive ?? true]);
    return numOf(row!.id)!;
  }

  /** Replaces a rule's fields; false when there is no such rule. */
  async updateRule(id: number, rule: NewRule, now: number): Promise<boolean> {
    const rows = await this.read(queries.update_rule, [id, ...ruleParams(rule), rule.isActive ?? true, ts(now)]);
    return rows.length > 0;
  }

  async deleteRule(id: number): Promise<boolean> {
    return (await this.read(queries.delete_rule, [id])).length > 0;
  }

  /** Records that rules failed over a batch of webhooks [firstId, lastId]. */
  async recordRuleFailures(now: number, failures: readonly { ruleId: number; ruleName: string; firstId: number; lastId: number; webhooks: number; error: string }[]): Promise<void> {
    for (const f of failures) {
      await this.read(queries.insert_rule_failure, [f.ruleId, f.ruleName, f.firstId, f.lastId, f.webhooks, f.error.slice(0, 2000), ts(now)]);
    }
    if (failures.length > 0) this.dirty = true;
  }

  async ruleFailures(id: number, max: number) {
    return (await this.read(queries.rule_failures, [id, max])).map(ruleFailureJson);
  }

  /** A delivery with the fields a revival copies; null when there is none. */
  async getDelivery(id: number) {
    const [r] = await this.read(queries.get_delivery, [id]);
    return r ? revivableDelivery(r) : null;
  }

  /** The id range and count of webhooks received in [since, until) (epoch ms). */
  async historyBounds(since: number, until: number): Promise<{ lo: number; hi: number; n: number }> {
    const [r] = await this.read(queries.history_bounds, [ts(since), ts(until)]);
    return { lo: numOf(r?.lo) ?? 0, hi: numOf(r?.hi) ?? -1, n: numOf(r?.n) ?? 0 };
  }

  /**
   * Stored webhooks with ids in [lo, hi] received in [since, until), as raw DuckDB data chunks in
   * the rule sandbox's batch layout, so they can be appended there without a trip through JS values.
   */
  historyChunks(lo: number, hi: number, since: number, until: number): Promise<DuckDBDataChunk[]> {
    return this.readLock.run(async () => (await this.readConn.run(queries.history_chunk, [lo, hi, ts(since), ts(until)])).fetchAllChunks());
  }

  async toggleRule(id: number, now: number): Promise<boolean | null> {
    const [row] = await this.read(queries.toggle_rule, [id, ts(now)]);
    return row ? (row.is_active as boolean) : null;
  }

  async queueCounts(): Promise<Record<string, number>> {
    const rows = await this.read(queries.queue_counts);
    return Object.fromEntries(rows.map((r) => [strOf(r.status)!, numOf(r.n)!]));
  }

  /**
   * Folds the WAL into the database file. Run from its own connection on a timer (see
   * runtime/gateway.ts) rather than letting DuckDB's size threshold fire inside a commit: an
   * automatic checkpoint runs in the committing transaction and holds every acknowledgement in
   * that group commit for 0.5 s or more, while a CHECKPOINT from another connection mostly runs
   * alongside the commits. Returns false when nothing was committed since the last one.
   */
  checkpoint(force = false): Promise<boolean> {
    return this.checkpointLock.run(async () => {
      if (!this.dirty && !force) return false;
      this.dirty = false;
      // A plain CHECKPOINT refuses to start while another write transaction is open; group
      // commits leave short gaps between transactions, so try again a few ms later.
      for (let attempt = 1; ; attempt++) {
        try {
          await this.checkpointConn.run('CHECKPOINT');
          return true;
        } catch (err) {
          if (attempt >= 50 || !/other write transactions active/i.test((err as Error).message)) {
            this.dirty = true;
            throw err;
          }
          await new Promise((resolve) => setTimeout(resolve, 5 + Math.floor(Math.random() * 10)));
        }
      }
    });
  }

  /** Checkpoints and closes every connection; the instance is closed by its owner. */
  async close(): Promise<void> {
    for (const slot of this.ingestSlots) {
      await slot.lock.run(async () => {
        slot.appender.closeSync();
        slot.dedupAppender.closeSync();
      });
    }
    await this.workLock.run(async () => this.outcomeAppender.closeSync());
    await this.checkpoint(true);
    for (const c of [...this.ingestSlots.map((s) => s.conn), this.workConn, this.readConn, this.checkpointConn]) c.closeSync();
  }
}
