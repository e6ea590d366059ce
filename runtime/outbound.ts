// What a rule may send where: its target URL passes the NetGuard (metadata addresses, allowlist)
// and its forward_headers list names only end-to-end headers. Used by the admin handler when a
// rule is saved; delivery checks the target again at connect time (runtime/deliver.ts).
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
