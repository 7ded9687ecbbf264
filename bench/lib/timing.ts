/**
 * Runs one command under GNU `/usr/bin/time -v` and reads back its peak RSS and CPU time. Wall
 * time comes from our own clock: time(1) only reports it to the hundredth of a second.
 */
import { readFile, rm } from 'node:fs/promises';
import { abortedError, BenchError } from './bench-error.js';
import { type CommandSpec, killNow, spawnTracked } from './processes.js';

export const TIME_BINARY = '/usr/bin/time';

export interface TimeReport {
  readonly peakRssKiB: number;
  readonly userSeconds: number;
  readonly systemSeconds: number;
  readonly exitStatus: number;
}

export interface TimedRun {
  readonly wallSeconds: number;
  readonly peakRssKiB: number;
  /** User plus system time. */
  readonly cpuSeconds: number;
  /** System time alone: the kernel's work on the process's behalf (socket and page-cache copies, writeback it waits for). */
  readonly systemSeconds: number;
}

function field(report: string, name: string): number {
  const match = new RegExp(`^\\s*${name.replace(/[()]/g, '\\$&')}:\\s*([0-9.]+)\\s*$`, 'm').exec(report);
  if (match?.[1] === undefined) {
    throw new BenchError('TOOL_FAILED', `"${name}" missing from the ${TIME_BINARY} -v report`);
  }
  return Number(match[1]);
}

/** Parses the report that `time -v -o FILE` writes. */
export function parseTimeReport(report: string): TimeReport {
  return {
    peakRssKiB: field(report, 'Maximum resident set size (kbytes)'),
    userSeconds: field(report, 'User time (seconds)'),
    systemSeconds: field(report, 'System time (seconds)'),
    exitStatus: field(report, 'Exit status'),
  };
}

export interface TimedOptions {
  /** Where time(1) writes its report; overwritten on every run. */
  readonly reportFile: string;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

function describe(spec: CommandSpec): string {
  return [spec.command, ...spec.args].join(' ');
}

export async function runTimed(label: string, spec: CommandSpec, options: TimedOptions): Promise<TimedRun> {
  await rm(options.reportFile, { force: true });
  const started = process.hrtime.bigint();
  const tracked = spawnTracked(label, {
    command: TIME_BINARY,
    args: ['-v', '-o', options.reportFile, spec.command, ...spec.args],
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killNow(tracked);
  }, options.timeoutMs);
  const onAbort = () => killNow(tracked);
  options.signal.addEventListener('abort', onAbort, { once: true });
  const exit = await tracked.exited.finally(() => {
    clearTimeout(timer);
    options.signal.removeEventListener('abort', onAbort);
  });
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;

  if (options.signal.aborted) throw abortedError(options.signal);
  if (timedOut) {
    throw new BenchError(
      'TIMEOUT',
      `${label} did not finish within ${options.timeoutMs / 1000} s: ${describe(spec)}`,
    );
  }
  if (exit.error !== undefined) {
    throw new BenchError('TOOL_MISSING', `cannot start ${TIME_BINARY}: ${exit.error.message}`, {
      cause: exit.error,
    });
  }
  if (exit.code !== 0) {
    throw new BenchError(
      'TOOL_FAILED',
      `${label} exited with ${exit.code ?? exit.signal}: ${describe(spec)}\n${tracked.outputTail().trim()}`,
    );
  }
  const report = parseTimeReport(await readFile(options.reportFile, 'utf8'));
  return {
    wallSeconds,
    peakRssKiB: report.peakRssKiB,
    cpuSeconds: report.userSeconds + report.systemSeconds,
    systemSeconds: report.systemSeconds,
  };
}
