// The checked-in infra/ files, read as the tests need them: expressions parsed out of the
// dashboard and the alert rules (no second hand-written list), and copies rewritten for a test
// stack on 127.0.0.1 with a fast clock. Only addresses, intervals, `for:` and secret paths
// change; routes, receivers, expressions and thresholds are the files' own.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

export const INFRA = join(import.meta.dirname, '..', '..', 'infra');

export const read = (path: string) => readFileSync(join(INFRA, path), 'utf8');

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface RuleGroup {
  name: string;
  interval?: string;
  rules: AlertRule[];
}

export function alertRules(): AlertRule[] {
  const doc = parse(read('prometheus/alert_rules.yml')) as { groups: RuleGroup[] };
  return doc.groups.flatMap((g) => g.rules).filter((r) => r.alert);
}

export interface DashboardQuery {
  where: string;
  expr: string;
  datasource: { type: string; uid: string };
}

export function dashboard(): any {
  return JSON.parse(read('grafana/dashboards/duckhook.json'));
}

/** Every query in the dashboard: panel targets and annotation queries, with their data source. */
export function dashboardQueries(): DashboardQuery[] {
  const d = dashboard();
  const out: DashboardQuery[] = [];
  for (const p of d.panels ?? []) {
    for (const t of p.targets ?? []) {
      out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr, datasource: t.datasource ?? p.datasource });
    }
  }
  for (const a of d.annotations?.list ?? []) {
    if (a.expr) out.push({ where: `annotation "${a.name}"`, expr: a.expr, datasource: a.datasource });
  }
  return out;
}

/**
 * The alert rules with the group evaluated every second and every `for:` cut to `forTest`, so an
 * alert reaches `firing` within seconds. The checked-in file keeps the seed's realistic values.
 */
export function fastAlertRules(forTest = '2s'): string {
  const doc = parse(read('prometheus/alert_rules.yml')) as { groups: RuleGroup[] };
  for (const g of doc.groups) {
    g.interval = '1s';
    for (const r of g.rules) if (r.for) r.for = forTest;
  }
  return stringify(doc);
}

/**
 * prometheus.yml pointed at test gateways and a test Alertmanager, scraping every second. Jobs
 * whose targets do not exist in a test (node-exporter) are dropped.
 */
export function testPrometheusConfig(opts: { gateways: string[]; alertmanager: string; self: string }): string {
  const doc = parse(read('prometheus/prometheus.yml')) as any;
  doc.global.scrape_interval = '1s';
  doc.global.evaluation_interval = '1s';
  doc.alerting.alertmanagers = [{ static_configs: [{ targets: [opts.alertmanager] }] }];
  const targets: Record<string, string[]> = { 'webhook-gateway': opts.gateways, prometheus: [opts.self], alertmanager: [opts.alertmanager] };
  doc.scrape_configs = (doc.scrape_configs as any[])
    .filter((job) => targets[job.job_name])
    .map((job) => ({ ...job, scrape_interval: '1s', scrape_timeout: '1s', static_configs: [{ targets: targets[job.job_name] }] }));
  return stringify(doc);
}

const SECRETS = '/etc/alertmanager/secrets/';

/**
 * alertmanager.yml with the secret files moved into `dir`, Slack and PagerDuty pointed at a
 * local receiver (`<receiver>/slack`, `<receiver>/pagerduty`), and grouping waits cut to a
 * second. Returns the config and the secret files it reads.
 */
export function testAlertmanagerFiles(dir: string, receiver: string): Record<string, string> {
  const doc = parse(read('alertmanager/alertmanager.yml')) as any;
  const files: Record<string, string> = {};
  // Every `*_file` setting (slack_api_url_file, routing_key_file...) moves into `dir`.
  const walk = (node: any) => {
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key.endsWith('_file') && typeof value === 'string' && value.startsWith(SECRETS)) {
        const name = value.slice(SECRETS.length);
        files[name] = name.startsWith('slack') ? `${receiver}/slack` : `test-${name}`;
        node[key] = `${dir}/${name}`;
      } else walk(value);
    }
  };
  walk(doc);
  doc.global.pagerduty_url = `${receiver}/pagerduty`;
  doc.route.group_wait = '1s';
  doc.route.group_interval = '1s';
  return { 'alertmanager.yml': stringify(doc), ...files };
}
