/**
 * How readers of a running download steer it: a consumer reading front to back (`-o -`) sets
 * a window and moves it as it takes bytes; a preview asks for a range ahead and is told when
 * bytes land. It outlives runs (pause, relink): each new run gets the window and urgent ranges.
 */
import type { LiveDownload } from '../client/download.js';
import type { ByteRange } from '../types/byte-range.js';
import { Notifier } from '../util/notifier.js';

export class ReadSteering {
  #windowBytes: number | undefined;
  #reader = 0;
  #live: LiveDownload | undefined;
  readonly #urgent = new Set<ByteRange>();
  readonly #landed = new Notifier();

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

  /** Bytes reached the disk, or the download changed state. */
  landed(): void {
    this.#landed.notify();
  }

  /** Resolves when bytes land or the state changes, after `maxWaitMs`, or on abort. */
  waitForBytes(maxWaitMs: number, signal: AbortSignal): Promise<void> {
    return this.#landed.wait(maxWaitMs, signal);
  }
}
