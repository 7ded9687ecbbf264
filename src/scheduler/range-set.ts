import type { ByteRange } from '../types/byte-range.js';

/**
 * A set of byte offsets kept as sorted, disjoint, non-touching half-open ranges.
 *
 * Starts and ends live in two parallel number arrays (cheaper than an array of objects) and
 * every lookup is a binary search. Growing a range at its edge, the hot path of a download
 * where each chunk lands right after the previous one, changes two numbers and moves nothing.
 */
export class RangeSet {
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];
  #bytes = 0;

  constructor(ranges: Iterable<ByteRange> = []) {
    for (const range of ranges) this.add(range.start, range.end);
  }

  /** Number of offsets in the set. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Number of separate ranges. */
  get count(): number {
    return this.#starts.length;
  }

  /** The lowest range, or undefined when the set is empty. */
  first(): ByteRange | undefined {
    return this.#starts.length === 0 ? undefined : this.#rangeAt(0);
  }

  /** The lowest part of the set inside [start, end), or undefined when none is. */
  firstWithin(start: number, end: number): ByteRange | undefined {
    const index = bisect(this.#ends, start, true, 0);
    if (index >= this.#starts.length || this.#starts[index]! >= end) return undefined;
    return { start: Math.max(start, this.#starts[index]!), end: Math.min(end, this.#ends[index]!) };
  }

  /** The highest part of the set inside [start, end), or undefined when none is. */
  lastWithin(start: number, end: number): ByteRange | undefined {
    const index = bisect(this.#starts, end, false, 0) - 1;
    if (index < 0 || this.#ends[index]! <= start) return undefined;
    return { start: Math.max(start, this.#starts[index]!), end: Math.min(end, this.#ends[index]!) };
  }

  /** Copies of the ranges, sorted. */
  toArray(): ByteRange[] {
    return this.#starts.map((_, index) => this.#rangeAt(index));
  }

  add(start: number, end: number): void {
    checkRange(start, end);
    if (start === end) return;
    // Ranges first..last-1 overlap or touch [start, end) and melt into one.
    const first = bisect(this.#ends, start, false, 0);
    const last = bisect(this.#starts, end, true, first);
    if (first === last) {
      this.#replace(first, 0, [start], [end]);
      this.#bytes += end - start;
      return;
    }
    const mergedStart = Math.min(start, this.#starts[first]!);
    const mergedEnd = Math.max(end, this.#ends[last - 1]!);
    this.#bytes += mergedEnd - mergedStart - this.#sumOf(first, last);
    this.#replace(first, last - first, [mergedStart], [mergedEnd]);
  }

  subtract(start: number, end: number): void {
    checkRange(start, end);
    if (start === end) return;
    // Ranges first..last-1 overlap [start, end); only the parts sticking out on either side stay.
    const first = bisect(this.#ends, start, true, 0);
    const last = bisect(this.#starts, end, false, first);
    if (first === last) return;
    const keptStarts: number[] = [];
    const keptEnds: number[] = [];
    if (this.#starts[first]! < start) {
      keptStarts.push(this.#starts[first]!);
      keptEnds.push(start);
    }
    if (this.#ends[last - 1]! > end) {
      keptStarts.push(end);
      keptEnds.push(this.#ends[last - 1]!);
    }
    this.#bytes -= this.#sumOf(first, last) - sumOfLengths(keptStarts, keptEnds);
    this.#replace(first, last - first, keptStarts, keptEnds);
  }

  #rangeAt(index: number): ByteRange {
    return { start: this.#starts[index]!, end: this.#ends[index]! };
  }

  #sumOf(first: number, last: number): number {
    let sum = 0;
    for (let index = first; index < last; index++) sum += this.#ends[index]! - this.#starts[index]!;
    return sum;
  }

  /** Replaces `removeCount` ranges at `index` by the given ones, in place when the count is unchanged. */
  #replace(index: number, removeCount: number, starts: number[], ends: number[]): void {
    if (removeCount === starts.length) {
      for (let offset = 0; offset < removeCount; offset++) {
        this.#starts[index + offset] = starts[offset]!;
        this.#ends[index + offset] = ends[offset]!;
      }
      return;
    }
    this.#starts.splice(index, removeCount, ...starts);
    this.#ends.splice(index, removeCount, ...ends);
  }
}

function checkRange(start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`invalid byte range [${start}, ${end})`);
  }
}

function sumOfLengths(starts: number[], ends: number[]): number {
  let sum = 0;
  for (let index = 0; index < starts.length; index++) sum += ends[index]! - starts[index]!;
  return sum;
}

/** First index at or after `from` whose value is >= x (> x when `strict`); values are sorted. */
function bisect(values: number[], x: number, strict: boolean, from: number): number {
  let low = from;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const value = values[middle]!;
    if (value > x || (!strict && value === x)) high = middle;
    else low = middle + 1;
  }
  return low;
}
