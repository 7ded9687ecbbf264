import { abortError, DdmError, fromFsError } from '../errors.js';

/**
 * Turns whatever a file system call threw into a DdmError when it is a system error, so the
 * CLI can print one clear line; errno codes that `fromFsError` does not name become FS_ERROR.
 */
export function toStorageError(error: unknown, path: string, signal?: AbortSignal): unknown {
  if (error instanceof DdmError) return error;
  if (signal?.aborted || (error as Error | undefined)?.name === 'AbortError') return abortError(signal);
  const mapped = fromFsError(error, path);
  if (mapped !== error) return mapped;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') {
    return new DdmError('FS_ERROR', `${path}: ${code}`, { cause: error, details: { errno: code } });
  }
  return error;
}

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortError(signal);
}

export function errnoOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
