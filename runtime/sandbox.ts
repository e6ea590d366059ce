// Rule SQL is code written by admins. It runs here, in a separate in-memory DuckDB that can see
// only the batch being routed: no file or network access, no extension loading, configuration
// locked so a rule cannot SET its way out, and every evaluation interrupted after a time limit.
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection, type DuckDBDataChunk } from '@duckdb/node-api';
import { Mutex } from './mutex.js';
import { checkRuleSql, stripSemicolon, type RuleSqlKind } from './rule-sql.js';
import { ts } from './values.js';
import type { Rule, UnroutedWebhook } from './store.js';

const SANDBOX_SETTINGS = {
  enable_external_access: 'false',
  autoload_known_extensions: 'false',
  autoinstall_known_extensions: 'false',
  allow_community_extensions: 'false',
  memory_limit: '256MB',
  threads: '1',
  lock_configuration: 'true',
};

/** `SELECT payload` forwards the webhook's raw bytes unchanged (faithful forwarding, signatures intact). */
export function isPassThrough(transform: string): boolean {
  return /^\s*select\s+payload\s*;?\s*$/i.test(transform);
}

export interface RuleMatch {
  webhookId: number;
  /** The transformed JSON body, or null to forward the raw body. */
  body: string | null;
}

export interface Evaluation {
  matches: Map<number, RuleMatch[]>;
  errors: Map<number, string>;
}

export class RuleError extends Error {
  readonly code = 'rule_invalid';
  readonly status = 400;
}

type RuleSql = Pick<Rule, 'filterQuery' | 'transformQuery'>;

/** What one chunk of history gave a backtest. */
export interface BacktestChunk {
  scanned: number;
  matched: number;
  sample: { webhookId: number; body: string | null }[];
  /** Per other rule, how many of the candidate's matches it matches too. */
  shadows: Map<number, number>;
  errors: Map<number, string>;
}

/** The webhook columns rules (and replay predicates) see, in the order history chunks arrive. */
export const BATCH_COLUMNS =
  'webhook_id BIGINT, id BIGINT, received_at TIMESTAMP, source VARCHAR, endpoint VARCHAR, source_ip VARCHAR, content_type VARCHAR, headers JSON, payload JSON';

export class RuleSandbox {
  private readonly lock = new Mutex();
  /** Parse-tree checks already made, by kind and text: null when the SQL passed, else the reason. */
  private readonly checked = new Map<string, string | null>();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    private readonly appender: DuckDBAppender,
    private readonly timeoutMs: number,
  ) {}

  static async create(timeoutMs: number): Promise<RuleSandbox> {
    const instance = await DuckDBInstance.create(':memory:', SANDBOX_SETTINGS);
    const conn = await instance.connect();
    await conn.run(`CREATE TABLE batch (${BATCH_COLUMNS})`);
    return new RuleSandbox(instance, conn, await conn.createAppender('batch'), timeoutMs);
  }

  private async load(batch: readonly UnroutedWebhook[]): Promise<void> {
    await this.conn.run('DELETE FROM batch');
    const a = this.appender;
    const optional = (v: string | null | undefined) => (v === null || v === undefined ? a.appendNull() : a.appendVarchar(v));
    for (const w of batch) {
      a.appendBigInt(BigInt(w.id));
      a.appendBigInt(BigInt(w.id));
      if (w.receivedAt === undefined) a.appendNull();
      else a.appendTimestamp(ts(w.receivedAt));
      a.appendVarchar(w.source);
      a.appendVarchar(w.endpoint);
      optional(w.sourceIp);
      optional(w.contentType);
      a.appendVarchar(w.headers);
      if (w.payload === null) a.appendNull();
      else a.appendVarchar(w.payload);
      a.endRow();
    }
    a.flushSync();
  }

  /** Replaces the batch with chunks read from the queue database by sql/queries/history_chunk.sql. */
  private async loadChunks(chunks: readonly DuckDBDataChunk[]): Promise<number> {
    await this.conn.run('DELETE FROM batch');
    let rows = 0;
    for (const chunk of chunks) {
      this.appender.appendDataChunk(chunk);
      rows += chunk.rowCount;
    }
    this.appender.flushSync();
    return rows;
  }

  /** The parse-tree check of one piece of rule SQL, cached; returns the reason it is refused, or null. */
  private async refusal(kind: RuleSqlKind, sql: string): Promise<string | null> {
    const key = `${kind}\u0000${sql}`;
    const cached = this.checked.get(key);
    if (cached !== undefined) return cached;
    let reason: string | null = null;
    try {
      await checkRuleSql(this.conn, kind, sql);
    } catch (err) {
      if ((err as { code?: string }).code !== 'rule_invalid') throw err;
      reason = (err as Error).message;
    }
    if (this.checked.size > 10_000) this.checked.clear();
    this.checked.set(key, reason);
    return reason;
  }

  private async ruleRefusal(rule: RuleSql): Promise<string | null> {
    return (await this.refusal('filter_query', rule.filterQuery)) ?? (await this.refusal('transform_query', rule.transformQuery));
  }

  /** Runs one rule over the loaded batch: its matches, or the reason it failed (checks, errors, time limit). */
  private async runRule(rule: RuleSql): Promise<RuleMatch[] | string> {
    const refused = await this.ruleRefusal(rule);
    if (refused) return refused;
    try {
      const rows = await this.runLimited(this.ruleQuery(rule));
      return rows.map((r) => ({ webhookId: Number(r[0]), body: r[1] === null ? null : String(r[1]) }));
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** One query per rule over the whole batch: the filter as a WHERE, the transform as a LATERAL select. */
  private ruleQuery(rule: Pick<Rule, 'filterQuery' | 'transformQuery'>): string {
    const filter = stripSemicolon(rule.filterQuery);
    if (isPassThrough(rule.transformQuery)) {
      return `SELECT b.webhook_id, NULL::VARCHAR AS body FROM batch b WHERE (${filter})`;
    }
    return `SELECT b.webhook_id, to_json(t)::VARCHAR AS body FROM batch b, LATERAL (${stripSemicolon(rule.transformQuery)}) t WHERE (${filter})`;
  }

  private async runLimited(sql: string) {
    const timer = setTimeout(() => this.conn.interrupt(), this.timeoutMs);
    try {
      return (await this.conn.runAndReadAll(sql)).getRowsJS();
    } catch (err) {
      const message = (err as Error).message;
      throw new Error(/interrupt/i.test(message) ? `timed out after ${this.timeoutMs} ms` : message);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Evaluates every rule against the batch; a rule that errors or times out is reported, the rest go on. */
  evaluate(rules: readonly Rule[], batch: readonly UnroutedWebhook[]): Promise<Evaluation> {
    return this.lock.run(async () => {
      const result: Evaluation = { matches: new Map(), errors: new Map() };
      if (batch.length === 0 || rules.length === 0) return result;
      await this.load(batch);
      for (const rule of rules) {
        const r = await this.runRule(rule);
        if (typeof r === 'string') result.errors.set(rule.id, r);
        else result.matches.set(rule.id, r);
      }
      return result;
    });
  }

  /** Checks a replay predicate (one expression over the webhook columns); throws rule_invalid. */
  checkWhere(where: string): Promise<void> {
    return this.lock.run(async () => {
      const refused = await this.refusal('where', where);
      if (refused) throw new RuleError(refused);
    });
  }

  /**
   * Backtests a candidate over one chunk of history: how many match, up to `sampleRoom` transformed
   * bodies, and for each other rule how many of those matches it matches too (shadowing).
   */
  backtestChunk(chunks: readonly DuckDBDataChunk[], candidate: RuleSql, others: readonly Rule[], sampleRoom: number): Promise<BacktestChunk> {
    return this.lock.run(async () => {
      const scanned = await this.loadChunks(chunks);
      const out: BacktestChunk = { scanned, matched: 0, sample: [], shadows: new Map(), errors: new Map() };
      if (scanned === 0) return out;
      const filter = stripSemicolon(candidate.filterQuery);
      const refused = await this.ruleRefusal(candidate);
      if (refused) throw new RuleError(refused);
      const counted = await this.runLimited(`SELECT count(*) FROM batch b WHERE (${filter})`).catch((err: Error) => {
        throw new RuleError(`candidate rule failed on stored webhooks: ${err.message}`);
      });
      out.matched = Number(counted[0]![0]);
      if (out.matched === 0) return out;
      if (sampleRoom > 0) {
        const sampleQuery = isPassThrough(candidate.transformQuery)
          ? `SELECT b.webhook_id, CAST(b.payload AS VARCHAR) FROM batch b WHERE (${filter}) ORDER BY b.webhook_id DESC LIMIT ${Math.floor(sampleRoom)}`
          : `${this.ruleQuery(candidate)} ORDER BY b.webhook_id DESC LIMIT ${Math.floor(sampleRoom)}`;
        const rows = await this.runLimited(sampleQuery).catch((err: Error) => {
          throw new RuleError(`candidate transform failed on stored webhooks: ${err.message}`);
        });
        out.sample = rows.map((r) => ({ webhookId: Number(r[0]), body: r[1] === null ? null : String(r[1]) }));
      }
      for (const rule of others) {
        const refusedOther = await this.refusal('filter_query', rule.filterQuery);
        if (refusedOther) {
          out.errors.set(rule.id, refusedOther);
          continue;
        }
        try {
          const rows = await this.runLimited(
            `SELECT count(*) FROM batch b WHERE (${filter}) AND (${stripSemicolon(rule.filterQuery)})`,
          );
          out.shadows.set(rule.id, Number(rows[0]![0]));
        } catch (err) {
          out.errors.set(rule.id, (err as Error).message);
        }
      }
      return out;
    });
  }

  /**
   * Replays one chunk of history: the ids matching `where` (checked beforehand with checkWhere),
   * and each rule's matches among them with their transformed bodies.
   */
  replayChunk(chunks: readonly DuckDBDataChunk[], where: string, rules: readonly Rule[]): Promise<{ ids: number[]; evaluation: Evaluation }> {
    return this.lock.run(async () => {
      const evaluation: Evaluation = { matches: new Map(), errors: new Map() };
      const scanned = await this.loadChunks(chunks);
      if (scanned === 0) return { ids: [], evaluation };
      const refused = await this.refusal('where', where);
      if (refused) throw new RuleError(refused);
      const predicate = stripSemicolon(where);
      const rows = await this.runLimited(`SELECT webhook_id FROM batch WHERE (${predicate}) ORDER BY webhook_id`).catch((err: Error) => {
        throw new RuleError(`where does not run: ${err.message}`);
      });
      const ids = rows.map((r) => Number(r[0]));
      if (ids.length === 0) return { ids, evaluation };
      await this.conn.run(`DELETE FROM batch WHERE NOT COALESCE((${predicate}), false)`);
      for (const rule of rules) {
        const r = await this.runRule(rule);
        if (typeof r === 'string') evaluation.errors.set(rule.id, r);
        else evaluation.matches.set(rule.id, r);
      }
      return { ids, evaluation };
    });
  }

  /** Dry-runs a rule on one sample payload; throws a RuleError carrying DuckDB's reason. */
  check(rule: RuleSql, samplePayload: unknown): Promise<RuleMatch[]> {
    return this.lock.run(async () => {
      const refused = await this.ruleRefusal(rule);
      if (refused) throw new RuleError(refused);
      await this.load([
        { id: 0, receivedAt: Date.now(), source: 'test', endpoint: 'test', headers: '{}', payload: JSON.stringify(samplePayload ?? {}) },
      ]);
      try {
        const rows = await this.runLimited(this.ruleQuery(rule));
        return rows.map((r) => ({ webhookId: Number(r[0]), body: r[1] === null ? null : String(r[1]) }));
      } catch (err) {
        throw new RuleError(`rule does not run: ${(err as Error).message}`);
      }
    });
  }

  close(): void {
    this.appender.closeSync();
    this.conn.closeSync();
    this.instance.closeSync();
  }
}
