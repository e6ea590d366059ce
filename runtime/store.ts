// The queue's storage, behind a small interface (enqueue batch, route, claim, complete,
// reclaim, read) so a PostgreSQL-protocol store can be added later without touching handlers.
// This is the DuckDB implementation: one process owns the file; ids come from in-process
// counters that resume from max(id) at open.
import { randomUUID } from 'node:crypto';
import { DuckDBInstance, listValue, type DuckDBAppender, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { queries } from '../sql/index.js';
import { migrate } from './db.js';
import { Mutex } from './mutex.js';
import { bytesOf, isoOf, msOf, numOf, strOf, ts } from './values.js';

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
}

export interface UnroutedWebhook {
  id: number;
  source: string;
  endpoint: string;
  headers: string;
  payload: string | null;
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
}

export type OutcomeStatus = 'delivered' | 'retrying' | 'dead';

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
}

export type Row = Record<string, DuckDBValue>;

interface IngestSlot {
  conn: DuckDBConnection;
  appender: DuckDBAppender;
  lock: Mutex;
}

function parsePolicy(raw: string | null): Partial<RetryPolicy> {
  if (!raw) return {};
  const p = JSON.parse(raw) as Record<string, unknown>;
  const out: Partial<RetryPolicy> = {};
  if (typeof p.max_retries === 'number') out.maxRetries = p.max_retries;
  if (typeof p.backoff_multiplier === 'number') out.backoffMultiplier = p.backoff_multiplier;
  if (typeof p.base_delay_seconds === 'number') out.baseDelaySeconds = p.base_delay_seconds;
  return out;
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
      ingestSlots.push({ conn, appender: await conn.createAppender('webhooks'), lock: new Mutex() });
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
          await slot.conn.run('COMMIT');
          this.dirty = true;
        } catch (err) {
          a.clear();
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
      const ids: number[] = [];
      await conn.run('BEGIN TRANSACTION');
      try {
        if (deliveries.length > 0) {
          const a = await conn.createAppender('deliveries');
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
        }
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
    const attempt = (a: Row) => ({
      attempt: numOf(a.attempt_number),
      delivery_id: numOf(a.delivery_id),
      started_at: isoOf(a.started_at),
      completed_at: isoOf(a.completed_at),
      target_url: strOf(a.target_url),
      response_status: numOf(a.status_code),
      response_body: strOf(a.response_body),
      error: strOf(a.error),
      duration_ms: numOf(a.duration_ms),
      outcome: strOf(a.outcome),
    });
    return {
      webhook: {
        id: numOf(hook.id),
        status: strOf(hook.status),
        retry_count: numOf(hook.retry_count),
        received_at: isoOf(hook.received_at),
        created_at: isoOf(hook.created_at),
        updated_at: isoOf(hook.updated_at),
        endpoint: strOf(hook.endpoint),
        source: strOf(hook.source),
      },
      routing: routing
        ? {
            routed_at: isoOf(routing.routed_at),
            matched: numOf(routing.matched),
            rule_errors: routing.rule_errors ? JSON.parse(String(routing.rule_errors)) : null,
          }
        : null,
      deliveries: deliveries.map((d) => {
        const id = numOf(d.id);
        return {
          id,
          rule_id: numOf(d.rule_id),
          rule_name: strOf(d.rule_name),
          target_url: strOf(d.target_url),
          status: strOf(d.status),
          attempts: numOf(d.attempts),
          next_attempt_at: isoOf(d.next_attempt_at),
          last_status_code: numOf(d.last_status_code),
          last_error: strOf(d.last_error),
          created_at: isoOf(d.created_at),
          updated_at: isoOf(d.updated_at),
          attempts_log: attempts.filter((a) => numOf(a.delivery_id) === id).map(attempt),
        };
      }),
      processing_history: attempts.map(attempt),
    };
  }

  async listRules() {
    const rows = await this.read(queries.list_rules);
    return rows.map((r) => ({
      id: numOf(r.id),
      rule_name: strOf(r.rule_name),
      description: strOf(r.description),
      filter_query: strOf(r.filter_query),
      transform_query: strOf(r.transform_query),
      target_url: strOf(r.target_url),
      is_active: r.is_active as boolean,
      priority: numOf(r.priority),
      timeout_seconds: numOf(r.timeout_seconds),
      retry_policy: r.retry_policy ? JSON.parse(String(r.retry_policy)) : {},
      created_at: isoOf(r.created_at),
      updated_at: isoOf(r.updated_at),
    }));
  }

  async insertRule(rule: NewRule, now: number): Promise<number> {
    const policy: Record<string, number> = {};
    if (rule.retryPolicy.maxRetries !== undefined) policy.max_retries = rule.retryPolicy.maxRetries;
    if (rule.retryPolicy.backoffMultiplier !== undefined) policy.backoff_multiplier = rule.retryPolicy.backoffMultiplier;
    if (rule.retryPolicy.baseDelaySeconds !== undefined) policy.base_delay_seconds = rule.retryPolicy.baseDelaySeconds;
    const [row] = await this.read(queries.insert_rule, [
      rule.ruleName,
      rule.description,
      rule.filterQuery,
      rule.transformQuery,
      rule.targetUrl,
      rule.timeoutSeconds,
      JSON.stringify(policy),
      rule.priority,
      ts(now),
    ]);
    return numOf(row!.id)!;
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
    for (const slot of this.ingestSlots) await slot.lock.run(async () => slot.appender.closeSync());
    await this.workLock.run(async () => this.outcomeAppender.closeSync());
    await this.checkpoint(true);
    for (const c of [...this.ingestSlots.map((s) => s.conn), this.workConn, this.readConn, this.checkpointConn]) c.closeSync();
  }
}
