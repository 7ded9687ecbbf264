import { link, lstat, rename, unlink } from 'node:fs/promises';
import { DdmError } from '../errors.js';
import { errnoOf, toStorageError } from './fs-errors.js';

/** File systems without hard links (FAT, some network and FUSE mounts) answer with these. */
const LINK_UNSUPPORTED = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

export function fileExistsError(path: string): DdmError {
  return new DdmError('FILE_EXISTS', `${path} already exists; run again with --overwrite to replace it`, {
    details: { path },
  });
}

/**
 * Gives `from` the name `to`. Without `replace` an existing `to` is never clobbered, even one
 * created a moment ago: link(2) fails atomically when the name is taken, where rename(2) would not.
 */
export async function publishFile(from: string, to: string, replace: boolean): Promise<void> {
  if (replace) {
    await renameOrThrow(from, to);
    return;
  }
  try {
    await link(from, to);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'EEXIST') throw fileExistsError(to);
    if (!LINK_UNSUPPORTED.has(code ?? '')) throw toStorageError(error, to);
    await renameIfAbsent(from, to);
    return;
  }
  try {
    await unlink(from);
  } catch (error) {
    throw toStorageError(error, from);
  }
}

/** Fallback without hard links: a small window remains between the check and the rename. */
async function renameIfAbsent(from: string, to: string): Promise<void> {
  if (await exists(to)) throw fileExistsError(to);
  await renameOrThrow(from, to);
}

async function renameOrThrow(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    throw toStorageError(error, to);
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw toStorageError(error, path);
  }
}
