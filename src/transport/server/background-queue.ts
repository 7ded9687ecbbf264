/**
 * Requests that can wait a few milliseconds (a tracker's heartbeats) run in small batches from
 * the event loop's check phase instead of as they are parsed, so that a request someone waits
 * on (a peer list) parsed in the same poll is answered first, and the poll after each batch
 * takes in whatever arrived meanwhile. Nothing is dropped or reordered within the queue; the
 * server's connection limits bound how many requests can wait in it.
 */
export class BackgroundQueue {
  #jobs: Array<() => void> = [];
  #next = 0;
  #scheduled = false;

  /**
   * @param batchSize jobs run before the event loop polls again.
   * @param onError told of a job that threw (the jobs after it still run).
   */
  constructor(
    private readonly batchSize: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  get waiting(): number {
    return this.#jobs.length - this.#next;
  }

  push(job: () => void): void {
    this.#jobs.push(job);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#runBatch);
  }

  readonly #runBatch = (): void => {
    const end = Math.min(this.#jobs.length, this.#next + this.batchSize);
    while (this.#next < end) {
      const job = this.#jobs[this.#next]!;
      this.#next += 1;
      try {
        job();
      } catch (error) {
        this.onError(error);
      }
    }
    this.#compact();
    if (this.waiting === 0) {
      this.#scheduled = false;
      return;
    }
    setImmediate(this.#runBatch);
  };

  /** Drops the jobs already run, so that a queue never empty for long does not keep them all. */
  #compact(): void {
    if (this.#next === this.#jobs.length) {
      this.#jobs = [];
      this.#next = 0;
    } else if (this.#next >= this.batchSize * 64) {
      this.#jobs = this.#jobs.slice(this.#next);
      this.#next = 0;
    }
  }
}
