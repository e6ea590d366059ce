// Phase 1: ingest throughput and latency of bare Hono, the seed's one-commit-per-request and
// duckhook (processor off), each a fresh child process with a fresh database per measurement.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runLoad, sentLength, webhookBody, type LoadResult } from './load.js';
import {
  cpuSecondsOf,
  fileSize,
  fmt,
  out,
  progress,
  promSum,
  recordTarget,
  scrape,
  selfCpuSeconds,
  startChild,
  stopChild,
  table,
  verdict,
  type Child,
} from './util.js';

export interface IngestSettings {
  connections: number[];
  seconds: number;
  warmupSeconds: number;
  benchScript: string;
  runtimeScript: string;
  tmp: string;
  gatewayEnv: Record<string, string | undefined>;
}

type Kind = 'bare' | 'seed' | 'duckhook';

interface Cell {
  kind: Kind;
  connections: number;
  load: LoadResult;
  serverCpu: number | null;
  loadgenCpu: number;
  startMs: number;
  stopMs: number;
  stopKilled: boolean;
  db: number | null;
  wal: number | null;
  loopLagP99: number | null;
  warnings: string[];
}

async function startServer(kind: Kind, s: IngestSettings, n: number): Promise<{ child: Child; dbPath: string | null }> {
  if (kind === 'bare') return { child: await startChild('bare', [s.benchScript, '--serve', 'bare', '0'], process.env), dbPath: null };
  const dbPath = join(s.tmp, `ingest-${kind}-${n}`, `${kind}.db`);
  if (kind === 'seed') {
    mkdirSync(join(s.tmp, `ingest-seed-${n}`), { recursive: true });
    return { child: await startChild('seed', [s.benchScript, '--serve', 'seed', '0', dbPath], process.env), dbPath };
  }
  const env = { ...s.gatewayEnv, PORT: '0', HOST: '127.0.0.1', DATABASE_PATH: dbPath, PROCESSOR: 'false' };
  return { child: await startChild('duckhook', [s.runtimeScript], env), dbPath };
}

async function measure(kind: Kind, connections: number, s: IngestSettings, n: number): Promise<Cell> {
  const t0 = performance.now();
  const { child, dbPath } = await startServer(kind, s, n);
  const startMs = performance.now() - t0;
  try {
    const url = `http://127.0.0.1:${child.port}/webhook/bench/orders`;
    const body = webhookBody();
    progress(`${kind} @ ${connections} connections: warm-up ${s.warmupSeconds} s`);
    if (s.warmupSeconds > 0) await runLoad({ url, connections, seconds: s.warmupSeconds, body });
    if (kind === 'duckhook') await scrape(child.port); // resets the event-loop-lag histogram
    progress(`${kind} @ ${connections} connections: measuring ${s.seconds} s`);
    const cpu0 = cpuSecondsOf(child.pid);
    const self0 = selfCpuSeconds();
    const load = await runLoad({ url, connections, seconds: s.seconds, body });
    const cpu1 = cpuSecondsOf(child.pid);
    const self1 = selfCpuSeconds();
    let loopLagP99: number | null = null;
    if (kind === 'duckhook') {
      const m = await scrape(child.port);
      if (m) loopLagP99 = promSum(m, 'nodejs_eventloop_lag_p99_seconds') * 1000;
    }
    const db = dbPath ? fileSize(dbPath) : null;
    const wal = dbPath ? fileSize(`${dbPath}.wal`) : null;
    const stopped = await stopChild(child, 15_000);
    return {
      kind,
      connections,
      load,
      serverCpu: cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / load.seconds : null,
      loadgenCpu: (self1 - self0) / load.seconds,
      startMs,
      stopMs: stopped.ms,
      stopKilled: stopped.killed,
      db,
      wal,
      loopLagP99,
      warnings: child.warnings,
    };
  } finally {
    await stopChild(child, 5000);
  }
}

export async function ingestPhase(s: IngestSettings): Promise<void> {
  out('## 1. Ingest: bare Hono vs seed (commit per request) vs duckhook (group commit, processor off)');
  out();
  out(`POST /webhook/bench/orders, ${sentLength(webhookBody())}-byte JSON body (ids unique per request), ${s.warmupSeconds} s warm-up then ${s.seconds} s measured,`);
  out('each server a fresh child process (fresh database) per row; autocannon in the bench process.');
  out();
  const cells: Cell[] = [];
  let n = 0;
  for (const connections of s.connections) {
    for (const kind of ['bare', 'seed', 'duckhook'] as const) {
      cells.push(await measure(kind, connections, s, n++));
    }
  }

  out(
    table(
      ['<server', 'conns', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', '>100ms', 'stall s', 'worst 1s', 'non-2xx', 'errors', 'server CPU', 'loadgen CPU'],
      cells.map((c) => [
        c.kind,
        String(c.connections),
        fmt.int(c.load.reqPerSec),
        fmt.ms(c.load.p50),
        fmt.ms(c.load.p90),
        fmt.ms(c.load.p99),
        fmt.ms(c.load.p999),
        fmt.ms(c.load.max, 0),
        fmt.int(c.load.slow),
        String(c.load.stallSeconds),
        fmt.int(Math.min(...c.load.perSecond)),
        fmt.int(c.load.non2xx),
        fmt.int(c.load.errors + c.load.timeouts),
        fmt.pct(c.serverCpu),
        fmt.pct(c.loadgenCpu),
      ]),
    ),
  );
  out();
  out('`>100ms`: responses slower than 100 ms; `stall s`: seconds whose slowest response exceeded 250 ms;');
  out('`worst 1s`: fewest 2xx responses in any whole second; CPU: share of one core (100% = one core busy).');
  out();

  const rows: string[][] = [];
  for (const connections of s.connections) {
    const get = (k: Kind) => cells.find((c) => c.kind === k && c.connections === connections)!;
    const bare = get('bare');
    const seed = get('seed');
    const dh = get('duckhook');
    const vsBare = dh.load.reqPerSec / bare.load.reqPerSec;
    const vsSeed = dh.load.reqPerSec / seed.load.reqPerSec;
    const bareTarget = connections <= 50 ? 0.7 : 0.8;
    recordTarget(`ingest duckhook/bare @ ${connections}`, `>= ${bareTarget}x`, fmt.ratio(vsBare), vsBare >= bareTarget);
    recordTarget(`ingest duckhook/seed @ ${connections}`, '>= 20x', fmt.ratio(vsSeed), vsSeed >= 20);
    if (connections === 50) recordTarget('ingest duckhook p99 @ 50', '<= 50 ms', `${fmt.ms(dh.load.p99)} ms`, dh.load.p99 <= 50);
    rows.push([
      String(connections),
      fmt.ratio(vsBare),
      `>= ${bareTarget}x: ${verdict(vsBare >= bareTarget)}`,
      fmt.ratio(vsSeed),
      `>= 20x: ${verdict(vsSeed >= 20)}`,
      fmt.ms(dh.load.p99),
      connections === 50 ? `<= 50 ms: ${verdict(dh.load.p99 <= 50)}` : '(none)',
    ]);
  }
  out(table(['conns', 'duckhook/bare', '<target', 'duckhook/seed', '<target', 'duckhook p99 ms', '<target'], rows));
  out();
  out(
    table(
      ['<duckhook run', 'start ms', 'stop ms', 'db file', 'wal at end', 'event-loop lag p99 ms', 'warn/error log lines'],
      cells
        .filter((c) => c.kind === 'duckhook')
        .map((c) => [
          `${c.connections} conns`,
          fmt.int(c.startMs),
          `${fmt.int(c.stopMs)}${c.stopKilled ? ' (killed)' : ''}`,
          fmt.mb(c.db),
          fmt.mb(c.wal),
          fmt.ms(c.loopLagP99),
          String(c.warnings.length),
        ]),
    ),
  );
  for (const c of cells) {
    for (const w of c.warnings.slice(0, 3)) out(`  ${c.kind}@${c.connections}: ${w.slice(0, 300)}`);
  }
  out();
  out('2xx per second, duckhook (a dip is a commit stall, e.g. a checkpoint):');
  for (const c of cells.filter((x) => x.kind === 'duckhook')) {
    out(`  ${c.connections} conns: ${c.load.perSecond.map((v) => fmt.int(v)).join(' ')}`);
  }
  out();
}
