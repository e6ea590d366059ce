// Checks on SQL typed by admins, made on DuckDB's own parse tree (json_serialize_sql parses
// without running anything) rather than on the text: a regex cannot tell `1=1; DROP TABLE x`
// from a string literal holding a semicolon, and the parser can.
import type { DuckDBConnection } from '@duckdb/node-api';

/** A refusal with a stable code; handlers turn it into a 400. */
export class SqlCheckError extends Error {
  readonly status = 400;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Node = Record<string, unknown>;

interface Parsed {
  error?: boolean;
  error_type?: string;
  error_message?: string;
  statements?: { node: Node }[];
}

/** Parses `sql` on `conn` (nothing runs); non-SELECT statements come back as an error. */
export async function parseSql(conn: DuckDBConnection, sql: string): Promise<Parsed> {
  const rows = (await conn.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [sql])).getRowsJS();
  return JSON.parse(String(rows[0]![0])) as Parsed;
}

/** Every object in a parse tree, depth first. */
function* walk(node: unknown): Generator<Node> {
  if (Array.isArray(node)) {
    for (const n of node) yield* walk(n);
  } else if (node && typeof node === 'object') {
    yield node as Node;
    for (const v of Object.values(node)) yield* walk(v);
  }
}

/** Names of every CTE defined anywhere in the tree (references to them are not table reads). */
function cteNames(tree: unknown): Set<string> {
  const names = new Set<string>();
  for (const n of walk(tree)) {
    const map = (n.cte_map as { map?: { key: string }[] } | undefined)?.map;
    if (Array.isArray(map)) for (const e of map) names.add(String(e.key).toLowerCase());
    if (n.type === 'RECURSIVE_CTE_NODE' && typeof n.cte_name === 'string') names.add(n.cte_name.toLowerCase());
  }
  return names;
}

/** Table functions that only compute (no files, no catalog, no settings). */
const PURE_TABLE_FUNCTIONS = new Set(['range', 'generate_series', 'unnest', 'json_each', 'json_tree']);

function isPlainSelect(node: Node, opts: { allowFrom: boolean }): boolean {
  return (
    node.type === 'SELECT_NODE' &&
    (opts.allowFrom || (node.from_table as Node | undefined)?.type === 'EMPTY') &&
    node.where_clause === null &&
    node.having === null &&
    node.qualify === null &&
    node.sample === null &&
    (node.group_expressions as unknown[]).length === 0 &&
    (node.modifiers as unknown[]).length === 0 &&
    ((node.cte_map as { map: unknown[] }).map ?? []).length === 0
  );
}

/**
 * Rule SQL may compute anything over the row it is given, subqueries and CTEs included, but may
 * not read a table (the batch table holds other webhooks) or call a table function that reaches
 * outside (files, catalog, settings). The sandbox refuses those too; this says why, on save.
 */
function refuseTableReads(tree: unknown, what: string): void {
  const ctes = cteNames(tree);
  for (const n of walk(tree)) {
    if (n.type === 'BASE_TABLE') {
      const name = String(n.table_name).toLowerCase();
      if (ctes.has(name) && !n.schema_name && !n.catalog_name) continue;
      throw new SqlCheckError('rule_invalid', `${what} may only use the webhook's own columns; it reads the table ${String(n.table_name)}`);
    }
    if (n.type === 'TABLE_FUNCTION') {
      const fn = String((n.function as Node | undefined)?.function_name ?? '').toLowerCase();
      if (!PURE_TABLE_FUNCTIONS.has(fn)) {
        throw new SqlCheckError('rule_invalid', `${what} may not call the table function ${fn}()`);
      }
    }
  }
}

/** Rule SQL is spliced into a larger query, so one trailing semicolon is dropped first. */
export function stripSemicolon(sql: string): string {
  return sql.trim().replace(/;\s*$/, '');
}

export type RuleSqlKind = 'filter_query' | 'transform_query' | 'where';

/**
 * Checks that a filter (or a replay predicate) is exactly one expression and a transform exactly
 * one SELECT list without FROM, neither reading any table. Throws SqlCheckError('rule_invalid').
 */
export async function checkRuleSql(conn: DuckDBConnection, kind: RuleSqlKind, sql: string): Promise<void> {
  const label = kind;
  const body = stripSemicolon(sql);
  if (!body) throw new SqlCheckError('rule_invalid', `${label} must not be empty`);
  const text = kind === 'transform_query' ? body : `SELECT (${body})`;
  const parsed = await parseSql(conn, text);
  if (parsed.error) {
    const reason = parsed.error_type === 'not implemented' ? 'it is not a SELECT list' : parsed.error_message;
    throw new SqlCheckError('rule_invalid', `${label} does not parse: ${reason}`);
  }
  const statements = parsed.statements ?? [];
  if (statements.length !== 1) throw new SqlCheckError('rule_invalid', `${label} must be exactly one statement, got ${statements.length}`);
  const node = statements[0]!.node;
  if (!isPlainSelect(node, { allowFrom: false })) {
    throw new SqlCheckError(
      'rule_invalid',
      kind === 'transform_query'
        ? 'transform_query must be one SELECT list without FROM, WHERE or other clauses, e.g. "SELECT payload"'
        : `${label} must be exactly one SQL expression`,
    );
  }
  if (kind !== 'transform_query' && (node.select_list as unknown[]).length !== 1) {
    throw new SqlCheckError('rule_invalid', `${label} must be exactly one SQL expression`);
  }
  refuseTableReads(node, label);
}

/**
 * Checks that ad-hoc SQL is exactly one read-only SELECT (or WITH/FROM-first/VALUES query): DuckDB
 * serialises only SELECT statements, so INSERT, UPDATE, DELETE, COPY, ATTACH, SET, PRAGMA,
 * CREATE, DROP, CALL and friends are all refused here, before anything runs. Table functions that
 * reach outside the database (read_csv, read_text, glob, ...) are refused too.
 */
export async function checkReadOnlySql(conn: DuckDBConnection, sql: string): Promise<void> {
  if (!sql.trim()) throw new SqlCheckError('sql_invalid', 'sql must not be empty');
  let count: number;
  try {
    count = (await conn.extractStatements(sql)).count;
  } catch (err) {
    throw new SqlCheckError('sql_invalid', `sql does not parse: ${(err as Error).message}`);
  }
  if (count !== 1) throw new SqlCheckError('sql_multiple_statements', `send exactly one statement, got ${count}`);
  const parsed = await parseSql(conn, sql);
  if (parsed.error) {
    if (parsed.error_type === 'not implemented') {
      throw new SqlCheckError('sql_not_read_only', 'only read-only SELECT statements are allowed (no INSERT, UPDATE, DELETE, COPY, ATTACH, SET, PRAGMA, CREATE, DROP...)');
    }
    throw new SqlCheckError('sql_invalid', `sql does not parse: ${parsed.error_message}`);
  }
  const statements = parsed.statements ?? [];
  if (statements.length !== 1) throw new SqlCheckError('sql_multiple_statements', `send exactly one statement, got ${statements.length}`);
  for (const n of walk(statements[0]!.node)) {
    // The sources table holds verification secrets, which no API returns (GET /sources shows the rest).
    if (n.type === 'BASE_TABLE' && String(n.table_name).toLowerCase() === 'sources') {
      throw new SqlCheckError('sql_table_refused', 'the sources table holds secrets; read sources with GET /sources');
    }
    if (n.type === 'TABLE_FUNCTION') {
      const fn = String((n.function as Node | undefined)?.function_name ?? '').toLowerCase();
      if (!PURE_TABLE_FUNCTIONS.has(fn) && !/^duckdb_(tables|columns|views|functions|types|constraints)$/.test(fn)) {
        throw new SqlCheckError('sql_function_refused', `the table function ${fn}() is not allowed in ad-hoc SQL`);
      }
    }
  }
}
