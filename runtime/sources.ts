// Sources: the first path segment of /webhook/{source}/... names one. A source says how its
// senders are verified, how its duplicates are recognised, and which bodies it takes. They live
// in DuckDB (table `sources`), are set through the admin API or SOURCES_FILE, and are served from
// an in-memory cache on the hot path. Secrets are kept for verification only: never returned,
// and masked in log output (runtime/redact.ts).
import { readFileSync } from 'node:fs';
import { queries } from '../sql/index.js';
import type { Logger } from './log.js';
import { maskSecrets } from './redact.js';
import type { DuckDBStore } from './store.js';
import { ts } from './values.js';
import { createVerifier, SCHEMES, type Scheme, type Verification, type Verifier } from './verify.js';

export class SourceConfigError extends Error {
  readonly code = 'source_invalid';
  readonly status = 400;
}

/** A path segment in a JSON path: an object key or an array index. */
export type PathStep = string | number;

export type DedupKey = { header: string } | { jsonPath: PathStep[]; text: string };

export interface Source {
  name: string;
  verification: Verification;
  verify: Verifier;
  dedup: DedupKey | null;
  dedupWindowMs: number;
  maxBodyBytes: number | undefined;
  /** Media types (lower case, no parameters) accepted; undefined accepts any. */
  contentTypes: string[] | undefined;
  /** The configuration as stored (secrets included). */
  config: Record<string, unknown>;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const DEFAULT_TOLERANCE_SECONDS = 300;
const DEFAULT_DEDUP_WINDOW_SECONDS = 86_400;

const bad = (message: string) => new SourceConfigError(message);

/** Parses `$.a.b[0]["c d"]` into steps; anything else is refused. */
export function parseJsonPath(text: string): PathStep[] {
  if (!text.startsWith('$')) throw bad('dedup.json_path must start with $');
  const steps: PathStep[] = [];
  const re = /\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/y;
  re.lastIndex = 1;
  while (re.lastIndex < text.length) {
    const at = re.lastIndex;
    const m = re.exec(text);
    if (!m || m.index !== at) throw bad(`dedup.json_path ${JSON.stringify(text)} is not a simple path like $.id or $.data[0].id`);
    steps.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(`"${m[3]}"`) as string)));
  }
  if (steps.length === 0) throw bad('dedup.json_path must name a field, e.g. $.id');
  return steps;
}

/** The value at `path` as a dedup key: strings and numbers only (objects and missing give null). */
export function atPath(value: unknown, path: readonly PathStep[]): string | null {
  let cur: unknown = value;
  for (const step of path) {
    if (cur === null || typeof cur !== 'object') return null;
    cur = (cur as Record<string | number, unknown>)[step];
  }
  if (typeof cur === 'string') return cur;
  if (typeof cur === 'number' && Number.isFinite(cur)) return String(cur);
  return null;
}

function optionalNumber(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw bad(`${name} must be a number in [${min}, ${max}]`);
  return v;
}

function headerName(v: unknown, name: string): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/.test(v)) throw bad(`${name} must be an HTTP header name`);
  return v.toLowerCase();
}

/** Validates a source's JSON (the admin API's and SOURCES_FILE's shape) into a Source. */
export function parseSource(name: string, raw: unknown): Source {
  if (!NAME.test(name)) throw bad('source name must be 1-64 letters, digits, _ . -');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('source must be a JSON object');
  const body = raw as Record<string, unknown>;
  const ver = (body.verification ?? { scheme: 'none' }) as Record<string, unknown>;
  if (typeof ver !== 'object' || Array.isArray(ver)) throw bad('verification must be an object');
  const scheme = ver.scheme as Scheme;
  if (!SCHEMES.includes(scheme)) throw bad(`verification.scheme must be one of ${SCHEMES.join(', ')}`);
  const secrets = ver.secrets ?? [];
  if (!Array.isArray(secrets) || !secrets.every((s) => typeof s === 'string' && s.length > 0)) {
    throw bad('verification.secrets must be a list of non-empty strings');
  }
  if (scheme !== 'none' && secrets.length === 0) throw bad(`verification.secrets: scheme ${scheme} needs at least one secret`);
  if (secrets.length > 10) throw bad('verification.secrets: at most 10 secrets');
  const verification: Verification = {
    scheme,
    secrets: secrets as string[],
    toleranceSeconds: optionalNumber(ver.tolerance_seconds, 'verification.tolerance_seconds', 1, 86_400) ?? DEFAULT_TOLERANCE_SECONDS,
  };
  if (scheme === 'hmac') {
    verification.header = headerName(ver.header, 'verification.header');
    const algorithm = ver.algorithm ?? 'sha256';
    if (algorithm !== 'sha256' && algorithm !== 'sha1') throw bad('verification.algorithm must be sha256 or sha1');
    const encoding = ver.encoding ?? 'hex';
    if (encoding !== 'hex' && encoding !== 'base64') throw bad('verification.encoding must be hex or base64');
    if (ver.prefix !== undefined && typeof ver.prefix !== 'string') throw bad('verification.prefix must be a string');
    verification.algorithm = algorithm;
    verification.encoding = encoding;
    if (ver.prefix) verification.prefix = ver.prefix as string;
  }
  let verify: Verifier;
  try {
    verify = createVerifier(verification);
  } catch (err) {
    // standardwebhooks refuses secrets that are not base64 (after an optional whsec_ prefix).
    throw bad(`verification.secrets: ${(err as Error).message}`);
  }

  let dedup: DedupKey | null = null;
  const d = body.dedup as Record<string, unknown> | undefined | null;
  if (d !== undefined && d !== null) {
    if (typeof d !== 'object' || Array.isArray(d)) throw bad('dedup must be {"header": ...} or {"json_path": ...}');
    if (d.header !== undefined) dedup = { header: headerName(d.header, 'dedup.header') };
    else if (typeof d.json_path === 'string') dedup = { jsonPath: parseJsonPath(d.json_path), text: d.json_path };
    else throw bad('dedup must be {"header": ...} or {"json_path": ...}');
  }
  const window = optionalNumber(body.dedup_window_seconds, 'dedup_window_seconds', 1, 30 * 86_400) ?? DEFAULT_DEDUP_WINDOW_SECONDS;
  const maxBodyBytes = optionalNumber(body.max_body_bytes, 'max_body_bytes', 1, 1024 ** 3);
  let contentTypes: string[] | undefined;
  if (body.content_types !== undefined && body.content_types !== null) {
    if (!Array.isArray(body.content_types) || !body.content_types.every((t) => typeof t === 'string' && /^[\w.+-]+\/[\w.+*-]+$/.test(t))) {
      throw bad('content_types must be a list of media types such as application/json');
    }
    contentTypes = (body.content_types as string[]).map((t) => t.toLowerCase());
  }

  const config: Record<string, unknown> = { verification: { ...ver, scheme } };
  if (d) config.dedup = d;
  config.dedup_window_seconds = window;
  if (maxBodyBytes !== undefined) config.max_body_bytes = maxBodyBytes;
  if (contentTypes) config.content_types = contentTypes;
  return { name, verification, verify, dedup, dedupWindowMs: window * 1000, maxBodyBytes, contentTypes, config };
}

/** A source as the admin API shows it: everything but the secrets, which become a count. */
export function publicView(s: Source) {
  const { secrets: _secrets, ...verification } = s.config.verification as Record<string, unknown>;
  return { name: s.name, ...s.config, verification: { ...verification, secret_count: s.verification.secrets.length } };
}

/** True when `contentType` (a header value, parameters allowed) is one of the source's types. */
export function acceptsContentType(s: Source, contentType: string | undefined): boolean {
  if (!s.contentTypes) return true;
  if (!contentType) return false;
  const media = contentType.split(';')[0]!.trim().toLowerCase();
  return s.contentTypes.some((t) => t === media || (t.endsWith('/*') && media.startsWith(t.slice(0, -1))));
}

/** The in-memory cache of sources over the `sources` table. */
export class SourceRegistry {
  private readonly byName = new Map<string, Source>();

  private constructor(
    private readonly store: Pick<DuckDBStore, 'read'>,
    private readonly log: Logger,
  ) {}

  /** Loads stored sources, then SOURCES_FILE (its sources replace stored ones of the same name). */
  static async open(store: Pick<DuckDBStore, 'read'>, log: Logger, now: number, file?: string): Promise<SourceRegistry> {
    const reg = new SourceRegistry(store, log);
    for (const row of await store.read(queries.list_sources)) {
      const name = String(row.name);
      try {
        reg.remember(parseSource(name, JSON.parse(String(row.config))));
      } catch (err) {
        log.error({ source: name, error: (err as Error).message }, 'stored source is invalid; ignored');
      }
    }
    if (file) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new SourceConfigError(`SOURCES_FILE ${file}: ${(err as Error).message}`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new SourceConfigError(`SOURCES_FILE ${file}: must be a JSON object of {"<name>": {source}}`);
      }
      const entries = Object.entries((parsed as { sources?: object }).sources ?? parsed);
      for (const [name, raw] of entries) {
        try {
          await reg.put(name, raw, now);
        } catch (err) {
          throw new SourceConfigError(`SOURCES_FILE ${file}: source ${name}: ${(err as Error).message}`);
        }
      }
      log.info({ count: entries.length }, 'sources loaded from SOURCES_FILE');
    }
    return reg;
  }

  private remember(s: Source): void {
    this.byName.set(s.name, s);
    maskSecrets(s.verification.secrets);
  }

  get(name: string): Source | undefined {
    return this.byName.get(name);
  }

  all(): Source[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Validates, stores and caches a source; returns it. */
  async put(name: string, raw: unknown, now: number): Promise<Source> {
    const source = parseSource(name, raw);
    await this.store.read(queries.upsert_source, [name, JSON.stringify(source.config), ts(now)]);
    this.remember(source);
    this.log.info({ source: name, scheme: source.verification.scheme }, 'source saved');
    return source;
  }

  async delete(name: string): Promise<boolean> {
    const rows = await this.store.read(queries.delete_source, [name]);
    this.byName.delete(name);
    if (rows.length > 0) this.log.info({ source: name }, 'source deleted');
    return rows.length > 0;
  }

  /** The longest dedup window of any source (how far back stored dedup keys matter). */
  longestDedupWindowMs(): number {
    return Math.max(DEFAULT_DEDUP_WINDOW_SECONDS * 1000, ...this.all().filter((s) => s.dedup).map((s) => s.dedupWindowMs));
  }
}
