// infra/ checked by the tools that will load it: promtool (config, rules, rule unit tests),
// amtool, docker-compose; and the cross-references between the files (data source uids, mounted
// paths, runbook anchors). A missing tool skips its test with a message, never a silent pass.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { alertRules, dashboard, dashboardQueries, INFRA, read } from './infra/configs.js';
import { findBinary } from './infra/stack.js';

const promtool = findBinary(process.env.PROMTOOL_BIN, '/usr/bin/promtool', 'promtool');
const amtool = findBinary(process.env.AMTOOL_BIN, '/usr/bin/amtool', 'amtool');
const compose = findBinary(process.env.DOCKER_COMPOSE_BIN, 'docker-compose');
for (const [tool, path, pkg] of [['promtool', promtool, 'prometheus'], ['amtool', amtool, 'prometheus-alertmanager'], ['docker-compose', compose, 'docker-compose']]) {
  if (!path) console.warn(`[infra-static] ${tool} not found (apt-get install ${pkg}): its checks are SKIPPED, not passed`);
}

/** Runs a tool; on failure the assertion shows its whole output. */
function run(bin: string, args: string[]): { code: number; out: string } {
  try {
    const out = execFileSync(bin, args, { cwd: INFRA, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, out };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status ?? 1, out: `${e.stdout}${e.stderr}` };
  }
}

describe('Prometheus files', () => {
  it.skipIf(!promtool)('promtool check config accepts prometheus.yml and the rule file it loads', () => {
    const r = run(promtool!, ['check', 'config', 'prometheus/prometheus.yml']);
    expect(r.out, r.out).toMatch(/SUCCESS: 7 rules found/);
    expect(r.code, r.out).toBe(0);
  });

  it.skipIf(!promtool)('promtool test rules: every alert fires when it should and stays quiet when it should not', () => {
    const r = run(promtool!, ['test', 'rules', 'prometheus/alert_rules.test.yml']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS/);
  });

  it('every alert has a promtool case where it fires, a quiet evaluation, and a runbook in the README', () => {
    const tests = parse(read('prometheus/alert_rules.test.yml')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const cases = tests.tests.flatMap((t) => t.alert_rule_test);
    const readme = readFileSync(join(INFRA, '..', 'README.md'), 'utf8');
    for (const rule of alertRules()) {
      const mine = cases.filter((c) => c.alertname === rule.alert);
      expect(mine.some((c) => c.exp_alerts.length > 0), `${rule.alert} never fires in alert_rules.test.yml`).toBe(true);
      expect(mine.some((c) => c.exp_alerts.length === 0), `${rule.alert} is never checked quiet`).toBe(true);
      const anchor = rule.annotations?.runbook?.split('#')[1];
      expect(anchor, `${rule.alert} has no runbook annotation`).toBeTruthy();
      expect(readme, `README has no "#### ${rule.alert}" runbook heading`).toContain(`#### ${rule.alert}\n`);
      expect(anchor).toBe(rule.alert.toLowerCase());
    }
  });
});

describe('Alertmanager file', () => {
  it.skipIf(!amtool)('amtool check-config accepts alertmanager.yml', () => {
    const r = run(amtool!, ['check-config', 'alertmanager/alertmanager.yml']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS/);
  });

  it('holds no secrets: every credential is read from a file', () => {
    const doc = parse(read('alertmanager/alertmanager.yml'));
    const literal: string[] = [];
    const walk = (v: unknown, path: string) => {
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
      else if (/(api_url|service_key|routing_key|password|token|secret)$/.test(path)) literal.push(path);
    };
    walk(doc, '');
    expect(literal).toEqual([]);
    // Alertmanager does not expand environment variables: a `${VAR}` would be sent as is.
    const code = read('alertmanager/alertmanager.yml').split('\n').filter((l) => !/^\s*#/.test(l));
    expect(code.filter((l) => l.includes('${'))).toEqual([]);
  });
});

describe('Grafana files', () => {
  const datasources = (parse(read('grafana/provisioning/datasources/datasources.yml')) as { datasources: { uid: string; type: string }[] }).datasources;

  it('every dashboard query names a provisioned data source; the logs panel reads Loki', () => {
    for (const q of dashboardQueries()) {
      const ds = datasources.find((d) => d.uid === q.datasource?.uid);
      expect(ds, `${q.where}: data source ${JSON.stringify(q.datasource)} is not provisioned`).toBeDefined();
      expect(ds!.type).toBe(q.datasource.type);
    }
    const logs = dashboard().panels.filter((p: any) => p.type === 'logs');
    expect(logs.length).toBe(1);
    expect(logs[0].targets.map((t: any) => t.datasource.type)).toEqual(['loki']);
    expect(logs[0].targets[0].expr).toMatch(/job="webhook-gateway"/);
    // Promtail labels the gateway's lines with that job.
    expect(read('promtail/promtail-config.yml')).toMatch(/replacement: webhook-gateway/);
  });

  it('the dashboard is a bare model (file provisioning), with unique panel ids and no seed-only metric', () => {
    const d = dashboard();
    expect(d.dashboard).toBeUndefined();
    expect(d.uid).toBe('webhook-gateway');
    const ids = d.panels.map((p: any) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const text = read('grafana/dashboards/duckhook.json');
    expect(text).not.toMatch(/webhook_processing_log/); // a DuckDB table the seed queried as a metric
    expect(text).not.toMatch(/"type": "graph"/); // removed from Grafana 11
  });
});

describe('compose file and Dockerfile (static: no registry is reachable here)', () => {
  it.skipIf(!compose)('docker-compose config accepts infra/docker-compose.yml; every service and mounted file is there', () => {
    const r = run(compose!, ['-f', 'docker-compose.yml', 'config']);
    expect(r.code, r.out).toBe(0);
    const doc = parse(r.out) as { services: Record<string, { volumes?: { type: string; source: string }[] }> };
    expect(Object.keys(doc.services).sort()).toEqual(['alertmanager', 'grafana', 'loki', 'node-exporter', 'prometheus', 'promtail', 'webhook-gateway']);
    for (const [name, svc] of Object.entries(doc.services)) {
      for (const v of svc.volumes ?? []) {
        if (v.type === 'bind' && v.source.startsWith(INFRA)) expect(existsSync(v.source), `${name} mounts missing ${v.source}`).toBe(true);
      }
    }
  });

  it('Dockerfile copies files that exist and runs the bundle esbuild makes', () => {
    const dockerfile = read('Dockerfile');
    const root = join(INFRA, '..');
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1]!.split(/\s+/)) expect(existsSync(join(root, src)), `COPY source ${src}`).toBe(true);
    }
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toMatch(/CMD \["node", "dist\/runtime.js"\]/);
    expect(readFileSync(join(root, 'esbuild.config.mjs'), 'utf8')).toMatch(/runtime: 'runtime\/main.ts'/);
  });
});
