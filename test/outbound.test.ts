// Outbound safety through the real HTTP interface: metadata targets refused on save in every
// spelling, redirects never followed, DNS answers checked at connect time (rebinding), the
// allowlist, and which incoming headers reach a target.
import { afterEach, describe, expect, it } from 'vitest';
import type { ResolvedAddress } from '../runtime/netguard.js';
import { createRule, startGateway, targetsClosedAfterEach, type TestGateway } from './helpers.js';

const target = targetsClosedAfterEach();
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

/** A resolver the test controls: names map to addresses, anything else does not exist. */
function fakeDns(map: Record<string, string>) {
  const resolve = async (hostname: string): Promise<ResolvedAddress[]> => {
    const address = map[hostname];
    if (!address) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return [{ address, family: address.includes(':') ? 6 : 4 }];
  };
  return { map, resolve };
}

const rule = (name: string, targetUrl: string, extra: Record<string, unknown> = {}) => ({
  rule_name: name,
  filter_query: 'true',
  transform_query: 'SELECT payload',
  target_url: targetUrl,
  retry_policy: { max_retries: 3, base_delay_seconds: 1 },
  ...extra,
});

async function deliveryOf(webhookId: number) {
  const status = await gw!.get(`/status/${webhookId}`);
  return status.json.deliveries[0];
}

describe('metadata addresses', () => {
  it('refuses a rule targeting 169.254.169.254 on save, in every spelling', async () => {
    gw = await startGateway();
    const spellings = [
      'http://169.254.169.254/latest/meta-data/',
      'http://2852039166/',
      'http://0251.0376.0251.0376/',
      'http://0xa9.0xfe.0xa9.0xfe/',
      'http://169.254.169.254./',
      'http://[::ffff:169.254.169.254]/',
      'http://[::ffff:a9fe:a9fe]/',
      'http://[64:ff9b::a9fe:a9fe]/',
      'http://[fd00:ec2::254]/',
      'http://168.63.129.16/',
      'http://100.100.100.200/',
    ];
    for (const [i, url] of spellings.entries()) {
      const res = await gw.post('/routing-rules', rule(`meta${i}`, url));
      expect([url, res.status, res.json.error?.code]).toEqual([url, 400, 'target_forbidden']);
    }
    expect((await gw.get('/routing-rules')).json.rules).toHaveLength(0);
  });

  it('refuses on save a host name that resolves to a metadata address', async () => {
    gw = await startGateway({}, { resolve: fakeDns({ 'metadata.internal': '169.254.169.254' }).resolve });
    const res = await gw.post('/routing-rules', rule('sneaky', 'http://metadata.internal/'));
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('target_forbidden');
  });

  it('does not follow a redirect to a metadata address', async () => {
    gw = await startGateway();
    const t = await target(() => ({ status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data/iam/' } }));
    await createRule(gw, rule('redirecting', `${t.url}/hook`));
    const { json } = await gw.post('/webhook/src', { a: 1 });
    const drained = await gw.post('/drain', {});
    expect(drained.json).toMatchObject({ delivered: 0, dead: 1 });
    expect(t.received).toHaveLength(1);
    const d = await deliveryOf(json.webhook_id);
    expect(d).toMatchObject({ status: 'dead', attempts: 1, last_status_code: 302 });
  });

  it('refuses at connect time a host name that resolves to a metadata address after the rule was saved', async () => {
    const dns = fakeDns({ 'svc.test': '127.0.0.1' });
    gw = await startGateway({}, { resolve: dns.resolve });
    const t = await target();
    const port = new URL(t.url).port;
    await createRule(gw, rule('rebinding', `http://svc.test:${port}/hook`));
    // DNS rebinding: the name answered a harmless address when the rule was saved.
    dns.map['svc.test'] = '169.254.169.254';
    const { json } = await gw.post('/webhook/src', { a: 1 });
    const drained = await gw.post('/drain', {});
    // Refused by policy: dead at once, never retried.
    expect(drained.json).toMatchObject({ delivered: 0, retrying: 0, dead: 1 });
    const d = await deliveryOf(json.webhook_id);
    expect(d.status).toBe('dead');
    expect(d.last_error).toMatch(/^target_forbidden: svc\.test \(169\.254\.169\.254\) is a cloud metadata address/);
    expect(t.received).toHaveLength(0);
  });

  it('still delivers to a name that resolves to an ordinary private address', async () => {
    gw = await startGateway({}, { resolve: fakeDns({ 'svc.test': '127.0.0.1' }).resolve });
    const t = await target();
    await createRule(gw, rule('fine', `http://svc.test:${new URL(t.url).port}/hook`));
    await gw.post('/webhook/src', { a: 1 });
    expect((await gw.post('/drain', {})).json.delivered).toBe(1);
    expect(t.received).toHaveLength(1);
  });
});

describe('TARGET_ALLOWLIST', () => {
  it('refuses targets outside the allowlist on save', async () => {
    gw = await startGateway({ TARGET_ALLOWLIST: '127.0.0.0/8, hooks.internal' }, { resolve: fakeDns({ 'hooks.internal': '10.9.9.9', 'other.internal': '10.1.1.1' }).resolve });
    const t = await target();
    expect((await gw.post('/routing-rules', rule('listed-cidr', `${t.url}/a`))).status).toBe(201);
    expect((await gw.post('/routing-rules', rule('listed-name', 'http://hooks.internal/a'))).status).toBe(201);
    const outside = await gw.post('/routing-rules', rule('outside', 'http://10.1.2.3/a'));
    expect([outside.status, outside.json.error.code]).toEqual([400, 'target_forbidden']);
    const outsideName = await gw.post('/routing-rules', rule('outside-name', 'http://other.internal/a'));
    expect([outsideName.status, outsideName.json.error.code]).toEqual([400, 'target_forbidden']);
  });

  it('checks the allowlist again at delivery, on the address actually dialled', async () => {
    const dns = fakeDns({ 'svc.test': '10.0.0.5' });
    gw = await startGateway({ TARGET_ALLOWLIST: '10.0.0.0/8' }, { resolve: dns.resolve });
    const t = await target();
    await createRule(gw, rule('moved', `http://svc.test:${new URL(t.url).port}/hook`));
    dns.map['svc.test'] = '127.0.0.1';
    const { json } = await gw.post('/webhook/src', { a: 1 });
    expect((await gw.post('/drain', {})).json.dead).toBe(1);
    expect((await deliveryOf(json.webhook_id)).last_error).toMatch(/not in TARGET_ALLOWLIST/);
    expect(t.received).toHaveLength(0);
  });
});

describe('forwarded headers', () => {
  it('forwards only the content type and the gateway headers by default, and the listed headers when a rule asks', async () => {
    gw = await startGateway();
    const plain = await target();
    const listing = await target();
    await createRule(gw, rule('plain', `${plain.url}/p`));
    await createRule(gw, rule('listing', `${listing.url}/l`, { forward_headers: ['X-GitHub-Event', 'authorization'] }));
    await gw.post('/webhook/gh', { a: 1 }, { 'x-github-event': 'push', 'x-other': 'no', cookie: 'session=abc' });
    await gw.post('/drain', {});
    const p = plain.received[0]!.headers;
    expect(p['content-type']).toBe('application/json');
    expect(p['x-webhook-gateway']).toBe('duckhook');
    expect(p['x-github-event']).toBeUndefined();
    expect(p['x-other']).toBeUndefined();
    expect(p.cookie).toBeUndefined();
    const l = listing.received[0]!.headers;
    expect(l['x-github-event']).toBe('push');
    expect(l['x-other']).toBeUndefined();
    // Credentials are stored masked (STORE_SENSITIVE_HEADERS off): there is no value left to forward.
    expect(l.authorization).toBeUndefined();
    // The list shows in the rule listing and export, and an import round-trips it.
    const listed = (await gw.get('/routing-rules')).json.rules.find((r: { rule_name: string }) => r.rule_name === 'listing');
    expect(listed.forward_headers).toEqual(['x-github-event', 'authorization']);
    const exported = (await gw.get('/routing-rules/export')).json;
    expect(exported.rules.find((r: { rule_name: string }) => r.rule_name === 'listing').forward_headers).toEqual(['x-github-event', 'authorization']);
    const imported = await gw.post('/routing-rules/import', {
      rules: [{ ...rule('plain', `${plain.url}/p`), forward_headers: ['x-other'] }],
    });
    expect(imported.json).toMatchObject({ updated: ['plain'] });
    const plainNow = (await gw.get('/routing-rules')).json.rules.find((r: { rule_name: string }) => r.rule_name === 'plain');
    expect(plainNow.forward_headers).toEqual(['x-other']);
  });

  it('refuses hop-by-hop headers in forward_headers', async () => {
    gw = await startGateway();
    const res = await gw.post('/routing-rules', rule('hop', 'http://127.0.0.1:9/x', { forward_headers: ['Transfer-Encoding'] }));
    expect([res.status, res.json.error.code]).toEqual([400, 'rule_invalid']);
  });
});
