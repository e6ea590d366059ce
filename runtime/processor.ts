// The work behind the drain and retry handlers. Both are budgeted (max items, time_ms) and
// return what they did, so a scheduler calling over HTTP and the runtime's own timers run the
// very same code.
import { backoffMs, parseRetryAfter, type BackoffOptions } from './backoff.js';
import type { Deliverer } from './deliver.js';
import type { Logger } from './log.js';
import { Mutex } from './mutex.js';
import { statusClass, type Metrics } from './metrics.js';
import type { RuleSandbox } from './sandbox.js';
import type { ClaimedDelivery, DuckDBStore, NewDelivery, Outcome, RetryPolicy, RoutingRecord } from './store.js';

export interface Budget {
  max: number;
  timeMs: number;
}

export interface DrainResult {
  routed: number;
  unmatched: number;
  deliveries_created: number;
  rule_errors: Record<string, string>;
  claimed: number;
  delivered: number;
  retrying: number;
  dead: number;
  stale: number;
  duration_ms: number;
}

export interface RetryResult {
  reclaimed: number;
  dead_lettered: number;
  claimed: number;
  delivered: number;
  retrying: number;
  dead: number;
  stale: number;
  duration_ms: number;
}

export interface ProcessorDeps {
  store: DuckDBStore;
  sandbox: RuleSandbox;
  deliverer: Deliverer;
  metrics: Metrics;
  log: Logger;
  now: () => number;
  random: () => number;
  defaults: RetryPolicy;
  backoff: Omit<BackoffOptions, 'random'>;
  leaseMs: number;
  batchSize: number;
  concurrency: number;
}

/** 5xx, 408 and 429 and network failures are worth another try; other answers are final. */
function retryable(statusCode: number | null): boolean {
  return statusCode === null || statusCode >= 500 || statusCode === 408 || statusCode === 429;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

export type Processor = ReturnType<typeof createProcessor>;

export function createProcessor(deps: ProcessorDeps) {
  const { store, sandbox, deliverer, metrics, log, now } = deps;
  const backoffOpts: BackoffOptions = { ...deps.backoff, random: deps.random };
  let inFlight = 0;

  function policyFor(partial: Partial<RetryPolicy>): RetryPolicy {
    return {
      maxRetries: partial.maxRetries ?? deps.defaults.maxRetries,
      backoffMultiplier: partial.backoffMultiplier ?? deps.defaults.backoffMultiplier,
      baseDelaySeconds: partial.baseDelaySeconds ?? deps.defaults.baseDelaySeconds,
    };
  }

  // Routing reads past the cursor and moves it in two steps; two drains at once (a scheduler and
  // the timer, or two schedulers) must not route the same webhooks twice.
  const routing = new Mutex();

  /** Routes the next webhooks past the cursor: every active rule evaluated once over the batch. */
  function route(max: number) {
    return routing.run(() => routeUnlocked(max));
  }

  async function routeUnlocked(max: number) {
    const batch = await store.unrouted(max);
    if (batch.length === 0) return { routed: 0, unmatched: 0, created: 0, ruleErrors: {} as Record<string, string> };
    const rules = await store.activeRules();
    const evaluation = await sandbox.evaluate(rules, batch);
    const ruleErrors: Record<string, string> = {};
    const failures = [];
    for (const [ruleId, message] of evaluation.errors) {
      const rule = rules.find((r) => r.id === ruleId)!;
      ruleErrors[rule.ruleName] = message;
      metrics.ruleErrors.inc({ rule_name: rule.ruleName });
      failures.push({ ruleId, ruleName: rule.ruleName, firstId: batch[0]!.id, lastId: batch[batch.length - 1]!.id, webhooks: batch.length, error: message });
      log.warn({ rule_id: ruleId, rule_name: rule.ruleName, error: message, first_webhook_id: batch[0]!.id, last_webhook_id: batch[batch.length - 1]!.id }, 'rule failed on a batch; its matches there can be replayed once fixed');
    }
    // Per webhook, its matches in rule priority order (rules arrive sorted by priority).
    const perWebhook = new Map<number, NewDelivery[]>();
    for (const rule of rules) {
      for (const m of evaluation.matches.get(rule.id) ?? []) {
        let list = perWebhook.get(m.webhookId);
        if (!list) perWebhook.set(m.webhookId, (list = []));
        list.push({ webhookId: m.webhookId, rule, policy: policyFor(rule.retryPolicy), transformedBody: m.body });
      }
    }
    const deliveries: NewDelivery[] = [];
    const records: RoutingRecord[] = [];
    let unmatched = 0;
    const errors = Object.keys(ruleErrors).length > 0 ? ruleErrors : null;
    for (const w of batch) {
      const list = perWebhook.get(w.id) ?? [];
      if (list.length === 0) unmatched++;
      deliveries.push(...list);
      records.push({ webhookId: w.id, matched: list.length, ruleErrors: errors });
    }
    await store.recordRouting(now(), batch[batch.length - 1]!.id, records, deliveries);
    // Recorded against the rule (GET /routing-rules/{id}/errors), with the id range to replay to it.
    if (failures.length > 0) await store.recordRuleFailures(now(), failures);
    if (unmatched > 0) metrics.processed.inc({ status: 'unmatched', rule_name: 'no_matching_rule' }, unmatched);
    return { routed: batch.length, unmatched, created: deliveries.length, ruleErrors };
  }

  function outcomeOf(d: ClaimedDelivery, started: number, res: Awaited<ReturnType<Deliverer['send']>>): Outcome {
    const completedAt = now();
    const failed = res.statusCode === null || res.statusCode < 200 || res.statusCode >= 300;
    const base = {
      deliveryId: d.id,
      leaseToken: d.leaseToken,
      startedAt: started,
      completedAt,
      statusCode: res.statusCode,
      responseBody: res.body,
      durationMs: res.durationMs,
    };
    if (!failed) return { ...base, error: null, outcome: 'delivered', nextAttemptAt: null };
    const error = res.error ?? `target answered ${res.statusCode}`;
    const attemptsSoFar = d.attempts + 1;
    // A target refused by policy (runtime/netguard.ts) will be refused again: dead at once.
    if (res.refused || !retryable(res.statusCode) || attemptsSoFar > d.policy.maxRetries) {
      return { ...base, error, outcome: 'dead', nextAttemptAt: null };
    }
    let delay = backoffMs(d.policy, attemptsSoFar, backoffOpts);
    if (res.statusCode === 429 || res.statusCode === 503) {
      const asked = parseRetryAfter(res.retryAfter, completedAt);
      if (asked !== null) delay = Math.min(asked, deps.backoff.maxDelaySeconds * 1000);
    }
    return { ...base, error, outcome: 'retrying', nextAttemptAt: completedAt + delay };
  }

  async function deliverOne(d: ClaimedDelivery): Promise<Outcome> {
    const started = now();
    inFlight++;
    metrics.active.set(inFlight);
    if (d.attempts === 0) metrics.queueWait.observe(Math.max(0, started - d.receivedAt) / 1000);
    try {
      const raw = d.transformedBody === null;
      const res = await deliverer.send({
        url: d.targetUrl,
        body: raw ? d.rawBody : d.transformedBody!,
        contentType: raw ? (d.contentType ?? 'application/octet-stream') : 'application/json',
        headers: {
          // The rule's forwarded incoming headers first, so the gateway's own always win.
          ...d.forwardHeaders,
          'x-webhook-gateway': 'duckhook',
          'x-original-ip': d.sourceIp ?? '',
          'x-webhook-id': String(d.webhookId),
          // The same across retries, so targets can de-duplicate.
          'x-delivery-id': `dlv_${d.id}`,
          'idempotency-key': `dlv_${d.id}`,
          'x-delivery-attempt': String(d.attempts + 1),
        },
        timeoutMs: d.timeoutSeconds * 1000,
      });
      const outcome = outcomeOf(d, started, res);
      metrics.apiCalls.inc({ target_url: d.targetUrl, status_code: statusClass(res.statusCode) });
      metrics.apiDuration.observe({ target_url: d.targetUrl }, res.durationMs / 1000);
      metrics.processingDuration.observe({ rule_name: d.ruleName }, (outcome.completedAt - started) / 1000);
      metrics.processed.inc({ status: outcome.outcome === 'delivered' ? 'completed' : 'failed', rule_name: d.ruleName });
      if (outcome.outcome === 'delivered') metrics.lastSuccess.set({ rule_name: d.ruleName }, outcome.completedAt / 1000);
      if (outcome.outcome !== 'delivered') {
        log.info(
          { delivery_id: d.id, webhook_id: d.webhookId, rule_name: d.ruleName, status_code: res.statusCode, error: outcome.error, outcome: outcome.outcome },
          'delivery attempt failed',
        );
      }
      return outcome;
    } finally {
      inFlight--;
      metrics.active.set(inFlight);
    }
  }

  /** Delivers claimed items concurrently, then writes all outcomes in one lease-checked transaction. */
  async function deliverClaimed(claimed: readonly ClaimedDelivery[]) {
    const outcomes = await mapLimit(claimed, deps.concurrency, deliverOne);
    const applied = await store.complete(outcomes);
    const count = (s: Outcome['outcome']) => outcomes.filter((o) => o.outcome === s).length;
    return { delivered: count('delivered'), retrying: count('retrying'), dead: count('dead'), stale: outcomes.length - applied };
  }

  async function drain(budget: Budget): Promise<DrainResult> {
    const started = performance.now();
    const result: DrainResult = {
      routed: 0, unmatched: 0, deliveries_created: 0, rule_errors: {}, claimed: 0,
      delivered: 0, retrying: 0, dead: 0, stale: 0, duration_ms: 0,
    };
    while (performance.now() - started < budget.timeMs) {
      const room = Math.min(deps.batchSize, budget.max - result.claimed);
      if (room <= 0) break;
      const r = await route(room);
      result.routed += r.routed;
      result.unmatched += r.unmatched;
      result.deliveries_created += r.created;
      Object.assign(result.rule_errors, r.ruleErrors);
      const claimed = await store.claim('pending', now(), room, deps.leaseMs);
      result.claimed += claimed.length;
      if (claimed.length > 0) {
        const d = await deliverClaimed(claimed);
        result.delivered += d.delivered;
        result.retrying += d.retrying;
        result.dead += d.dead;
        result.stale += d.stale;
      }
      if (r.routed === 0 && claimed.length === 0) break;
    }
    result.duration_ms = Math.round(performance.now() - started);
    return result;
  }

  async function retry(budget: Budget): Promise<RetryResult> {
    const started = performance.now();
    const t = now();
    const result: RetryResult = {
      reclaimed: await store.reclaimExpired(t),
      dead_lettered: await store.deadLetterExhausted(t),
      claimed: 0, delivered: 0, retrying: 0, dead: 0, stale: 0, duration_ms: 0,
    };
    if (result.reclaimed > 0) log.warn({ count: result.reclaimed }, 'reclaimed deliveries whose lease expired');
    while (performance.now() - started < budget.timeMs) {
      const room = Math.min(deps.batchSize, budget.max - result.claimed);
      if (room <= 0) break;
      const claimed = await store.claim('retrying', now(), room, deps.leaseMs);
      if (claimed.length === 0) break;
      result.claimed += claimed.length;
      const d = await deliverClaimed(claimed);
      result.delivered += d.delivered;
      result.retrying += d.retrying;
      result.dead += d.dead;
      result.stale += d.stale;
    }
    result.duration_ms = Math.round(performance.now() - started);
    return result;
  }

  return { drain, retry, get inFlight() { return inFlight; } };
}
