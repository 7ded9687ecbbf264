import { dirname } from 'node:path';
import { syncDirectory } from './durable-write.js';
import { controlPath, partPath } from './file-names.js';
import { lstatIfPresent, removeIfPresent } from './if-present.js';

/**
 * A crash between link() and unlink() at the end of a download leaves the finished file and its
 * `.part` as two names of one inode, with the control file beside them. Writing to that `.part`
 * would change the finished file, so the publish is completed instead: the `.part` name and the
 * control file go, the finished file stays as it is. True when that state was found and fixed.
 */
export async function finishInterruptedPublish(outputPath: string): Promise<boolean> {
  const [file, part] = await Promise.all([lstatIfPresent(outputPath), lstatIfPresent(partPath(outputPath))]);
  if (file === undefined || part === undefined || !file.isFile() || !part.isFile()) return false;
  if (file.dev !== part.dev || file.ino !== part.ino) return false;
  await removeIfPresent(partPath(outputPath));
  await removeIfPresent(controlPath(outputPath));
  await syncDirectory(dirname(outputPath));
  return true;
}
