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

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on every Linux build we know of). */
const USER_HZ = 100;

/** CPU seconds (user + system) a long-running process has used so far, from /proc/PID/stat. */
export async function readCpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const userTicks = Number(fields[11]);
    const systemTicks = Number(fields[12]);
    if (!Number.isFinite(userTicks) || !Number.isFinite(systemTicks)) return undefined;
    return (userTicks + systemTicks) / USER_HZ;
  } catch {
    return undefined;
  }
}
