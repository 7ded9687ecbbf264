import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errnoOf, throwIfAborted, toStorageError } from './fs-errors.js';

/** Platforms or file systems where a directory cannot be opened or synced; nothing more to do there. */
const DIRECTORY_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EINVAL', 'EPERM', 'EBADF', 'ENOTSUP', 'EOPNOTSUPP']);

/** Makes a rename, link or unlink in `directory` survive a power cut. */
export async function syncDirectory(directory: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch (error) {
    if (!DIRECTORY_SYNC_UNSUPPORTED.has(errnoOf(error) ?? '')) throw toStorageError(error, directory);
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * Replaces `path` with `content` so that after a crash it holds either the old or the new
 * content, never a mix: temp file in the same directory, fsync, rename, fsync the directory.
 */
export async function replaceFileAtomically(
  path: string,
  content: string,
  signal: AbortSignal,
): Promise<void> {
  throwIfAborted(signal);
  const tempPath = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  try {
    const handle = await open(tempPath, 'wx', 0o600); // owner only: the control file holds the URL, signed query and user:pass included
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    throwIfAborted(signal);
    await rename(tempPath, path);
  } catch (error) {
    await unlink(tempPath).catch(() => {});
    throw toStorageError(error, path, signal);
  }
  await syncDirectory(dirname(path));
}
