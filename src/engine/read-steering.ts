/**
 * How readers of a running download steer it: a consumer reading front to back (`-o -`) sets
 * a window and moves it as it takes bytes; a preview asks for a range ahead and is told when
 * bytes land. It outlives runs (pause, relink): each new run gets the window and urgent ranges.
 */
import type { LiveDownload } from '../client/download.js';
import { RangeSet } from '../scheduler/range-set.js';
import type { ByteRange } from '../types/byte-range.js';
import { Notifier } from '../util/notifier.js';

export class ReadSteering {
  #windowBytes: number | undefined;
  #reader = 0;
  #live: LiveDownload | undefined;
  readonly #urgent = new Set<ByteRange>();
  readonly #landed = new Notifier();
  #rewrittenAt: number | undefined;

  /** Ordered mode for the runs started from now on; undefined: the whole file at once. */
  get windowBytes(): number | undefined {
    return this.#windowBytes;
  }

  setWindow(windowBytes: number): void {
    this.#windowBytes = windowBytes;
  }

  /** The consumer has taken every byte before `position`. */
  advanceReader(position: number): void {
    this.#reader = Math.max(this.#reader, position);
    this.#live?.advanceReader(this.#reader);
  }

  /** Bytes of `range` are wanted now; the returned function says they no longer are. */
  prioritize(range: ByteRange): () => void {
    const entry = { ...range };
    this.#urgent.add(entry);
    this.#live?.prioritize(entry);
    return () => {
      if (!this.#urgent.delete(entry)) return;
      this.#live?.unprioritize(entry);
      // Another reader may want part of the same bytes.
      for (const other of this.#urgent) this.#live?.prioritize(other);
    };
  }

  /** The run that moves bytes now, or undefined between runs. */
  attach(live: LiveDownload | undefined): void {
    this.#live = live;
    if (live === undefined) return;
    if (this.#windowBytes !== undefined) live.advanceReader(this.#reader);
    for (const range of this.#urgent) live.prioritize(range);
    this.#landed.notify();
  }

  /**
   * Bytes from `start` on reached the disk (or, without `start`, the download changed state).
   * Bytes landing again behind an ordered reader were fetched again because a helper lied
   * about them (its spot check failed after they were written): the reader got wrong bytes.
   */
  landed(start?: number): void {
    if (start !== undefined && this.#windowBytes !== undefined && start < this.#reader) {
      this.#rewrittenAt ??= start;
    }
    this.#landed.notify();
  }

  /**
   * What a reader may pass on now: while a run goes, the bytes it counts as done (a liar's
   * ranges leave them at once) less helpers' bytes whose spot checks are pending, since bytes
   * sent cannot be taken back; between runs, `onDisk`.
   */
  readable(onDisk: readonly ByteRange[]): ByteRange[] {
    const live = this.#live;
    if (live === undefined) return [...onDisk];
    const free = new RangeSet(live.doneRanges());
    for (const range of live.uncheckedRanges()) free.subtract(range.start, range.end);
    return free.toArray();
  }

  /** Where bytes an ordered reader had taken were written again, if they were. */
  get rewrittenAt(): number | undefined {
    return this.#rewrittenAt;
  }

  /** Resolves when bytes land or the state changes, after `maxWaitMs`, or on abort. */
  waitForBytes(maxWaitMs: number, signal: AbortSignal): Promise<void> {
    return this.#landed.wait(maxWaitMs, signal);
  }
}
