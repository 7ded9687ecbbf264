/**
 * What a helper costs while it serves one download: its CPU seconds (from /proc, before and after)
 * and its peak RSS (VmHWM, reset before each download when the kernel allows it).
 */
import { BenchError } from './bench-error.js';
import { readCpuSeconds, readPeakRssKiB, resetPeakRss } from './proc-status.js';
import type { TimedRun } from './timing.js';

export interface HelperRun {
  readonly cpuSeconds: number;
  readonly peakRssKiB: number;
}

export interface HelperMeter {
  /** Whether every peak was per download (VmHWM could be reset each time). */
  readonly peaksPerRun: boolean;
  /** Runs `download` and reports what the helper spent on it. */
  measure(
    download: () => Promise<TimedRun>,
    alive: () => void,
  ): Promise<{ run: TimedRun; helper: HelperRun }>;
}

export function helperMeter(pid: number, name: string): HelperMeter {
  let peaksPerRun = true;
  return {
    get peaksPerRun() {
      return peaksPerRun;
    },
    async measure(download, alive) {
      peaksPerRun = (await resetPeakRss(pid)) && peaksPerRun;
      const cpuBefore = await readCpuSeconds(pid);
      const run = await download();
      const cpuAfter = await readCpuSeconds(pid);
      const peak = await readPeakRssKiB(pid);
      alive();
      if (cpuBefore === undefined || cpuAfter === undefined || peak === undefined) {
        throw new BenchError('TOOL_FAILED', `cannot read /proc/${pid} of ${name}`);
      }
      return { run, helper: { cpuSeconds: cpuAfter - cpuBefore, peakRssKiB: peak } };
    },
  };
}
