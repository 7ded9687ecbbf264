/**
 * scale: 1, 2, 4 and 8 helpers at 100 Mbit/s each, client link 100 Mbit/s. ddm with and without
 * the client's own link, against aria2c -x16 from the client alone and against the sum of the
 * links used. The file grows with the number of helpers so each run lasts about 15 s.
 */
import { MiB } from '../../lib/data-file.js';
import type { Row } from '../../lib/table.js';
import { aria2cGet, ddmGet, ddmLabel, type SourceFile } from '../downloads.js';
import {
  mbitPerSecond,
  medianSeconds,
  pendingThroughputRow,
  repeat,
  type Scenario,
  type ScenarioContext,
  type ScenarioReport,
  THROUGHPUT_COLUMNS,
  throughputRow,
  timeoutMs,
  WITHOUT_DDM_NOTE,
  withSourceFile,
  withTopology,
} from '../scenario.js';
import { startSwarm, stopSwarm } from '../swarm.js';
import { helperHosts, type Topology } from '../topology.js';

const HELPER_COUNTS = [1, 2, 4, 8] as const;
const LINK_MBIT = 100;
/** About 17 s per helper link at 100 Mbit/s; 12 s to 15 s when the client's link helps too. */
const FILE_BYTES_PER_HELPER = 192 * MiB;

function topologyFor(helpers: number): Topology {
  return { clientMbit: LINK_MBIT, helperMbits: Array.from({ length: helpers }, () => LINK_MBIT) };
}

function helpersText(count: number): string {
  return count === 1 ? '1 helper' : `${count} helpers`;
}

function limitMbit(topology: Topology, local: boolean): number {
  return topology.helperMbits.length * LINK_MBIT + (local ? topology.clientMbit : 0);
}

async function ddmRows(
  context: ScenarioContext,
  topology: Topology,
  source: SourceFile,
  aria2cMbit: number,
): Promise<Row[]> {
  const helpers = topology.helperMbits.length;
  const swarm = await startSwarm(helperHosts(topology), context.signal);
  try {
    const limits = { timeoutMs: timeoutMs(source.sizeBytes, LINK_MBIT), signal: context.signal };
    const rows: Row[] = [];
    for (const local of [false, true]) {
      const label = ddmLabel(local);
      const results = await repeat(context, `${label}, ${helpersText(helpers)}`, () =>
        ddmGet(source, context.outDir, { swarm, local }, limits),
      );
      const setup = local ? `client + ${helpersText(helpers)}` : helpersText(helpers);
      rows.push(
        throughputRow(setup, label, source.sizeBytes, limitMbit(topology, local), results, aria2cMbit),
      );
    }
    return rows;
  } finally {
    await stopSwarm(swarm);
  }
}

interface HelperCountResult {
  readonly rows: Row[];
  readonly aria2cMbit: number;
}

/** aria2c only ever uses the client's link, so it is measured once, with the first topology. */
async function measureAria2c(
  context: ScenarioContext,
  source: SourceFile,
): Promise<{ row: Row; mbit: number }> {
  const limits = { timeoutMs: timeoutMs(source.sizeBytes, LINK_MBIT), signal: context.signal };
  const results = await repeat(context, 'aria2c -x16', () => aria2cGet(source, context.outDir, limits));
  const mbit = mbitPerSecond(source.sizeBytes, medianSeconds(results));
  return {
    row: throughputRow('client alone', 'aria2c -x16', source.sizeBytes, LINK_MBIT, results, mbit),
    mbit,
  };
}

function rowsFor(context: ScenarioContext, helpers: number, aria2cMbit?: number): Promise<HelperCountResult> {
  const topology = topologyFor(helpers);
  return withTopology(topology, context, () =>
    withSourceFile(context, helpers * FILE_BYTES_PER_HELPER, async (source) => {
      const aria2c = aria2cMbit === undefined ? await measureAria2c(context, source) : undefined;
      const baselineMbit = aria2cMbit ?? aria2c!.mbit;
      const ddm = context.withDdm
        ? await ddmRows(context, topology, source, baselineMbit)
        : [false, true].map((local) =>
            pendingThroughputRow(
              helpersText(helpers),
              ddmLabel(local),
              source.sizeBytes,
              limitMbit(topology, local),
            ),
          );
      return { rows: aria2c === undefined ? ddm : [aria2c.row, ...ddm], aria2cMbit: baselineMbit };
    }),
  );
}

async function run(context: ScenarioContext): Promise<ScenarioReport[]> {
  const rows: Row[] = [];
  let aria2cMbit: number | undefined;
  for (const helpers of HELPER_COUNTS) {
    const result = await rowsFor(context, helpers, aria2cMbit);
    aria2cMbit = result.aria2cMbit;
    rows.push(...result.rows);
  }
  return [
    {
      title: 'Scale: helpers at 100 Mbit/s each',
      setup: `client link ${LINK_MBIT} Mbit/s; 1, 2, 4, 8 helpers at ${LINK_MBIT} Mbit/s; file ${FILE_BYTES_PER_HELPER / MiB} MiB per helper`,
      columns: THROUGHPUT_COLUMNS,
      rows,
      notes: [
        'limit = sum of the links used (the client link counts only without --no-local).',
        'x baseline = speed over aria2c -x16 from the client alone (measured once, with the 1-helper file).',
        ...(context.withDdm ? [] : [WITHOUT_DDM_NOTE]),
      ],
    },
  ];
}

export const scaleScenario: Scenario = {
  name: 'scale',
  summary: '1, 2, 4, 8 helpers at 100 Mbit/s: ddm against aria2c -x16 and the sum of the links',
  run,
};
