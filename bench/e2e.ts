// Phase 2: end to end (ingest + route + deliver, the gateway's own processor on) and, as its
// companion, the processor alone (POST /drain over a backlog while nothing is ingested).
import { join } from 'node:path';
import { runLoad, webhookBody } from './load.js';
import {
  cpuSecondsOf,
  fmt,
  out,
  progress,
  promSum,
  recordTarget,
  scrape,
  selfCpuSeconds,
  sleep,
  startChild,
  stopChild,
  table,
  verdict,
  type Child,
  type Samples,
} from './util.js';

export interface E2ESettings {
  seconds: number;
  connections: number;
  waitSeconds: number;
  warmupSeconds: number;
  transform: string;
  drainBacklog: number;
  benchScript: string;
  runtimeScript: string;
  tmp: string;
  gatewayEnv: Record<string, string | undefined>;
}

const FILTER = "json_extract_string(payload, '$.event_type') = 'order.created'";

interface TargetCount {
  total: number;
  unique: number;
  cpuSeconds: number;
}

async function targetCount(port: number): Promise<TargetCount> {
  const res = await fetch(`http://127.0.0.1:${port}/count`);
  return (await res.json()) as TargetCount;
}

/** The gateway children get this token (bench/index.ts); rules and /drain need it. */
const ADMIN = { authorization: `Bearer ${process.env.ADMIN_TOKEN || 'bench-admin-token'}` };

async function createRule(gateway: Child, target: Child, transform: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${gateway.port}/routing-rules`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...ADMIN },
    body: JSON.stringify({
      rule_name: 'bench_orders',
      description: 'benchmark: every order.created to the counting target',
      filter_query: FILTER,
      transform_query: transform,
      target_url: `http://127.0.0.1:${target.port}/hook`,
      retry_policy: { max_retries: 3, backoff_multiplier: 2, base_delay_seconds: 1 },
      test_payload: JSON.parse(webhookBody()),
    }),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST /routing-rules answered ${res.status}: ${text}`);
}

async function startPair(s: E2ESettings, name: string, processor: boolean) {
  const target = await startChild('target', [s.benchScript, '--serve', 'target', '0'], process.env);
  const env = {
    ...s.gatewayEnv,
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_PATH: join(s.tmp, name, 'duckhook.db'),
    PROCESSOR: processor ? 'true' : 'false',
  };
  const gateway = await startChild('duckhook', [s.runtimeScript], env);
  await createRule(gateway, target, s.transform);
  return { target, gateway };
}

/** Mean of a histogram's observations between two scrapes, in ms. */
function meanMs(a: Samples | null, b: Samples | null, name: string): number | null {
  if (!a || !b) return null;
  const count = promSum(b, `${name}_count`) - promSum(a, `${name}_count`);
  if (count <= 0) return null;
  return ((promSum(b, `${name}_sum`) - promSum(a, `${name}_sum`)) / count) * 1000;
}

function queueLine(m: Samples | null): string {
  if (!m) return '-';
  return ['pending', 'in_flight', 'retrying', 'delivered', 'dead']
    .map((st) => `${st} ${fmt.int(promSum(m, 'webhook_queue_size', `status="${st}"`))}`)
    .join(', ');
}

export async function e2ePhase(s: E2ESettings): Promise<void> {
  out('## 2. End to end: ingest + route + deliver (processor on) to a counting HTTP target');
  out();
  out(`One rule: filter \`${FILTER}\`, transform \`${s.transform}\`, target a node:http child answering 200.`);
  out(`${s.connections} connections for ${s.seconds} s (after a ${s.warmupSeconds} s warm-up that is let drain first), then up to ${s.waitSeconds} s for delivery to catch up.`);
  out();
  const { target, gateway } = await startPair(s, 'e2e', true);
  try {
    const url = `http://127.0.0.1:${gateway.port}/webhook/shop/orders`;
    const body = webhookBody();
    let accepted = 0;
    if (s.warmupSeconds > 0) {
      progress(`e2e: warm-up ${s.warmupSeconds} s`);
      accepted += (await runLoad({ url, connections: s.connections, seconds: s.warmupSeconds, body })).ok;
      const until = performance.now() + 30_000;
      while ((await targetCount(target.port)).unique < accepted && performance.now() < until) await sleep(200);
    }
    const c0 = await targetCount(target.port);
    const m0 = await scrape(gateway.port);
    const gw0 = cpuSecondsOf(gateway.pid);
    const self0 = selfCpuSeconds();

    progress(`e2e: load ${s.seconds} s at ${s.connections} connections`);
    const timeline: { t: number; accepted: number; delivered: number }[] = [];
    const polls: Promise<void>[] = [];
    const load = await runLoad({
      url,
      connections: s.connections,
      seconds: s.seconds,
      body,
      onSecond: (t, ok) => {
        polls.push(
          targetCount(target.port)
            .then((c) => void timeline.push({ t, accepted: ok, delivered: c.unique - c0.unique }))
            .catch(() => undefined),
        );
      },
    });
    await Promise.all(polls);
    const c1 = await targetCount(target.port);
    const loadEndedAt = performance.now();
    const gw1 = cpuSecondsOf(gateway.pid);
    const self1 = selfCpuSeconds();
    const m1 = await scrape(gateway.port);
    accepted += load.ok;
    const backlog = accepted - c1.unique;

    progress(`e2e: load done, backlog ${backlog}; waiting up to ${s.waitSeconds} s for delivery`);
    let c2 = c1;
    const waitUntil = loadEndedAt + s.waitSeconds * 1000;
    while (c2.unique < accepted && performance.now() < waitUntil) {
      await sleep(200);
      c2 = await targetCount(target.port);
    }
    const caughtUpAfter = (performance.now() - loadEndedAt) / 1000;
    const caughtUp = c2.unique >= accepted;
    const m2 = await scrape(gateway.port);
    const gw2 = cpuSecondsOf(gateway.pid);

    const windowDelivered = c1.unique - c0.unique;
    const allDelivered = c2.unique - c0.unique;
    const deliveredPerSec = windowDelivered / load.seconds;
    const overallPerSec = allDelivered / (load.seconds + caughtUpAfter);
    // Steady state: deliveries per second over the second half of the load window.
    const half = timeline.filter((p) => p.t >= load.seconds / 2);
    const steady =
      half.length >= 2 ? (half[half.length - 1]!.delivered - half[0]!.delivered) / (half[half.length - 1]!.t - half[0]!.t) : null;

    recordTarget('e2e delivered/s during load', '>= 5,000/s', fmt.int(deliveredPerSec), deliveredPerSec >= 5000);
    out(
      table(
        ['<measure', 'value'],
        [
          ['webhooks accepted/s (2xx during the load)', fmt.int(load.reqPerSec)],
          ['ingest p50 / p99 / max ms', `${fmt.ms(load.p50)} / ${fmt.ms(load.p99)} / ${fmt.ms(load.max, 0)}`],
          ['ingest non-2xx / errors', `${fmt.int(load.non2xx)} / ${fmt.int(load.errors + load.timeouts)}`],
          ['delivered/s during the load window', fmt.int(deliveredPerSec)],
          ['delivered/s, second half of the window', fmt.int(steady)],
          [`delivered/s, load start to ${caughtUp ? 'caught up' : 'end of wait'}`, fmt.int(overallPerSec)],
          ['target (>= 5,000 delivered/s during load)', verdict(deliveredPerSec >= 5000)],
          ['backlog at end of load (accepted - delivered)', fmt.int(backlog)],
          ['gateway queue at end of load (deliveries)', queueLine(m1)],
          ['of the backlog, webhooks not yet routed', m1 ? fmt.int(backlog - ['pending', 'in_flight', 'retrying'].reduce((a, st) => a + promSum(m1, 'webhook_queue_size', `status="${st}"`), 0)) : '-'],
          [caughtUp ? 'caught up after the load in' : 'NOT caught up; still undelivered', caughtUp ? `${caughtUpAfter.toFixed(1)} s` : fmt.int(accepted - c2.unique)],
          ['deliveries received by target / distinct ids', `${fmt.int(c2.total)} / ${fmt.int(c2.unique)} (${fmt.int(c2.total - c2.unique)} duplicates)`],
          ['gateway queue at the end (deliveries)', queueLine(m2)],
        ],
      ),
    );
    out();
    out('Where the time goes (gateway /metrics deltas over the load window, CPU from /proc; 100% = one core):');
    out();
    const targetCpu = (c1.cpuSeconds - c0.cpuSeconds) / load.seconds;
    out(
      table(
        ['<measure', 'value'],
        [
          ['gateway CPU during load / during catch-up', `${fmt.pct(gw0 !== null && gw1 !== null ? (gw1 - gw0) / load.seconds : null)} / ${fmt.pct(gw1 !== null && gw2 !== null && caughtUpAfter > 0.5 ? (gw2 - gw1) / caughtUpAfter : null)}`],
          ['target CPU during load', fmt.pct(targetCpu)],
          ['load generator CPU during load', fmt.pct((self1 - self0) / load.seconds)],
          ['mean HTTP delivery time (internal_api_duration)', `${fmt.ms(meanMs(m0, m1, 'internal_api_duration_seconds'))} ms`],
          ['mean per-delivery processing (webhook_processing_duration)', `${fmt.ms(meanMs(m0, m1, 'webhook_processing_duration_seconds'))} ms`],
          ['mean receive-to-first-attempt (webhook_queue_wait_time)', `${fmt.ms(meanMs(m0, m2, 'webhook_queue_wait_time_seconds'), 0)} ms`],
          ['gateway event-loop lag p99 (since previous scrape)', `${fmt.ms(m1 ? promSum(m1, 'nodejs_eventloop_lag_p99_seconds') * 1000 : null)} ms`],
          ['warn/error log lines', String(gateway.warnings.length)],
        ],
      ),
    );
    for (const w of gateway.warnings.slice(0, 5)) out(`  ${w.slice(0, 300)}`);
    out();
    out('During the load (accepted so far / delivered so far):');
    const every = Math.max(1, Math.ceil(timeline.length / 15));
    out(`  ${timeline.filter((_, i) => i % every === every - 1).map((p) => `${Math.round(p.t)}s ${fmt.int(p.accepted)}/${fmt.int(p.delivered)}`).join(', ')}`);
    out();
  } finally {
    const stopped = await stopChild(gateway, 15_000);
    progress(`e2e: gateway stopped in ${Math.round(stopped.ms)} ms${stopped.killed ? ' (killed)' : ''}`);
    await stopChild(target, 5000);
  }
}

interface DrainCall {
  routed: number;
  claimed: number;
  delivered: number;
  retrying: number;
  dead: number;
  duration_ms: number;
}

/** The processor alone: a backlog ingested with the processor off, then POST /drain until empty. */
export async function drainPhase(s: E2ESettings): Promise<void> {
  out('## 2b. Processor alone: POST /drain over a backlog (nothing ingested meanwhile)');
  out();
  const { target, gateway } = await startPair(s, 'drain', false);
  try {
    const url = `http://127.0.0.1:${gateway.port}/webhook/shop/orders`;
    progress(`drain: ingesting a backlog of ${s.drainBacklog}`);
    const pre = await runLoad({ url, connections: 50, seconds: 120, amount: s.drainBacklog, body: webhookBody() });
    const m0 = await scrape(gateway.port);
    const gw0 = cpuSecondsOf(gateway.pid);
    const t0 = await targetCount(target.port);
    progress(`drain: draining ${pre.ok} webhooks with POST /drain`);
    const calls: { wallMs: number; r: DrainCall }[] = [];
    const started = performance.now();
    while (performance.now() - started < 90_000) {
      const t = performance.now();
      const res = await fetch(`http://127.0.0.1:${gateway.port}/drain`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...ADMIN },
        body: JSON.stringify({ max: 5000, time_ms: 10_000 }),
      });
      if (res.status !== 200) throw new Error(`POST /drain answered ${res.status}: ${await res.text()}`);
      const r = (await res.json()) as DrainCall;
      calls.push({ wallMs: performance.now() - t, r });
      if (r.routed === 0 && r.claimed === 0) break;
    }
    const wall = (performance.now() - started) / 1000;
    const gw1 = cpuSecondsOf(gateway.pid);
    const t1 = await targetCount(target.port);
    const m1 = await scrape(gateway.port);
    const sum = (k: keyof DrainCall) => calls.reduce((a, c) => a + c.r[k], 0);
    const delivered = sum('delivered');
    const batchSize = Number(s.gatewayEnv.BATCH_SIZE || 100);
    const batches = Math.max(1, Math.ceil(sum('claimed') / batchSize));
    out(
      table(
        ['<measure', 'value'],
        [
          ['backlog ingested (2xx)', `${fmt.int(pre.ok)} at ${fmt.int(pre.reqPerSec)}/s`],
          ['/drain calls (max 5000 each)', String(calls.length)],
          ['routed / claimed / delivered / retrying / dead', [sum('routed'), sum('claimed'), delivered, sum('retrying'), sum('dead')].map(fmt.int).join(' / ')],
          ['target received (distinct)', fmt.int(t1.unique - t0.unique)],
          ['wall time', `${wall.toFixed(2)} s`],
          ['deliveries/s, processor alone', fmt.int(delivered / wall)],
          [`ms per batch of up to ${batchSize} (route + claim + deliver + complete)`, fmt.ms(sum('duration_ms') / batches)],
          ['gateway CPU / target CPU', `${fmt.pct(gw0 !== null && gw1 !== null ? (gw1 - gw0) / wall : null)} / ${fmt.pct((t1.cpuSeconds - t0.cpuSeconds) / wall)}`],
          ['mean HTTP delivery time', `${fmt.ms(meanMs(m0, m1, 'internal_api_duration_seconds'))} ms`],
          ['gateway queue after', queueLine(m1)],
        ],
      ),
    );
    out();
  } finally {
    await stopChild(gateway, 15_000);
    await stopChild(target, 5000);
  }
}
