/**
 * Copies a download to a stream in order while it is still running: each prefix of the file
 * that is on disk is read back from the part file and written out, and the reader position it
 * reaches moves the scheduler's window, so a slow consumer slows the download instead of
 * filling memory. Memory holds one read (STREAM_READ_BYTES) and the stream's own buffer.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { STREAM_READ_BYTES, STREAM_RECHECK_MS } from '../constants.js';
import { abortError, DdmError } from '../errors.js';
import { partPath } from '../storage/download-store.js';

/** Where a download's bytes are now, as a reader sees it. */
export interface FileView {
  /** The final path, once known (the bytes are in its `.part` until complete). */
  output: string | undefined;
  /** Bytes from offset 0 on disk without a gap. */
  prefixBytes: number;
  /** The file is final: every byte is at `output`. */
  complete: boolean;
  /** The file's length, once known. */
  size: number | null;
}

export interface OrderedSource {
  view(): FileView;
  /** The consumer took every byte before `position`. */
  advance(position: number): void;
  /** Resolves when bytes land or the download changes state (or after `maxWaitMs`). */
  wait(maxWaitMs: number, signal: AbortSignal): Promise<void>;
}

/** Writes the whole file to `out` in order; returns the number of bytes written. */
export async function copyInOrder(
  source: OrderedSource,
  out: NodeJS.WritableStream,
  signal: AbortSignal,
): Promise<number> {
  const file = new FollowedFile();
  let position = 0;
  try {
    for (;;) {
      if (signal.aborted) throw abortError(signal);
      const view = source.view();
      const available = view.complete ? (view.size ?? (await file.size(view))) : view.prefixBytes;
      if (view.complete && position >= available) return position;
      if (position >= available || view.output === undefined) {
        await source.wait(STREAM_RECHECK_MS, signal);
        continue;
      }
      const length = Math.min(available - position, STREAM_READ_BYTES);
      const bytes = await file.read(view, position, length);
      await writeWithBackpressure(out, bytes, signal);
      position += bytes.byteLength;
      source.advance(position);
    }
  } finally {
    await file.close();
  }
}

/**
 * The download's bytes on disk: the part file while it runs. An open part file stays readable
 * when it is renamed to the final name, so one handle serves to the end.
 */
class FollowedFile {
  #handle: FileHandle | undefined;

  async read(view: FileView, position: number, length: number): Promise<Buffer> {
    const handle = await this.#open(view);
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
