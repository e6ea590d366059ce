// Group commit: DuckDB does one fsync per transaction, so a commit per request caps ingest at a
// few hundred per second. Requests wait here for a short window (or until the batch is full),
// are written as one transaction, and all learn the result together. Up to `maxInFlight`
// batches commit at once (each on its own connection), so the next batch is appended while the
// previous one waits for its fsync; nobody is answered before their own commit.

export interface GroupCommitOptions<T, R> {
  /** Writes one batch in one transaction; returns one result per item, in order. */
  write: (batch: T[]) => Promise<R[]>;
  /** How long the first item of a batch waits for company. */
  windowMs: number;
  maxBatch: number;
  maxInFlight: number;
  onCommitted?: (count: number, ms: number) => void;
}

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

export class GroupCommitter<T, R> {
  private queue: Waiting<T, R>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly opts: GroupCommitOptions<T, R>) {}

  /** Resolves with the item's result once its batch is committed; rejects if that batch failed. */
  submit(item: T): Promise<R> {
    if (this.closed) return Promise.reject(Object.assign(new Error('shutting down'), { code: 'shutting_down' }));
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.kick(false);
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Starts full batches while there is room; otherwise arms the gathering window. */
  private kick(afterCommit: boolean): void {
    const room = () => this.inFlight.size < this.opts.maxInFlight;
    while (room() && this.queue.length >= this.opts.maxBatch) this.flush();
    if (this.queue.length === 0 || !room()) return;
    // Whatever arrived while a commit ran has already waited at least that long: write it at once.
    if (afterCommit || this.closed) {
      this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      if (this.queue.length > 0 && room()) this.flush();
    }, this.opts.windowMs);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.queue.splice(0, this.opts.maxBatch);
    const started = performance.now();
    const done = this.opts
      .write(batch.map((w) => w.item))
      .then(
        (results) => {
          this.opts.onCommitted?.(batch.length, performance.now() - started);
          batch.forEach((w, i) => w.resolve(results[i]!));
        },
        (err: unknown) => {
          for (const w of batch) w.reject(err);
        },
      )
      .finally(() => {
        this.inFlight.delete(done);
        this.kick(true);
      });
    this.inFlight.add(done);
  }

  /** Stops taking items and waits until everything submitted so far is written. */
  async close(): Promise<void> {
    this.closed = true;
    this.kick(true);
    while (this.inFlight.size > 0 || this.queue.length > 0) {
      await Promise.all([...this.inFlight]);
      this.kick(true);
    }
  }
}
