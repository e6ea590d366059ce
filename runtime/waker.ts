/** A sleep that can be cut short: drain loops sleep when idle and ingest wakes them on commit. */
export class Waker {
  private readonly sleepers = new Set<() => void>();

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.sleepers.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.sleepers.add(finish);
    });
  }

  wake(): void {
    for (const finish of [...this.sleepers]) finish();
  }
}
