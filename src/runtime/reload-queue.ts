/**
 * Runs reloads one at a time: a trigger (SIGHUP, a file change) during a reload runs one more
 * after it, since that reload may have read the files before the change.
 */
export class ReloadQueue {
  readonly #run: (trigger: string) => Promise<void>;
  #running: Promise<void> | undefined;
  #again: string | undefined;
  #stopped = false;

  constructor(run: (trigger: string) => Promise<void>) {
    this.#run = run;
  }

  trigger(trigger: string): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = trigger;
      return;
    }
    this.#running = this.#run(trigger)
      .catch(() => {})
      .finally(() => {
        this.#running = undefined;
        const next = this.#again;
        this.#again = undefined;
        if (next !== undefined) this.trigger(next);
      });
  }

  /** No reload starts from now on; resolves when the one running (if any) has finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#again = undefined;
    await this.#running;
  }
}
