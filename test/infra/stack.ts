// Prometheus and Alertmanager for the infra tests, for real: containers started by
// testcontainers where a Docker engine is reachable, else Debian's binaries as child processes,
// else nothing (and the tests say so and skip).
//
// Containers run on the host network so they reach test gateways on 127.0.0.1, and listen on
// free ephemeral ports (--web.listen-address) so parallel runs never collide. No registry is
// reachable where this project is developed: infra/images/build.sh makes duckhook/prometheus:local
// and duckhook/alertmanager:local with `docker import`, and those are used when present.
//
// Environment:
//   DUCKHOOK_INFRA_MODE   auto (default) | container | binary. `container` fails instead of
//                         falling back (.ci/run sets it once its daemon is up and the images built).
//   PROMETHEUS_IMAGE      default duckhook/prometheus:local if the engine has it, else prom/prometheus
//   ALERTMANAGER_IMAGE    default duckhook/alertmanager:local if the engine has it, else prom/alertmanager
//   PROMETHEUS_BIN, ALERTMANAGER_BIN   binaries for the fallback (default: Debian's paths)
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// The reaper (ryuk) image cannot be pulled without a registry; containers are stopped by the
// tests themselves. Set before testcontainers is loaded (it is imported lazily below).
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';

export const OFFICIAL_IMAGES = { prometheus: 'prom/prometheus:v2.53.0', alertmanager: 'prom/alertmanager:v0.27.0' };
export const LOCAL_IMAGES = { prometheus: 'duckhook/prometheus:local', alertmanager: 'duckhook/alertmanager:local' };

type Kind = 'prometheus' | 'alertmanager';

export type Backend =
  | { mode: 'container'; images: Record<Kind, string>; reason: string }
  | { mode: 'binary'; bins: Record<Kind, string>; reason: string }
  | { mode: 'none'; reason: string };

/** Finds an executable: an absolute path as is, a bare name on PATH. */
export function findBinary(...names: (string | undefined)[]): string | null {
  for (const name of names) {
    if (!name) continue;
    const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '').split(':').map((d) => join(d, name));
    for (const c of candidates) {
      try {
        accessSync(c, constants.X_OK);
        return c;
      } catch {
        // not here
      }
    }
  }
  return null;
}

function binaries(): Record<Kind, string> | null {
  const prometheus = findBinary(process.env.PROMETHEUS_BIN, '/usr/bin/prometheus', 'prometheus');
  const alertmanager = findBinary(process.env.ALERTMANAGER_BIN, '/usr/bin/prometheus-alertmanager', 'prometheus-alertmanager', 'alertmanager');
  return prometheus && alertmanager ? { prometheus, alertmanager } : null;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Picks how to run Prometheus and Alertmanager here, and says why. */
export async function pickBackend(): Promise<Backend> {
  const wanted = process.env.DUCKHOOK_INFRA_MODE ?? 'auto';
  let engineProblem = 'DUCKHOOK_INFRA_MODE=binary';
  if (wanted !== 'binary') {
    try {
      const { getContainerRuntimeClient, ImageName } = await import('testcontainers');
      const client = await withTimeout(getContainerRuntimeClient(), 15_000, 'container runtime');
      const images = { ...OFFICIAL_IMAGES };
      const notes: string[] = [];
      for (const kind of ['prometheus', 'alertmanager'] as const) {
        const fromEnv = process.env[`${kind.toUpperCase()}_IMAGE`];
        if (fromEnv) {
          images[kind] = fromEnv;
          notes.push(`${kind} image ${fromEnv} (from ${kind.toUpperCase()}_IMAGE)`);
        } else if (await client.image.exists(ImageName.fromString(LOCAL_IMAGES[kind]))) {
          images[kind] = LOCAL_IMAGES[kind];
          notes.push(`${kind} image ${LOCAL_IMAGES[kind]} (built by infra/images/build.sh)`);
        } else {
          notes.push(`${kind} image ${OFFICIAL_IMAGES[kind]} (pulled from the registry)`);
        }
      }
      return { mode: 'container', images, reason: `Docker engine ${client.info.containerRuntime.host}; ${notes.join(', ')}` };
    } catch (err) {
      engineProblem = `no Docker engine reachable (${(err as Error).message.split('\n')[0]})`;
      if (wanted === 'container') throw new Error(`DUCKHOOK_INFRA_MODE=container but ${engineProblem}`);
    }
  }
  const bins = binaries();
  if (bins) return { mode: 'binary', bins, reason: `${engineProblem}; running ${bins.prometheus} and ${bins.alertmanager} as child processes` };
  return {
    mode: 'none',
    reason: `${engineProblem}, and no prometheus/alertmanager binaries (apt-get install prometheus prometheus-alertmanager, or set PROMETHEUS_BIN/ALERTMANAGER_BIN)`,
  };
}

/** A port that was free a moment ago (the kernel hands out ephemeral ports round-robin). */
export async function freePort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Service {
  url: string;
  mode: 'container' | 'binary';
  logs: () => string;
  stop: () => Promise<void>;
}

/** Config files by name, built once their folder and the service's own host:port are known. */
export type Files = (dir: string, self: string) => Record<string, string>;

const SPECS = {
  prometheus: {
    // Where the official image and ours keep their data; writable by the image's user.
    dataDir: '/prometheus',
    ready: /Server is ready to receive web requests/,
    args: (dir: string, data: string, port: number) => [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${data}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
    ],
  },
  alertmanager: {
    dataDir: '/alertmanager',
    ready: /Listening on/,
    args: (dir: string, data: string, port: number) => [
      `--config.file=${dir}/alertmanager.yml`,
      `--storage.path=${data}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // An empty cluster address turns gossip off (it would take port 9094 on the host network).
      '--cluster.listen-address=',
    ],
  },
} as const;

/** Starts Prometheus or Alertmanager with the given config files; resolves once it serves. */
export async function startService(backend: Exclude<Backend, { mode: 'none' }>, kind: Kind, files: Files): Promise<Service> {
  const spec = SPECS[kind];
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Config files go to a host folder first: the binaries read it in place, containers get a copy.
  const root = mkdtempSync(join(tmpdir(), `duckhook-${kind}-`));
  const dir = backend.mode === 'container' ? `/etc/duckhook-${kind}` : join(root, 'etc');
  for (const [name, content] of Object.entries(files(dir, `127.0.0.1:${port}`))) {
    mkdirSync(dirname(join(root, 'etc', name)), { recursive: true });
    writeFileSync(join(root, 'etc', name), content);
  }
  const cleanup = () => rmSync(root, { recursive: true, force: true });
  let service: Service;
  if (backend.mode === 'container') {
    const { GenericContainer, Wait } = await import('testcontainers');
    let out = '';
    const container = await new GenericContainer(backend.images[kind])
      .withNetworkMode('host')
      .withCommand(spec.args(dir, spec.dataDir, port))
      .withCopyDirectoriesToContainer([{ source: join(root, 'etc'), target: dir }])
      .withWaitStrategy(Wait.forLogMessage(spec.ready))
      .withStartupTimeout(60_000)
      .withLogConsumer((stream) => stream.on('data', (d: Buffer | string) => (out += String(d))))
      .start()
      .catch((err: Error) => {
        cleanup();
        throw new Error(`${kind} container (${backend.images[kind]}) did not start: ${err.message}\n${out}`);
      });
    service = {
      url,
      mode: 'container',
      logs: () => out,
      stop: async () => {
        await container.stop({ timeout: 2_000 });
        cleanup();
      },
    };
  } else {
    const proc = spawn(backend.bins[kind], spec.args(dir, join(root, 'data'), port), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${kind} not ready in 60 s:\n${out}`)), 60_000);
      const onData = (d: Buffer) => {
        out += String(d);
        if (spec.ready.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${kind} exited with ${code} before it was ready:\n${out}`));
      });
    }).catch(async (err: Error) => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
      cleanup();
      throw err;
    });
    service = {
      url,
      mode: 'binary',
      logs: () => out,
      stop: async () => {
        if (proc.exitCode === null) proc.kill('SIGTERM');
        await exited;
        cleanup();
      },
    };
  }
  // The log line comes just before the listener answers; wait for the HTTP readiness endpoint.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return service;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await service.stop();
      throw new Error(`${kind} at ${url} never became ready:\n${service.logs()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
