import { lstat, readdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { STALE_TEMP_FILE_AGE_MS } from '../constants.js';
import { isAlive } from './process-alive.js';

/** `.NAME.PID.RANDOM.tmp`, as replaceFileAtomically names its temp files. */
const TEMP_NAME = /^\.(.+)\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/**
 * Deletes the temp files a crash left beside `path` (a kill between writing the new control file
 * and renaming it over the old one). Only temp files of `path` itself, and only those whose
 * writer is dead or that are older than STALE_TEMP_FILE_AGE_MS: a live run's are never touched.
 * Cleaning is best effort; a file that cannot be removed is left for the next run.
 */
export async function removeStaleTempFiles(path: string, now = Date.now()): Promise<string[]> {
  const folder = dirname(path);
  const own = basename(path);
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = TEMP_NAME.exec(name);
    if (match === null || match[1] !== own) continue;
    const file = join(folder, name);
    if (await isStale(file, Number(match[2]), now)) {
      await unlink(file).then(
        () => removed.push(file),
        () => {},
      );
    }
  }
  return removed;
}

async function isStale(file: string, pid: number, now: number): Promise<boolean> {
  try {
    const stats = await lstat(file);
    if (!stats.isFile()) return false;
    if (now - stats.mtimeMs > STALE_TEMP_FILE_AGE_MS) return true;
  } catch {
    return false;
  }
  return pid !== process.pid && !(await isAlive({ pid, startTime: '' }));
}
