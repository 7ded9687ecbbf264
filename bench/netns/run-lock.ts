/**
 * One multi-host benchmark at a time: a second one would tear down the first one's hosts, since
 * both use the same ddm-* names. The lock is a directory holding the owner's PID; a lock left by
 * a process that no longer exists is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchError } from '../lib/bench-error.js';

const LOCK_DIR = join(tmpdir(), 'ddm-netns.lock');
const OWNER_FILE = join(LOCK_DIR, 'pid');

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function owner(): number | undefined {
  try {
    const pid = Number(readFileSync(OWNER_FILE, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function tryTake(): boolean {
  try {
    mkdirSync(LOCK_DIR);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  writeFileSync(OWNER_FILE, String(process.pid));
  return true;
}

/** Synchronous so it can run from the 'exit' handler; only ever removes our own lock. */
export function releaseRunLock(): void {
  if (owner() === process.pid) rmSync(LOCK_DIR, { recursive: true, force: true });
}

export function takeRunLock(): void {
  if (tryTake()) return;
  const pid = owner();
  if (pid !== undefined && isAlive(pid)) {
    throw new BenchError(
      'NOT_READY',
      `another multi-host benchmark is running (pid ${pid}); wait for it to finish`,
    );
  }
  // The owner is gone (killed hard, or crashed before writing its PID): the lock is stale.
  rmSync(LOCK_DIR, { recursive: true, force: true });
  if (!tryTake())
    throw new BenchError('NOT_READY', `could not take ${LOCK_DIR}; another benchmark just started`);
}
