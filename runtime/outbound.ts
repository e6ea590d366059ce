// What a rule may send where: its target URL passes the NetGuard (metadata addresses, allowlist)
// and its forward_headers list names only end-to-end headers. Used by the admin handler when a
// rule is saved; delivery checks the target again at connect time (runtime/deliver.ts).
import { readFileSync } from 'node:fs';
import { queries } from '../sql/index.js';
import type { NetGuard } from './netguard.js';
import type { DuckDBStore } from './store.js';

/** Headers a rule may not forward: framing and connection headers belong to each hop. */
const NOT_FORWARDABLE = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer',
  'proxy-connection', 'expect', 'content-type',
]);

export class RuleOutboundError extends Error {
  readonly code = 'rule_invalid';
  readonly status = 400;
}

/** Validates a rule's `forward_headers` (a list of header names) into lower-case names, or null for none. */
export function parseForwardHeaders(raw: unknown): string[] | null {
  if (raw === undefined || raw === null) return null;
  if (!Array.isArray(raw) || raw.length > 50) throw new RuleOutboundError('forward_headers must be a list of at most 50 header names');
  const names = raw.map((n) => {
    if (typeof n !== 'string' || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/.test(n)) {
      throw new RuleOutboundError('forward_headers must be a list of HTTP header names');
    }
    const name = n.toLowerCase();
    if (NOT_FORWARDABLE.has(name)) throw new RuleOutboundError(`forward_headers: ${name} belongs to each hop and cannot be forwarded`);
    return name;
  });
  return names.length > 0 ? [...new Set(names)] : null;
}

export interface RuleOutbound {
  /** Refuses a forbidden target (target_forbidden) or bad forward_headers (rule_invalid); returns the parsed list. */
  check(targetUrl: string, forwardHeaders: unknown): Promise<string[] | null>;
  /** Records the rule's forwarded headers once it has an id. */
  save(ruleId: number, forwardHeaders: string[] | null): Promise<void>;
}

export function createRuleOutbound(guard: Pick<NetGuard, 'checkUrl'>, store: Pick<DuckDBStore, 'read'>): RuleOutbound {
  return {
    async check(targetUrl, forwardHeaders) {
      const names = parseForwardHeaders(forwardHeaders);
      await guard.checkUrl(targetUrl);
      return names;
    },
    async save(ruleId, names) {
      await store.read(queries.set_rule_forward_headers, [ruleId, names === null ? null : JSON.stringify(names)]);
    },
  };
}

type Body = Record<string, unknown>;

/** The rule-service operations that write rules (runtime/rules.ts). */
interface RuleWriter {
  create(body: Body): Promise<{ id: number }>;
  update(id: number, body: Body, merge: boolean): Promise<{ id: number }>;
  importRules(doc: unknown): Promise<unknown>;
  loadFile?(path: string): Promise<unknown>;
}

/**
 * Wraps the rule service so every rule written through it (create, replace, patch, import) has
 * its target checked by the NetGuard first, and its forward_headers recorded after.
 */
export function withOutbound<S extends RuleWriter>(rules: S, outbound: RuleOutbound): S {
  // A target that is not a URL is left to the rule service, which reports it as rule_invalid.
  const check = async (body: Body) => {
    const target = body.target_url;
    const names = parseForwardHeaders(body.forward_headers);
    if (typeof target === 'string' && URL.canParse(target)) await outbound.check(target, null);
    return names;
  };
  const checkAll = async (doc: unknown) => {
    const list = Array.isArray(doc) ? doc : (doc as { rules?: unknown } | null)?.rules;
    if (!Array.isArray(list)) return;
    for (const item of list) if (item && typeof item === 'object') await check(item as Body);
  };
  return {
    ...rules,
    async create(body: Body) {
      const names = await check(body);
      const result = await rules.create(body);
      await outbound.save(result.id, names);
      return result;
    },
    async update(id: number, body: Body, merge: boolean) {
      const names = await check(body);
      const result = await rules.update(id, body, merge);
      // A replace (PUT) without forward_headers forwards none; a patch leaves them as they were.
      if (!merge || body.forward_headers !== undefined) await outbound.save(id, names);
      return result;
    },
    async importRules(doc: unknown) {
      await checkAll(doc);
      return rules.importRules(doc);
    },
    // RULES_FILE goes through the same import, inside the service: check its targets first.
    ...(rules.loadFile
      ? {
          async loadFile(path: string) {
            let doc: unknown = null;
            try {
              doc = JSON.parse(readFileSync(path, 'utf8'));
            } catch {
              // The service reports an unreadable file in its own words.
            }
            await checkAll(doc);
            return rules.loadFile!(path);
          },
        }
      : {}),
  };
}
