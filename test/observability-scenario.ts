// A history with every webhook status in it, for the /metrics and /dashboard/summary tests:
// built through the real HTTP API (ingest, rules, /drain, /retry) with the manual clock.
//
// At the end (now = T0 + 3 d + 2 h + 40 s), 12 webhooks:
//   completed 6  (2 'ok' at T0, 3 'ok' at T0 + 3 d, 1 'ok' in the last hour; each to 'ok' and 'audit')
//   failed    2  ('bad': 500 twice, max_retries 1, dead; retry_count 1)
//   processing 1 ('flaky': 500 twice, still retrying; retry_count 1; overdue by now)
//   unmatched 1
//   pending   2  (received 30 s before now, never drained)
import { createRule, startTarget, type Target, type TestGateway } from './helpers.js';

export const EXPECTED_STATUSES = { pending: 2, processing: 1, completed: 6, failed: 2, unmatched: 1 };

export async function buildHistory(gw: TestGateway): Promise<{ target: Target }> {
  const target = await startTarget((_n, req) => (req.path.startsWith('/ok') ? 200 : 500));
  const rule = (name: string, kind: string, path: string, policy = { max_retries: 3, backoff_multiplier: 2, base_delay_seconds: 10 }) =>
    createRule(gw, {
      rule_name: name,
      filter_query: `json_extract_string(payload, '$.kind') = '${kind}'`,
      transform_query: 'SELECT payload',
      target_url: `${target.url}${path}`,
      retry_policy: policy,
    });
  await rule('ok', 'ok', '/ok');
  await rule('audit', 'ok', '/ok/audit');
  await rule('bad', 'bad', '/bad', { max_retries: 1, backoff_multiplier: 2, base_delay_seconds: 10 });
  await rule('flaky', 'flaky', '/flaky', { max_retries: 5, backoff_multiplier: 2, base_delay_seconds: 10 });
  await rule('idle', 'never', '/ok/idle');
  const off = await rule('off', 'ok', '/ok/off');
  await gw.put(`/routing-rules/${off}/toggle`);

  const send = (kind: string, n: number) => Promise.all(Array.from({ length: n }, (_, i) => gw.post(`/webhook/shop/${kind}/${i}`, { kind, i })));
  const drain = async () => {
    const r = await gw.post('/drain', { max: 1000 });
    if (r.status !== 200) throw new Error(`drain: ${r.status}`);
  };
  await send('ok', 2);
  await drain();
  gw.clock.advance(3 * 86_400_000);
  await send('ok', 3);
  await send('bad', 2);
  await send('flaky', 1);
  await send('none', 1);
  await drain();
  gw.clock.advance(10_000);
  await gw.post('/retry', { max: 1000 });
  gw.clock.advance(2 * 3_600_000);
  await send('ok', 1);
  await drain();
  await send('ok', 2);
  gw.clock.advance(30_000);
  return { target };
}
