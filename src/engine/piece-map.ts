/**
 * Which bytes of a download are on disk, and which source delivered each range. Ranges that were
 * on disk before this engine saw the download (resumed from a control file) belong to `earlier`.
 */
import { RangeSet } from '../scheduler/range-set.js';
import type { ByteRange } from '../types/byte-range.js';

export const EARLIER_SOURCE = 'earlier';

export interface Piece extends ByteRange {
  source: string;
}

export class PieceMap {
  readonly #bySource = new Map<string, RangeSet>();

  /** Bytes [start, end) came from `source`; a range delivered again (after a lie) changes hands. */
  add(source: string, start: number, end: number): void {
    for (const [other, set] of this.#bySource) if (other !== source) set.subtract(start, end);
    let set = this.#bySource.get(source);
    if (set === undefined) {
      set = new RangeSet();
      this.#bySource.set(source, set);
    }
    set.add(start, end);
  }

  /** Forgets everything not in `done` (what the control file holds is the truth after a restart). */
  keepOnly(done: readonly ByteRange[]): void {
    const keep = new RangeSet(done);
    for (const set of this.#bySource.values()) {
      for (const range of set.toArray()) {
        set.subtract(range.start, range.end);
        for (const part of intersect(keep, range)) set.add(part.start, part.end);
      }
    }
    const known = new RangeSet(this.pieces());
    for (const range of done) {
      for (const gap of difference(range, known)) this.add(EARLIER_SOURCE, gap.start, gap.end);
    }
  }

  get bytes(): number {
    let total = 0;
    for (const set of this.#bySource.values()) total += set.bytes;
    return total;
  }

  /** Sorted by start; each range names its source. */
  pieces(): Piece[] {
    const all: Piece[] = [];
    for (const [source, set] of this.#bySource) {
      for (const range of set.toArray()) all.push({ ...range, source });
    }
    return all.sort((a, b) => a.start - b.start);
  }
}

function intersect(set: RangeSet, range: ByteRange): ByteRange[] {
  return set
    .toArray()
    .map((r) => ({ start: Math.max(r.start, range.start), end: Math.min(r.end, range.end) }))
    .filter((r) => r.start < r.end);
}

function difference(range: ByteRange, known: RangeSet): ByteRange[] {
  const rest = new RangeSet([range]);
  for (const r of known.toArray()) rest.subtract(r.start, r.end);
  return rest.toArray();
}
