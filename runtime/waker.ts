/** A sleep that can be cut short: the drain loop sleeps when idle and ingest wakes it on commit. */
export class Waker {
  private pending: (() => void) | null = null;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms);
      const self = this;
      function finish() {
        clearTimeout(timer);
        if (self.pending === finish) self.pending = null;
        resolve();
      }
      this.pending = finish;
    });
  }

  wake(): void {
    this.pending?.();
  }
}
