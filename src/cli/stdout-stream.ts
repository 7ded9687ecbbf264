/**
 * `ddm get URL -o -`: the download runs into a private temporary folder in ordered mode, and
 * its bytes go to stdout in order while every connection and helper fetches; the folder is
 * removed at the end, so nothing is left to resume (resume does not apply to stdout).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyInOrder, type FileView, type OrderedSource } from '../client/ordered-output.js';
import type { DownloadHandle } from '../engine/download-handle.js';

/** A private folder (mode 0700) for the bytes on their way to stdout. */
export function makeStreamFolder(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'ddm-stdout-'));
}

export async function removeStreamFolder(folder: string): Promise<void> {
  await rm(folder, { recursive: true, force: true }).catch(() => {});
}

/** Copies the download to `out` as its bytes land; fails when the download fails. */
export async function streamDownload(
  handle: DownloadHandle,
  out: NodeJS.WritableStream,
  signal: AbortSignal,
): Promise<void> {
  const controller = new AbortController();
  const stop = () => controller.abort(signal.reason);
  signal.addEventListener('abort', stop, { once: true });
  // A failed download ends the copy: its error is the one reported.
  handle.finished().catch((error: unknown) => controller.abort(error));
  try {
    await copyInOrder(sourceOf(handle), out, controller.signal);
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

function sourceOf(handle: DownloadHandle): OrderedSource {
  return {
    view: (): FileView => {
      const status = handle.status();
      return {
        output: status.output,
        pieces: status.pieces,
        complete: status.state === 'complete',
        size: status.totalBytes,
      };
    },
    advance: (position) => handle.reading.advanceReader(position),
    wait: (maxWaitMs, signal) => handle.reading.waitForBytes(maxWaitMs, signal),
  };
}
