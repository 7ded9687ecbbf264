import type { ByteRange } from '../types/byte-range.js';

/**
 * One worker's current piece of work. The scheduler owns it and mutates it:
 * `end` shrinks when the tail is split off to another worker or revoked.
 */
export interface Assignment {
  readonly id: number;
  readonly workerId: string;
  readonly start: number;
  /** Exclusive end; shrinks on split or revocation. When `pos === end` the worker must stop. */
  end: number;
  /** Next byte the worker will deliver; every byte before it has been claimed for writing. */
  pos: number;
}

export type RevokeReason = 'stalled' | 'slow';

export interface Revocation {
  assignment: Assignment;
  reason: RevokeReason;
}

export interface SchedulerOptions {
  /** Total size of the file in bytes (known; unknown-length downloads bypass the scheduler). */
  size: number;
  /** Largest piece handed out from the untaken pool. */
  pieceBytes: number;
  /** No split leaves either part smaller than this; no piece smaller unless the file is. */
  minSplitBytes: number;
  /** An assignment with no claimed bytes for this long is revoked by `sweep`. */
  stallTimeoutMs: number;
  /** In the tail, a free worker this many times faster than a busy one takes over its whole remainder. */
  slowFactor: number;
  /**
   * Ordered mode (a consumer reads the file front to back, e.g. stdout): only bytes in
   * [reader, reader + windowBytes) are handed out, lowest first, so memory and disk ahead of the
   * reader stay bounded and the reader waits as little as possible. Unset: the whole file at once.
   */
  windowBytes?: number;
  /** Ranges already on disk (resume); never handed out. */
  done?: readonly ByteRange[];
}
