// Group commit: DuckDB does one fsync per transaction, so a commit per request caps ingest at a
// few hundred per second. Requests wait here for a short window (or until the batch is full),
// are written as one transaction, and all learn the result together. While one batch commits the
// next one gathers; nobody is answered before their own commit.

export interface GroupCommitOptions<T> {
  write: (batch: T[]) => Promise<void>;
  /** How long the first item of a batch waits for company. */
  windowMs: number;
  maxBatch: number;
  onCommitted?: (count: number, ms: number) => void;
}

interface Waiting<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommitter<T> {
  private queue: Waiting<T>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly opts: GroupCommitOptions<T>) {}

  /** Resolves once `item` is committed; rejects if its batch failed to commit. */
  submit(item: T): Promise<void> {
    if (this.closed) return Promise.reject(Object.assign(new Error('shutting down'), { code: 'shutting_down' }));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.writing) return; // the running loop picks it up when its commit returns
      if (this.queue.length >= this.opts.maxBatch) this.start();
      else this.timer ??= setTimeout(() => this.start(), this.opts.windowMs);
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  private start(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.writing || this.queue.length === 0) return;
    this.writing = this.loop().finally(() => {
      this.writing = null;
    });
  }

  private async loop(): Promise<void> {
    // Whatever arrived while a commit ran has already waited at least that long: write it at once.
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      const started = performance.now();
      try {
        await this.opts.write(batch.map((w) => w.item));
        this.opts.onCommitted?.(batch.length, performance.now() - started);
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
  }

  /** Stops taking items and waits until everything submitted so far is written. */
  async close(): Promise<void> {
    this.closed = true;
    this.start();
    while (this.writing) await this.writing;
  }
}
