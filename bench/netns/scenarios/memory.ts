/**
 * memory: peak RSS of the client and of one helper for 64 MiB, 1 GiB and 4 GiB downloads, on
 * fast links (1 Gbit/s each) so the big one takes reasonable time. Memory should not grow with
 * the file size: the 1 GiB row separates start-up from growth.
 */
import { formatSize, GiB, MiB } from '../../lib/data-file.js';
import { readPeakRssKiB, resetPeakRss } from '../../lib/proc-status.js';
import { maximum, median } from '../../lib/stats.js';
import type { Column, Row } from '../../lib/table.js';
import { ddmGet, type SourceFile, type TimedResult } from '../downloads.js';
import {
  describeTopology,
  FAILED,
  fixed,
  mbitPerSecond,
  medianSeconds,
  type Outcome,
  repeat,
  runsCell,
  type Scenario,
  type ScenarioContext,
  type ScenarioReport,
  secondsCell,
  timeoutMs,
  WITHOUT_DDM_NOTE,
  withSourceFile,
  withTopology,
} from '../scenario.js';
import { type Swarm, startSwarm, stopSwarm } from '../swarm.js';
import { helperHosts, type Topology } from '../topology.js';

const LINK_MBIT = 1_000;
const TOPOLOGY: Topology = {
  clientMbit: LINK_MBIT,
  helperMbits: [LINK_MBIT, LINK_MBIT, LINK_MBIT, LINK_MBIT],
};
const WATCHED_HELPER = 1;
const FILE_SIZES_BYTES = [64 * MiB, GiB, 4 * GiB] as const;
/** For the time limit only: two cores may not keep up with 5 Gbit/s of links. */
const SLOWEST_EXPECTED_MBIT = 200;

const COLUMNS: readonly Column[] = [
  { title: 'file', align: 'right' },
  { title: 'runs', align: 'right' },
  { title: 'time s, median (min-max)', align: 'right' },
  { title: 'Mbit/s', align: 'right' },
  { title: 'client peak RSS MiB, median (max)', align: 'right' },
  { title: `helper h${WATCHED_HELPER} peak RSS MiB, median (max)`, align: 'right' },
  { title: 'client CPU s per GB, median', align: 'right' },
];

interface MemoryRun extends TimedResult {
  readonly helperPeakRssKiB: number | undefined;
}

async function memoryRun(context: ScenarioContext, swarm: Swarm, source: SourceFile): Promise<MemoryRun> {
  const helper = swarm.peers.get(WATCHED_HELPER)!;
  // Without a reset, the helper's high-water mark would span every earlier download.
  await resetPeakRss(helper.pid);
  const limits = { timeoutMs: timeoutMs(source.sizeBytes, SLOWEST_EXPECTED_MBIT), signal: context.signal };
  const result = await ddmGet(source, context.outDir, { swarm, local: true }, limits);
  return { ...result, helperPeakRssKiB: await readPeakRssKiB(helper.pid) };
}

function mibCell(values: readonly (number | undefined)[]): string {
  const known = values.filter((value): value is number => value !== undefined);
  if (known.length === 0) return 'unknown';
  return `${fixed(median(known) / 1024, 1)} (${fixed(maximum(known) / 1024, 1)})`;
}

function memoryRow(sizeBytes: number, outcome: Outcome<MemoryRun>): Row {
  if (outcome.results.length === 0) {
    return [formatSize(sizeBytes), runsCell(outcome), FAILED, FAILED, FAILED, FAILED, FAILED];
  }
  return [
    formatSize(sizeBytes),
    runsCell(outcome),
    secondsCell(outcome),
    fixed(mbitPerSecond(sizeBytes, medianSeconds(outcome)), 0),
    mibCell(outcome.results.map((run) => run.peakRssKiB)),
    mibCell(outcome.results.map((run) => run.helperPeakRssKiB)),
    cpuPerGbCell(sizeBytes, outcome.results),
  ];
}

/** Issue 14 asks for the client's CPU per byte: user + system seconds over decimal gigabytes. */
function cpuPerGbCell(sizeBytes: number, runs: readonly MemoryRun[]): string {
  const perGb = runs
    .map((run) => run.cpuSeconds)
    .filter((seconds): seconds is number => seconds !== undefined)
    .map((seconds) => seconds / (sizeBytes / 1e9));
  return perGb.length === 0 ? 'unknown' : fixed(median(perGb), 2);
}

async function measure(context: ScenarioContext): Promise<Row[]> {
  const swarm = await startSwarm(helperHosts(TOPOLOGY), context.signal);
  try {
    const rows: Row[] = [];
    for (const sizeBytes of FILE_SIZES_BYTES) {
      const outcome = await withSourceFile(context, sizeBytes, (source) =>
        repeat(context, `ddm get ${formatSize(sizeBytes)}`, () => memoryRun(context, swarm, source)),
      );
      rows.push(memoryRow(sizeBytes, outcome));
    }
    return rows;
  } finally {
    await stopSwarm(swarm);
  }
}

async function run(context: ScenarioContext): Promise<ScenarioReport[]> {
  const rows = context.withDdm
    ? await withTopology(TOPOLOGY, context, () => measure(context))
    : FILE_SIZES_BYTES.map((size) => [formatSize(size), '0', ...Array(5).fill('not run')]);
  return [
    {
      title: 'Memory: peak RSS against file size',
      setup: `${describeTopology(TOPOLOGY)}; ddm get (client link included)`,
      columns: COLUMNS,
      rows,
      notes: [
        "peak RSS = the kernel's VmHWM: sampled every 100 ms for the client, reset before each run for the helper.",
        'client CPU = user + system seconds of the ddm get process, per 10^9 bytes of the file.',
        ...(context.withDdm ? [] : [WITHOUT_DDM_NOTE]),
      ],
    },
  ];
}

export const memoryScenario: Scenario = {
  name: 'memory',
  summary: 'peak RSS of the client and one helper for 64 MiB, 1 GiB and 4 GiB, 1 Gbit/s links',
  run,
};
