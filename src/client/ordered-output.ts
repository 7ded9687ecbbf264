/**
 * Copies a download's bytes to a stream in order while it is still running: each stretch of
 * the file that is on disk is read back from the part file and written out. `-o -` copies the
 * whole file and moves the scheduler's window as it goes, so a slow consumer slows the
 * download instead of filling memory; a preview copies one range and asks for the bytes it
 * waits for first. Memory holds one read (STREAM_READ_BYTES) and the stream's own buffer.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { STREAM_READ_BYTES, STREAM_RECHECK_MS } from '../constants.js';
import { abortError, DdmError } from '../errors.js';
import { partPath } from '../storage/download-store.js';
import type { ByteRange } from '../types/byte-range.js';

/** Where a download's bytes are now, as a reader sees it. */
export interface FileView {
  /** The final path, once known (the bytes are in its `.part` until complete). */
  output: string | undefined;
  /** Ranges on disk, sorted by start (they may touch or overlap). */
  pieces: readonly ByteRange[];
  /** The file is final: every byte is at `output`. */
  complete: boolean;
  /** The file's length, once known. */
  size: number | null;
}

export interface OrderedSource {
  view(): FileView;
  /** The consumer took every byte before `position`. */
  advance?(position: number): void;
  /** The copy waits for the bytes at `position`, up to `end`. */
  want?(position: number, end: number): void;
  /** Resolves when bytes land or the download changes state (or after `maxWaitMs`). */
  wait(maxWaitMs: number, signal: AbortSignal): Promise<void>;
}

export interface CopyRange {
  start: number;
  /** Exclusive; absent: to the end of the file, whenever that is known. */
  end?: number;
  /** A wait for bytes longer than this fails with TIMEOUT; absent: no bound. */
  maxWaitMs?: number;
}

/** Writes [start, end) of the download to `out` in order; returns the number of bytes written. */
export async function copyInOrder(
  source: OrderedSource,
  out: NodeJS.WritableStream,
  signal: AbortSignal,
  range: CopyRange = { start: 0 },
): Promise<number> {
  const file = new FollowedFile();
  let position = range.start;
  let waitingSince: number | undefined;
  try {
    for (;;) {
      if (signal.aborted) throw abortError(signal);
      const view = source.view();
      const fileEnd = view.complete ? (view.size ?? (await file.size(view))) : view.size;
      const end = Math.min(range.end ?? Number.POSITIVE_INFINITY, fileEnd ?? Number.POSITIVE_INFINITY);
      if (position >= end) return position - range.start;
      const available = availableEnd(view, position, end);
      if (available <= position) {
        waitingSince ??= Date.now();
        if (range.maxWaitMs !== undefined && Date.now() - waitingSince > range.maxWaitMs) {
          throw new DdmError(
            'TIMEOUT',
            `the bytes at ${position} did not arrive within ${range.maxWaitMs} ms`,
          );
        }
        source.want?.(position, end);
        await source.wait(STREAM_RECHECK_MS, signal);
        continue;
      }
      waitingSince = undefined;
      const bytes = await file.read(view, position, available - position);
      await writeWithBackpressure(out, bytes, signal);
      position += bytes.byteLength;
      source.advance?.(position);
    }
  } finally {
    await file.close();
  }
}

/** Where the bytes that can be read from `position` on end, before `end`. */
function availableEnd(view: FileView, position: number, end: number): number {
  if (view.complete) return end;
  if (view.output === undefined) return position;
  return Math.min(end, coveredEnd(view.pieces, position));
}

/** Where the bytes on disk that start at or before `from` end without a gap (`from` if none). */
export function coveredEnd(pieces: readonly ByteRange[], from: number): number {
  let end = from;
  for (const piece of pieces) {
    if (piece.start > end) break;
    end = Math.max(end, piece.end);
  }
  return end;
}

/**
 * The download's bytes on disk: the part file while it runs. An open part file stays readable
 * when it is renamed to the final name, so one handle serves to the end.
 */
class FollowedFile {
  #handle: FileHandle | undefined;

  /** At most STREAM_READ_BYTES of what is asked. */
  async read(view: FileView, position: number, wanted: number): Promise<Buffer> {
    const handle = await this.#open(view);
    const length = Math.min(wanted, STREAM_READ_BYTES);
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
      if (bytesRead === 0) {
        throw new DdmError(
          'FS_ERROR',
          `the download's file ends at ${position + filled} bytes, short of what was written`,
        );
      }
      filled += bytesRead;
    }
    return buffer;
  }

  async size(view: FileView): Promise<number> {
    return (await (await this.#open(view)).stat()).size;
  }

  async close(): Promise<void> {
    await this.#handle?.close().catch(() => {});
    this.#handle = undefined;
  }

  async #open(view: FileView): Promise<FileHandle> {
    if (this.#handle !== undefined) return this.#handle;
    const output = view.output!;
    this.#handle = view.complete
      ? await open(output, 'r')
      : // The run may finish between the look and the open: then the part is the final file.
        await open(partPath(output), 'r').catch(() => open(output, 'r'));
    return this.#handle;
  }
}

/** Writes `bytes`; when the stream's buffer is full, waits for it to drain (or for `signal`). */
async function writeWithBackpressure(
  out: NodeJS.WritableStream,
  bytes: Uint8Array,
  signal: AbortSignal,
): Promise<void> {
  if (out.write(bytes)) return;
  await new Promise<void>((resolve, reject) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      out.off('error', done);
      signal.removeEventListener('abort', done);
      if (signal.aborted) reject(abortError(signal));
      else resolve();
    };
    out.on('drain', done);
    out.on('close', done);
    out.on('error', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
