// createGateway(config) -> { app, start, stop }: builds the dependencies, mounts the handler
// apps on one Hono app, and runs the drain and retry timers. Nothing here touches the network
// listener; runtime/main.ts is the only file that imports @hono/node-server.
import { Hono } from 'hono';
import { createAdmin } from '../handlers/admin.js';
import { createDrain } from '../handlers/drain.js';
import { notFound, onError } from '../handlers/errors.js';
import { createIngest } from '../handlers/ingest.js';
import { createMetricsHandler } from '../handlers/metrics.js';
import { createRetry } from '../handlers/retry.js';
import { createSourcesAdmin } from '../handlers/sources.js';
import { createReplay } from '../handlers/replay.js';
import { createSql } from '../handlers/sql.js';
import { createStatus } from '../handlers/status.js';
import { AdminSql } from './admin-sql.js';
import { backtest } from './backtest.js';
import type { Config } from './config.js';
import { openDatabase } from './db.js';
import { openDeduplicator } from './dedup.js';
import { Deliverer } from './deliver.js';
import { GroupCommitter } from './group-commit.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics } from './metrics.js';
import { NetGuard, type Resolver } from './netguard.js';
import { maskSecrets } from './redact.js';
import { createRuleOutbound } from './outbound.js';
import { createProcessor } from './processor.js';
import { createReplayer } from './replay.js';
import { createRuleService } from './rules.js';
import { RuleSandbox } from './sandbox.js';
import { SourceRegistry } from './sources.js';
import { DuckDBStore, type NewWebhook } from './store.js';
import { dashboardSummary } from './summary.js';
import { Waker } from './waker.js';

export interface GatewayOptions {
  /** Clock in epoch ms; tests pass a controllable one so backoff and leases need no sleeping. */
  now?: () => number;
  random?: () => number;
  log?: Logger;
  /** Resolves target host names for the outbound guard; tests map names to addresses with it. */
  resolve?: Resolver;
}

export type Gateway = Awaited<ReturnType<typeof createGateway>>;

/** Opens the database and wires every handler; call start() for the timers and stop() to shut down. */
export async function createGateway(config: Config, opts: GatewayOptions = {}) {
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const log = opts.log ?? createLogger(config.logLevel);
  // The admin token is a secret like the sources' ones: masked by value in every log line.
  if (config.adminToken) maskSecrets([config.adminToken]);
  const instance = await openDatabase({
    path: config.databasePath,
    memoryLimit: config.duckdbMemoryLimit,
    threads: config.duckdbThreads,
    checkpointThreshold: config.checkpointIntervalMs > 0 ? config.checkpointThreshold : undefined,
  });
  const store = await DuckDBStore.open(instance, config.databasePath, now(), config.commitConcurrency);
  const sandbox = await RuleSandbox.create(config.ruleTimeoutMs);
  // Backtests and replays get a sandbox of their own, so a long one never holds up routing.
  const adminSandbox = await RuleSandbox.create(config.ruleTimeoutMs);
  const adminSql = await AdminSql.create(instance, { timeoutMs: config.adminSqlTimeoutMs, maxRows: config.adminSqlMaxRows });
  const metrics = createMetrics();
  const guard = new NetGuard({ allowlist: config.targetAllowlist, resolve: opts.resolve });
  const deliverer = new Deliverer({
    connections: config.deliveryConcurrency,
    responseBodyMaxBytes: config.responseBodyMaxBytes,
    connectTimeoutMs: 5000,
    guard,
  });
  const sources = await SourceRegistry.open(store, log, now(), config.sourcesFile);
  const dedup = await openDeduplicator(store, now(), sources.longestDedupWindowMs(), config.dedupMemoryKeys);

  const drainWaker = new Waker();
  const retryWaker = new Waker();
  const committer = new GroupCommitter<NewWebhook, number>({
    write: (batch) => store.insertWebhooks(batch),
    windowMs: config.commitWindowMs,
    maxBatch: config.commitMaxBatch,
    maxInFlight: config.commitConcurrency,
    onCommitted: (count, ms) => {
      metrics.commitBatchSize.observe(count);
      metrics.commitDuration.observe(ms / 1000);
      drainWaker.wake();
    },
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

  // Every route answers errors as { error: { code, message } }, unknown routes included. With
  // ADMIN_PORT the admin routes get an app (and listener) of their own, so the public port can be
  // exposed alone; without it both are one app.
  const topLevel = () => new Hono().notFound(notFound()).onError(onError(log));
  const app = topLevel();
  const adminApp = config.adminPort === undefined ? app : topLevel();
  const mount = (sub: Hono) => app.route('/', sub);
  const mountAdmin = (sub: Hono) => adminApp.route('/', sub);
  mount(
    createIngest({
      committer,
      maxBodyBytes: config.maxBodyBytes,
      now,
      metrics,
      log,
      sources,
      dedup,
      unknownSources: config.unknownSources,
      storeSensitiveHeaders: config.storeSensitiveHeaders,
      maxJsonDepth: config.maxJsonDepth,
      maxHeadersCount: config.maxHeadersCount,
    }),
  );
  mountAdmin(createSourcesAdmin({ sources, adminToken: config.adminToken, now, log }));
  mountAdmin(createDrain({ processor, limits, adminToken: config.adminToken, log }));
  mountAdmin(createRetry({ processor, limits, adminToken: config.adminToken, log }));
  mount(createMetricsHandler({ metrics, store, now, log }));
  const status = (adminReads: boolean) =>
    createStatus({
      store,
      summary: () => dashboardSummary(store, now()),
      processorState: () => (!config.processor ? 'external' : running ? 'running' : 'stopped'),
      adminToken: config.adminToken,
      adminReads,
      log,
    });
  // /health and the summary answer on both ports (probes may watch either); /status/{id} and /deliveries are admin.
  mount(status(adminApp === app));
  if (adminApp !== app) mountAdmin(status(true));
  // Every rule write (API, import, RULES_FILE) passes the outbound guard and records forward_headers.
  const rules = createRuleService({ store, sandbox, outbound: createRuleOutbound(guard, store), now, log });
  const history = { store, sandbox: adminSandbox, chunkRows: config.backtestChunkRows };
  mountAdmin(
    createAdmin({
      store,
      rules,
      backtest: (req) => backtest({ ...history, timeLimitMs: config.backtestTimeLimitMs }, req),
      adminToken: config.adminToken,
      now,
      log,
    }),
  );
  const replayer = createReplayer({
    ...history,
    defaults: { maxRetries: config.maxRetries, backoffMultiplier: config.backoffMultiplier, baseDelaySeconds: config.retryDelaySeconds },
    now,
    wake: () => drainWaker.wake(),
    counted: (reason, n) => metrics.replayedDeliveries.inc({ reason }, n),
    log,
    maxWebhooks: config.replayMaxWebhooks,
  });
  mountAdmin(createReplay({ replayer, adminToken: config.adminToken, log }));
  mountAdmin(createSql({ sql: adminSql, maxRows: config.adminSqlMaxRows, adminToken: config.adminToken, log }));
  if (config.rulesFile) {
    const r = await rules.loadFile(config.rulesFile);
    log.info({ file: config.rulesFile, created: r.created.length, updated: r.updated.length, unchanged: r.unchanged.length }, 'RULES_FILE imported');
  }

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
    adminSql.close();
    await store.close();
    sandbox.close();
    adminSandbox.close();
    instance.closeSync();
    log.info('stopped');
  }

  return { app, adminApp: adminApp === app ? undefined : adminApp, start, stop, store, processor, metrics, config, committer, log, sources };
}
