/**
 * A range's body passed through as it is, with a hook per chunk and one at its end. A leased
 * body (origin/leased-bytes.ts) stays leased: its consumer's releases reach the slabs, which a
 * generator in between would hide (the socket would wait for releases that never come).
 */
import { isLeased, type LeasedBytes } from '../origin/leased-bytes.js';

export interface BodyMeter {
  /** Called when the first chunk is asked for. */
  start(): void;
  /** Called before each chunk is handed on; throwing ends the body with that error. */
  chunk(bytes: number): void;
  /** Called once after `start`, when the body is done, failed or dropped. */
  end(): void;
}

export function meteredBody(body: AsyncIterable<Uint8Array>, meter: BodyMeter): AsyncIterable<Uint8Array> {
  return new MeteredBody(body, meter);
}

class MeteredBody implements AsyncIterable<Uint8Array>, AsyncIterator<Uint8Array> {
  readonly leased: true | undefined;
  private readonly inner: AsyncIterator<Uint8Array>;
  private started = false;
  private ended = false;

  constructor(
    private readonly body: AsyncIterable<Uint8Array>,
    private readonly meter: BodyMeter,
  ) {
    this.inner = body[Symbol.asyncIterator]();
    this.leased = isLeased(body) ? true : undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (!this.started) {
      this.started = true;
      this.meter.start();
    }
    let result: IteratorResult<Uint8Array>;
    try {
      result = await this.inner.next();
      if (!result.done) this.meter.chunk(result.value.byteLength);
    } catch (error) {
      await this.stop();
      throw error;
    }
    if (result.done) this.end();
    return result;
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    await this.stop();
    return { done: true, value: undefined };
  }

  release(bytes: number): void {
    (this.body as LeasedBytes).release(bytes);
  }

  /** Ends the inner body too (its connection is dropped), then the meter. */
  private async stop(): Promise<void> {
    if (this.ended) return;
    try {
      await this.inner.return?.();
    } finally {
      this.end();
    }
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.started) this.meter.end();
  }
}
