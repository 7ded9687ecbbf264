/**
 * Trust, but verify: the client re-fetches random small slices of what each peer delivered
 * straight from the origin and compares them with what the peer sent. A mismatch means the
 * peer lied (or is broken): the caller drops it and fetches all of its ranges again.
 *
 * With a sample of k slices of s bytes from a delivered piece of L bytes, a corruption spanning
 * c bytes is caught with probability about 1 - (1 - (c + s - 1)/(L - s + 1))^k per piece, where
 * k = max(1, round(L·r/s)) for a sampling rate r; see docs/SECURITY.md. Sampling per piece
 * (not per write) keeps the number of origin requests low when the client's own link is busy.
 */
import { VERIFY_CONCURRENCY, VERIFY_SAMPLE_RATE, VERIFY_SLICE_BYTES } from '../constants.js';
import type { ByteRange } from '../types/byte-range.js';

export interface VerifierOptions {
  /** Bytes now in the output file. */
  readLocal(position: number, length: number): Promise<Uint8Array>;
  /** The same bytes straight from the origin. */
  readOrigin(range: ByteRange, signal: AbortSignal): Promise<Uint8Array>;
  /**
   * A peer's bytes differ from the origin's at `offset`. The verifier counts as busy until the
   * returned promise settles, so the download cannot end before the bad ranges are reopened.
   */
  onMismatch(sourceId: string, offset: number): Promise<void> | void;
  /** Every slice sampled from a piece matched the origin: the piece may be recorded as checked. */
  onPieceChecked?(sourceId: string, start: number, end: number): void;
  /** A check could not be made (e.g. the origin is unreachable from here). */
  onUnverified?(sourceId: string, error: unknown): void;
  /** All scheduled checks have run. */
  onIdle?(): void;
  sampleRate?: number;
  sliceBytes?: number;
  concurrency?: number;
  random?: () => number;
}

interface Piece {
  sourceId: string;
  range: ByteRange;
  /** Slices not yet compared. */
  remaining: number;
  /** A slice differed or could not be compared: the piece stays unchecked. */
  failed: boolean;
}

interface Check {
  sourceId: string;
  slice: ByteRange;
  piece: Piece;
}

export class PeerVerifier {
  private readonly delivered = new Map<string, ByteRange[]>();
  private readonly queue: Check[] = [];
  private readonly liars = new Set<string>();
  private running = 0;
  private idleWaiters: (() => void)[] = [];
  /** Slices compared so far, for reports and tests. */
  checked = 0;

  constructor(
    private readonly options: VerifierOptions,
    private readonly signal: AbortSignal,
  ) {}

  /** Records that `sourceId` delivered [start, end): everything it would have to give back. */
  record(sourceId: string, start: number, end: number): void {
    const ranges = this.delivered.get(sourceId) ?? [];
    ranges.push({ start, end });
    this.delivered.set(sourceId, ranges);
  }

  /** Schedules spot checks of a piece `sourceId` delivered: at least one slice per piece. */
  check(sourceId: string, start: number, end: number): void {
    if (this.liars.has(sourceId)) return;
    const slices = this.sample(start, end);
    const piece: Piece = { sourceId, range: { start, end }, remaining: slices.length, failed: false };
    for (const slice of slices) this.queue.push({ sourceId, slice, piece });
    this.pump();
  }

  /** Everything `sourceId` delivered in this run. */
  rangesOf(sourceId: string): ByteRange[] {
    return [...(this.delivered.get(sourceId) ?? [])];
  }

  sources(): string[] {
    return [...this.delivered.keys()];
  }

  /** Forgets a source's ranges (after they were reopened) and drops its queued checks. */
  forget(sourceId: string): void {
    this.liars.add(sourceId);
    this.delivered.delete(sourceId);
    for (let i = this.queue.length - 1; i >= 0; i--)
      if (this.queue[i]!.sourceId === sourceId) this.queue.splice(i, 1);
  }

  /** Whether checks are queued or running. */
  get busy(): boolean {
    return !this.signal.aborted && (this.running > 0 || this.queue.length > 0);
  }

  /** Resolves once every scheduled check has run. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private sample(start: number, end: number): ByteRange[] {
    const length = end - start;
    if (length <= 0) return [];
    const sliceBytes = Math.min(this.options.sliceBytes ?? VERIFY_SLICE_BYTES, length);
    const rate = this.options.sampleRate ?? VERIFY_SAMPLE_RATE;
    const count = Math.max(1, Math.round((length * rate) / sliceBytes));
    const random = this.options.random ?? Math.random;
    return Array.from({ length: count }, () => {
      const offset = start + Math.floor(random() * (length - sliceBytes + 1));
      return { start: offset, end: offset + sliceBytes };
    });
  }

  private pump(): void {
    const limit = this.options.concurrency ?? VERIFY_CONCURRENCY;
    while (this.running < limit && this.queue.length > 0 && !this.signal.aborted) {
      const check = this.queue.shift()!;
      this.running += 1;
      void this.run(check).finally(() => {
        this.running -= 1;
        this.pump();
        if (this.running === 0 && (this.queue.length === 0 || this.signal.aborted)) this.wakeIdle();
      });
    }
    if (this.running === 0 && (this.queue.length === 0 || this.signal.aborted)) this.wakeIdle();
  }

  private wakeIdle(): void {
    this.options.onIdle?.();
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  private async run({ sourceId, slice, piece }: Check): Promise<void> {
    if (this.liars.has(sourceId)) return;
    const passed = await this.compare(sourceId, slice);
    if (!passed) piece.failed = true;
    piece.remaining -= 1;
    if (piece.remaining === 0 && !piece.failed && !this.liars.has(sourceId)) {
      this.options.onPieceChecked?.(sourceId, piece.range.start, piece.range.end);
    }
  }

  /** Whether the slice matched the origin. */
  private async compare(sourceId: string, slice: ByteRange): Promise<boolean> {
    try {
      const [local, origin] = await Promise.all([
        this.options.readLocal(slice.start, slice.end - slice.start),
        this.options.readOrigin(slice, this.signal),
      ]);
      this.checked += 1;
      const offset = firstDifference(local, origin);
      if (offset === -1) return true;
      if (!this.liars.has(sourceId)) {
        this.liars.add(sourceId);
        await this.options.onMismatch(sourceId, slice.start + offset);
      }
      return false;
    } catch (error) {
      if (!this.signal.aborted) this.options.onUnverified?.(sourceId, error);
      return false;
    }
  }
}

/** Index of the first differing byte, or -1 when equal (lengths included). */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.byteLength, b.byteLength);
  if (Buffer.from(a.buffer, a.byteOffset, length).equals(Buffer.from(b.buffer, b.byteOffset, length))) {
    return a.byteLength === b.byteLength ? -1 : length;
  }
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return length;
}
