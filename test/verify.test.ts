// Sender verification through the real HTTP interface: every scheme with a valid, a wrong, a
// missing and (where the scheme signs a timestamp) an old and a future signature, and rotation.
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from './helpers.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw.close();
});

const hex = (alg: string, key: string, data: string) => createHmac(alg, key).update(data).digest('hex');
const b64 = (alg: string, key: string, data: string) => createHmac(alg, key).update(data).digest('base64');

const SW_SECRET = 'whsec_' + Buffer.from('standard-webhooks-test-secret-32b').toString('base64');
const SW_OTHER = 'whsec_' + Buffer.from('a-completely-different-secret!!!').toString('base64');

interface Case {
  scheme: string;
  extra?: Record<string, unknown>;
  secret: string;
  wrongSecret: string;
  timed: boolean;
  /** Headers signing `body` with `secret` at `t` (epoch seconds). */
  sign: (body: string, secret: string, t: number) => Record<string, string>;
  /** The headers a sender forgot. */
  missing: (signed: Record<string, string>) => Record<string, string>;
}

const without = (h: Record<string, string>, name: string) => Object.fromEntries(Object.entries(h).filter(([k]) => k !== name));

const cases: Case[] = [
  {
    scheme: 'standard-webhooks',
    secret: SW_SECRET,
    wrongSecret: SW_OTHER,
    timed: true,
    sign: (body, secret, t) => ({
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(t),
      'webhook-signature': new Webhook(secret).sign('msg_1', new Date(t * 1000), body),
    }),
    missing: (h) => without(h, 'webhook-signature'),
  },
  {
    scheme: 'standard-webhooks',
    extra: { name: 'svix' },
    secret: SW_SECRET,
    wrongSecret: SW_OTHER,
    timed: true,
    sign: (body, secret, t) => ({
      'svix-id': 'msg_2',
      'svix-timestamp': String(t),
      'svix-signature': `v1,bogus ${new Webhook(secret).sign('msg_2', new Date(t * 1000), body)}`,
    }),
    missing: (h) => without(h, 'svix-signature'),
  },
  {
    scheme: 'github',
    secret: 'gh-secret-123',
    wrongSecret: 'gh-secret-456',
    timed: false,
    sign: (body, secret) => ({ 'x-hub-signature-256': `sha256=${hex('sha256', secret, body)}` }),
    missing: () => ({}),
  },
  {
    scheme: 'stripe',
    secret: 'whsec_stripe_test_1',
    wrongSecret: 'whsec_stripe_test_2',
    timed: true,
    sign: (body, secret, t) => ({ 'stripe-signature': `t=${t},v1=${hex('sha256', secret, `${t}.${body}`)},v0=ignored` }),
    missing: () => ({}),
  },
  {
    scheme: 'shopify',
    secret: 'shpss_secret_1',
    wrongSecret: 'shpss_secret_2',
    timed: false,
    sign: (body, secret) => ({ 'x-shopify-hmac-sha256': b64('sha256', secret, body) }),
    missing: () => ({}),
  },
  {
    scheme: 'slack',
    secret: 'slack-signing-1',
    wrongSecret: 'slack-signing-2',
    timed: true,
    sign: (body, secret, t) => ({
      'x-slack-request-timestamp': String(t),
      'x-slack-signature': `v0=${hex('sha256', secret, `v0:${t}:${body}`)}`,
    }),
    missing: (h) => without(h, 'x-slack-signature'),
  },
  {
    scheme: 'hmac',
    extra: { header: 'X-Signature', algorithm: 'sha1', encoding: 'base64', prefix: 'sha1=' },
    secret: 'generic-secret-1',
    wrongSecret: 'generic-secret-2',
    timed: false,
    sign: (body, secret) => ({ 'x-signature': `sha1=${b64('sha1', secret, body)}` }),
    missing: () => ({}),
  },
  {
    scheme: 'hmac',
    extra: { name: 'hmachex', header: 'X-Sig' },
    secret: 'generic-secret-3',
    wrongSecret: 'generic-secret-4',
    timed: false,
    sign: (body, secret) => ({ 'x-sig': hex('sha256', secret, body).toUpperCase() }),
    missing: () => ({}),
  },
];

async function stored(source: string): Promise<number> {
  const [row] = await gw.gateway.store.read('SELECT count(*)::INT AS n FROM webhooks WHERE source = $1', [source]);
  return row!.n as number;
}

describe.each(cases)('$scheme $extra', (c) => {
  const { name: customName, ...extra } = (c.extra ?? {}) as { name?: string };
  const source = customName ?? c.scheme.replace(/[^a-z]/g, '');
  const body = JSON.stringify({ id: `evt_${source}`, kind: 'test' });
  const now = () => Math.floor(gw.clock.now() / 1000);
  const send = (headers: Record<string, string>) => gw.post(`/webhook/${source}/events`, body, { 'content-type': 'application/json', ...headers });

  beforeAll(async () => {
    const res = await gw.put(`/sources/${source}`, { verification: { scheme: c.scheme, secrets: [c.secret], ...extra } });
    expect(res.status).toBe(201);
  });

  it('accepts a valid signature', async () => {
    const res = await send(c.sign(body, c.secret, now()));
    expect(res.status).toBe(202);
    expect(await stored(source)).toBe(1);
  });

  it('refuses a signature made with the wrong secret: 401 signature_invalid, nothing queued', async () => {
    const res = await send(c.sign(body, c.wrongSecret, now()));
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('signature_invalid');
    expect(await stored(source)).toBe(1);
  });

  it('refuses a signature over different bytes: 401 signature_invalid', async () => {
    const res = await send(c.sign(body.replace('test', 'tset'), c.secret, now()));
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('signature_invalid');
  });

  it('refuses a missing signature: 401 signature_missing', async () => {
    const res = await send(c.missing(c.sign(body, c.secret, now())));
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('signature_missing');
    expect(await stored(source)).toBe(1);
  });

  // Only schemes that sign a timestamp have old and future signatures.
  if (c.timed) {
    it('refuses an old signature: 401 timestamp_out_of_tolerance', async () => {
      const res = await send(c.sign(body, c.secret, now() - 301));
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('timestamp_out_of_tolerance');
    });

    it('refuses a future signature: 401 timestamp_out_of_tolerance', async () => {
      const res = await send(c.sign(body, c.secret, now() + 301));
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('timestamp_out_of_tolerance');
      expect(await stored(source)).toBe(1);
    });
  }

  it('counts refusals by source and reason', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toContain(`webhook_verification_failures_total{source="${source}",reason="signature_invalid"} 2`);
    expect(text).toContain(`webhook_verification_failures_total{source="${source}",reason="signature_missing"} 1`);
  });
});

describe('rotation', () => {
  it('accepts the old and the new secret while both are configured, and only the new one after', async () => {
    const put = (secrets: string[]) => gw.put('/sources/rotating', { verification: { scheme: 'github', secrets } });
    const body = '{"rotate":true}';
    const send = (secret: string) =>
      gw.post('/webhook/rotating', body, { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${hex('sha256', secret, body)}` });
    expect((await put(['old-secret-1'])).status).toBe(201);
    expect((await put(['old-secret-1', 'new-secret-2'])).status).toBe(200);
    expect((await send('old-secret-1')).status).toBe(202);
    expect((await send('new-secret-2')).status).toBe(202);
    expect((await put(['new-secret-2'])).status).toBe(200);
    expect((await send('old-secret-1')).json.error.code).toBe('signature_invalid');
    expect((await send('new-secret-2')).status).toBe(202);
  });

  it('honours a configured tolerance instead of the 5-minute default', async () => {
    await gw.put('/sources/tight', { verification: { scheme: 'slack', secrets: ['tight-secret'], tolerance_seconds: 10 } });
    const t = Math.floor(gw.clock.now() / 1000) - 11;
    const body = 'token=x';
    const res = await gw.post('/webhook/tight', body, {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(t),
      'x-slack-signature': `v0=${hex('sha256', 'tight-secret', `v0:${t}:${body}`)}`,
    });
    expect(res.json.error.code).toBe('timestamp_out_of_tolerance');
  });
});
