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
  /** What a failure of this source costs; the segmented download reads it, never `kind`. */
  readonly failurePolicy: SourceFailurePolicy;
  /**
   * Its bytes are spot-checked against the primary origin as a peer's are (a mirror's: another
   * server may hold another file of the same size). Peers always are.
   */
  readonly crossChecked?: boolean;
  /**
   * Opens [start, end) and resolves once the bytes start flowing. The body yields exactly
   * `end - start` bytes in order or throws a DdmError. Aborting `signal` ends it early.
   */
  open(range: ByteRange, signal: AbortSignal, reading?: RangeReading): Promise<AsyncIterable<Uint8Array>>;
}

/** How the caller of `open` treats the chunks. */
export interface RangeReading {
  /**
   * It writes each chunk before asking for the next and releases it (origin/leased-bytes.ts)
   * once written, so the source may hand out views of buffers it reuses.
   */
  lease: boolean;
}

/**
 * How a source's failures are handled. Each kind of source carries its own (origin-source.ts,
 * peer-source.ts); what a given error code costs beyond that is src/error-policy.ts's table.
 */
export interface SourceFailurePolicy {
  /** A failed range is tried again, with origin/retry.ts's backoff, up to the download's maxTries. */
  readonly retried: boolean;
  /** A failure (after its tries) stops the whole download, rather than only this source. */
  readonly endsDownload: boolean;
  /** Failures after which the source is dropped for this download (error-policy.ts may drop it sooner). */
  readonly maxFailures: number;
  /** A range revoked for stalling counts as a failure of the source (rather than ending quietly). */
  readonly stallIsFailure: boolean;
}

/** A source and how many slot loops run on it. */
export interface SourcePlan {
  source: RangeSource;
  slots: number;
}
