/**
 * Peak memory of long-running processes (swarm peers), read from /proc. Writing 5 to
 * clear_refs resets the high-water mark, so each download can be measured on its own.
 */
import { readFile, writeFile } from 'node:fs/promises';

async function statusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/** Peak resident set size since start or since the last reset. */
export function readPeakRssKiB(pid: number): Promise<number | undefined> {
  return statusKiB(pid, 'VmHWM');
}

export function readRssKiB(pid: number): Promise<number | undefined> {
  return statusKiB(pid, 'VmRSS');
}

/** Returns false where the kernel or our rights do not allow it; peaks then span all runs. */
export async function resetPeakRss(pid: number): Promise<boolean> {
  return writeFile(`/proc/${pid}/clear_refs`, '5').then(
    () => true,
    () => false,
  );
}
