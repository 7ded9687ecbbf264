import type { ByteRange } from '../types/byte-range.js';

/**
 * Something that can deliver a byte range of the resource: a local connection to the origin
 * or a slot on a remote peer. The scheduler does not know which.
 */
export interface RangeSource {
  /** Stable id, e.g. `local` or `peer:<peer id>`. */
  readonly id: string;
  /** Human name for progress output. */
  readonly label: string;
  readonly kind: 'local' | 'peer';
  /**
   * Opens [start, end) and resolves once the bytes start flowing. The body yields exactly
   * `end - start` bytes in order or throws a DdmError. Aborting `signal` ends it early.
   */
  open(range: ByteRange, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>>;
}

/** A source and how many slot loops run on it. */
export interface SourcePlan {
  source: RangeSource;
  slots: number;
}
