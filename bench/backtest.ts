// Phase 4: a backtest (POST /routing-rules/test's work, runtime/backtest.ts) over 1M stored
// webhooks: history copied chunk by chunk from the queue database into the rule sandbox and
// evaluated there, with two active rules for the shadowing report. Bounded: the fill is one
// INSERT ... SELECT, the backtest runs a few times.
import { join } from 'node:path';
import { backtest } from '../runtime/backtest.js';
import { openDatabase } from '../runtime/db.js';
import { RuleSandbox } from '../runtime/sandbox.js';
import { DuckDBStore } from '../runtime/store.js';
import { fileSize, fmt, median, out, progress, recordTarget, table } from './util.js';

export interface BacktestSettings {
  tmp: string;
  webhooks: number;
  runs: number;
  chunkRows: number;
}

export async function backtestPhase(s: BacktestSettings): Promise<void> {
  out(`## 4. Backtest over ${fmt.int(s.webhooks)} stored webhooks`);
  out();
  const path = join(s.tmp, 'backtest.db');
  const instance = await openDatabase({ path });
  const conn = await instance.connect();
  const store = await DuckDBStore.open(instance, path, Date.now());
  progress(`backtest: storing ${fmt.int(s.webhooks)} webhooks`);
  const filled = performance.now();
  const kinds = "['order.created', 'order.paid', 'refund.created', 'customer.updated', 'ping']";
  await conn.run(`INSERT INTO webhooks
    SELECT i, TIMESTAMP '2026-01-01' + to_milliseconds(i * 50), 'shop', 'shop/orders', '127.0.0.1', 'application/json',
           '{"content-type":"application/json","x-bench":"duckhook"}', NULL,
           ('{"event_type":"' || ${kinds}[1 + i % 5] || '","order_id":' || i || ',"total":' || (i % 9973) || ',"currency":"USD","customer":{"id":"c' || (i % 1000) || '"}}')::JSON
    FROM range(1, ${s.webhooks + 1}) t(i)`);
  await conn.run('CHECKPOINT');
  const fillS = (performance.now() - filled) / 1000;
  await conn.run(`INSERT INTO routing_rules (id, rule_name, filter_query, transform_query, target_url, created_at, updated_at) VALUES
    (1, 'orders', 'json_extract_string(payload, ''$.event_type'') LIKE ''order.%''', 'SELECT payload', 'http://127.0.0.1:9/a', now(), now()),
    (2, 'big_totals', '(payload->>''total'')::INT > 9000', 'SELECT payload', 'http://127.0.0.1:9/b', now(), now())`);
  const sandbox = await RuleSandbox.create(10_000);
  const times: number[] = [];
  let last: Awaited<ReturnType<typeof backtest>> | undefined;
  try {
    for (let run = 0; run < s.runs; run++) {
      progress(`backtest: run ${run + 1} of ${s.runs}`);
      const started = performance.now();
      last = await backtest(
        { store, sandbox, chunkRows: s.chunkRows, timeLimitMs: 120_000 },
        {
          filterQuery: "json_extract_string(payload, '$.event_type') = 'order.created' AND (payload->>'total')::INT > 5000",
          transformQuery: "SELECT json_extract(payload, '$.order_id') AS order_id, upper(json_extract_string(payload, '$.currency')) AS currency",
          limit: s.webhooks,
          sample: 5,
        },
      );
      times.push(performance.now() - started);
    }
  } finally {
    sandbox.close();
    await store.close();
    conn.closeSync();
    instance.closeSync();
  }
  const ms = median(times);
  out(
    table(
      ['<measure', 'value'],
      [
        ['webhooks stored (fill time)', `${fmt.int(s.webhooks)} (${fillS.toFixed(1)} s)`],
        ['database file', fmt.mb(fileSize(path))],
        ['chunk size (BACKTEST_CHUNK_ROWS)', fmt.int(s.chunkRows)],
        ['scanned / matched', `${fmt.int(last?.scanned)} / ${fmt.int(last?.matched)}`],
        ['shadowing rules reported', String(last?.shadowing.length ?? '-')],
        [`backtest time, median of ${s.runs}`, `${fmt.ms(ms / 1000, 2)} s`],
        ['all runs', times.map((t) => `${(t / 1000).toFixed(2)} s`).join(', ')],
        ['webhooks per second', fmt.int((last?.scanned ?? 0) / (ms / 1000))],
      ],
    ),
  );
  out();
  recordTarget(`backtest over ${fmt.int(s.webhooks)} webhooks`, 'seconds', `${(ms / 1000).toFixed(2)} s`, ms < 10_000);
}
