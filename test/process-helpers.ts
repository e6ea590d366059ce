// The gateway as a real child process (dist/runtime.js), for crash, shutdown and lock tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { Pool } from 'undici';
import { TEST_ADMIN_TOKEN } from './helpers.js';

export interface Child {
  proc: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts dist/runtime.js and resolves once it prints its listening line. */
export function spawnGateway(env: Record<string, string>): Promise<Child> {
  const proc = spawn(process.execPath, ['dist/runtime.js'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[\d.:]+)/.exec(out);
      if (m) resolve({ proc, url: m[1]!, stdout: () => out, stderr: () => err, exited });
    });
    void exited.then((code) => reject(new Error(`gateway exited with ${code} before listening: ${err}`)));
  });
}

/**
 * Posts `count` webhooks with `connections` in flight; returns the ids that got a 202.
 * Requests cut off by a crash count as not acknowledged, which is what the sender would see.
 */
export async function burst(url: string, count: number, connections: number, onProgress?: (acked: number) => void) {
  const pool = new Pool(url, { connections });
  const acked: number[] = [];
  let failed = 0;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      try {
        const res = await pool.request({
          method: 'POST',
          path: `/webhook/load/${i % 7}`,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ event_type: 'order.created', seq: i, pad: 'x'.repeat(800) }),
        });
        const body = (await res.body.json()) as { webhook_id?: number };
        if (res.statusCode === 202 && typeof body.webhook_id === 'number') {
          acked.push(body.webhook_id);
          onProgress?.(acked.length);
        } else failed++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  await pool.destroy();
  return { acked, failed };
}

export async function postJson(url: string, path: string, body: unknown, method = 'POST') {
  const res = await fetch(url + path, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}
