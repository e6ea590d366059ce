// How rows read from DuckDB become the API's JSON (and the retry policy both ways): the shapes the
// status, rules and replay routes answer with, kept apart from the statements that read them.
import type { DuckDBValue } from '@duckdb/node-api';
import type { NewRule, RetryPolicy, Row, Rule } from './store.js';
import { isoOf, numOf, strOf } from './values.js';

/** A retry policy as the rules table stores it (the seed's snake_case keys, only those set). */
export function policyJson(p: Partial<RetryPolicy>): string {
  const policy: Record<string, number> = {};
  if (p.maxRetries !== undefined) policy.max_retries = p.maxRetries;
  if (p.backoffMultiplier !== undefined) policy.backoff_multiplier = p.backoffMultiplier;
  if (p.baseDelaySeconds !== undefined) policy.base_delay_seconds = p.baseDelaySeconds;
  return JSON.stringify(policy);
}

/**
 * A rule's fields as bound parameters, in the order insert_rule ($1..$8) and update_rule ($2..$9)
 * take them: name, description, filter, transform, target, timeout, retry policy JSON, priority.
 */
export function ruleParams(rule: NewRule): DuckDBValue[] {
  return [rule.ruleName, rule.description, rule.filterQuery, rule.transformQuery, rule.targetUrl, rule.timeoutSeconds, policyJson(rule.retryPolicy), rule.priority];
}

/** A routing_rules row (list_rules / get_rule) in the API's shape. */
export function ruleJson(r: Row) {
  return {
    id: numOf(r.id),
    rule_name: strOf(r.rule_name),
    description: strOf(r.description),
    filter_query: strOf(r.filter_query),
    transform_query: strOf(r.transform_query),
    target_url: strOf(r.target_url),
    is_active: r.is_active as boolean,
    priority: numOf(r.priority),
    timeout_seconds: numOf(r.timeout_seconds),
    retry_policy: r.retry_policy ? (JSON.parse(String(r.retry_policy)) as Record<string, number>) : {},
    forward_headers: r.forward_headers ? (JSON.parse(String(r.forward_headers)) as string[]) : null,
    created_at: isoOf(r.created_at),
    updated_at: isoOf(r.updated_at),
    error_count: numOf(r.error_count) ?? 0,
    last_error: strOf(r.last_error),
    last_error_at: isoOf(r.last_error_at),
  };
}

export type RuleJson = ReturnType<typeof ruleJson>;

/** The stored retry_policy JSON back as a partial policy (unknown keys ignored). */
export function parsePolicy(raw: string | null): Partial<RetryPolicy> {
  if (!raw) return {};
  const p = JSON.parse(raw) as Record<string, unknown>;
  const out: Partial<RetryPolicy> = {};
  if (typeof p.max_retries === 'number') out.maxRetries = p.max_retries;
  if (typeof p.backoff_multiplier === 'number') out.backoffMultiplier = p.backoff_multiplier;
  if (typeof p.base_delay_seconds === 'number') out.baseDelaySeconds = p.base_delay_seconds;
  return out;
}

/** A deliveries row (webhook_deliveries / list_deliveries) in the API's shape. */
export function deliveryJson(d: Row) {
  return {
    id: numOf(d.id),
    webhook_id: numOf(d.webhook_id),
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
  };
}

/** GET /status/{id}: the seed's webhook shape plus its routing, each delivery and its attempts. */
export function webhookStatusJson(hook: Row, routing: Row | undefined, deliveries: Row[], attempts: Row[]) {
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
    deliveries: deliveries.map((d) => ({
      ...deliveryJson(d),
      attempts_log: attempts.filter((a) => numOf(a.delivery_id) === numOf(d.id)).map(attempt),
    })),
    processing_history: attempts.map(attempt),
  };
}

/** A rule_failures row: one batch in which a rule failed. */
export function ruleFailureJson(r: Row) {
  return {
    first_webhook_id: numOf(r.first_webhook_id),
    last_webhook_id: numOf(r.last_webhook_id),
    webhooks: numOf(r.webhooks),
    error: strOf(r.error),
    failed_at: isoOf(r.failed_at),
  };
}

/** A get_delivery row as what a revival copies: the webhook, the rule's delivery fields, the policy. */
export function revivableDelivery(r: Row) {
  return {
    id: numOf(r.id)!,
    webhookId: numOf(r.webhook_id)!,
    status: strOf(r.status)!,
    transformedBody: strOf(r.transformed_body),
    rule: {
      id: numOf(r.rule_id)!,
      ruleName: strOf(r.rule_name)!,
      priority: numOf(r.priority)!,
      targetUrl: strOf(r.target_url)!,
      timeoutSeconds: numOf(r.timeout_seconds)!,
      filterQuery: 'true',
      transformQuery: 'SELECT payload',
      retryPolicy: {},
    } satisfies Rule,
    policy: {
      maxRetries: numOf(r.max_retries)!,
      backoffMultiplier: numOf(r.backoff_multiplier)!,
      baseDelaySeconds: numOf(r.base_delay_seconds)!,
    },
  };
}
