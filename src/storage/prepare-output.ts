import { DdmError } from '../errors.js';
import { controlPath, partPath } from './file-names.js';
import { ensureFreeSpace } from './free-space.js';
import { OutputLock } from './output-lock.js';
import { type OutputRequest, resolveOutputTarget } from './output-target.js';
import { exists, fileExistsError } from './publish-file.js';
import { finishInterruptedPublish } from './publish-recovery.js';
import { removeStaleTempFiles } from './stale-temp-files.js';

export interface PrepareRequest extends OutputRequest {
  /** Total size from the origin, or null when unknown. */
  size: number | null;
  overwrite: boolean;
  /** A checksum was asked for: it needs the bytes, which the null device does not keep. */
  checksum: boolean;
  onNotice: (message: string) => void;
}

export interface PreparedOutput {
  path: string;
  discard: boolean;
  /** Gives the output back to other runs; call it when the download ends, however it ends. */
  release(): Promise<void>;
}

/**
 * Everything that must hold before the first byte is fetched: where the file goes, that this run
 * alone writes it, that a crash's leftovers are cleaned up or completed, and that it fits.
 */
export async function prepareOutput(request: PrepareRequest, signal: AbortSignal): Promise<PreparedOutput> {
  const target = await resolveOutputTarget(request, signal);
  if (target.discard) {
    if (request.checksum) {
      throw new DdmError('USAGE', `--checksum needs the bytes, but ${target.path} keeps none`);
    }
    return { ...target, release: async () => {} };
  }
  const lock = await OutputLock.acquire(target.path, signal);
  try {
    if (await finishInterruptedPublish(target.path)) {
      request.onNotice(`${target.path} was complete: finished saving it from the interrupted run`);
    }
    await removeStaleTempFiles(controlPath(target.path));
    if (!request.overwrite && (await exists(target.path))) throw fileExistsError(target.path);
    await ensureFreeSpace(target.path, partPath(target.path), request.size, signal);
  } catch (error) {
    await lock.release();
    throw error;
  }
  return { ...target, release: () => lock.release() };
}
