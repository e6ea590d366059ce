// Load generation with autocannon (in this process; every server under test is a child process).
import autocannon, { type Result } from 'autocannon';

/** autocannon replaces each `[<id>]` in the body with a fresh 27-character id per request. */
const ID = '[<id>]';
const ID_GROWTH = 27 - ID.length;

/** The size of a body from webhookBody() once autocannon has filled in its ids. */
export function sentLength(body: string): number {
  return Buffer.byteLength(body) + (body.split(ID).length - 1) * ID_GROWTH;
}

/**
 * A ~1 KiB JSON order event. The order and customer ids are `[<id>]` placeholders that autocannon
 * makes unique per request, so stored rows differ as real webhooks do (identical bodies would
 * compress to nothing and make checkpoints unrealistically cheap).
 */
export function webhookBody(bytes = 1024): string {
  const base = {
    event_type: 'order.created',
    order_id: `ord_${ID}`,
    created_at: '2024-05-01T12:34:56Z',
    customer: { id: `cus_${ID}`, email: 'jane.doe@example.com', name: 'Jane Doe', country: 'KR' },
    items: [
      { sku: 'SKU-0001', name: 'Rubber duck, classic yellow', qty: 2, unit_price: 1299 },
      { sku: 'SKU-0042', name: 'Rubber duck, pirate edition', qty: 1, unit_price: 1899 },
    ],
    total: 4497,
    currency: 'USD',
    note: '',
  };
  base.note = 'x'.repeat(Math.max(0, bytes - sentLength(JSON.stringify(base))));
  return JSON.stringify(base);
}

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  /** Stop after this many requests instead of after `seconds`. */
  amount?: number;
  body: string;
  /** Called every second with the 2xx responses seen so far (for timelines). */
  onSecond?: (elapsedS: number, ok: number) => void;
}

export interface LoadResult {
  seconds: number;
  ok: number;
  reqPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Responses slower than 100 ms. */
  slow: number;
  /** 2xx responses in each whole second of the run. */
  perSecond: number[];
  /** Seconds whose slowest response took over 250 ms (stalls, e.g. checkpoints). */
  stallSeconds: number;
  statusCodes: Record<string, number>;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const started = performance.now();
  let ok = 0;
  let slow = 0;
  const perSecond: number[] = [];
  const maxPerSecond: number[] = [];
  const instance = autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.seconds,
    ...(opts.amount ? { amount: opts.amount } : {}),
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-bench': 'duckhook' },
    body: opts.body,
    idReplacement: true,
    timeout: 30,
  });
  // Two comparisons and an array index per response: cheap next to the request itself.
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, ms: number) => {
    const s = Math.floor((performance.now() - started) / 1000);
    if (statusCode >= 200 && statusCode < 300) {
      ok++;
      perSecond[s] = (perSecond[s] ?? 0) + 1;
    }
    if (ms > 100) slow++;
    if (ms > (maxPerSecond[s] ?? 0)) maxPerSecond[s] = ms;
  });
  let tick: NodeJS.Timeout | undefined;
  if (opts.onSecond) {
    const onSecond = opts.onSecond;
    tick = setInterval(() => onSecond((performance.now() - started) / 1000, ok), 1000);
  }
  let r: Result;
  try {
    r = await instance;
  } finally {
    if (tick) clearInterval(tick);
  }
  const whole = Math.floor(r.duration);
  const seconds = Array.from({ length: whole }, (_, i) => perSecond[i] ?? 0);
  return {
    seconds: r.duration,
    ok: r['2xx'],
    reqPerSec: r['2xx'] / r.duration,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    p999: r.latency.p99_9,
    max: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    slow,
    perSecond: seconds,
    stallSeconds: maxPerSecond.slice(0, whole).filter((m) => m > 250).length,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats).map(([k, v]) => [k, v.count])),
  };
}
