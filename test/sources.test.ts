// Sources through the real HTTP interface: the admin API, SOURCES_FILE, unknown sources, bounded
// metric labels, and secrets that never come back out (API, logs, stored headers).
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway, tempDir, type TestGateway } from './helpers.js';

let gw: TestGateway | undefined;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  for (const f of cleanups.splice(0)) await f();
});

const sign = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

describe('admin API', () => {
  it('creates, reads, lists, replaces and deletes sources, behind the admin token', async () => {
    gw = await startGateway();
    const config = {
      verification: { scheme: 'github', secrets: ['s3cret-one', 's3cret-two'], tolerance_seconds: 300 },
      dedup: { header: 'X-GitHub-Delivery' },
      dedup_window_seconds: 3600,
      max_body_bytes: 1048576,
      content_types: ['application/json'],
    };
    const created = await gw.put('/sources/github', config);
    expect(created.status).toBe(201);
    expect(created.json).toEqual({
      name: 'github',
      verification: { scheme: 'github', tolerance_seconds: 300, secret_count: 2 },
      dedup: { header: 'X-GitHub-Delivery' },
      dedup_window_seconds: 3600,
      max_body_bytes: 1048576,
      content_types: ['application/json'],
    });
    expect((await gw.get('/sources/github')).json).toEqual(created.json);
    expect((await gw.get('/sources')).json).toEqual({ sources: [created.json] });
    expect((await gw.put('/sources/github', { ...config, max_body_bytes: 10 })).status).toBe(200);
    expect((await gw.get('/sources/github')).json.max_body_bytes).toBe(10);

    const unauth = await fetch(`${gw.url}/sources`, { headers: { authorization: 'Bearer wrong' } });
    expect(unauth.status).toBe(401);
    const del = await fetch(`${gw.url}/sources/github`, { method: 'DELETE', headers: { authorization: 'Bearer test-admin-token' } });
    expect(del.status).toBe(200);
    expect((await gw.get('/sources/github')).status).toBe(404);
  });

  it('refuses invalid sources with 400 source_invalid', async () => {
    gw = await startGateway();
    const bad = [
      { verification: { scheme: 'rot13', secrets: ['x'] } },
      { verification: { scheme: 'github', secrets: [] } },
      { verification: { scheme: 'hmac', secrets: ['abcdef'] } },
      { verification: { scheme: 'standard-webhooks', secrets: ['whsec_!!!not base64!!!'] } },
      { verification: { scheme: 'none' }, dedup: { json_path: 'id' } },
      { verification: { scheme: 'none' }, content_types: 'application/json' },
    ];
    for (const body of bad) {
      const res = await gw.put('/sources/bad', body);
      expect([JSON.stringify(body), res.status, res.json.error?.code]).toEqual([JSON.stringify(body), 400, 'source_invalid']);
    }
  });
});

it('loads SOURCES_FILE at start and verifies with it', async () => {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const file = join(tmp.dir, 'sources.json');
  writeFileSync(file, JSON.stringify({ gh: { verification: { scheme: 'github', secrets: ['from-file-secret'] } } }));
  gw = await startGateway({ SOURCES_FILE: file });
  const body = '{"zen":"x"}';
  expect((await gw.post('/webhook/gh', body, { 'content-type': 'application/json', 'x-hub-signature-256': sign('from-file-secret', body) })).status).toBe(202);
  expect((await gw.post('/webhook/gh', body, { 'content-type': 'application/json' })).json.error.code).toBe('signature_missing');
  expect((await gw.get('/sources/gh')).json.verification.secret_count).toBe(1);
});

describe('unknown sources', () => {
  it('are stored unverified by default and refused with 404 source_unknown when UNKNOWN_SOURCES=reject', async () => {
    gw = await startGateway();
    expect((await gw.post('/webhook/anyone/x', { a: 1 })).status).toBe(202);
    await gw.close();
    gw = await startGateway({ UNKNOWN_SOURCES: 'reject' });
    await gw.put('/sources/known', { verification: { scheme: 'none' } });
    const res = await gw.post('/webhook/anyone/x', { a: 1 });
    expect([res.status, res.json.error.code]).toEqual([404, 'source_unknown']);
    expect((await gw.post('/webhook/known/x', { a: 1 })).status).toBe(202);
  });

  it('10,000 distinct unknown sources do not grow the /metrics series count', async () => {
    // Accepted (the default), so each is stored and counted, under the one label value 'other'.
    gw = await startGateway();
    // A series is a metric name with its labels. Node's own GC and event-loop metrics gain series
    // as the process warms up (a new GC kind), whatever the traffic, so they are left out.
    const series = async () =>
      (await (await fetch(`${gw!.url}/metrics`)).text())
        .split('\n')
        .filter((l) => l && !l.startsWith('#') && !l.startsWith('nodejs_') && !l.startsWith('process_'))
        .map((l) => l.slice(0, l.lastIndexOf(' ')))
        .sort();
    // Warm up: the first refusal creates the 'other' series.
    await gw.post('/webhook/warmup', {});
    const before = await series();
    for (let i = 0; i < 10_000; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => gw!.post(`/webhook/unknown-${i + j}/path`, {})));
    }
    expect(await series()).toEqual(before);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toContain('webhook_received_total{endpoint="/webhook",source="other"} 10001');
    expect(text).toContain('webhook_ingest_outcomes_total{source="other",outcome="accepted"} 10001');
  });
});

it('never shows a secret in any log line or API response, nor stores signature headers', async () => {
  gw = await startGateway({ LOG_LEVEL: 'debug' });
  const secret = 'very-secret-value-42';
  const responses: string[] = [];
  const keep = <R extends { json: unknown }>(r: R) => {
    responses.push(JSON.stringify(r.json));
    return r;
  };
  keep(await gw.put('/sources/gh', { verification: { scheme: 'github', secrets: [secret] }, dedup: { header: 'x-github-delivery' } }));
  keep(await gw.get('/sources/gh'));
  keep(await gw.get('/sources'));
  // A bad source echoing the secret in an invalid field is refused without echoing it.
  keep(await gw.put('/sources/bad', { verification: { scheme: 'hmac', secrets: [secret], header: secret + ' bad' } }));
  const body = '{"a":1}';
  const ok = keep(await gw.post('/webhook/gh', body, { 'content-type': 'application/json', 'x-hub-signature-256': sign(secret, body), 'x-github-delivery': 'd1', authorization: 'Bearer abc', cookie: 'c=1' }));
  // A sender putting the secret itself where a signature goes, and in other headers.
  keep(await gw.post('/webhook/gh', body, { 'content-type': 'application/json', 'x-hub-signature-256': secret, 'x-api-key': secret }));
  keep(await gw.get(`/status/${(ok.json as { webhook_id: number }).webhook_id}`));
  keep(await gw.post('/drain', {}));
  keep(await gw.get('/routing-rules'));
  // Ad-hoc SQL may not read the sources table, in any spelling.
  for (const sql of ['SELECT config FROM sources', 'SELECT reverse(CAST(config AS VARCHAR)) FROM main."Sources"', 'WITH s AS (SELECT * FROM sources) SELECT * FROM s']) {
    const res = keep(await gw.post('/admin/sql', { sql }));
    expect([sql, res.status]).toEqual([sql, 400]);
  }
  // Something that logs the secret's text directly must still be masked.
  gw.gateway.log.error({ detail: `oops ${secret}` }, `failed with ${secret}`);
  gw.gateway.log.flush();
  await new Promise((r) => setTimeout(r, 50));
  expect(gw.logs.length).toBeGreaterThan(0);
  for (const line of [...gw.logs, ...responses]) expect(line).not.toContain(secret);
  expect(gw.logs.some((l) => l.includes('failed with [redacted]'))).toBe(true);

  const [row] = await gw.gateway.store.read('SELECT CAST(headers AS VARCHAR) AS h FROM webhooks');
  const stored = JSON.parse(row!.h as string);
  expect(stored).toMatchObject({ 'x-hub-signature-256': '[redacted]', authorization: '[redacted]', cookie: '[redacted]', 'x-github-delivery': 'd1' });
});

it('keeps sensitive headers verbatim when STORE_SENSITIVE_HEADERS is on', async () => {
  gw = await startGateway({ STORE_SENSITIVE_HEADERS: 'true' });
  await gw.post('/webhook/any', { a: 1 }, { authorization: 'Bearer keep-me' });
  const [row] = await gw.gateway.store.read('SELECT headers->>\'authorization\' AS a FROM webhooks');
  expect(row!.a).toBe('Bearer keep-me');
});
