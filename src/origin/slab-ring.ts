/**
 * Where one range's bytes wait between the socket and the disk: a few fixed slabs that the socket
 * reads straight into, handed on as views and taken back once written. Bytes are counted from the
 * start of the range: `received` came in, `handed` went to the consumer, `released` was written
 * (always in that order). A slab returns to the pool when every byte in it is released.
 */
import { ORIGIN_IDLE_SLABS, ORIGIN_SLAB_BYTES } from '../constants.js';

/** Slabs of one size, reused across ranges so that reading allocates nothing per read. */
export class SlabPool {
  private readonly free: Buffer[] = [];

  constructor(
    readonly slabBytes: number = ORIGIN_SLAB_BYTES,
    private readonly maxIdle: number = ORIGIN_IDLE_SLABS,
  ) {}

  take(): Buffer {
    // Never zeroed: every byte handed on was first written by a socket read or a copy.
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.slabBytes);
  }

  give(slab: Buffer): void {
    if (this.free.length < this.maxIdle && slab.byteLength === this.slabBytes) this.free.push(slab);
  }
}

interface Slab {
  buf: Buffer;
  /** Range offset of `buf[0]`. */
  start: number;
}

export class SlabRing {
  received = 0;
  handed = 0;
  released = 0;
  /** In range order; the last one is being filled. */
  private readonly slabs: Slab[] = [];
  private sealed = false;

  constructor(private readonly pool: SlabPool) {}

  /** Slabs held: being filled, waiting to be handed, or handed and not yet released. */
  get held(): number {
    return this.slabs.length;
  }

  /** Where the next `limit` bytes at most may be read into (a new slab when the last is full). */
  space(limit: number): Buffer {
    const size = this.pool.slabBytes;
    let last = this.slabs[this.slabs.length - 1];
    if (last === undefined || this.received - last.start === size) {
      last = { buf: this.pool.take(), start: this.received };
      this.slabs.push(last);
    }
    const from = this.received - last.start;
    return last.buf.subarray(from, Math.min(size, from + limit));
  }

  /** `bytes` more were read into the last `space`. */
  filled(bytes: number): void {
    this.received += bytes;
  }

  /** Copies bytes in (the body bytes that came with the response head). */
  put(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.byteLength) {
      const target = this.space(bytes.byteLength - offset);
      target.set(bytes.subarray(offset, offset + target.byteLength));
      this.filled(target.byteLength);
      offset += target.byteLength;
    }
  }

  /**
   * The next bytes to hand on, within one slab: only once that slab is full, unless `partial`
   * (the body ended, failed, or bytes waited long enough). Undefined when nothing is due.
   */
  take(partial: boolean): Uint8Array | undefined {
    if (this.handed >= this.received) return undefined;
    const slab = this.slabs.find((candidate) => candidate.start + candidate.buf.byteLength > this.handed);
    if (slab === undefined) return undefined;
    const slabEnd = slab.start + slab.buf.byteLength;
    if (!partial && this.received < slabEnd) return undefined;
    const end = Math.min(this.received, slabEnd);
    const chunk = slab.buf.subarray(this.handed - slab.start, end - slab.start);
    this.handed = end;
    return chunk;
  }

  /** No more bytes will be read in: a slab left part-filled may go back once released. */
  seal(): void {
    this.sealed = true;
    this.recycle();
  }

  /** The first `bytes` not yet released were written: their slabs may be read into again. */
  release(bytes: number): void {
    this.released = Math.min(this.handed, this.released + bytes);
    this.recycle();
  }

  private recycle(): void {
    for (let first = this.slabs[0]; first !== undefined; first = this.slabs[0]) {
      const end = Math.min(first.start + first.buf.byteLength, this.sealed ? this.received : Infinity);
      if (end > this.released) break;
      this.slabs.shift();
      this.pool.give(first.buf);
    }
  }
}
