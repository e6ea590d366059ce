#!/usr/bin/env node
// The duckhook command: admin work against a running gateway over HTTP (the gateway holds the
// database file, so this never opens it). URL and token from --url/--token or DUCKHOOK_URL and
// ADMIN_TOKEN. Prints JSON; exits 1 with "duckhook: <code>: <message>" when the gateway refuses.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const USAGE = `usage: duckhook [--url URL] [--token TOKEN] <command>

  rules list                          every rule, with its failure count and last error
  rules export [FILE]                 rules as JSON (stdout, or FILE)
  rules import FILE|-                 create/update rules by rule_name (idempotent)
  rules test FILTER [--transform SQL] [--since T] [--until T] [--limit N] [--sample N]
  rules test --id ID [...]            backtest a candidate (or a stored rule) against history
  replay --where SQL [--rule ID [--force]] [--since T] [--until T] [--dry-run]
  replay --webhook ID [--rule ID [--force]]
  replay --delivery ID                revive a dead delivery (a new delivery; history stays)
  deliveries [--status S] [--rule ID] [--webhook ID] [--before ID] [--limit N]
                                      deliveries newest first, e.g. --status dead (the dead letters)
  sql "SELECT ..." [--max-rows N]     read-only SQL over the gateway's database

environment: DUCKHOOK_URL (default http://127.0.0.1:8000), ADMIN_TOKEN`;

class CliError extends Error {}

async function call(url: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(url.replace(/\/$/, '') + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch((err: Error) => {
    throw new CliError(`cannot reach ${url}: ${(err.cause as Error | undefined)?.message ?? err.message}`);
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(`${method} ${path} answered ${res.status}: ${text.slice(0, 200)}`);
  }
  const error = (json as { error?: { code?: string; message?: string } }).error;
  if (!res.ok || error) throw new CliError(`${error?.code ?? res.status}: ${error?.message ?? text.slice(0, 200)}`);
  return json;
}

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new CliError(`${name} must be an integer`);
  return n;
}

export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      transform: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string' },
      sample: { type: 'string' },
      id: { type: 'string' },
      where: { type: 'string' },
      rule: { type: 'string' },
      force: { type: 'boolean' },
      webhook: { type: 'string' },
      delivery: { type: 'string' },
      'dry-run': { type: 'boolean' },
      'max-rows': { type: 'string' },
      status: { type: 'string' },
      before: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length === 0) return USAGE;
  const url = values.url ?? env.DUCKHOOK_URL ?? 'http://127.0.0.1:8000';
  const token = values.token ?? env.ADMIN_TOKEN;
  const api = (method: string, path: string, body?: unknown) => call(url, token, method, path, body);
  const show = (v: unknown) => JSON.stringify(v, null, 2);
  const [command, sub, arg] = positionals;

  if (command === 'rules' && sub === 'list') return show(await api('GET', '/routing-rules'));
  if (command === 'rules' && sub === 'export') {
    const doc = await api('GET', '/routing-rules/export');
    if (arg) {
      writeFileSync(arg, `${show(doc)}\n`);
      return `wrote ${(doc as { rules: unknown[] }).rules.length} rules to ${arg}`;
    }
    return show(doc);
  }
  if (command === 'rules' && sub === 'import') {
    if (!arg) throw new CliError('rules import needs a FILE (or - for standard input)');
    const text = readFileSync(arg === '-' ? 0 : arg, 'utf8');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new CliError(`${arg} is not JSON: ${(err as Error).message}`);
    }
    return show(await api('POST', '/routing-rules/import', doc));
  }
  if (command === 'rules' && sub === 'test') {
    const body = {
      ...(arg ? { filter_query: arg } : {}),
      ...(values.transform ? { transform_query: values.transform } : {}),
      ...(values.since ? { since: values.since } : {}),
      ...(values.until ? { until: values.until } : {}),
      ...(values.limit ? { limit: int(values.limit, '--limit') } : {}),
      ...(values.sample ? { sample: int(values.sample, '--sample') } : {}),
    };
    if (values.id) return show(await api('POST', `/routing-rules/${int(values.id, '--id')}/test`, body));
    if (!arg) throw new CliError('rules test needs a FILTER expression or --id');
    return show(await api('POST', '/routing-rules/test', body));
  }
  if (command === 'replay') {
    const target = { ...(values.rule ? { rule_id: int(values.rule, '--rule') } : {}), ...(values.force ? { force: true } : {}) };
    if (values.delivery) return show(await api('POST', `/deliveries/${int(values.delivery, '--delivery')}/retry`, {}));
    if (values.webhook) return show(await api('POST', `/webhooks/${int(values.webhook, '--webhook')}/replay`, target));
    if (!values.where) throw new CliError('replay needs --where SQL, --webhook ID or --delivery ID');
    return show(
      await api('POST', '/replay', {
        where: values.where,
        ...target,
        ...(values.since ? { since: values.since } : {}),
        ...(values.until ? { until: values.until } : {}),
        dry_run: values['dry-run'] === true,
      }),
    );
  }
  if (command === 'deliveries') {
    const query = new URLSearchParams();
    if (values.status) query.set('status', values.status);
    for (const [flag, param] of [['rule', 'rule_id'], ['webhook', 'webhook_id'], ['before', 'before_id'], ['limit', 'limit']] as const) {
      const v = int(values[flag], `--${flag}`);
      if (v !== undefined) query.set(param, String(v));
    }
    return show(await api('GET', `/deliveries${query.size ? `?${query}` : ''}`));
  }
  if (command === 'sql') {
    const sql = sub ?? (values.where === undefined ? undefined : values.where);
    if (!sql) throw new CliError('sql needs a statement: duckhook sql "SELECT ..."');
    return show(await api('POST', '/admin/sql', { sql, ...(values['max-rows'] ? { max_rows: int(values['max-rows'], '--max-rows') } : {}) }));
  }
  throw new CliError(`unknown command: ${positionals.join(' ')}\n\n${USAGE}`);
}

run(process.argv.slice(2)).then(
  (text) => process.stdout.write(`${text}\n`),
  (err: Error) => {
    process.stderr.write(`duckhook: ${err instanceof CliError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? err.message : (err.stack ?? String(err))}\n`);
    process.exit(1);
  },
);
