/**
 * Follows a running process from /proc: its peak RSS (VmHWM, a high-water mark, so sampling
 * misses little) and the CPU time it has used, threads included. The CPU share tells whether a
 * single-threaded downloader ran out of core rather than out of link.
 */
import { readFile } from 'node:fs/promises';
import { readPeakRssKiB } from '../lib/proc-status.js';
import type { HostProcess } from './host-process.js';
import { RSS_SAMPLE_INTERVAL_MS } from './settings.js';

/** USER_HZ: the unit of utime and stime in /proc/PID/stat, 100 on every Linux we run on. */
const CLOCK_TICKS_PER_SECOND = 100;
/** Positions of utime and stime among the fields after the command name in /proc/PID/stat. */
const UTIME_INDEX = 11;
const STIME_INDEX = 12;

export interface ProcessUsage {
  readonly peakRssKiB?: number;
  readonly cpuSeconds?: number;
}

async function readCpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses; the fields start after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[UTIME_INDEX]) + Number(fields[STIME_INDEX]);
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

/** Samples until the process exits; the returned function gives the last figures seen. */
export function followUsage(target: HostProcess): () => ProcessUsage {
  let usage: ProcessUsage = {};
  const sample = async () => {
    const [peakRssKiB, cpuSeconds] = await Promise.all([
      readPeakRssKiB(target.pid),
      readCpuSeconds(target.pid),
    ]);
    // After the exit the PID may already belong to someone else.
    if (!target.isRunning()) return;
    usage = {
      ...(peakRssKiB === undefined ? {} : { peakRssKiB: Math.max(peakRssKiB, usage.peakRssKiB ?? 0) }),
      ...(cpuSeconds === undefined ? {} : { cpuSeconds: Math.max(cpuSeconds, usage.cpuSeconds ?? 0) }),
    };
  };
  const timer = setInterval(() => void sample(), RSS_SAMPLE_INTERVAL_MS);
  void target.exited.finally(() => clearInterval(timer));
  return () => usage;
}

export interface MachineCpuSnapshot {
  readonly busyTicks: number;
  readonly totalTicks: number;
  /** Time a virtual machine's host gave to someone else while this machine had work to run. */
  readonly stealTicks: number;
}

/** All cores together, from the first line of /proc/stat. */
export async function machineCpuSnapshot(): Promise<MachineCpuSnapshot | undefined> {
  try {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: idle and iowait are the time nobody computed.
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = ticks;
    const busyTicks = user + nice + system + irq + softirq + steal;
    return { busyTicks, totalTicks: busyTicks + idle + iowait, stealTicks: steal };
  } catch {
    return undefined;
  }
}

type TickCounter = 'busyTicks' | 'stealTicks';

/** What share of all the machine's ticks between two snapshots went to `counter`. */
function shareOfTicks(
  before: MachineCpuSnapshot | undefined,
  after: MachineCpuSnapshot | undefined,
  counter: TickCounter,
): number | undefined {
  if (before === undefined || after === undefined || after.totalTicks <= before.totalTicks) return undefined;
  return (after[counter] - before[counter]) / (after.totalTicks - before.totalTicks);
}

/** The share of the whole machine's CPU the host stole between two snapshots (0 on bare metal). */
export function stealShare(
  before: MachineCpuSnapshot | undefined,
  after: MachineCpuSnapshot | undefined,
): number | undefined {
  return shareOfTicks(before, after, 'stealTicks');
}

/** The share of the whole machine's CPU in use between two snapshots: near 1 means the simulation itself ran short. */
export function busyShare(
  before: MachineCpuSnapshot | undefined,
  after: MachineCpuSnapshot | undefined,
): number | undefined {
  return shareOfTicks(before, after, 'busyTicks');
}
