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
import { DdmError } from '../errors.js';

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
    // Spot checks of helpers' bytes may still be running when the last byte went out.
    await handle.finished();
    checkNotRewritten(handle);
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

/** Bytes already on stdout cannot be taken back: a helper caught lying about them fails the run. */
function checkNotRewritten(handle: DownloadHandle): void {
  const at = handle.reading.rewrittenAt;
  if (at === undefined) return;
  throw new DdmError(
    'PEER_FAILED',
    `a helper's bytes at offset ${at} failed their spot check after they were written to stdout: what went out is wrong; run again without that helper (or to a file, where such bytes are fetched again before the file is done)`,
  );
}

function sourceOf(handle: DownloadHandle): OrderedSource {
  return {
    view: (): FileView => {
      checkNotRewritten(handle);
      const status = handle.status();
      return {
        output: status.output,
        pieces: handle.reading.readable(status.pieces),
        complete: status.state === 'complete',
        size: status.totalBytes,
      };
    },
    advance: (position) => handle.reading.advanceReader(position),
    wait: (maxWaitMs, signal) => handle.reading.waitForBytes(maxWaitMs, signal),
  };
}
