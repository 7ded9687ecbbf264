import { constants as fsConstants, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { DdmError } from '../errors.js';
import { errnoOf, throwIfAborted, toStorageError } from './fs-errors.js';
import { lstatIfPresent } from './if-present.js';
import { notRegularError } from './output-target.js';

/**
 * ddm's own side files (`.part`, control file) are only ever plain files with one name. Anything
 * else there was planted or is a leftover that must not be written through: a symbolic link would
 * redirect the bytes to its target, a hard link would let them change another name's content,
 * and a device or pipe is not a place for a download.
 */
export async function openOwnFile(
  path: string,
  flags: number,
  mode: number,
  signal: AbortSignal,
): Promise<FileHandle> {
  throwIfAborted(signal);
  // Checked before opening too: opening some devices (a tape, a terminal) already does something.
  await refuseIfForeign(path, await lstatIfPresent(path));
  let handle: FileHandle;
  try {
    handle = await open(path, flags | fsConstants.O_NOFOLLOW, mode);
  } catch (error) {
    if (errnoOf(error) === 'ELOOP') throw symlinkError(path);
    throw toStorageError(error, path, signal);
  }
  try {
    // Checked again on what was opened: the name may have been swapped since the lstat.
    await refuseIfForeign(path, await handle.stat());
  } catch (error) {
    await handle.close().catch(() => {});
    throw toStorageError(error, path, signal);
  }
  return handle;
}

/** Reads one of ddm's own side files as text; undefined when it does not exist. */
export async function readOwnFile(path: string, signal: AbortSignal): Promise<string | undefined> {
  let handle: FileHandle;
  try {
    handle = await openOwnFile(path, fsConstants.O_RDONLY, 0, signal);
  } catch (error) {
    if (errnoOf((error as Error).cause) === 'ENOENT' || errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return await handle.readFile({ encoding: 'utf8', signal });
  } catch (error) {
    throw toStorageError(error, path, signal);
  } finally {
    await handle.close().catch(() => {});
  }
}

async function refuseIfForeign(path: string, stats: Stats | undefined): Promise<void> {
  if (stats === undefined) return;
  if (stats.isSymbolicLink()) throw symlinkError(path);
  if (!stats.isFile()) throw notRegularError(path, stats);
  if (stats.nlink > 1) {
    throw new DdmError(
      'FS_ERROR',
      `${path} has ${stats.nlink} names (hard links): writing it would change another file too; move it away or delete it`,
      { details: { path, links: stats.nlink } },
    );
  }
}

function symlinkError(path: string): DdmError {
  return new DdmError(
    'FS_ERROR',
    `${path} is a symbolic link; ddm never writes its own files through a link: delete it and run again`,
    { details: { path } },
  );
}
