/**
 * File system calls on paths that may not exist: a missing file is an answer (undefined, or
 * nothing to remove), any other failure a storage error naming the path.
 */

import type { Stats } from 'node:fs';
import { lstat, unlink } from 'node:fs/promises';
import { errnoOf, toStorageError } from './fs-errors.js';

/** The path's own metadata (a link is not followed), or undefined when there is nothing there. */
export async function lstatIfPresent(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw toStorageError(error, path);
  }
}

export async function removeIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw toStorageError(error, path);
  }
}
