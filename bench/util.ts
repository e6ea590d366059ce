// Shared plumbing for the benchmark: child processes (tracked by pid, always killed), CPU time
// of a pid, Prometheus text parsing, env knobs and table printing.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Progress goes to stderr so stdout carries only the report. */
export function progress(msg: string): void {
  process.stderr.write(`  .. ${msg}\n`);
}

// ---------------------------------------------------------------- env knobs

export function envNum(key: string, fallback: number): number {
  const raw = process.env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${key} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return n;
}

export function envList(key: string, fallback: number[]): number[] {
  const raw = process.env[key];
  if (raw === undefined || raw === '') return fallback;
  const list = raw.split(',').map((s) => Number(s.trim()));
  if (list.some((n) => !Number.isFinite(n) || n <= 0)) throw new Error(`${key} must be a comma-separated list of positive numbers`);
  return list;
}

// ---------------------------------------------------------------- child processes

export interface Child {
  name: string;
  pid: number;
  port: number;
  proc: ChildProcess;
  /** The last lines the child wrote (stdout and stderr), for error reports. */
  tail: string[];
  /** Log lines at pino level warn (40) or above. */
  warnings: string[];
  exited: Promise<number | null>;
  exitCode: number | null | undefined;
}

const children = new Set<Child>();

/**
 * Starts a child and resolves once it prints `listening on http://127.0.0.1:PORT` on stdout.
 * Its output is read continuously (a full pipe would block it) and kept in a short tail.
 */
export function startChild(
  name: string,
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 20_000,
): Promise<Child> {
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (proc.pid === undefined) throw new Error(`${name}: spawn failed`);
  let resolveExit!: (code: number | null) => void;
  const child: Child = {
    name,
    pid: proc.pid,
    port: 0,
    proc,
    tail: [],
    warnings: [],
    exited: new Promise((r) => (resolveExit = r)),
    exitCode: undefined,
  };
  children.add(child);
  proc.on('exit', (code, signal) => {
    child.exitCode = code ?? (signal ? -1 : null);
    children.delete(child);
    resolveExit(code);
  });

  return new Promise<Child>((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => {
      if (!ready) reject(new Error(`${name} did not report listening within ${timeoutMs} ms:\n${child.tail.join('\n')}`));
    }, timeoutMs);
    const onLine = (line: string) => {
      if (!line) return;
      child.tail.push(line);
      if (child.tail.length > 40) child.tail.shift();
      if (line.startsWith('{') && /"level":(4|5|6)\d/.test(line)) {
        if (child.warnings.length < 200) child.warnings.push(line);
      }
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (m && !ready) {
        ready = true;
        clearTimeout(timer);
        child.port = Number(m[1]);
        resolve(child);
      }
    };
    for (const stream of [proc.stdout!, proc.stderr!]) {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          onLine(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
    }
    proc.on('exit', (code) => {
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before listening:\n${child.tail.join('\n')}`));
      }
    });
    proc.on('error', (err) => {
      if (!ready) {
        clearTimeout(timer);
        reject(err);
      }
    });
  });
}

/** SIGTERM by pid, then SIGKILL after `graceMs`. Resolves with how long the child took to exit. */
export async function stopChild(child: Child, graceMs = 10_000): Promise<{ ms: number; killed: boolean }> {
  const started = performance.now();
  if (child.exitCode !== undefined) return { ms: 0, killed: false };
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return { ms: 0, killed: false };
  }
  const timedOut = await Promise.race([child.exited.then(() => false), sleep(graceMs).then(() => true)]);
  if (timedOut) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await Promise.race([child.exited, sleep(2000)]);
  }
  return { ms: performance.now() - started, killed: timedOut };
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c, 5000)));
}

/** For process 'exit': no waiting possible, so SIGKILL every child still running, by pid. */
export function killAllChildrenSync(): void {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
}

// ---------------------------------------------------------------- CPU time

/** User+system CPU seconds of a process (all its threads) from /proc; null where /proc is missing. */
export function cpuSecondsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of /proc/PID/stat (utime, stime) in clock ticks; Linux uses 100 ticks/s.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export function fileSize(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- Prometheus text

export type Samples = Map<string, number>;

/** Parses Prometheus text format into `name{labels}` -> value (labels kept verbatim). */
export function parseProm(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    if (i < 0) continue;
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Sum of every series of `name` whose labels contain `labelFilter` (e.g. 'status="pending"'). */
export function promSum(samples: Samples, name: string, labelFilter = ''): number {
  let sum = 0;
  for (const [key, value] of samples) {
    const brace = key.indexOf('{');
    const n = brace < 0 ? key : key.slice(0, brace);
    if (n === name && key.includes(labelFilter)) sum += value;
  }
  return sum;
}

export async function scrape(port: number): Promise<Samples | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    return parseProm(await res.text());
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- output

export const fmt = {
  int: (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? '-' : Math.round(n).toLocaleString('en-US')),
  ms: (n: number | null | undefined, digits = 1) => (n === null || n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits)),
  ratio: (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? '-' : `${n.toFixed(2)}x`),
  pct: (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? '-' : `${Math.round(n * 100)}%`),
  mb: (n: number | null | undefined) => (n === null || n === undefined ? '-' : `${(n / 1024 / 1024).toFixed(1)} MB`),
};

/** A Markdown table, columns padded; columns whose header starts with '<' are left-aligned. */
export function table(headers: string[], rows: string[][]): string {
  const left = headers.map((h) => h.startsWith('<'));
  const heads = headers.map((h) => (h.startsWith('<') ? h.slice(1) : h));
  const widths = heads.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (s: string, i: number) => (left[i] ? s.padEnd(widths[i]!) : s.padStart(widths[i]!));
  const line = (cells: string[]) => `| ${cells.map((c, i) => cell(c, i)).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (left[i] ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(heads), sep, ...rows.map(line)].join('\n');
}

export function out(text = ''): void {
  process.stdout.write(`${text}\n`);
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function verdict(ok: boolean): string {
  return ok ? 'met' : 'MISSED';
}

/** The issue's targets, collected from every phase and printed together at the end (never asserted). */
export const targets: string[][] = [];

export function recordTarget(what: string, target: string, measured: string, ok: boolean): void {
  targets.push([what, target, measured, verdict(ok)]);
}
