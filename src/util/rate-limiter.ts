/**
 * A token bucket shared by everyone who takes bytes through it. A taker may overdraw (a chunk is
 * as large as the socket made it), then waits until the debt is paid back at the configured rate:
 * over any long window the bytes that got through are the rate times the time, plus one burst.
 */
import { RATE_LIMIT_BURST_MS, RATE_LIMIT_RECHECK_MS } from '../constants.js';
import { sleep } from './abort.js';

export class RateLimiter {
  #bytesPerSecond: number;
  #tokens: number;
  #refilledAt: number;

  /** `bytesPerSecond` 0 means no limit. */
  constructor(
    bytesPerSecond = 0,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#bytesPerSecond = checkRate(bytesPerSecond);
    this.#tokens = this.#capacity();
    this.#refilledAt = this.now();
  }

  get bytesPerSecond(): number {
    return this.#bytesPerSecond;
  }

  /** Changes the rate at once, also for takers already waiting. */
  setRate(bytesPerSecond: number): void {
    this.#refill();
    this.#bytesPerSecond = checkRate(bytesPerSecond);
    this.#tokens = Math.min(this.#tokens, this.#capacity());
  }

  /** Resolves once `bytes` may pass; rejects with ABORTED when `signal` aborts first. */
  async take(bytes: number, signal: AbortSignal): Promise<void> {
    if (this.#bytesPerSecond === 0) return;
    this.#refill();
    this.#tokens -= bytes;
    while (this.#bytesPerSecond > 0) {
      this.#refill();
      if (this.#tokens >= 0) return;
      const waitMs = (-this.#tokens * 1000) / this.#bytesPerSecond;
      await sleep(Math.min(Math.max(1, waitMs), RATE_LIMIT_RECHECK_MS), signal);
    }
  }

  #capacity(): number {
    return (this.#bytesPerSecond * RATE_LIMIT_BURST_MS) / 1000;
  }

  #refill(): void {
    const now = this.now();
    const elapsedMs = now - this.#refilledAt;
    this.#refilledAt = now;
    if (this.#bytesPerSecond === 0) return;
    this.#tokens = Math.min(this.#capacity(), this.#tokens + (elapsedMs * this.#bytesPerSecond) / 1000);
  }
}

function checkRate(bytesPerSecond: number): number {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) {
    throw new RangeError(`invalid rate ${bytesPerSecond} bytes per second`);
  }
  return bytesPerSecond;
}

/** Passes `bytes` through every limiter in turn (a download's own, then the engine's global one). */
export async function takeAll(
  limiters: readonly RateLimiter[],
  bytes: number,
  signal: AbortSignal,
): Promise<void> {
  for (const limiter of limiters) await limiter.take(bytes, signal);
}
