/** Turns timed runs into the result table rows, and prints a table both ways. */
import { maximum, median, minimum } from './stats.js';
import { type Column, type Row, renderMarkdown, renderText } from './table.js';
import type { TimedRun } from './timing.js';

const KiB_PER_MiB = 1024;

export const RESULT_COLUMNS: readonly Column[] = [
  { title: 'tool', align: 'left' },
  { title: 'runs', align: 'right' },
  { title: 'median time (s)', align: 'right' },
  { title: 'median MB/s', align: 'right' },
  { title: 'median peak RSS (MiB)', align: 'right' },
  { title: 'min time (s)', align: 'right' },
  { title: 'max time (s)', align: 'right' },
  { title: 'median CPU (s)', align: 'right' },
  { title: 'of it system (s)', align: 'right' },
];

/** MB/s in 10^6 bytes per second, as download tools and the design brief count. */
export function megabytesPerSecond(sizeBytes: number, seconds: number): number {
  return sizeBytes / seconds / 1e6;
}

export function rssMiB(kib: number): string {
  return (kib / KiB_PER_MiB).toFixed(1);
}

export function describeRun(sizeBytes: number, run: TimedRun): string {
  return (
    `${run.wallSeconds.toFixed(2)} s, ${megabytesPerSecond(sizeBytes, run.wallSeconds).toFixed(0)} MB/s, ` +
    `peak RSS ${rssMiB(run.peakRssKiB)} MiB, CPU ${run.cpuSeconds.toFixed(2)} s (system ${run.systemSeconds.toFixed(2)} s)`
  );
}

export function resultRow(label: string, sizeBytes: number, runs: readonly TimedRun[]): Row {
  const seconds = runs.map((run) => run.wallSeconds);
  const medianSeconds = median(seconds);
  return [
    label,
    String(runs.length),
    medianSeconds.toFixed(3),
    megabytesPerSecond(sizeBytes, medianSeconds).toFixed(0),
    rssMiB(median(runs.map((run) => run.peakRssKiB))),
    minimum(seconds).toFixed(3),
    maximum(seconds).toFixed(3),
    median(runs.map((run) => run.cpuSeconds)).toFixed(2),
    median(runs.map((run) => run.systemSeconds)).toFixed(2),
  ];
}

/** A row for a tool that could not be measured yet, so the table still shows the gap. */
export function pendingRow(label: string, columnCount = RESULT_COLUMNS.length): Row {
  return [label, '0', ...Array.from({ length: columnCount - 2 }, () => 'pending')];
}

export function printTable(title: string, columns: readonly Column[], rows: readonly Row[]): void {
  process.stdout.write(
    `\n${title}\n\n${renderText(columns, rows)}\n\nMarkdown:\n\n${renderMarkdown(columns, rows)}\n`,
  );
}
