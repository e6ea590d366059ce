// createGateway(config) -> { app, start, stop }: builds the dependencies, mounts the handler
// apps on one Hono app, and runs the drain and retry timers. Nothing here touches the network
// listener; runtime/main.ts is the only file that imports @hono/node-server.
import { Hono } from 'hono';
import { createAdmin } from '../handlers/admin.js';
import { createDrain } from '../handlers/drain.js';
import { createIngest } from '../handlers/ingest.js';
import { createMetricsHandler } from '../handlers/metrics.js';
import { createRetry } from '../handlers/retry.js';
import { createStatus } from '../handlers/status.js';
import type { Config } from './config.js';
import { openDatabase } from './db.js';
import { Deliverer } from './deliver.js';
import { GroupCommitter } from './group-commit.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics } from './metrics.js';
import { createProcessor } from './processor.js';
import { RuleSandbox } from './sandbox.js';
import { DuckDBStore, type NewWebhook } from './store.js';
import { Waker } from './waker.js';

export interface GatewayOptions {
  /** Clock in epoch ms; tests pass a controllable one so backoff and leases need no sleeping. */
  now?: () => number;
  random?: () => number;
  log?: Logger;
}

export type Gateway = Awaited<ReturnType<typeof createGateway>>;

/** Opens the database and wires every handler; call start() for the timers and stop() to shut down. */
export async function createGateway(config: Config, opts: GatewayOptions = {}) {
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const log = opts.log ?? createLogger(config.logLevel);
  const instance = await openDatabase({
    path: config.databasePath,
    memoryLimit: config.duckdbMemoryLimit,
    threads: config.duckdbThreads,
    checkpointThreshold: config.checkpointIntervalMs > 0 ? config.checkpointThreshold : undefined,
  });
  const store = await DuckDBStore.open(instance, config.databasePath, now(), config.commitConcurrency);
  const sandbox = await RuleSandbox.create(config.ruleTimeoutMs);
  const metrics = createMetrics();
  const deliverer = new Deliverer({
    connections: config.deliveryConcurrency,
    responseBodyMaxBytes: config.responseBodyMaxBytes,
    connectTimeoutMs: 5000,
  });

  const drainWaker = new Waker();
  const retryWaker = new Waker();
  const committer = new GroupCommitter<NewWebhook, number>({
    write: (batch) => store.insertWebhooks(batch),
    windowMs: config.commitWindowMs,
    maxBatch: config.commitMaxBatch,
    maxInFlight: config.commitConcurrency,
    onCommitted: () => drainWaker.wake(),
  });

  const processor = createProcessor({
    store,
    sandbox,
    deliverer,
    metrics,
    log,
    now,
    random,
    defaults: { maxRetries: config.maxRetries, backoffMultiplier: config.backoffMultiplier, baseDelaySeconds: config.retryDelaySeconds },
    backoff: { maxDelaySeconds: config.maxRetryDelaySeconds, jitter: config.retryJitter },
    leaseMs: config.leaseMs,
    batchSize: config.batchSize,
    concurrency: config.deliveryConcurrency,
  });

  let running = false;
  const loops: Promise<void>[] = [];
  const limits = { defaultMax: config.batchSize, defaultTimeMs: 5000 };

  const app = new Hono();
  const mount = (sub: Hono) => app.route('/', sub);
  mount(createIngest({ committer, maxBodyBytes: config.maxBodyBytes, now, metrics, log }));
  mount(createDrain({ processor, limits, log }));
  mount(createRetry({ processor, limits, log }));
  mount(createMetricsHandler({ metrics, store, log }));
  mount(createStatus({ store, processorState: () => (!config.processor ? 'external' : running ? 'running' : 'stopped'), log }));
  mount(createAdmin({ store, sandbox, adminToken: config.adminToken, now, log }));

  /** A loop that runs `step` back to back while it finds work, else sleeps `idleMs` or until woken. */
  function loop(name: string, idleMs: number, step: () => Promise<boolean>, waker: Waker) {
    return (async () => {
      while (running) {
        let busy = false;
        try {
          busy = await step();
        } catch (err) {
          log.error({ err, loop: name }, 'processor step failed');
        }
        if (!busy && running) await waker.sleep(idleMs);
      }
    })();
  }

  // The checkpointer runs even when the processor timers are off: ingest alone fills the WAL.
  let checkpointTimer: NodeJS.Timeout | null = null;
  let checkpointing: Promise<unknown> = Promise.resolve();
  if (config.checkpointIntervalMs > 0) {
    checkpointTimer = setInterval(() => {
      checkpointing = store.checkpoint().catch((err: unknown) => log.warn({ err }, 'checkpoint failed; will retry'));
    }, config.checkpointIntervalMs);
    checkpointTimer.unref();
  }

  function start(): void {
    if (running || !config.processor) return;
    running = true;
    for (let i = 0; i < config.drainWorkers; i++) {
      loops.push(
        loop(`drain-${i}`, config.drainIntervalMs, async () => {
          const r = await processor.drain({ max: config.batchSize, timeMs: 1000 });
          return r.routed > 0 || r.claimed > 0;
        }, drainWaker),
      );
    }
    loops.push(
      loop('retry', config.retryIntervalMs, async () => {
        const r = await processor.retry({ max: config.batchSize * 10, timeMs: 1000 });
        return r.claimed > 0;
      }, retryWaker),
    );
    log.info({ database: config.databasePath }, 'processor started');
  }

  /** Flushes pending commits, lets in-flight deliveries finish, hands back leases, checkpoints, closes. */
  async function stop(): Promise<void> {
    if (checkpointTimer) clearInterval(checkpointTimer);
    await committer.close();
    running = false;
    drainWaker.wake();
    retryWaker.wake();
    await Promise.all(loops);
    const released = await store.releaseLeases(now());
    if (released > 0) log.warn({ count: released }, 'released leases on shutdown');
    await deliverer.close();
    await checkpointing;
    await store.close();
    sandbox.close();
    instance.closeSync();
    log.info('stopped');
  }

  return { app, start, stop, store, processor, metrics, config, committer, log };
}
