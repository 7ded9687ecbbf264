/**
 * Which done bytes came from peers, and which of those were not yet spot-checked. Kept in the
 * control file: a resume fetches the unchecked ones again (a peer may have lied in them), and
 * after a checksum mismatch every peer range is compared with the origin and repaired.
 */
import { RangeSet } from '../scheduler/range-set.js';
import type { ByteRange } from '../types/byte-range.js';
import { intersectRanges } from './byte-ranges.js';

export class PeerRanges {
  private readonly delivered: RangeSet;
  private readonly pending: RangeSet;

  constructor(delivered: readonly ByteRange[] = [], unchecked: readonly ByteRange[] = []) {
    this.delivered = new RangeSet(delivered);
    this.pending = new RangeSet(unchecked);
  }

  /** A peer's bytes reached the `.part`; until checked they count as unchecked. */
  received(start: number, end: number): void {
    this.delivered.add(start, end);
    this.pending.add(start, end);
  }

  /** Spot checks of [start, end) passed. */
  checked(start: number, end: number): void {
    this.pending.subtract(start, end);
  }

  /** [start, end) will be fetched again (its source lied): nothing is known about it any more. */
  forget(start: number, end: number): void {
    this.delivered.subtract(start, end);
    this.pending.subtract(start, end);
  }

  /** Every peer byte was compared with the origin (and repaired): they are as good as the origin's. */
  clear(): void {
    for (const range of this.delivered.toArray()) this.forget(range.start, range.end);
  }

  get peer(): ByteRange[] {
    return this.delivered.toArray();
  }

  get unchecked(): ByteRange[] {
    return this.pending.toArray();
  }

  /** What to record next to `done` (sorted and merged): only bytes that are done count. */
  within(done: readonly ByteRange[]): { peer: ByteRange[]; unchecked: ByteRange[] } {
    const peer = intersectRanges(this.peer, done);
    return { peer, unchecked: intersectRanges(this.unchecked, peer) };
  }
}
