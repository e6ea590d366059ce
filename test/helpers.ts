// Real parts for tests: a gateway on a temp DuckDB file behind a real HTTP listener, real HTTP
// targets on ephemeral ports, and a clock the test moves by hand.
import { serve } from '@hono/node-server';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach } from 'vitest';
import { loadConfig } from '../runtime/config.js';
import { createGateway, type Gateway, type GatewayOptions } from '../runtime/gateway.js';
import { createLogger } from '../runtime/log.js';

export function tempDir(prefix = 'duckhook-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The admin token test gateways are started with; helpers send it unless told otherwise. */
export const TEST_ADMIN_TOKEN = 'test-admin-token';

export class ManualClock {
  constructor(public t = Date.parse('2026-01-01T00:00:00Z')) {}
  now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export type Answer = number | { status: number; headers?: Record<string, string>; body?: string };

export interface Target {
  url: string;
  received: Received[];
  close: () => Promise<void>;
}

/** A real HTTP target; `respond` picks the status (and headers) for the n-th request (0-based). */
export async function startTarget(
  respond: (n: number, req: Received) => Answer | Promise<Answer> = () => 200,
): Promise<Target> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const r: Received = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      const n = received.length;
      received.push(r);
      const answer = await respond(n, r);
      const a = typeof answer === 'number' ? { status: answer } : answer;
      res.writeHead(a.status, { 'content-type': 'text/plain', ...a.headers });
      res.end(a.body ?? `answer ${a.status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface TestGateway {
  url: string;
  gateway: Gateway;
  clock: ManualClock;
  logs: string[];
  dbPath: string;
  post: (path: string, body: unknown, headers?: Record<string, string>) => Promise<{ status: number; json: any }>;
  put: (path: string, body?: unknown) => Promise<{ status: number; json: any }>;
  get: (path: string) => Promise<{ status: number; json: any }>;
  close: () => Promise<void>;
}

/**
 * A gateway on a fresh temp DuckDB file behind a real HTTP listener. By default the processor
 * timers are off and the clock is manual, so a test drives /drain and /retry itself.
 */
export async function startGateway(
  env: Record<string, string> = {},
  opts: { realClock?: boolean; resolve?: GatewayOptions['resolve'] } = {},
): Promise<TestGateway> {
  const tmp = tempDir();
  const dbPath = join(tmp.dir, 'gateway.db');
  const clock = new ManualClock();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const config = loadConfig({ DATABASE_PATH: dbPath, PROCESSOR: 'false', LOG_LEVEL: 'info', ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...env });
  const gateway = await createGateway(config, {
    now: opts.realClock ? Date.now : clock.now,
    random: () => 0.5, // jitter factor exactly 1: delays follow the policy to the millisecond
    resolve: opts.resolve,
    log: createLogger(config.logLevel, sink),
  });
  gateway.start();
  const server = serve({ fetch: gateway.app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, body?: unknown, extra: Record<string, string> = {}) => {
    const headers = { authorization: `Bearer ${config.adminToken ?? ''}`, ...extra };
    const res = await fetch(url + path, {
      method,
      headers: body === undefined || typeof body !== 'object' || body instanceof Uint8Array ? headers : { 'content-type': 'application/json', ...headers },
      body: (body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body)) as BodyInit | undefined,
    });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, json: json as any };
  };
  return {
    url,
    gateway,
    clock,
    logs,
    dbPath,
    post: (path, body, headers) => call('POST', path, body, headers),
    put: (path, body) => call('PUT', path, body),
    get: (path) => call('GET', path),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.stop();
      tmp.cleanup();
    },
  };
}

/**
 * Returns a `startTarget` whose targets are closed after each test. Call it before the file
 * registers its gateway's afterEach: vitest runs after-hooks in reverse, so the gateway stops
 * delivering before its targets go away.
 */
export function targetsClosedAfterEach(): typeof startTarget {
  const open: Target[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  return async (respond) => {
    const t = await startTarget(respond);
    open.push(t);
    return t;
  };
}

/** Creates a rule through the admin API and fails loudly if it is refused. */
export async function createRule(gw: TestGateway, rule: Record<string, unknown>): Promise<number> {
  const res = await gw.post('/routing-rules', rule);
  if (res.status !== 201) throw new Error(`rule refused: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json.id as number;
}

/** Polls `check` until it returns true or `ms` pass. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}
