// Routing rules as data: parsing and validating what admins send (the API, an import file,
// RULES_FILE), saving it, and exporting it back in the same shape so rules can live in git.
import { readFileSync } from 'node:fs';
import type { Logger } from './log.js';
import type { RuleOutbound } from './outbound.js';
import type { RuleSandbox } from './sandbox.js';
import type { DuckDBStore, NewRule, RuleJson } from './store.js';

class RuleInputError extends Error {
  constructor(
    readonly code: string,
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

export const ruleInvalid = (message: string) => new RuleInputError('rule_invalid', 400, message);

type Body = Record<string, unknown>;

/** The fields a rule file holds (and the API accepts), in the seed's names. */
const RULE_FIELDS = ['rule_name', 'description', 'filter_query', 'transform_query', 'target_url', 'priority', 'timeout_seconds', 'retry_policy', 'is_active', 'forward_headers'] as const;

/** Validates a rule's fields (everything but its SQL, which the sandbox checks) into a NewRule. */
export function parseRule(body: Body): NewRule {
  const str = (key: string, required = true): string => {
    const v = body[key];
    if (v === undefined || v === null) {
      if (required) throw ruleInvalid(`${key} is required`);
      return '';
    }
    if (typeof v !== 'string') throw ruleInvalid(`${key} must be a string`);
    return v;
  };
  const targetUrl = str('target_url');
  let url: URL;
  try {
    url = new URL(targetUrl);
  } catch {
    throw ruleInvalid('target_url must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw ruleInvalid('target_url must be an absolute http(s) URL');
  const policy = (body.retry_policy ?? {}) as Record<string, unknown>;
  if (typeof policy !== 'object' || Array.isArray(policy)) throw ruleInvalid('retry_policy must be an object');
  const number = (v: unknown, name: string, min: number, max: number) => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw ruleInvalid(`${name} must be a number in [${min}, ${max}]`);
    return v;
  };
  const maxRetries = number(policy.max_retries, 'retry_policy.max_retries', 0, 100);
  if (maxRetries !== undefined && !Number.isInteger(maxRetries)) throw ruleInvalid('retry_policy.max_retries must be an integer');
  const name = str('rule_name');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw ruleInvalid('rule_name must be 1-64 letters, digits, _ . -');
  const priority = number(body.priority, 'priority', -1_000_000, 1_000_000) ?? 100;
  if (!Number.isInteger(priority)) throw ruleInvalid('priority must be an integer');
  const active = body.is_active;
  if (active !== undefined && active !== null && typeof active !== 'boolean') throw ruleInvalid('is_active must be true or false');
  return {
    ruleName: name,
    description: str('description', false),
    filterQuery: str('filter_query'),
    transformQuery: str('transform_query', false) || 'SELECT payload',
    targetUrl,
    timeoutSeconds: Math.round(number(body.timeout_seconds, 'timeout_seconds', 1, 60) ?? 30),
    priority,
    retryPolicy: {
      maxRetries,
      backoffMultiplier: number(policy.backoff_multiplier, 'retry_policy.backoff_multiplier', 1, 100),
      baseDelaySeconds: number(policy.base_delay_seconds, 'retry_policy.base_delay_seconds', 0, 86_400),
    },
    isActive: active ?? true,
  };
}

/** A stored rule in the file/API shape, without ids, timestamps or failure counts. */
export function ruleDocument(r: RuleJson): Body {
  return Object.fromEntries(RULE_FIELDS.map((k) => [k, r[k] ?? (k === 'description' ? '' : null)]));
}

export interface RuleServiceDeps {
  store: Pick<DuckDBStore, 'listRules' | 'getRule' | 'insertRule' | 'updateRule' | 'deleteRule'>;
  sandbox: Pick<RuleSandbox, 'check'>;
  /** Outbound safety (target allowed, forward_headers), checked before a rule is saved. */
  outbound?: RuleOutbound | undefined;
  now: () => number;
  log: Logger;
}

function isUniqueClash(err: unknown): boolean {
  return /unique|duplicate key/i.test((err as Error).message ?? '');
}

/** Rule management shared by the admin API, imports and RULES_FILE. */
export function createRuleService(deps: RuleServiceDeps) {
  const { store, sandbox, now, log } = deps;

  /** Parses and dry-runs a rule (on test_payload, or {}); returns it and the dry run's result. */
  async function validate(body: Body) {
    const rule = parseRule(body);
    const forwardHeaders = deps.outbound ? await deps.outbound.check(rule.targetUrl, body.forward_headers) : null;
    const sample = await sandbox.check(rule, body.test_payload ?? {});
    return { rule, forwardHeaders, testResult: { matched: sample.length > 0, body: sample[0]?.body ?? null } };
  }

  async function create(body: Body) {
    const { rule, forwardHeaders, testResult } = await validate(body);
    let id: number;
    try {
      id = await store.insertRule(rule, now());
    } catch (err) {
      if (isUniqueClash(err)) throw new RuleInputError('rule_exists', 409, `a rule named ${rule.ruleName} already exists`);
      throw err;
    }
    await deps.outbound?.save(id, forwardHeaders);
    log.info({ rule_id: id, rule_name: rule.ruleName }, 'routing rule created');
    return { id, testResult };
  }

  /** Replaces (PUT) or merges into (PATCH) rule `id`, validating the result as a whole. */
  async function update(id: number, body: Body, merge: boolean) {
    const current = await store.getRule(id);
    if (!current) throw new RuleInputError('not_found', 404, `rule ${id} not found`);
    const merged = merge ? { ...ruleDocument(current), ...body } : { is_active: current.is_active, ...body };
    const { rule, forwardHeaders, testResult } = await validate(merged);
    try {
      if (!(await store.updateRule(id, rule, now()))) throw new RuleInputError('not_found', 404, `rule ${id} not found`);
    } catch (err) {
      if (isUniqueClash(err)) throw new RuleInputError('rule_exists', 409, `a rule named ${rule.ruleName} already exists`);
      throw err;
    }
    await deps.outbound?.save(id, forwardHeaders);
    log.info({ rule_id: id, rule_name: rule.ruleName }, 'routing rule updated');
    return { id, testResult };
  }

  async function remove(id: number) {
    if (!(await store.deleteRule(id))) throw new RuleInputError('not_found', 404, `rule ${id} not found`);
    log.info({ rule_id: id }, 'routing rule deleted');
  }

  /**
   * Imports rules by name: new names are created, changed ones updated, identical ones left
   * alone, so importing the same file twice changes nothing. Every rule is validated before any
   * is written.
   */
  async function importRules(doc: unknown) {
    const list = Array.isArray(doc) ? doc : (doc as { rules?: unknown } | null)?.rules;
    if (!Array.isArray(list)) throw ruleInvalid('import a JSON array of rules or {"rules": [...]}');
    const seen = new Set<string>();
    const checked: { rule: NewRule; forwardHeaders: string[] | null }[] = [];
    for (const [i, item] of list.entries()) {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) throw ruleInvalid(`rules[${i}] must be an object`);
      try {
        const { rule, forwardHeaders } = await validate(item as Body);
        if (seen.has(rule.ruleName)) throw ruleInvalid(`rule_name ${rule.ruleName} appears twice`);
        seen.add(rule.ruleName);
        checked.push({ rule, forwardHeaders });
      } catch (err) {
        const e = err as { code?: string; status?: number; message: string };
        const name = (item as Body).rule_name;
        if (e.code === undefined || e.status !== 400) throw err;
        throw new RuleInputError(e.code, 400, `rules[${i}]${typeof name === 'string' ? ` (${name})` : ''}: ${e.message}`);
      }
    }
    const existing = new Map((await store.listRules()).map((r) => [r.rule_name!, r]));
    const result = { created: [] as string[], updated: [] as string[], unchanged: [] as string[] };
    for (const { rule, forwardHeaders } of checked) {
      const current = existing.get(rule.ruleName);
      if (!current) {
        const id = await store.insertRule(rule, now());
        await deps.outbound?.save(id, forwardHeaders);
        result.created.push(rule.ruleName);
        continue;
      }
      await deps.outbound?.save(current.id!, forwardHeaders);
      const wanted = ruleDocument({ ...current, ...fromNewRule(rule), forward_headers: forwardHeaders });
      if (JSON.stringify(wanted) === JSON.stringify(ruleDocument(current))) {
        result.unchanged.push(rule.ruleName);
      } else {
        await store.updateRule(current.id!, rule, now());
        result.updated.push(rule.ruleName);
      }
    }
    log.info({ created: result.created.length, updated: result.updated.length, unchanged: result.unchanged.length }, 'routing rules imported');
    return result;
  }

  async function exportRules() {
    const rules = await store.listRules();
    return { version: 1, rules: rules.map(ruleDocument) };
  }

  /** Imports RULES_FILE at start; a file that does not parse or holds an invalid rule stops the start. */
  async function loadFile(path: string) {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new Error(`RULES_FILE ${path}: ${(err as Error).message}`);
    }
    try {
      return await importRules(doc);
    } catch (err) {
      throw new Error(`RULES_FILE ${path}: ${(err as Error).message}`);
    }
  }

  return { validate, create, update, remove, importRules, exportRules, loadFile };
}

export type RuleService = ReturnType<typeof createRuleService>;

/** A NewRule's fields under the API's names, to compare with a stored rule. */
function fromNewRule(rule: NewRule): Partial<RuleJson> {
  const policy: Record<string, number> = {};
  if (rule.retryPolicy.maxRetries !== undefined) policy.max_retries = rule.retryPolicy.maxRetries;
  if (rule.retryPolicy.backoffMultiplier !== undefined) policy.backoff_multiplier = rule.retryPolicy.backoffMultiplier;
  if (rule.retryPolicy.baseDelaySeconds !== undefined) policy.base_delay_seconds = rule.retryPolicy.baseDelaySeconds;
  return {
    rule_name: rule.ruleName,
    description: rule.description,
    filter_query: rule.filterQuery,
    transform_query: rule.transformQuery,
    target_url: rule.targetUrl,
    priority: rule.priority,
    timeout_seconds: rule.timeoutSeconds,
    retry_policy: policy,
    is_active: rule.isActive ?? true,
  };
}

/** A stored rule (API shape) as the sandbox and processor see rules. */
export function toRule(r: RuleJson) {
  return {
    id: r.id!,
    ruleName: r.rule_name!,
    filterQuery: r.filter_query!,
    transformQuery: r.transform_query!,
    targetUrl: r.target_url!,
    timeoutSeconds: r.timeout_seconds!,
    priority: r.priority!,
    retryPolicy: {
      maxRetries: r.retry_policy.max_retries,
      backoffMultiplier: r.retry_policy.backoff_multiplier,
      baseDelaySeconds: r.retry_policy.base_delay_seconds,
    },
  };
}
