// The duckhook command (dist/cli.js, built by the test setup) against a real gateway over HTTP.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { startGateway, startTarget, tempDir, TEST_ADMIN_TOKEN, type TestGateway } from './helpers.js';

const exec = promisify(execFile);
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

async function duckhook(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['dist/cli.js', ...args], {
      env: { ...process.env, DUCKHOOK_URL: gw!.url, ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

it('manages rules, backtests, replays and queries a running gateway', async () => {
  const t = await startTarget();
  gw = await startGateway();
  const tmp = tempDir();
  const file = join(tmp.dir, 'rules.json');
  writeFileSync(file, JSON.stringify({ rules: [{ rule_name: 'orders', filter_query: "json_extract_string(payload, '$.type') = 'order'", target_url: t.url }] }));

  const imported = await duckhook(['rules', 'import', file]);
  expect(imported.code, imported.stderr).toBe(0);
  expect(JSON.parse(imported.stdout)).toEqual({ created: ['orders'], updated: [], unchanged: [] });
  expect(JSON.parse((await duckhook(['rules', 'import', file])).stdout).unchanged).toEqual(['orders']);
  const list = JSON.parse((await duckhook(['rules', 'list'])).stdout);
  expect(list.rules.map((r: { rule_name: string }) => r.rule_name)).toEqual(['orders']);
  const out = join(tmp.dir, 'export.json');
  expect((await duckhook(['rules', 'export', out])).stdout).toMatch(/wrote 1 rules/);
  expect(JSON.parse(readFileSync(out, 'utf8')).rules[0].rule_name).toBe('orders');

  for (const type of ['order', 'order', 'refund']) await gw.post('/webhook/shop', { type });
  const test = JSON.parse((await duckhook(['rules', 'test', "json_extract_string(payload, '$.type') = 'refund'"])).stdout);
  expect(test).toMatchObject({ scanned: 3, matched: 1 });
  expect(JSON.parse((await duckhook(['rules', 'test', '--id', '1'])).stdout)).toMatchObject({ matched: 2 });

  await gw.post('/drain', {});
  expect(t.received).toHaveLength(2);
  const dry = JSON.parse((await duckhook(['replay', '--where', "source = 'shop'", '--dry-run'])).stdout);
  expect(dry).toMatchObject({ dry_run: true, matched: 3, deliveries: 2 });
  expect(JSON.parse((await duckhook(['replay', '--webhook', '3', '--rule', '1', '--force'])).stdout).deliveries_created).toBe(1);

  const sql = JSON.parse((await duckhook(['sql', 'SELECT count(*) AS n FROM deliveries'])).stdout);
  expect(sql.rows).toEqual([{ n: 3 }]);
  const pending = JSON.parse((await duckhook(['deliveries', '--status', 'pending', '--webhook', '3'])).stdout);
  expect(pending.deliveries.map((d: { webhook_id: number; status: string }) => [d.webhook_id, d.status])).toEqual([[3, 'pending']]);
  const page = JSON.parse((await duckhook(['deliveries', '--limit', '2'])).stdout);
  expect(page.deliveries.map((d: { id: number }) => d.id)).toEqual([3, 2]);
  expect(page.next_before_id).toBe(2);

  const refused = await duckhook(['sql', 'DELETE FROM webhooks']);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/^duckhook: sql_not_read_only: /);
  const noToken = await duckhook(['rules', 'list'], { ADMIN_TOKEN: 'wrong' });
  expect(noToken.code).toBe(1);
  expect(noToken.stderr).toMatch(/unauthorized/);
  expect((await duckhook(['--help'])).stdout).toMatch(/usage: duckhook/);
  await t.close();
  tmp.cleanup();
});
