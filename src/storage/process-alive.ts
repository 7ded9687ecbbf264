import { readFile } from 'node:fs/promises';

/**
 * A process's identity on this host: its PID and, where /proc shows it, its start time (so a PID
 * reused by another program after a crash is not mistaken for the old owner).
 */
export interface ProcessIdentity {
  pid: number;
  /** Clock ticks since boot at which the process started; '' when unknown. */
  startTime: string;
}

export async function ownIdentity(): Promise<ProcessIdentity> {
  return { pid: process.pid, startTime: await startTimeOf(process.pid) };
}

/** Whether the process that wrote `identity` still runs; unknown cases count as alive. */
export async function isAlive(identity: ProcessIdentity): Promise<boolean> {
  if (!isPidRunning(identity.pid)) return false;
  if (identity.startTime === '') return true;
  const now = await startTimeOf(identity.pid);
  return now === '' || now === identity.startTime;
}

function isPidRunning(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Field 22 of /proc/PID/stat; the command name (field 2) may hold spaces and parentheses. */
async function startTimeOf(pid: number): Promise<string> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? '';
  } catch {
    return '';
  }
}
