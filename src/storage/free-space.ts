import { lstat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FREE_SPACE_MARGIN_BYTES } from '../constants.js';
import { DdmError } from '../errors.js';
import { formatBytes } from '../util/format.js';
import { throwIfAborted } from './fs-errors.js';

/**
 * Refuses to start when the folder cannot hold what is still to come, before the first byte is
 * fetched. Node has no fallocate(2), and writing zeros to reserve the space would write every
 * byte twice, so the space is not reserved: another program filling the disk mid-download still
 * ends the run with DISK_FULL (exit 4), with the progress kept. Blocks an existing `.part`
 * already holds count as available; a sparse `.part` holds only what was written.
 */
export async function ensureFreeSpace(
  outputPath: string,
  partPath: string,
  size: number | null,
  signal: AbortSignal,
): Promise<void> {
  throwIfAborted(signal);
  if (size === null || size === 0) return;
  const folder = dirname(outputPath);
  const available = await availableBytes(folder);
  if (available === undefined) return;
  const needed = Math.max(0, size - (await allocatedBytes(partPath))) + FREE_SPACE_MARGIN_BYTES;
  if (available >= needed) return;
  throw new DdmError(
    'DISK_FULL',
    `not enough space in ${folder}: the download needs ${formatBytes(needed)} more, ${formatBytes(available)} is free`,
    { details: { path: folder, neededBytes: needed, availableBytes: available } },
  );
}

/** Free bytes for an unprivileged writer; undefined where the file system cannot say. */
async function availableBytes(folder: string): Promise<number | undefined> {
  try {
    const stats = await statfs(folder);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

async function allocatedBytes(path: string): Promise<number> {
  try {
    const stats = await lstat(path);
    return stats.isFile() ? stats.blocks * 512 : 0;
  } catch {
    return 0; // missing (a fresh start) or unreadable: count nothing as already held
  }
}
