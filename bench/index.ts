// duckhook benchmark: `npm run bench` (or `node esbuild.config.mjs && node dist/bench.js`).
//
// Phases, all on 127.0.0.1, each bounded in time (the full run takes ~5 minutes):
//   ingest  bare Hono vs the seed's commit-per-request vs duckhook (processor off), 50 and 200 connections
//   e2e     the gateway with its processor on, one rule, a counting HTTP target: accepted/s, delivered/s, backlog
//   drain   the processor alone: POST /drain over a backlog ingested with the processor off
//   claim   store.claim() (and the rest of a drain batch's database work) at 10k, 100k, 1M deliveries
//   backtest  a candidate rule backtested (count, sample, shadowing) over 1M stored webhooks
//   metrics GET /metrics (and /dashboard/summary) with 1M stored webhooks, deliveries and attempts
// Pick phases with BENCH_ONLY=ingest,claim (or as arguments: `node dist/bench.js e2e`).
//
// Knobs (env): BENCH_CONNECTIONS=50,200  BENCH_SECONDS=10  BENCH_WARMUP_SECONDS=2
//   BENCH_E2E_SECONDS=30  BENCH_E2E_CONNECTIONS=50  BENCH_E2E_WAIT_SECONDS=60
//   BENCH_E2E_TRANSFORM='SELECT payload'  BENCH_DRAIN_BACKLOG=20000
//   BENCH_CLAIM_SIZES=10000,100000,1000000  BENCH_CLAIM_RUNS=7  BENCH_CLAIM_LIFECYCLE=0 (insert history as
//   'delivered' directly)  BENCH_BACKTEST_WEBHOOKS=1000000  BENCH_BACKTEST_RUNS=3
//   BENCH_METRICS_WEBHOOKS=1000000  BENCH_METRICS_RUNS=20  BENCH_KEEP_TMP=1
// The gateway children inherit the environment (so COMMIT_WINDOW_MS, COMMIT_MAX_BATCH, BATCH_SIZE,
// DELIVERY_CONCURRENCY... apply); PORT, HOST, DATABASE_PATH and PROCESSOR are set by the bench,
// LOG_LEVEL defaults to warn.
//
// Servers under test run as child processes of this same bundle (`--serve bare|seed|target`) or
// of dist/runtime.js; every child is killed by its pid at the end, also on error or Ctrl-C.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { backtestPhase } from './backtest.js';
import { claimPhase } from './claim.js';
import { drainPhase, e2ePhase } from './e2e.js';
import { ingestPhase } from './ingest.js';
import { metricsPhase } from './metrics.js';
import { serveChild } from './servers.js';
import { envList, envNum, killAllChildrenSync, out, stopAllChildren, table, targets } from './util.js';

const PHASES = ['ingest', 'e2e', 'drain', 'claim', 'backtest', 'metrics'] as const;
type Phase = (typeof PHASES)[number];

const GATEWAY_KEYS = [
  'BATCH_SIZE', 'COMMIT_WINDOW_MS', 'COMMIT_MAX_BATCH', 'DELIVERY_CONCURRENCY', 'DRAIN_INTERVAL_MS', 'LEASE_MS',
  'DUCKDB_MEMORY_LIMIT', 'DUCKDB_THREADS', 'LOG_LEVEL', 'MAX_BODY_BYTES', 'RULE_TIMEOUT_MS',
];

function selectedPhases(): Phase[] {
  const raw = [process.env.BENCH_ONLY ?? '', ...process.argv.slice(2)].join(',');
  const picked = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (picked.length === 0) return [...PHASES];
  for (const p of picked) {
    if (!(PHASES as readonly string[]).includes(p)) throw new Error(`unknown phase ${JSON.stringify(p)}; choose from ${PHASES.join(', ')}`);
  }
  return PHASES.filter((p) => picked.includes(p));
}

async function duckdbVersion(): Promise<string> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    return String((await conn.runAndReadAll('SELECT version()')).getRowsJS()[0]?.[0]);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

async function main(): Promise<void> {
  const phases = selectedPhases();
  const here = dirname(fileURLToPath(import.meta.url));
  const benchScript = fileURLToPath(import.meta.url);
  const runtimeScript = join(here, 'runtime.js');
  const tmp = mkdtempSync(join(os.tmpdir(), 'duckhook-bench-'));
  // Admin routes (rules, /drain) need a token; the bench sends this one (bench/e2e.ts).
  const gatewayEnv: Record<string, string | undefined> = { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL || 'warn', ADMIN_TOKEN: process.env.ADMIN_TOKEN || 'bench-admin-token' };

  const cleanup = () => {
    killAllChildrenSync();
    if (!process.env.BENCH_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping children\n`);
      process.exit(130);
    });
  }

  const cpus = os.cpus();
  const started = performance.now();
  out('# duckhook benchmark');
  out();
  out(
    table(
      ['<machine', '<value'],
      [
        ['cpu', `${cpus[0]?.model.trim() ?? 'unknown'} x ${cpus.length}`],
        ['memory', `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`],
        ['os', `${os.type()} ${os.release()} ${os.arch()}`],
        ['node', process.version],
        ['duckdb', await duckdbVersion()],
        ['date', new Date().toISOString()],
        ['phases', phases.join(', ')],
        ['gateway env', GATEWAY_KEYS.filter((k) => gatewayEnv[k]).map((k) => `${k}=${gatewayEnv[k]}`).join(' ') || '(defaults)'],
      ],
    ),
  );
  out();
  out('Load generator (autocannon), servers and DuckDB all share this machine\'s cores.');
  out();

  const common = { benchScript, runtimeScript, tmp, gatewayEnv };
  const warmupSeconds = envNum('BENCH_WARMUP_SECONDS', 2);
  try {
    if (phases.includes('ingest')) {
      await ingestPhase({ ...common, connections: envList('BENCH_CONNECTIONS', [50, 200]), seconds: envNum('BENCH_SECONDS', 10), warmupSeconds });
    }
    const e2e = {
      ...common,
      seconds: envNum('BENCH_E2E_SECONDS', 30),
      connections: envNum('BENCH_E2E_CONNECTIONS', 50),
      waitSeconds: envNum('BENCH_E2E_WAIT_SECONDS', 60),
      warmupSeconds,
      transform: process.env.BENCH_E2E_TRANSFORM || 'SELECT payload',
      drainBacklog: envNum('BENCH_DRAIN_BACKLOG', 20_000),
    };
    if (phases.includes('e2e')) await e2ePhase(e2e);
    if (phases.includes('drain')) await drainPhase(e2e);
    if (phases.includes('claim')) {
      await claimPhase({
        tmp,
        sizes: envList('BENCH_CLAIM_SIZES', [10_000, 100_000, 1_000_000]),
        runs: envNum('BENCH_CLAIM_RUNS', 7),
        pending: 100,
      });
    }
    if (phases.includes('backtest')) {
      await backtestPhase({
        tmp,
        webhooks: envNum('BENCH_BACKTEST_WEBHOOKS', 1_000_000),
        runs: envNum('BENCH_BACKTEST_RUNS', 3),
        chunkRows: envNum('BACKTEST_CHUNK_ROWS', 50_000),
      });
    }
    if (phases.includes('metrics')) {
      await metricsPhase({ tmp, webhooks: envNum('BENCH_METRICS_WEBHOOKS', 1_000_000), runs: envNum('BENCH_METRICS_RUNS', 20) });
    }
  } finally {
    await stopAllChildren();
  }
  if (targets.length > 0) {
    out('## Targets from the issue (reported, not asserted)');
    out();
    out(table(['<measure', '<target', 'measured', '<verdict'], targets));
    out();
  }
  out(`Total bench time ${((performance.now() - started) / 1000).toFixed(0)} s.`);
}

const args = process.argv.slice(2);
if (args[0] === '--serve') {
  await serveChild(args[1], Number(args[2] ?? 0), args[3]);
} else {
  try {
    await main();
  } catch (err) {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
