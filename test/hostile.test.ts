// Hostile input through the real HTTP interface: oversized bodies (declared and chunked), JSON
// nested 100,000 deep, invalid UTF-8, binary and form bodies, content-type rules, header floods.
// Never a 500; every refusal carries a stable code.
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createRule, startGateway, startTarget, type Target, type TestGateway } from './helpers.js';

let gw: TestGateway | undefined;
const targets: Target[] = [];
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  await Promise.all(targets.splice(0).map((t) => t.close()));
});

interface RawAnswer {
  status: number;
  body: string;
  /** Bytes of the request body written before the answer arrived. */
  sentBeforeAnswer: number;
}

/**
 * Streams `total` bytes of body in 64 KiB chunks, pausing between chunks, and stops writing as
 * soon as an answer arrives: the answer must come while most of the body is still unsent.
 */
/**
 * Streams `total` bytes in 64 KiB chunks: quickly up to `limit`, then slowly (20 ms a chunk), so
 * the size bounds below hold even when the machine is busy and the answer takes a while.
 */
function streamBody(url: string, path: string, total: number, chunked: boolean, limit: number): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream' };
    if (!chunked) headers['content-length'] = total;
    const req = request({ host: u.hostname, port: u.port, path, method: 'POST', headers });
    let sent = 0;
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), sentBeforeAnswer: sent });
        req.destroy();
      });
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = () => {
      if (answered || req.destroyed) return;
      if (sent >= total) {
        req.end();
        return;
      }
      req.write(chunk);
      sent += chunk.length;
      setTimeout(pump, sent > limit ? 20 : 2);
    };
    pump();
  });
}

async function countWebhooks(): Promise<number> {
  const [row] = await gw!.gateway.store.read('SELECT count(*)::INT AS n FROM webhooks');
  return row!.n as number;
}

describe('body size', () => {
  it('answers an 11 MB body 413 payload_too_large before it is sent, storing nothing', async () => {
    gw = await startGateway();
    // Content-Length alone tells the server: it must answer without waiting for the body.
    const res = await streamBody(gw.url, '/webhook/big', 11 * 1024 * 1024, false, 0);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('payload_too_large');
    expect(res.sentBeforeAnswer).toBeLessThan(2 * 1024 * 1024);
    expect(await countWebhooks()).toBe(0);
  });

  it('answers an oversize chunked body 413 as soon as the limit is crossed, without reading the rest', async () => {
    gw = await startGateway({ MAX_BODY_BYTES: String(256 * 1024) });
    const res = await streamBody(gw.url, '/webhook/chunked', 64 * 1024 * 1024, true, 256 * 1024);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('payload_too_large');
    // The limit is 256 KiB; the sender was stopped long before its 64 MiB.
    expect(res.sentBeforeAnswer).toBeLessThan(4 * 1024 * 1024);
    expect(await countWebhooks()).toBe(0);
  });

  it("applies a source's own max_body_bytes", async () => {
    gw = await startGateway();
    await gw.put('/sources/tiny', { verification: { scheme: 'none' }, max_body_bytes: 100 });
    const res = await gw.post('/webhook/tiny', 'x'.repeat(101), { 'content-type': 'text/plain' });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('payload_too_large');
    expect((await gw.post('/webhook/tiny', 'x'.repeat(100), { 'content-type': 'text/plain' })).status).toBe(202);
  });
});

describe('bodies that are not plain JSON', () => {
  it('stores JSON nested 100,000 deep as bytes (payload NULL), and routing survives it', async () => {
    gw = await startGateway();
    const t = await startTarget();
    targets.push(t);
    await createRule(gw, { rule_name: 'all', filter_query: 'true', transform_query: 'SELECT payload', target_url: `${t.url}/in` });
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const objects = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
    for (const body of [deep, objects]) {
      const res = await gw.post('/webhook/deep', body, { 'content-type': 'application/json' });
      expect(res.status).toBe(202);
      const [row] = await gw.gateway.store.read('SELECT payload, octet_length(raw_body)::INT AS n FROM webhooks_raw WHERE id = $1', [res.json.webhook_id]);
      expect(row).toEqual({ payload: null, n: body.length });
    }
    const drained = await gw.post('/drain', {});
    expect(drained.status).toBe(200);
    expect(drained.json.delivered).toBe(2);
    expect(t.received.map((r) => r.body.length).sort()).toEqual([deep.length, objects.length].sort());
  });

  it('stores invalid UTF-8 as its exact bytes with payload NULL', async () => {
    gw = await startGateway();
    const bytes = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
    const res = await gw.post('/webhook/utf', new Uint8Array(bytes), { 'content-type': 'application/json' });
    expect(res.status).toBe(202);
    const [row] = await gw.gateway.store.read('SELECT payload, raw_body FROM webhooks_raw');
    expect(row!.payload).toBeNull();
    expect(Buffer.from((row!.raw_body as { bytes: Uint8Array }).bytes)).toEqual(bytes);
  });

  it('stores binary and form bodies as bytes, and a content_types rule refuses them with 415', async () => {
    gw = await startGateway();
    const binary = new Uint8Array([0x00, 0x01, 0xfe, 0xff, 0x7b]);
    const form = 'a=1&b=%7B%22x%22%3A1%7D';
    expect((await gw.post('/webhook/open', binary, { 'content-type': 'application/octet-stream' })).status).toBe(202);
    expect((await gw.post('/webhook/open', form, { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(202);
    const rows = await gw.gateway.store.read('SELECT payload, raw_body FROM webhooks_raw ORDER BY id');
    expect(rows.map((r) => r.payload)).toEqual([null, null]);
    expect(Buffer.from((rows[1]!.raw_body as { bytes: Uint8Array }).bytes).toString()).toBe(form);

    await gw.put('/sources/jsononly', { verification: { scheme: 'none' }, content_types: ['application/json'] });
    for (const [body, type] of [[binary, 'application/octet-stream'], [form, 'application/x-www-form-urlencoded']] as const) {
      const res = await gw.post('/webhook/jsononly', body, { 'content-type': type });
      expect(res.status).toBe(415);
      expect(res.json.error.code).toBe('unsupported_media_type');
    }
    const noType = await fetch(`${gw.url}/webhook/jsononly`, { method: 'POST', body: new Uint8Array([1, 2]) });
    expect(noType.status).toBe(415);
    const ok = await gw.post('/webhook/jsononly', { fine: true }, { 'content-type': 'application/json; charset=utf-8' });
    expect(ok.status).toBe(202);
    expect(await countWebhooks()).toBe(3);
  });
});

describe('headers', () => {
  it('refuses too many headers with 431 too_many_headers', async () => {
    gw = await startGateway({ MAX_HEADERS_COUNT: '50' });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (let i = 0; i < 60; i++) headers[`x-flood-${i}`] = 'y';
    const res = await gw.post('/webhook/flood', '{}', headers);
    expect(res.status).toBe(431);
    expect(res.json.error.code).toBe('too_many_headers');
    expect(await countWebhooks()).toBe(0);
  });
});
