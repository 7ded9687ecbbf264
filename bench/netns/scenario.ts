/**
 * What every multi-host scenario shares: its context, its report (a titled table), the topology
 * that lives exactly as long as the scenario's body, the served files, repeated runs and the
 * figures each row shows.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isBenchError, throwIfAborted } from '../lib/bench-error.js';
import { ensureFreeSpace, formatSize, MiB, writeRandomFile } from '../lib/data-file.js';
import { maximum, median, minimum } from '../lib/stats.js';
import type { Column, Row } from '../lib/table.js';
import type { SourceFile, TimedResult } from './downloads.js';
import { RUN_TIMEOUT_FACTOR, RUN_TIMEOUT_FLOOR_MS, TCP_PAYLOAD_PER_FRAME_RATIO } from './settings.js';
import { originUrl, setUpTopology, type Topology, tearDownTopology } from './topology.js';

export interface ScenarioContext {
  /** nginx serves this directory at the origin address. */
  readonly servedDir: string;
  /** Downloads land here; emptied before and after every run. */
  readonly outDir: string;
  readonly runs: number;
  /** false when the ddm CLI is not there yet: only the baselines run. */
  readonly withDdm: boolean;
  readonly signal: AbortSignal;
  log(message: string): void;
  /** A run that failed; the others go on, and the benchmark exits with an error at the end. */
  reportFailure(message: string): void;
}

export interface ScenarioReport {
  readonly title: string;
  /** One line on hosts, links and file, printed above the table. */
  readonly setup: string;
  readonly columns: readonly Column[];
  readonly rows: readonly Row[];
  readonly notes: readonly string[];
}

export interface Scenario {
  readonly name: string;
  readonly summary: string;
  run(context: ScenarioContext): Promise<ScenarioReport[]>;
}

export const NOT_RUN = 'not run';
export const WITHOUT_DDM_NOTE = 'ddm rows not run: the ddm CLI is not built yet (--without-ddm).';

export function describeTopology(topology: Topology): string {
  const helpers = topology.helperMbits.map((mbit) => `${mbit}`).join(', ');
  return `client link ${topology.clientMbit} Mbit/s; helper links [${helpers}] Mbit/s`;
}

/** Builds the hosts, runs `body`, and always tears the hosts down again. */
export async function withTopology<T>(
  topology: Topology,
  context: ScenarioContext,
  body: () => Promise<T>,
): Promise<T> {
  context.log(`topology: ${describeTopology(topology)}`);
  await setUpTopology(topology, context.servedDir, context.signal);
  try {
    return await body();
  } finally {
    await tearDownTopology();
  }
}

/** Writes a random file into the served directory; `body` downloads it; the file is removed after. */
export async function withSourceFile<T>(
  context: ScenarioContext,
  sizeBytes: number,
  body: (source: SourceFile) => Promise<T>,
): Promise<T> {
  // The served copy plus one download, with room to spare for ddm's control file.
  await ensureFreeSpace(context.servedDir, 2 * sizeBytes + 64 * MiB, `a ${formatSize(sizeBytes)} file`);
  const fileName = `file-${sizeBytes}.bin`;
  const path = join(context.servedDir, fileName);
  context.log(`writing ${formatSize(sizeBytes)} of random bytes`);
  try {
    const sha256 = await writeRandomFile(path, sizeBytes, context.signal);
    return await body({ fileName, url: originUrl(fileName), sizeBytes, sha256 });
  } finally {
    await rm(path, { force: true });
  }
}

/** The runs of one measurement: what succeeded, and the error code of each run that did not. */
export interface Outcome<T extends TimedResult> {
  readonly results: readonly T[];
  readonly failures: readonly string[];
}

/**
 * Runs a measurement `context.runs` times. A failed run (a hang, wrong bytes) is reported and
 * shown in its row, but does not cost the other runs and rows.
 */
export async function repeat<T extends TimedResult>(
  context: ScenarioContext,
  label: string,
  once: (round: number) => Promise<T>,
): Promise<Outcome<T>> {
  const results: T[] = [];
  const failures: string[] = [];
  for (let round = 0; round < context.runs; round++) {
    throwIfAborted(context.signal);
    const run = `${label}: run ${round + 1}/${context.runs}`;
    try {
      const result = await once(round);
      context.log(`${run}: ${result.seconds.toFixed(2)} s`);
      results.push(result);
    } catch (error) {
      if (context.signal.aborted) throw error;
      failures.push(isBenchError(error) ? error.code : 'FAILED');
      context.reportFailure(`${run}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { results, failures };
}

/** "3", or "2 of 3 (1 TIMEOUT)" when runs failed. */
export function runsCell(outcome: Outcome<TimedResult>): string {
  const total = outcome.results.length + outcome.failures.length;
  if (outcome.failures.length === 0) return String(total);
  const counts = new Map<string, number>();
  for (const code of outcome.failures) counts.set(code, (counts.get(code) ?? 0) + 1);
  const failed = [...counts].map(([code, count]) => `${count} ${code}`).join(', ');
  return `${outcome.results.length} of ${total} (${failed})`;
}

export const FAILED = 'failed';

/** Time for `sizeBytes` over links summing to `mbit`, at the best TCP can do on them. */
export function idealSeconds(sizeBytes: number, mbit: number): number {
  return (sizeBytes * 8) / (mbit * 1e6 * TCP_PAYLOAD_PER_FRAME_RATIO);
}

export function timeoutMs(sizeBytes: number, slowestMbit: number): number {
  return Math.max(RUN_TIMEOUT_FLOOR_MS, RUN_TIMEOUT_FACTOR * idealSeconds(sizeBytes, slowestMbit) * 1000);
}

export function mbitPerSecond(sizeBytes: number, seconds: number): number {
  return (sizeBytes * 8) / seconds / 1e6;
}

export const fixed = (value: number, digits: number): string => value.toFixed(digits);
export const percent = (ratio: number): string => `${(ratio * 100).toFixed(1)}%`;

/** NaN when no run succeeded. */
export function medianSeconds(outcome: Outcome<TimedResult>): number {
  return outcome.results.length === 0 ? Number.NaN : median(outcome.results.map((result) => result.seconds));
}

/** "12.34 (12.10-12.80)": the median and the spread of the runs. */
export function secondsCell(outcome: Outcome<TimedResult>): string {
  if (outcome.results.length === 0) return FAILED;
  const seconds = outcome.results.map((result) => result.seconds);
  return `${fixed(median(seconds), 2)} (${fixed(minimum(seconds), 2)}-${fixed(maximum(seconds), 2)})`;
}

/** Columns of every throughput table: what ran, how fast, and how close to what the links allow. */
export const THROUGHPUT_COLUMNS: readonly Column[] = [
  { title: 'setup', align: 'left' },
  { title: 'tool', align: 'left' },
  { title: 'file', align: 'right' },
  { title: 'runs', align: 'right' },
  { title: 'time s, median (min-max)', align: 'right' },
  { title: 'Mbit/s', align: 'right' },
  { title: 'limit Mbit/s', align: 'right' },
  { title: '% of limit', align: 'right' },
  { title: '% of TCP max', align: 'right' },
  { title: 'x baseline', align: 'right' },
  { title: 'tool CPU % of a core', align: 'right' },
  { title: 'machine CPU busy %', align: 'right' },
];

/** CPU time over wall time of the downloading process: near 100% means one core was its limit. */
export function cpuCell(outcome: Outcome<TimedResult>): string {
  const shares = outcome.results.flatMap((result) =>
    result.cpuSeconds === undefined ? [] : [result.cpuSeconds / result.seconds],
  );
  return shares.length === 0 ? '-' : fixed(median(shares) * 100, 0);
}

/** How busy all cores were during the runs, whoever used them: near 100% means the machine, not the links, set the pace. */
export function machineBusyCell(outcome: Outcome<TimedResult>): string {
  const shares = outcome.results.flatMap((result) =>
    result.machineBusyShare === undefined ? [] : [result.machineBusyShare],
  );
  return shares.length === 0 ? '-' : fixed(median(shares) * 100, 0);
}

export function throughputRow(
  setup: string,
  tool: string,
  sizeBytes: number,
  limitMbit: number,
  outcome: Outcome<TimedResult>,
  baselineMbit?: number,
): Row {
  const rate = mbitPerSecond(sizeBytes, medianSeconds(outcome));
  const known = (text: string) => (Number.isNaN(rate) ? FAILED : text);
  const speedUp = baselineMbit === undefined ? '-' : known(`${fixed(rate / baselineMbit, 2)}x`);
  return [
    setup,
    tool,
    formatSize(sizeBytes),
    runsCell(outcome),
    secondsCell(outcome),
    known(fixed(rate, 1)),
    String(limitMbit),
    known(percent(rate / limitMbit)),
    known(percent(rate / (limitMbit * TCP_PAYLOAD_PER_FRAME_RATIO))),
    speedUp,
    cpuCell(outcome),
    machineBusyCell(outcome),
  ];
}

export function pendingThroughputRow(setup: string, tool: string, sizeBytes: number, limitMbit: number): Row {
  return [
    setup,
    tool,
    formatSize(sizeBytes),
    '0',
    NOT_RUN,
    NOT_RUN,
    String(limitMbit),
    NOT_RUN,
    NOT_RUN,
    '-',
    '-',
    '-',
  ];
}

export const sum = (values: readonly number[]): number => values.reduce((total, value) => total + value, 0);
