// The observability stack for real: Prometheus and Alertmanager (containers via testcontainers,
// else local binaries; see test/infra/stack.ts) scrape two real gateways under real traffic.
// Every expression in the dashboard and the alert rules goes to the real Prometheus query API;
// a target that starts failing drives WebhookHighFailureRate to firing, and the real Alertmanager
// delivers it, through the checked-in routes and receivers, to a local HTTP receiver.
//
// For speed, Prometheus loads a copy of the rules with the group evaluated every second and
// `for:` cut to 2s, scrapes every second, and Alertmanager groups after 1s (test/infra/configs.ts);
// the checked-in files keep the seed's intervals.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertRules, dashboardQueries, fastAlertRules, testAlertmanagerFiles, testPrometheusConfig } from './infra/configs.js';
import { pickBackend, startService, type Service } from './infra/stack.js';
import { createRule, eventually, startGateway, startTarget, type Target, type TestGateway } from './helpers.js';

const backend = await pickBackend();
if (backend.mode === 'none') console.warn(`[infra-stack] SKIPPED, not passed: ${backend.reason}`);
else console.info(`[infra-stack] ${backend.mode}: ${backend.reason}`);

interface Notification {
  path: string;
  body: any;
}

async function startReceiver(): Promise<{ url: string; got: Notification[]; close: () => Promise<void> }> {
  const got: Notification[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      got.push({ path: req.url ?? '', body: JSON.parse(text || 'null') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"success"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    got,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

type Sample = { metric: Record<string, string>; value: [number, string] };

describe.skipIf(backend.mode === 'none')(`Prometheus and Alertmanager (${backend.mode}) against real gateways`, () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let target: Target;
  let failing = false;
  let gw: TestGateway;
  let stalled: TestGateway;
  let am: Service;
  let prom: Service;
  const hostOf = (url: string) => new URL(url).host;

  async function query(expr: string): Promise<Sample[]> {
    const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: Sample[] } };
    if (body.status !== 'success') throw new Error(`Prometheus refused ${JSON.stringify(expr)}: ${body.error}`);
    return body.data!.result;
  }

  async function firing(alertname: string): Promise<Record<string, string>[]> {
    const body = (await (await fetch(`${prom.url}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
    return body.data.alerts.filter((a) => a.labels.alertname === alertname && a.state === 'firing').map((a) => a.labels);
  }

  async function send(gateway: TestGateway, n: number, event = 'order.created') {
    for (let i = 0; i < n; i++) {
      const r = await gateway.post('/webhook/shop/orders', { event_type: event, order_id: i });
      expect(r.status).toBe(202);
    }
  }

  beforeAll(async () => {
    if (backend.mode === 'none') return;
    receiver = await startReceiver();
    target = await startTarget(() => (failing ? 500 : 200));
    // The main gateway runs its processor on a real clock, retrying within a second.
    gw = await startGateway({ PROCESSOR: 'true', DRAIN_INTERVAL_MS: '20', RETRY_INTERVAL_MS: '100' }, { realClock: true });
    await createRule(gw, {
      rule_name: 'orders',
      filter_query: "json_extract_string(payload, '$.event_type') = 'order.created'",
      transform_query: 'SELECT payload',
      target_url: `${target.url}/orders`,
      retry_policy: { max_retries: 3, backoff_multiplier: 1, base_delay_seconds: 1 },
    });
    // The stalled gateway has deliveries due and no processor: what WebhookProcessingStopped is for.
    stalled = await startGateway();
    const ruleId = await createRule(stalled, {
      rule_name: 'stalled',
      filter_query: 'true',
      transform_query: 'SELECT payload',
      target_url: `${target.url}/stalled`,
    });
    await send(stalled, 3);
    const replay = await stalled.post('/replay', { where: 'true', rule_id: ruleId });
    expect(replay.json.deliveries_created, JSON.stringify(replay.json)).toBe(3);

    am = await startService(backend, 'alertmanager', (dir) => testAlertmanagerFiles(dir, receiver.url));
    prom = await startService(backend, 'prometheus', (_dir, self) => ({
      'prometheus.yml': testPrometheusConfig({ gateways: [hostOf(gw.url), hostOf(stalled.url)], alertmanager: hostOf(am.url), self }),
      'alert_rules.yml': fastAlertRules(),
    }));
  }, 180_000);

  afterAll(async () => {
    // Each part stops what it started, even if an earlier one failed to.
    for (const stop of [() => prom?.stop(), () => am?.stop(), () => gw?.close(), () => stalled?.close(), () => target?.close(), () => receiver?.close()]) {
      await stop()?.catch((err: Error) => console.warn(`[infra-stack] cleanup: ${err.message}`));
    }
  }, 60_000);

  it('Prometheus scrapes both gateways and loads every alert rule', async () => {
    await eventually(async () => (await query('up{job="webhook-gateway"} == 1')).length === 2, 30_000, 'both gateways up');
    const rules = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name).sort()).toEqual(alertRules().map((r) => r.alert).sort());
    await eventually(async () => {
      const r = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as typeof rules;
      return r.data.groups.flatMap((g) => g.rules).every((x) => x.health === 'ok');
    }, 10_000, 'every rule evaluated without error');
  });

  it('a target that starts failing fires WebhookHighFailureRate and Alertmanager delivers it', async () => {
    await send(gw, 20);
    await send(gw, 3, 'ping'); // matches no rule: `unmatched`, not a delivery attempt
    await eventually(() => target.received.length >= 20, 20_000, '20 deliveries');
    // A scrape that saw the successes, so the alert measures a real ratio, not failures alone.
    await eventually(async () => (await query('sum(webhook_processed_total{status="completed"}) >= 20')).length === 1, 20_000, 'successes scraped');
    expect(await firing('WebhookHighFailureRate')).toEqual([]);

    failing = true;
    await send(gw, 20);
    await eventually(async () => (await firing('WebhookHighFailureRate')).length > 0, 30_000, 'WebhookHighFailureRate firing');
    const [alert] = await firing('WebhookHighFailureRate');
    expect(alert).toMatchObject({ rule_name: 'orders', instance: hostOf(gw.url), severity: 'critical', component: 'webhook-gateway' });

    // severity=critical routes to critical-alerts: Slack #critical-alerts and PagerDuty.
    const slack = () => receiver.got.filter((n) => n.path === '/slack' && JSON.stringify(n.body).includes('WebhookHighFailureRate'));
    const pagerduty = () => receiver.got.filter((n) => n.path === '/pagerduty' && n.body?.payload?.summary === 'WebhookHighFailureRate');
    await eventually(() => slack().length > 0 && pagerduty().length > 0, 30_000, 'Alertmanager notifications');
    expect(slack()[0]!.body.channel).toBe('#critical-alerts');
    expect(slack()[0]!.body.attachments[0].text).toContain('Failure rate of rule orders is');
    expect(pagerduty()[0]!.body).toMatchObject({ routing_key: 'test-pagerduty_routing_key', event_action: 'trigger' });
  });

  it('WebhookProcessingStopped fires for the gateway with due deliveries and no processor', async () => {
    await eventually(async () => (await firing('WebhookProcessingStopped')).some((a) => a.instance === hostOf(stalled.url)), 30_000, 'WebhookProcessingStopped firing');
    expect((await firing('WebhookProcessingStopped')).map((a) => a.instance)).not.toContain(hostOf(gw.url));
  });

  it('every Prometheus query in the dashboard returns data under this traffic', async () => {
    const queries = dashboardQueries().filter((q) => q.datasource.type === 'prometheus');
    expect(queries.length).toBeGreaterThan(10);
    let empty: string[] = [];
    await eventually(async () => {
      empty = [];
      for (const q of queries) {
        const result = await query(q.expr);
        if (!result.some((s) => !Number.isNaN(Number(s.value[1])))) empty.push(`${q.where}: ${q.expr}`);
      }
      return empty.length === 0;
    }, 20_000, 'dashboard data').catch(() => {
      throw new Error(`dashboard queries without data:\n${empty.join('\n')}`);
    });
  });

  it('every alert expression is valid and measures series that exist', async () => {
    // An alert's expression returns data only past its threshold. Below it, the same expression
    // with `bool` comparisons returns the 0/1 verdict per series, so data proves the metrics and
    // label matching are right even where this traffic stays under the threshold.
    const boolified = (expr: string) => expr.replace(/(\s)(==|!=|>=|<=|>|<)(\s+)(?!bool\b)/g, '$1$2 bool$3');
    const missing: string[] = [];
    for (const rule of alertRules()) {
      const direct = await query(rule.expr);
      if (direct.length > 0) continue;
      if ((await query(boolified(rule.expr))).length === 0) missing.push(`${rule.alert}: ${boolified(rule.expr)}`);
    }
    expect(missing, `alert expressions without data:\n${missing.join('\n')}`).toEqual([]);
  });
});
