// Rule SQL is code written by admins. It runs here, in a separate in-memory DuckDB that can see
// only the batch being routed: no file or network access, no extension loading, configuration
// locked so a rule cannot SET its way out, and every evaluation interrupted after a time limit.
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import { Mutex } from './mutex.js';
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

function stripSemicolon(sql: string): string {
  return sql.trim().replace(/;\s*$/, '');
}

export class RuleSandbox {
  private readonly lock = new Mutex();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    private readonly appender: DuckDBAppender,
    private readonly timeoutMs: number,
  ) {}

  static async create(timeoutMs: number): Promise<RuleSandbox> {
    const instance = await DuckDBInstance.create(':memory:', SANDBOX_SETTINGS);
    const conn = await instance.connect();
    await conn.run(
      'CREATE TABLE batch (webhook_id BIGINT, source VARCHAR, endpoint VARCHAR, headers JSON, payload JSON)',
    );
    return new RuleSandbox(instance, conn, await conn.createAppender('batch'), timeoutMs);
  }

  private async load(batch: readonly UnroutedWebhook[]): Promise<void> {
    await this.conn.run('DELETE FROM batch');
    const a = this.appender;
    for (const w of batch) {
      a.appendBigInt(BigInt(w.id));
      a.appendVarchar(w.source);
      a.appendVarchar(w.endpoint);
      a.appendVarchar(w.headers);
      if (w.payload === null) a.appendNull();
      else a.appendVarchar(w.payload);
      a.endRow();
    }
    a.flushSync();
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
        try {
          const rows = await this.runLimited(this.ruleQuery(rule));
          result.matches.set(
            rule.id,
            rows.map((r) => ({ webhookId: Number(r[0]), body: r[1] === null ? null : String(r[1]) })),
          );
        } catch (err) {
          result.errors.set(rule.id, (err as Error).message);
        }
      }
      return result;
    });
  }

  /** Dry-runs a rule on one sample payload; throws a RuleError carrying DuckDB's reason. */
  check(rule: Pick<Rule, 'filterQuery' | 'transformQuery'>, samplePayload: unknown): Promise<RuleMatch[]> {
    if (!/^\s*select\b/i.test(rule.transformQuery)) {
      return Promise.reject(new RuleError('transform_query must be a SELECT list, e.g. "SELECT payload"'));
    }
    if (!rule.filterQuery.trim()) return Promise.reject(new RuleError('filter_query must not be empty'));
    return this.lock.run(async () => {
      await this.load([
        { id: 0, source: 'test', endpoint: 'test', headers: '{}', payload: JSON.stringify(samplePayload ?? {}) },
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
