/** A worker's transfer rate as seen at one moment. */
export interface RateReading {
  bytesPerSecond: number;
  /** How much working time the reading rests on. */
  measuredMs: number;
}

/**
 * Smoothed bytes per second of one worker, measured only while it works.
 *
 * Time is passed in, never read. Until the meter has seen one window of work the reading is the
 * plain average, so a first tiny sample cannot dominate; after that it is an exponentially
 * weighted average over about `windowMs`, whatever the spacing of the samples.
 */
export class RateMeter {
  readonly #windowMs: number;
  #reading: RateReading | undefined;
  #pendingBytes = 0;
  /** Start of the sample being gathered; undefined while the worker is idle. */
  #sampleStart: number | undefined;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Bytes per second, or undefined before the first measurement. */
  get bytesPerSecond(): number | undefined {
    return this.#reading?.bytesPerSecond;
  }

  /** The worker begins a piece of work: idle time before now does not count. */
  start(now: number): void {
    this.#sampleStart = now;
    this.#pendingBytes = 0;
  }

  /** The worker stops; the silence since its last bytes counts against it. */
  stop(now: number): void {
    this.#reading = this.readingAt(now);
    this.#sampleStart = undefined;
    this.#pendingBytes = 0;
  }

  record(bytes: number, now: number): void {
    if (this.#sampleStart === undefined) return;
    this.#pendingBytes += bytes;
    // Many chunks arrive within one millisecond; they wait for the clock to move.
    if (now > this.#sampleStart) {
      this.#reading = this.readingAt(now);
      this.start(now);
    }
  }

  /** The reading as of `now`, counting a working worker's silence since its last sample as no bytes. */
  readingAt(now: number): RateReading | undefined {
    const elapsedMs = this.#sampleStart === undefined ? 0 : now - this.#sampleStart;
    if (elapsedMs <= 0) return this.#reading;
    const sampleRate = (this.#pendingBytes * 1000) / elapsedMs;
    const previous = this.#reading;
    if (previous === undefined) return { bytesPerSecond: sampleRate, measuredMs: elapsedMs };
    const measuredMs = previous.measuredMs + elapsedMs;
    const weight = Math.max(1 - Math.exp(-elapsedMs / this.#windowMs), elapsedMs / measuredMs);
    return {
      bytesPerSecond: previous.bytesPerSecond + weight * (sampleRate - previous.bytesPerSecond),
      measuredMs,
    };
  }
}
