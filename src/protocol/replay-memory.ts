/**
 * The nonces of recent signed requests, for replay protection, bounded per sender and in all.
 * A replay carries the same signed timestamp as the original, so a nonce only has to be unique
 * among requests stamped in the same second: nonces are kept in one bucket per second of their
 * own timestamp, and a whole bucket is forgotten once its timestamps are outside the window.
 * Memory thus follows the signed-request rate of the last window, never the history, and one
 * sender that floods fills its own budget, not everyone's. Pure: the caller passes the clock.
 */

export interface ReplayLimits {
  /** Nonces remembered at once, from all senders: size it by the swarm (replayCapacityFor). */
  capacity: number;
  /** Nonces remembered at once from one sender (a source address). */
  perSource: number;
}

export type Remembered = 'new' | 'replayed' | 'source-full' | 'full';

const BUCKET_MS = 1_000;
/** Slots of a bucket's first table; it doubles when three quarters are taken. */
const FIRST_SLOTS = 1_024;

/**
 * The nonces of one second, as 30 + 30 of their first 64 bits in an open-addressing table of
 * two Int32Arrays (linear probing; a nonce's bits are random, so its head is its hash): 11 to
 * 21 bytes a nonce, against ~48 for a Map entry. Two different nonces that share all 60 bits
 * (once in 2^60 / requests a second) would read as a replay.
 */
class NonceTable {
  /** The head with bit 30 set, so that 0 marks a free slot. */
  #heads = new Int32Array(FIRST_SLOTS);
  #tails = new Int32Array(FIRST_SLOTS);
  size = 0;

  has(head: number, tail: number): boolean {
    const mask = this.#heads.length - 1;
    const key = head | OCCUPIED;
    for (let index = head & mask; ; index = (index + 1) & mask) {
      const held = this.#heads[index]!;
      if (held === 0) return false;
      if (held === key && this.#tails[index] === tail) return true;
    }
  }

  /** Adds a nonce known to be absent. */
  add(head: number, tail: number): void {
    if ((this.size + 1) * 4 > this.#heads.length * 3) this.#grow();
    this.#place(head | OCCUPIED, tail);
    this.size += 1;
  }

  #place(key: number, tail: number): void {
    const mask = this.#heads.length - 1;
    let index = key & mask;
    while (this.#heads[index] !== 0) index = (index + 1) & mask;
    this.#heads[index] = key;
    this.#tails[index] = tail;
  }

  #grow(): void {
    const heads = this.#heads;
    const tails = this.#tails;
    this.#heads = new Int32Array(heads.length * 2);
    this.#tails = new Int32Array(heads.length * 2);
    for (let index = 0; index < heads.length; index += 1) {
      if (heads[index] !== 0) this.#place(heads[index]!, tails[index]!);
    }
  }
}

const OCCUPIED = 1 << 30;

interface Bucket {
  nonces: NonceTable;
  /** Nonces in this bucket per source, to give budget back when the bucket goes. */
  sources: Map<string, number>;
}

export class ReplayMemory {
  readonly #buckets = new Map<number, Bucket>();
  readonly #perSource = new Map<string, number>();
  #size = 0;
  #sweptAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly limits: ReplayLimits,
    /** Requests stamped further than this from the clock are refused before they get here. */
    private readonly windowMs: number,
  ) {}

  /** Nonces held now. */
  get size(): number {
    return this.#size;
  }

  /**
   * Records `nonce` of a request signed at `timeMs` by `source`, unless it was seen before or
   * the sender's (or everyone's) budget is spent; `now` is the verifier's clock.
   */
  remember(nonce: string, timeMs: number, source: string, now: number): Remembered {
    this.#sweep(now);
    const second = Math.floor(timeMs / BUCKET_MS);
    const bucket = this.#buckets.get(second);
    const head = Number.parseInt(nonce.slice(0, 8), 16) >>> 2;
    const tail = Number.parseInt(nonce.slice(8, 16), 16) >>> 2;
    if (bucket?.nonces.has(head, tail)) return 'replayed';
    const fromSource = this.#perSource.get(source) ?? 0;
    if (fromSource >= this.limits.perSource) return 'source-full';
    if (this.#size >= this.limits.capacity) return 'full';
    const into = bucket ?? this.#open(second);
    into.nonces.add(head, tail);
    into.sources.set(source, (into.sources.get(source) ?? 0) + 1);
    this.#perSource.set(source, fromSource + 1);
    this.#size += 1;
    return 'new';
  }

  #open(second: number): Bucket {
    const bucket: Bucket = { nonces: new NonceTable(), sources: new Map() };
    this.#buckets.set(second, bucket);
    return bucket;
  }

  /** Forgets buckets whose every timestamp is now outside the window; at most once per bucket span. */
  #sweep(now: number): void {
    if (now - this.#sweptAt < BUCKET_MS) return;
    this.#sweptAt = now;
    // At most 2 windows / BUCKET_MS + 2 buckets exist (timestamps within a window either side).
    for (const [second, bucket] of this.#buckets) {
      if ((second + 1) * BUCKET_MS + this.windowMs > now) continue;
      this.#buckets.delete(second);
      this.#size -= bucket.nonces.size;
      for (const [source, count] of bucket.sources) {
        const left = (this.#perSource.get(source) ?? 0) - count;
        if (left > 0) this.#perSource.set(source, left);
        else this.#perSource.delete(source);
      }
    }
  }
}
