// Backtest: how a candidate rule would have treated stored history. History is copied out of
// the queue database chunk by chunk into the rule sandbox (rule SQL never runs on the queue
// database) and evaluated set-wise there: one count, one sample and one query per other rule
// per chunk.
import type { RuleSandbox } from './sandbox.js';
import type { DuckDBStore, Rule } from './store.js';

export interface BacktestRequest {
  filterQuery: string;
  transformQuery: string;
  /** Received-at window in epoch ms; defaults to all of history. */
  since?: number | undefined;
  until?: number | undefined;
  /** At most this many webhooks, the newest in the window. */
  limit: number;
  sample: number;
  /** The rule being tested, left out of the shadowing list. */
  ruleId?: number | undefined;
  testPayload?: unknown;
}

export interface BacktestDeps {
  store: Pick<DuckDBStore, 'historyBounds' | 'historyChunks' | 'activeRules'>;
  sandbox: Pick<RuleSandbox, 'check' | 'backtestChunk'>;
  chunkRows: number;
  timeLimitMs: number;
}

function parseBody(body: string | null): unknown {
  if (body === null) return null;
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

/** Runs a backtest; `complete` is false when the time limit stopped it before the whole window. */
export async function backtest(deps: BacktestDeps, req: BacktestRequest) {
  const started = performance.now();
  const candidate = { filterQuery: req.filterQuery, transformQuery: req.transformQuery };
  await deps.sandbox.check(candidate, req.testPayload ?? {});
  const since = req.since ?? 0;
  const until = req.until ?? 8_000_000_000_000;
  const bounds = await deps.store.historyBounds(since, until);
  const others: Rule[] = (await deps.store.activeRules()).filter((r) => r.id !== req.ruleId);
  const shadows = new Map<number, number>();
  const errors = new Map<number, string>();
  const sample: { webhook_id: number; body: unknown }[] = [];
  let scanned = 0;
  let matched = 0;
  let complete = true;
  const lo = bounds.n === 0 ? bounds.hi + 1 : Math.max(bounds.lo, bounds.hi - req.limit + 1);
  // Newest first, so the sample shows recent traffic and a limit keeps the newest webhooks.
  for (let hi = bounds.hi; hi >= lo; hi -= deps.chunkRows) {
    if (performance.now() - started > deps.timeLimitMs) {
      complete = false;
      break;
    }
    const chunkLo = Math.max(lo, hi - deps.chunkRows + 1);
    const chunks = await deps.store.historyChunks(chunkLo, hi, since, until);
    const r = await deps.sandbox.backtestChunk(chunks, candidate, others, req.sample - sample.length);
    scanned += r.scanned;
    matched += r.matched;
    for (const s of r.sample) sample.push({ webhook_id: s.webhookId, body: parseBody(s.body) });
    for (const [id, n] of r.shadows) shadows.set(id, (shadows.get(id) ?? 0) + n);
    for (const [id, e] of r.errors) errors.set(id, e);
  }
  return {
    scanned,
    matched,
    match_rate: scanned === 0 ? 0 : matched / scanned,
    complete,
    window: {
      since: req.since === undefined ? null : new Date(since).toISOString(),
      until: req.until === undefined ? null : new Date(until).toISOString(),
      first_webhook_id: scanned === 0 ? null : lo,
      last_webhook_id: scanned === 0 ? null : bounds.hi,
    },
    sample,
    shadowing: others
      .map((r) => ({
        rule_id: r.id,
        rule_name: r.ruleName,
        priority: r.priority,
        also_matched: shadows.get(r.id) ?? 0,
        ...(errors.has(r.id) ? { error: errors.get(r.id) } : {}),
      }))
      .filter((s) => s.also_matched > 0 || s.error !== undefined),
    duration_ms: Math.round(performance.now() - started),
  };
}
