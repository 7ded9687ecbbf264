import { dirname } from 'node:path';
import { DdmError } from '../errors.js';
import { redactUrl } from '../origin/origin-url.js';
import type { ByteRange } from '../types/byte-range.js';
import type { Validators } from '../types/validators.js';
import { mergeRanges } from './byte-ranges.js';
import { type Checksum, hashFile } from './checksum.js';
import { type ControlState, loadControl, saveControl } from './control-file.js';
import { syncDirectory } from './durable-write.js';
import { controlPath, partPath } from './file-names.js';
import { throwIfAborted } from './fs-errors.js';
import { lstatIfPresent, removeIfPresent } from './if-present.js';
import { PartFile } from './part-file.js';
import { PeerRanges } from './peer-ranges.js';
import { type DigestSnapshot, loadPieceDigests, PieceDigests } from './piece-digests.js';
import { exists, fileExistsError, publishFile } from './publish-file.js';
import { checkResumed, type ResumeCheck } from './resume-check.js';

export { type Checksum, type ChecksumAlgorithm, parseChecksum } from './checksum.js';
export { controlPath, partPath } from './file-names.js';

/**
 * Why earlier progress was thrown away, so the CLI can say so:
 * - `validators-changed`: the origin's ETag or Last-Modified differs, it is another version of the file;
 * - `size-changed`: the origin reports another length;
 * - `not-resumable`: the origin gives no ranges, no length or no validator to prove it is the same file;
 * - `overwrite`: `--overwrite` discarded an earlier `.part` or control file;
 * - `part-unusable`: the `.part` is missing, has the wrong length, or has no control file saying what it holds.
 */
export type RestartReason =
  | 'validators-changed'
  | 'size-changed'
  | 'not-resumable'
  | 'overwrite'
  | 'part-unusable';

export interface DownloadStoreOptions {
  /** The final file name; bytes go to `partPath(outputPath)` until the download is complete. */
  outputPath: string;
  /** The URL as the user gave it. */
  url: string;
  /** Where redirects ended. */
  finalUrl: string;
  /** Total size from the origin, or null when unknown. */
  size: number | null;
  /** Validators the origin reports now. */
  validators: Validators;
  /** Replace an existing output file and discard any earlier progress. */
  overwrite: boolean;
  /** False when the origin serves no ranges or no length: nothing can be resumed. */
  resumable: boolean;
  /** `outputPath` is the null device: bytes are dropped, nothing else is written or kept. */
  discard?: boolean;
  /** With mirrors: every URL of the download, and what those that answered this run's probes gave. */
  origins?: SameFileOrigins;
}

/**
 * The URLs of one download with mirrors. A run whose primary failed its probe goes on from a
 * mirror and records it, so the next run may find progress recorded under another of them.
 */
export interface SameFileOrigins {
  /** The request's URLs as given: the primary, then its mirrors. */
  urls: readonly string[];
  /** Each URL (as given) that answered its probe in this run, with its validators. */
  answered: readonly { url: string; validators: Validators }[];
}

export interface OpenedStore {
  store: DownloadStore;
  /** Ranges already on disk from an earlier run; empty when starting over. */
  resumed: ByteRange[];
  /** Set when earlier progress existed but could not be used. */
  restartReason?: RestartReason;
  /** Recorded as done, but no longer matching their piece digests: fetched again. */
  damaged: ByteRange[];
  /** Peer bytes an earlier run recorded before their spot checks passed: fetched again. */
  unchecked: ByteRange[];
  /** Set when the progress was recorded from another of the download's URLs: which one. */
  resumedFromUrl?: string;
  /** With resumedFromUrl: that URL did not answer, so its bytes were kept on the mirrors' rule (size). */
  resumedBySizeAlone?: boolean;
}

interface StartPlan {
  resume?: ControlState;
  restartReason?: RestartReason;
  resumedFromUrl?: string;
  resumedBySizeAlone?: boolean;
}

interface PendingCheckpoint {
  done: readonly ByteRange[];
  /** The running piece hashes when `done` was taken: bytes written later are not in `done`. */
  snapshot: DigestSnapshot | undefined;
  signal: AbortSignal;
  promise: Promise<void>;
}

/**
 * The on-disk side of one download: the `.part` file the bytes go to and the control file that
 * records which of them are durable, so a crash at any moment loses at most unsynced progress.
 */
export class DownloadStore {
  readonly partPath: string;
  readonly controlPath: string;
  private closed = false;
  /** Settles when the last queued checkpoint has finished, whatever its outcome. */
  private checkpointsSettled: Promise<void> = Promise.resolve();
  /** A checkpoint waiting for the running one; later requests fold into it. */
  private pendingCheckpoint: PendingCheckpoint | undefined;

  private constructor(
    readonly outputPath: string,
    private readonly part: PartFile,
    private state: ControlState,
    private readonly overwrite: boolean,
    /** Which done bytes came from peers; the client keeps it up to date, checkpoints record it. */
    readonly peerRanges: PeerRanges,
    private readonly digests: PieceDigests,
    private readonly sink = false,
  ) {
    this.partPath = partPath(outputPath);
    this.controlPath = controlPath(outputPath);
  }

  get size(): number | null {
    return this.state.size;
  }

  /**
   * Opens the download's files, resuming earlier progress when it provably belongs to the same
   * version of the same file. Refuses, with nothing changed on disk, when the output file exists
   * and `overwrite` is false.
   */
  static async open(options: DownloadStoreOptions, signal: AbortSignal): Promise<OpenedStore> {
    throwIfAborted(signal);
    if (options.discard === true) return DownloadStore.openSink(options, signal);
    await loadPieceDigests();
    const { outputPath } = options;
    if (!options.overwrite && (await exists(outputPath))) throw fileExistsError(outputPath);
    const plan = await planStart(options, signal);
    const now = new Date().toISOString();
    const state: ControlState = {
      url: options.url,
      finalUrl: options.finalUrl,
      size: options.size,
      validators: options.validators,
      done: plan.resume?.done ?? [],
      createdAt: plan.resume?.createdAt ?? now,
      updatedAt: now,
    };
    if (plan.resume === undefined) {
      // Recorded before the old bytes are touched, so stale ranges never describe new content.
      await saveControl(controlPath(outputPath), state, signal);
    }
    const part = await PartFile.open(partPath(outputPath), options.size, signal);
    let check: ResumeCheck | undefined;
    try {
      if (plan.resume === undefined) await part.reset(options.size);
      else check = await checkResumed(plan.resume, (position, length) => part.read(position, length), signal);
    } catch (error) {
      await part.close().catch(() => {});
      throw error;
    }
    if (check) state.done = check.done;
    const peerRanges = check?.peerRanges ?? new PeerRanges();
    const digests = check?.digests ?? new PieceDigests();
    const store = new DownloadStore(outputPath, part, state, options.overwrite, peerRanges, digests);
    const opened: OpenedStore = {
      store,
      resumed: state.done.map((range) => ({ ...range })),
      damaged: check?.damaged ?? [],
      unchecked: check?.unchecked ?? [],
    };
    if (plan.restartReason !== undefined) opened.restartReason = plan.restartReason;
    if (plan.resumedFromUrl !== undefined) opened.resumedFromUrl = plan.resumedFromUrl;
    if (plan.resumedBySizeAlone === true) opened.resumedBySizeAlone = true;
    return opened;
  }

  private static async openSink(options: DownloadStoreOptions, signal: AbortSignal): Promise<OpenedStore> {
    const now = new Date().toISOString();
    const { url, finalUrl, size, validators } = options;
    const state: ControlState = { url, finalUrl, size, validators, done: [], createdAt: now, updatedAt: now };
    const part = await PartFile.openSink(options.outputPath, signal);
    const store = new DownloadStore(
      options.outputPath,
      part,
      state,
      false,
      new PeerRanges(),
      new PieceDigests(),
      true,
    );
    return { store, resumed: [], damaged: [], unchecked: [] };
  }

  /** Writes all of `data` at `position` in the `.part` file. */
  async write(data: Uint8Array, position: number): Promise<void> {
    this.assertInside(position, data.byteLength);
    this.digests.invalidate(position, position + data.byteLength);
    await this.part.write(data, position);
    if (!this.sink) this.digests.wrote([data], position);
  }

  /** Writes consecutive chunks at `position` in one vectored write. */
  async writeChunks(chunks: readonly Uint8Array[], position: number): Promise<void> {
    const length = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    this.assertInside(position, length);
    this.digests.invalidate(position, position + length);
    await this.part.writeChunks(chunks, position);
    if (!this.sink) this.digests.wrote(chunks, position);
  }

  private assertInside(position: number, length: number): void {
    this.assertOpen();
    const size = this.state.size;
    if (position < 0 || (size !== null && position + length > size)) {
      throw new RangeError(`write of ${length} bytes at ${position} is outside the file (size ${size})`);
    }
  }

  /** Reads back bytes already written (to compare them with the origin). */
  read(position: number, length: number): Promise<Uint8Array> {
    this.assertOpen();
    return this.part.read(position, length);
  }

  /** Hashes the `.part` as it is now (after syncing it), leaving the store open for repairs. */
  async digest(algorithm: Checksum['algorithm'], signal: AbortSignal): Promise<string> {
    this.assertOpen();
    await this.part.datasync();
    return hashFile(this.partPath, algorithm, signal);
  }

  /**
   * Makes `done` durable: the `.part` data is synced first, then the control file lists the ranges.
   * Pass only ranges whose writes have completed. Checkpoints never overlap; requests made while
   * one runs are folded into one more run with the latest ranges. After an abort, call it with a
   * fresh signal to keep the progress made so far.
   */
  checkpoint(done: readonly ByteRange[], signal: AbortSignal): Promise<void> {
    // Rejects rather than throws, so a timer's `checkpoint(...).catch(...)` stays safe after close.
    if (this.closed) return Promise.reject(this.closedError());
    if (this.sink) return Promise.resolve(); // nothing kept, nothing to resume
    const pending = this.pendingCheckpoint;
    if (pending !== undefined) {
      if (pending.snapshot !== undefined) this.digests.release(pending.snapshot);
      pending.done = done;
      pending.snapshot = this.digests.snapshot();
      pending.signal = signal;
      return pending.promise;
    }
    const next: PendingCheckpoint = {
      done,
      snapshot: this.digests.snapshot(),
      signal,
      promise: Promise.resolve(),
    };
    next.promise = this.checkpointsSettled.then(() => {
      this.pendingCheckpoint = undefined;
      return this.saveCheckpoint(next.done, next.signal, next.snapshot);
    });
    this.pendingCheckpoint = next;
    this.checkpointsSettled = next.promise.catch(() => {});
    return next.promise;
  }

  private async saveCheckpoint(
    done: readonly ByteRange[],
    signal: AbortSignal,
    snapshot: DigestSnapshot | undefined,
  ): Promise<void> {
    try {
      throwIfAborted(signal);
      await this.part.datasync();
    } catch (error) {
      if (snapshot !== undefined) this.digests.release(snapshot);
      throw error;
    }
    // After the sync: each digest describes bytes written before it (the snapshot's running
    // hashes) or read back from what is on disk.
    const merged = mergeRanges(done);
    await this.digests.update(
      merged,
      (position, length, into) => this.part.read(position, length, into),
      signal,
      snapshot,
    );
    const state: ControlState = {
      ...this.state,
      done: merged,
      ...this.peerRanges.within(merged),
      pieces: this.digests.record(),
      updatedAt: new Date().toISOString(),
    };
    await saveControl(this.controlPath, state, signal);
    this.state = state;
  }

  /**
   * Completes the download: syncs and closes the `.part`, checks `checksum` when given (a mismatch
   * leaves `.part` and control file in place), gives the file its final name without clobbering
   * anything unless `overwrite`, and removes the control file.
   */
  async finalize(options: { checksum?: Checksum }, signal: AbortSignal): Promise<void> {
    this.assertOpen();
    throwIfAborted(signal);
    await this.checkpointsSettled;
    if (this.sink) return this.closePart();
    await this.part.datasync();
    await this.closePart();
    if (options.checksum !== undefined) await this.verifyChecksum(options.checksum, signal);
    throwIfAborted(signal);
    await publishFile(this.partPath, this.outputPath, this.overwrite);
    await removeIfPresent(this.controlPath);
    await syncDirectory(dirname(this.outputPath));
  }

  private async verifyChecksum(expected: Checksum, signal: AbortSignal): Promise<void> {
    const actual = await hashFile(this.partPath, expected.algorithm, signal);
    if (actual === expected.hex) return;
    throw new DdmError(
      'CHECKSUM_MISMATCH',
      `${expected.algorithm} of the download is ${actual}, expected ${expected.hex}; the data is kept in ${this.partPath} to look at, but a download the server cannot resume (no ranges or no length) is fetched again in full by the next run`,
      { details: { algorithm: expected.algorithm, expected: expected.hex, actual, path: this.partPath } },
    );
  }

  /** Stops using the files and keeps `.part` and control file for a later resume. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.checkpointsSettled;
    await this.closePart();
  }

  private async closePart(): Promise<void> {
    this.closed = true;
    await this.part.close();
  }

  private assertOpen(): void {
    if (this.closed) throw this.closedError();
  }

  private closedError(): DdmError {
    return new DdmError('FS_ERROR', `${this.partPath} is already closed`);
  }
}

/** Decides between resuming the recorded progress and starting over, and why. */
async function planStart(options: DownloadStoreOptions, signal: AbortSignal): Promise<StartPlan> {
  const control = controlPath(options.outputPath);
  const part = partPath(options.outputPath);
  if (options.overwrite) {
    const leftovers = (await exists(control)) || (await exists(part));
    return leftovers ? { restartReason: 'overwrite' } : {};
  }
  const previous = await loadControl(control, signal);
  if (previous === null) return (await exists(part)) ? { restartReason: 'part-unusable' } : {};
  const mismatch = versionMismatch(previous, options);
  // Another URL for the same file (a signed link refreshed, a mirror) goes on with its bytes:
  // the resume rule (same size, same strong validator) is what proves it the same file, and
  // the control file then records the new URL.
  if (previous.url !== options.url && mismatch !== undefined) {
    const sibling = siblingPlan(previous, options);
    if (sibling !== undefined) {
      if (sibling.resume === undefined) return sibling;
      return (await lengthOf(part)) === options.size ? sibling : { restartReason: 'part-unusable' };
    }
    throw new DdmError(
      'CONTROL_FOREIGN',
      `${control} belongs to a download of ${redactUrl(previous.url)}, which is not the same file as ${redactUrl(options.url)} (same size and ETag or Last-Modified); choose another output name or run again with --overwrite`,
      { details: { path: control, recordedUrl: redactUrl(previous.url), url: redactUrl(options.url) } },
    );
  }
  if (mismatch !== undefined) return { restartReason: mismatch };
  if ((await lengthOf(part)) !== options.size) return { restartReason: 'part-unusable' };
  return { resume: previous };
}

/**
 * Progress recorded from another URL of the same download (a mirror that stood in for a failed
 * primary, or the primary when a mirror stands in now): its own validators decide when it
 * answered this run; when it did not, its bytes are kept on the rule the mirrors are held to in
 * one run, the same size, and the spot checks and `checksum` guard the rest.
 */
function siblingPlan(previous: ControlState, options: DownloadStoreOptions): StartPlan | undefined {
  const origins = options.origins;
  if (origins === undefined || !origins.urls.includes(previous.url)) return undefined;
  const answered = origins.answered.find((origin) => origin.url === previous.url);
  if (answered !== undefined) {
    const mismatch = versionMismatch(previous, { ...options, validators: answered.validators });
    return mismatch === undefined
      ? { resume: previous, resumedFromUrl: previous.url }
      : { restartReason: mismatch };
  }
  if (!options.resumable || options.size === null) return { restartReason: 'not-resumable' };
  if (previous.size !== options.size) return { restartReason: 'size-changed' };
  return { resume: previous, resumedFromUrl: previous.url, resumedBySizeAlone: true };
}

/** Whether the origin still serves provably the same bytes as when the progress was recorded. */
function versionMismatch(previous: ControlState, options: DownloadStoreOptions): RestartReason | undefined {
  if (!options.resumable || options.size === null) return 'not-resumable';
  const now = options.validators;
  const before = previous.validators;
  if (now.etag !== undefined) {
    if (before.etag !== now.etag) return 'validators-changed';
  } else if (now.lastModified !== undefined) {
    if (before.lastModified !== now.lastModified) return 'validators-changed';
  } else {
    return 'not-resumable';
  }
  if (previous.size !== options.size) return 'size-changed';
  return undefined;
}

async function lengthOf(path: string): Promise<number | undefined> {
  const stats = await lstatIfPresent(path);
  return stats?.isFile() ? stats.size : undefined;
}
