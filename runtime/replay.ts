// Replay: send stored webhooks again, to the rules that match them now or to one rule, and revive
// dead deliveries. A replay always adds new deliveries (recorded in `replays`); the old ones and
// their attempts stay as they were. The predicate of POST /replay is admin SQL like a rule filter:
// it is checked the same way and evaluated in the rule sandbox over copied history chunks.
import type { Logger } from './log.js';
import type { Evaluation, RuleSandbox } from './sandbox.js';
import type { DuckDBStore, NewDelivery, RetryPolicy, Rule } from './store.js';
import { toRule } from './rules.js';

class ReplayError extends Error {
  constructor(
    readonly code: string,
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

export interface ReplayDeps {
  store: Pick<DuckDBStore, 'historyBounds' | 'historyChunks' | 'activeRules' | 'getRule' | 'getDelivery' | 'enqueueReplays'>;
  sandbox: Pick<RuleSandbox, 'checkWhere' | 'replayChunk'>;
  defaults: RetryPolicy;
  now: () => number;
  /** Wakes the drain loops so replayed deliveries go out at once. */
  wake: () => void;
  /** Counts replayed deliveries by reason (a metric). */
  counted?: (reason: string, n: number) => void;
  log: Logger;
  chunkRows: number;
  /** A predicate matching more webhooks than this is refused (narrow it, or replay in parts). */
  maxWebhooks: number;
}

export interface ReplayTarget {
  /** Only this rule; its filter still applies unless `force`. */
  ruleId?: number | undefined;
  force?: boolean | undefined;
}

export interface ReplayRequest extends ReplayTarget {
  where: string;
  since?: number | undefined;
  until?: number | undefined;
  dryRun: boolean;
  sample: number;
}

export function createReplayer(deps: ReplayDeps) {
  const { store, sandbox } = deps;

  function policyFor(p: Partial<RetryPolicy>): RetryPolicy {
    return {
      maxRetries: p.maxRetries ?? deps.defaults.maxRetries,
      backoffMultiplier: p.backoffMultiplier ?? deps.defaults.backoffMultiplier,
      baseDelaySeconds: p.baseDelaySeconds ?? deps.defaults.baseDelaySeconds,
    };
  }

  async function rulesFor(target: ReplayTarget): Promise<Rule[]> {
    if (target.ruleId === undefined) return store.activeRules();
    const r = await store.getRule(target.ruleId);
    if (!r) throw new ReplayError('not_found', 404, `rule ${target.ruleId} not found`);
    const rule = toRule(r);
    return [target.force ? { ...rule, filterQuery: 'true' } : rule];
  }

  /** Evaluates `where` and the rules over history in [lo, hi]; the matching ids and, per webhook, its deliveries. */
  async function scan(where: string, rules: Rule[], lo: number, hi: number, since: number, until: number) {
    const ids: number[] = [];
    const perWebhook = new Map<number, NewDelivery[]>();
    const ruleErrors: Record<string, string> = {};
    for (let chunkLo = lo; chunkLo <= hi; chunkLo += deps.chunkRows) {
      const chunks = await store.historyChunks(chunkLo, Math.min(hi, chunkLo + deps.chunkRows - 1), since, until);
      const { ids: matched, evaluation } = await sandbox.replayChunk(chunks, where, rules);
      if (ids.length + matched.length > deps.maxWebhooks) {
        throw new ReplayError('replay_too_large', 400, `the predicate matches more than ${deps.maxWebhooks} webhooks; narrow it (since/until, an id range) or replay in parts`);
      }
      ids.push(...matched);
      collect(rules, evaluation, perWebhook, ruleErrors);
    }
    return { ids, perWebhook, ruleErrors };
  }

  function collect(rules: Rule[], evaluation: Evaluation, perWebhook: Map<number, NewDelivery[]>, ruleErrors: Record<string, string>) {
    // Rules arrive in priority order, so each webhook's list is too.
    for (const rule of rules) {
      const error = evaluation.errors.get(rule.id);
      if (error) ruleErrors[rule.ruleName] = error;
      for (const m of evaluation.matches.get(rule.id) ?? []) {
        let list = perWebhook.get(m.webhookId);
        if (!list) perWebhook.set(m.webhookId, (list = []));
        list.push({ webhookId: m.webhookId, rule, policy: policyFor(rule.retryPolicy), transformedBody: m.body });
      }
    }
  }

  async function enqueue(ids: number[], perWebhook: Map<number, NewDelivery[]>, reason: string) {
    const items = ids.flatMap((id) => (perWebhook.get(id) ?? []).map((delivery) => ({ delivery, replayOf: null, reason })));
    const created = await store.enqueueReplays(deps.now(), items);
    if (created.length > 0) {
      deps.counted?.(reason, created.length);
      deps.wake();
    }
    return created;
  }

  /** POST /webhooks/{id}/replay. */
  async function replayWebhook(id: number, target: ReplayTarget) {
    const rules = await rulesFor(target);
    const { ids, perWebhook, ruleErrors } = await scan('true', rules, id, id, 0, 8_000_000_000_000);
    if (ids.length === 0) throw new ReplayError('not_found', 404, `webhook ${id} not found`);
    const created = await enqueue(ids, perWebhook, 'webhook');
    deps.log.info({ webhook_id: id, deliveries: created.length }, 'webhook replayed');
    return {
      webhook_id: id,
      deliveries_created: created.length,
      deliveries: (perWebhook.get(id) ?? []).map((d, i) => ({ id: created[i], rule_id: d.rule.id, rule_name: d.rule.ruleName })),
      rule_errors: ruleErrors,
    };
  }

  /** POST /replay: every stored webhook matching a predicate; dry_run counts and samples, enqueues nothing. */
  async function replayWhere(req: ReplayRequest) {
    await sandbox.checkWhere(req.where);
    const rules = await rulesFor(req);
    const since = req.since ?? 0;
    const until = req.until ?? 8_000_000_000_000;
    const bounds = await store.historyBounds(since, until);
    const { ids, perWebhook, ruleErrors } = bounds.n === 0
      ? { ids: [] as number[], perWebhook: new Map<number, NewDelivery[]>(), ruleErrors: {} }
      : await scan(req.where, rules, bounds.lo, bounds.hi, since, until);
    const deliveries = ids.reduce((n, id) => n + (perWebhook.get(id)?.length ?? 0), 0);
    const sample = ids.slice(0, req.sample).map((id) => ({
      webhook_id: id,
      rules: (perWebhook.get(id) ?? []).map((d) => d.rule.ruleName),
    }));
    if (req.dryRun) {
      return { dry_run: true, matched: ids.length, deliveries, deliveries_created: 0, sample, rule_errors: ruleErrors };
    }
    const created = await enqueue(ids, perWebhook, 'predicate');
    deps.log.info({ matched: ids.length, deliveries: created.length }, 'replay by predicate');
    return { dry_run: false, matched: ids.length, deliveries, deliveries_created: created.length, sample, rule_errors: ruleErrors };
  }

  /** POST /deliveries/{id}/retry: a dead delivery gets a fresh copy (same body, target and policy). */
  async function retryDelivery(id: number) {
    const d = await store.getDelivery(id);
    if (!d) throw new ReplayError('not_found', 404, `delivery ${id} not found`);
    if (d.status !== 'dead') throw new ReplayError('delivery_not_dead', 409, `delivery ${id} is ${d.status}; only dead deliveries can be retried`);
    const [created] = await store.enqueueReplays(deps.now(), [
      { delivery: { webhookId: d.webhookId, rule: d.rule, policy: d.policy, transformedBody: d.transformedBody }, replayOf: id, reason: 'delivery_retry' },
    ]);
    deps.counted?.('delivery_retry', 1);
    deps.wake();
    deps.log.info({ delivery_id: created, replay_of: id }, 'dead delivery revived');
    return { id: created!, replay_of: id, webhook_id: d.webhookId, rule_name: d.rule.ruleName, status: 'pending' };
  }

  return { replayWebhook, replayWhere, retryDelivery };
}

export type Replayer = ReturnType<typeof createReplayer>;
