import { RATE_WINDOW_MS } from '../constants.js';

/** Smoothed overall download rate and ETA for progress output, from periodic samples of a byte counter. */
export class ProgressRate {
  private lastBytes: number;
  private lastTime: number;
  rateBps = 0;

  constructor(
    initialBytes: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lastBytes = initialBytes;
    this.lastTime = now();
  }

  sample(bytes: number): void {
    const time = this.now();
    const elapsedMs = time - this.lastTime;
    if (elapsedMs <= 0) return;
    const instant = ((bytes - this.lastBytes) * 1000) / elapsedMs;
    // Exponential smoothing whose weight follows the sampling interval, so irregular ticks behave.
    const weight = Math.min(1, elapsedMs / RATE_WINDOW_MS);
    this.rateBps = this.rateBps === 0 ? instant : this.rateBps + weight * (instant - this.rateBps);
    this.lastBytes = bytes;
    this.lastTime = time;
  }

  etaSec(remainingBytes: number): number | null {
    return this.rateBps > 0 ? Math.ceil(remainingBytes / this.rateBps) : null;
  }
}
