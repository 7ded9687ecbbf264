import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { LOCK_SUFFIX } from '../constants.js';
import { DdmError } from '../errors.js';
import { errnoOf, throwIfAborted, toStorageError } from './fs-errors.js';
import { isAlive, ownIdentity, type ProcessIdentity } from './process-alive.js';

/** Taking over a stale lock can lose a race to another run; a few rounds settle who wins. */
const ACQUIRE_ROUNDS = 5;

interface LockRecord extends ProcessIdentity {
  host: string;
}

export function lockPath(outputPath: string): string {
  return outputPath + LOCK_SUFFIX;
}

/**
 * One run per output at a time: two runs would write into the same `.part` and publish each
 * other's half-written bytes, `--overwrite` or not. The lock is a file beside the output naming
 * its owner; a lock whose owner died (kill -9, power cut) is taken over, so a crash never blocks
 * the rerun that resumes it.
 */
export class OutputLock {
  private released = false;

  private constructor(
    readonly path: string,
    private readonly text: string,
  ) {}

  static async acquire(outputPath: string, signal: AbortSignal): Promise<OutputLock> {
    const path = lockPath(outputPath);
    const record: LockRecord = { ...(await ownIdentity()), host: hostname() };
    const text = JSON.stringify(record);
    for (let round = 0; round < ACQUIRE_ROUNDS; round++) {
      throwIfAborted(signal);
      if (await createLock(path, text)) return new OutputLock(path, text);
      const holder = await readLock(path);
      if (holder === undefined) continue; // released meanwhile
      if (holder.record !== undefined && (await holds(holder.record)))
        throw lockedError(outputPath, holder.record);
      await takeOver(path, holder.text);
    }
    throw new DdmError('OUTPUT_LOCKED', `could not take the lock ${path}: other runs keep racing for it`, {
      details: { path },
    });
  }

  /** Removes the lock if it is still ours (never another run's that took over a stale one). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const current = await readLock(this.path).catch(() => undefined);
    if (current?.text !== this.text) return;
    await unlink(this.path).catch(() => {});
  }
}

/** Writes the record to a temp file first and links it into place, so a lock is never seen half-written. */
async function createLock(path: string, text: string): Promise<boolean> {
  const temp = `${path}.${randomSuffix()}`;
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(text);
    } finally {
      await handle.close();
    }
    await link(temp, path);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false;
    throw toStorageError(error, path);
  } finally {
    await unlink(temp).catch(() => {});
  }
}

async function readLock(path: string): Promise<{ text: string; record?: LockRecord } | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw toStorageError(error, path);
  }
  const record = parseRecord(text);
  return record === undefined ? { text } : { text, record };
}

function parseRecord(text: string): LockRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockRecord>;
    if (typeof value.pid !== 'number' || typeof value.host !== 'string') return undefined;
    return { pid: value.pid, host: value.host, startTime: String(value.startTime ?? '') };
  } catch {
    return undefined;
  }
}

/** A lock from another host (a shared folder) cannot be checked, so it is respected. */
async function holds(record: LockRecord): Promise<boolean> {
  return record.host !== hostname() || isAlive(record);
}

/**
 * Moves a dead owner's lock aside and deletes it. The move is atomic, so when two reruns race,
 * only one of them moves it; if what was moved is not the dead lock it read (another run took
 * over in between), it is put back.
 */
async function takeOver(path: string, deadText: string): Promise<void> {
  const aside = `${path}.${randomSuffix()}.old`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return;
    throw toStorageError(error, path);
  }
  const moved = await readFile(aside, 'utf8').catch(() => deadText);
  if (moved !== deadText) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
}

/** Short, so the lock's helper names stay within SIDE_FILE_NAME_BYTES of the output name. */
function randomSuffix(): string {
  return randomBytes(4).toString('hex');
}

function lockedError(outputPath: string, holder: LockRecord): DdmError {
  const where = holder.host === hostname() ? `PID ${holder.pid}` : `PID ${holder.pid} on ${holder.host}`;
  return new DdmError(
    'OUTPUT_LOCKED',
    `another ddm (${where}) is downloading to ${outputPath}; wait for it to finish or stop it`,
    { details: { path: outputPath, pid: holder.pid, host: holder.host } },
  );
}
