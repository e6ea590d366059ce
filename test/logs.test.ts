// Structured logs through real traffic: one JSON object per line, bound to webhook and delivery
// ids, with credential and signature headers and configured secrets never written out.
import { createHmac } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { createRule, startGateway, startTarget, TEST_ADMIN_TOKEN, type Target, type TestGateway } from './helpers.js';

let gw: TestGateway | undefined;
let target: Target | undefined;
afterEach(async () => {
  await gw?.close();
  await target?.close();
  gw = undefined;
  target = undefined;
});

const settle = async (g: TestGateway) => {
  g.gateway.log.flush();
  await new Promise((r) => setTimeout(r, 50));
};

// Values a sender or an operator holds secret; none may appear in any log line.
const SECRET = 'source-secret-7f3a9c';
const SENSITIVE = {
  authorization: 'Bearer auth-token-AAAA1111',
  cookie: 'session=cookie-value-BBBB2222',
  'proxy-authorization': 'Basic proxy-cred-CCCC3333',
  'x-api-key': 'api-key-DDDD4444',
  'stripe-signature': 't=1,v1=stripe-sig-EEEE5555',
  'x-shopify-hmac-sha256': 'shopify-hmac-FFFF6666',
  'webhook-signature': 'v1,std-sig-GGGG7777',
  'x-slack-signature': 'v0=slack-sig-HHHH8888',
};

it('never writes credential or signature headers, nor configured secrets, in any log line', async () => {
  // Debug level, and sensitive headers stored verbatim, so the values are in the gateway's hands.
  gw = await startGateway({ LOG_LEVEL: 'debug', STORE_SENSITIVE_HEADERS: 'true' });
  target = await startTarget(() => 500);
  await gw.put('/sources/gh', { verification: { scheme: 'github', secrets: [SECRET] } });
  await createRule(gw, { rule_name: 'down', filter_query: 'true', transform_query: 'SELECT payload', target_url: target.url, retry_policy: { max_retries: 0 } });

  const body = '{"action":"opened"}';
  const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const ok = await gw.post('/webhook/gh/push', body, { 'content-type': 'application/json', 'x-hub-signature-256': signature, ...SENSITIVE });
  expect(ok.status).toBe(202);
  // Refused: a forged signature, and the secret itself where the signature goes.
  expect((await gw.post('/webhook/gh/push', body, { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=forged-IIII9999', ...SENSITIVE })).status).toBe(401);
  expect((await gw.post('/webhook/gh/push', body, { 'content-type': 'application/json', 'x-hub-signature-256': SECRET })).status).toBe(401);
  expect((await gw.post('/webhook/anyone/x', body, { 'content-type': 'application/json', ...SENSITIVE })).status).toBe(202);
  // Delivered to a failing target: dead at once, logged.
  expect((await gw.post('/drain', {})).json).toMatchObject({ claimed: 2, dead: 2 });
  // A caller with a wrong admin token.
  expect((await fetch(`${gw.url}/routing-rules`, { headers: { authorization: 'Bearer wrong-admin-JJJJ0000' } })).status).toBe(401);

  // Code that logs headers the way a request logger would: masked by pino's redact paths.
  gw.gateway.log.info({ headers: { ...SENSITIVE, 'x-hub-signature-256': signature, accept: '*/*' } }, 'incoming headers');
  gw.gateway.log.info({ req: { headers: { ...SENSITIVE, 'x-hub-signature-256': signature } } }, 'request');
  // And secrets in free text, a source's and the admin token: masked by value.
  gw.gateway.log.warn(`verification failed with ${SECRET}`);
  gw.gateway.log.warn({ detail: `token was ${TEST_ADMIN_TOKEN}` }, 'admin token in a field');
  await settle(gw);

  expect(gw.logs.length).toBeGreaterThan(5);
  const forbidden = [SECRET, TEST_ADMIN_TOKEN, signature, 'forged-IIII9999', 'wrong-admin-JJJJ0000', ...Object.values(SENSITIVE)];
  for (const line of gw.logs) {
    for (const value of forbidden) expect([value, line.includes(value)]).toEqual([value, false]);
    // Also their distinctive parts, in case a value is logged split or re-encoded.
    for (const marker of ['AAAA1111', 'BBBB2222', 'CCCC3333', 'DDDD4444', 'EEEE5555', 'FFFF6666', 'GGGG7777', 'HHHH8888']) expect(line).not.toContain(marker);
  }

  const entries = gw.logs.map((l) => JSON.parse(l) as Record<string, any>);
  for (const e of entries) expect(e).toMatchObject({ level: expect.any(Number), time: expect.any(Number), service: 'duckhook', msg: expect.any(String) });
  const headersLine = entries.find((e) => e.msg === 'incoming headers')!;
  expect(headersLine.headers).toMatchObject({ authorization: '[redacted]', cookie: '[redacted]', 'x-hub-signature-256': '[redacted]', accept: '*/*' });
  expect(entries.find((e) => e.msg === 'request')!.req.headers).toMatchObject({ authorization: '[redacted]', 'stripe-signature': '[redacted]' });
  expect(entries.some((e) => e.msg === `verification failed with [redacted]`)).toBe(true);
  expect(entries.find((e) => e.msg === 'admin token in a field')!.detail).toBe('token was [redacted]');

  // Lines about one webhook or delivery carry its ids.
  expect(entries.find((e) => e.msg === 'webhook accepted' && e.webhook_id === ok.json.webhook_id)).toMatchObject({ source: 'gh' });
  const failed = entries.filter((e) => e.msg === 'delivery attempt failed');
  expect(failed.length).toBe(2);
  for (const f of failed) expect(f).toMatchObject({ webhook_id: expect.any(Number), delivery_id: expect.any(Number), rule_name: 'down', status_code: 500 });
  expect(entries.filter((e) => e.msg === 'webhook refused: sender not verified').map((e) => e.reason)).toEqual(['signature_invalid', 'signature_invalid']);
});

it('writes nothing below LOG_LEVEL', async () => {
  gw = await startGateway({ LOG_LEVEL: 'WARNING' });
  await gw.put('/sources/gh', { verification: { scheme: 'github', secrets: [SECRET] } });
  await gw.post('/webhook/gh/push', '{}', { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=00' });
  await gw.post('/webhook/any', { a: 1 });
  gw.gateway.log.warn('a warning');
  await settle(gw);
  const levels = gw.logs.map((l) => (JSON.parse(l) as { level: number }).level);
  expect(levels.length).toBeGreaterThan(0);
  expect(levels.every((l) => l >= 40)).toBe(true);
});
