import { constants as fsConstants, type Stats } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { DdmError } from '../errors.js';
import { MAX_OUTPUT_NAME_BYTES } from '../origin/filename.js';
import { errnoOf, throwIfAborted, toStorageError } from './fs-errors.js';

/** Where the download goes: a regular file (through `.part`), or the null device (bytes dropped). */
export interface OutputTarget {
  path: string;
  /** `-o /dev/null`: nothing is written to disk, no `.part`, no control file, no lock. */
  discard: boolean;
}

export interface OutputRequest {
  /** `-o`: a file name, or a folder (existing, or ending with a separator) to save into. */
  output?: string | undefined;
  /** `--dir`: the folder for the server's name, or the base of a relative `-o`. */
  dir?: string | undefined;
  /** The name suggested by the server, already made safe. */
  fileName: string;
  /** `--create-dirs`: make missing folders instead of refusing. */
  createDirs: boolean;
}

const NULL_DEVICE = '/dev/null';
const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * Decides the output path before the first byte is fetched, and checks that it can be written:
 * the folder exists (or is created with `createDirs`) and is writable, and the name is not a
 * folder or a special file. A device node is never replaced by a regular file, not even with
 * `--overwrite`; the null device means "fetch and discard", as with curl.
 */
export async function resolveOutputTarget(
  request: OutputRequest,
  signal: AbortSignal,
): Promise<OutputTarget> {
  throwIfAborted(signal);
  const base = request.dir ?? '.';
  let path: string;
  if (request.output === undefined || request.output === '') {
    path = resolve(base, request.fileName);
  } else {
    const named = resolve(base, request.output);
    const folderIntent = request.output.endsWith('/') || request.output.endsWith(sep);
    path = folderIntent || (await isFolder(named)) ? join(named, request.fileName) : named;
  }
  const existing = await statOrUndefined(path);
  if (existing !== undefined && (await isNullDevice(existing))) return { path, discard: true };
  if (existing !== undefined && !existing.isFile()) throw notRegularError(path, existing);
  checkNameLength(path);
  await ensureWritableFolder(dirname(path), request.createDirs);
  return { path, discard: false };
}

async function isFolder(path: string): Promise<boolean> {
  return (await statOrUndefined(path))?.isDirectory() ?? false;
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw toStorageError(error, path);
  }
}

async function isNullDevice(stats: Stats): Promise<boolean> {
  if (!stats.isCharacterDevice()) return false;
  const nullDevice = await statOrUndefined(NULL_DEVICE);
  return nullDevice !== undefined && nullDevice.rdev === stats.rdev;
}

function describeKind(stats: Stats): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isFIFO()) return 'a named pipe';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

export function notRegularError(path: string, stats: Stats): DdmError {
  return new DdmError(
    'FS_ERROR',
    `${path} is ${describeKind(stats)}, not a regular file; ddm writes only regular files (-o /dev/null discards the download)`,
    { details: { path } },
  );
}

function checkNameLength(path: string): void {
  const bytes = Buffer.byteLength(basename(path));
  if (bytes <= MAX_OUTPUT_NAME_BYTES) return;
  throw new DdmError(
    'FS_ERROR',
    `the file name ${basename(path)} is ${bytes} bytes long; ddm needs at most ${MAX_OUTPUT_NAME_BYTES} (255 less room for its .part and control files): choose a shorter -o`,
    { details: { path, bytes } },
  );
}

async function ensureWritableFolder(folder: string, createDirs: boolean): Promise<void> {
  const stats = await statOrUndefined(folder);
  if (stats === undefined) {
    if (!createDirs) {
      throw new DdmError('FS_ERROR', `folder ${folder} does not exist; create it or pass --create-dirs`, {
        details: { path: folder },
      });
    }
    await createFolder(folder);
  } else if (!stats.isDirectory()) {
    throw new DdmError('FS_ERROR', `${folder} is not a folder`, { details: { path: folder } });
  }
  try {
    await access(folder, fsConstants.W_OK | fsConstants.X_OK);
  } catch (error) {
    if (!NOT_WRITABLE.has(errnoOf(error) ?? '')) throw toStorageError(error, folder);
    throw new DdmError('FS_ERROR', `folder ${folder} is not writable`, {
      details: { path: folder, errno: errnoOf(error) },
    });
  }
}

async function createFolder(folder: string): Promise<void> {
  try {
    await mkdir(folder, { recursive: true });
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOTDIR' || code === 'EEXIST') {
      throw new DdmError('FS_ERROR', `cannot create folder ${folder}: part of its path is a file`, {
        details: { path: folder },
      });
    }
    if (NOT_WRITABLE.has(code ?? '')) {
      throw new DdmError('FS_ERROR', `cannot create folder ${folder}: its parent is not writable`, {
        details: { path: folder, errno: code },
      });
    }
    throw toStorageError(error, folder);
  }
}
