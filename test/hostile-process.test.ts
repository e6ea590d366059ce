// Slow and oversized requests against the real runtime process (dist/runtime.js), whose Node
// server carries the header/request timeouts and header limits (runtime/http-limits.ts).
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { spawnGateway, type Child } from './process-helpers.js';

const children: Child[] = [];
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) {
      c.proc.kill('SIGTERM');
      await c.exited;
    }
  }
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function gateway(env: Record<string, string>) {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const c = await spawnGateway({ DATABASE_PATH: join(tmp.dir, 'h.db'), PROCESSOR: 'false', ...env });
  children.push(c);
  return c;
}

/** A raw TCP connection; resolves `closed` with what the server sent once it hangs up. */
function rawConnection(url: string) {
  const u = new URL(url);
  const socket: Socket = connect(Number(u.port), u.hostname);
  let received = '';
  socket.on('data', (d) => (received += d.toString()));
  socket.on('error', () => undefined);
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
  return { socket, closed, ready: new Promise<void>((r) => socket.once('connect', () => r())) };
}

it('closes a slowloris connection while other clients are served', async () => {
  const gw = await gateway({ HEADERS_TIMEOUT_MS: '1000', REQUEST_TIMEOUT_MS: '2000' });
  const slow = rawConnection(gw.url);
  await slow.ready;
  const started = Date.now();
  slow.socket.write('POST /webhook/slow HTTP/1.1\r\nHost: x\r\n');
  // One header byte every 100 ms: never finishing the headers, never idle long enough for an idle timeout.
  const drip = setInterval(() => {
    if (!slow.socket.destroyed) slow.socket.write('X');
  }, 100);
  try {
    // Meanwhile other senders are answered promptly.
    const statuses: number[] = [];
    while (!slow.socket.destroyed && Date.now() - started < 10_000) {
      const res = await fetch(`${gw.url}/webhook/fast`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
      statuses.push(res.status);
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 100));
    }
    const answer = await slow.closed;
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(4000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer).toContain('"code":"request_timeout"');
    expect(statuses.length).toBeGreaterThan(3);
    expect(statuses.every((s) => s === 202)).toBe(true);
  } finally {
    clearInterval(drip);
    slow.socket.destroy();
  }
});

it('closes a connection that sends its body too slowly', async () => {
  const gw = await gateway({ HEADERS_TIMEOUT_MS: '1000', REQUEST_TIMEOUT_MS: '1500' });
  const slow = rawConnection(gw.url);
  await slow.ready;
  const started = Date.now();
  slow.socket.write('POST /webhook/slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n');
  const drip = setInterval(() => {
    if (!slow.socket.destroyed) slow.socket.write(' ');
  }, 100);
  try {
    await slow.closed;
    expect(Date.now() - started).toBeLessThan(4000);
  } finally {
    clearInterval(drip);
  }
});

it('refuses oversized headers with 431 headers_too_large', async () => {
  const gw = await gateway({ MAX_HEADER_BYTES: '4096' });
  const res = await fetch(`${gw.url}/webhook/big`, { method: 'POST', body: '{}', headers: { 'x-big': 'y'.repeat(8000) } });
  expect(res.status).toBe(431);
  expect((await res.json()).error.code).toBe('headers_too_large');
  const ok = await fetch(`${gw.url}/webhook/big`, { method: 'POST', body: '{}', headers: { 'x-small': 'y'.repeat(1000) } });
  expect(ok.status).toBe(202);
});
