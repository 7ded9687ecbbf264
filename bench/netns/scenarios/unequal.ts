/**
 * unequal: helpers at 25, 50, 100 and 200 Mbit/s. ddm pulls work, so fast helpers do more; an
 * equal static split (one fixed range per helper, the reference documents' design) waits for the
 * slowest helper's quarter.
 */
import { MiB } from '../../lib/data-file.js';
import type { Row } from '../../lib/table.js';
import { ddmGet, ddmLabel, type SourceFile, staticSplitGet } from '../downloads.js';
import {
  describeTopology,
  mbitPerSecond,
  medianSeconds,
  pendingThroughputRow,
  repeat,
  type Scenario,
  type ScenarioContext,
  type ScenarioReport,
  sum,
  THROUGHPUT_COLUMNS,
  throughputRow,
  timeoutMs,
  WITHOUT_DDM_NOTE,
  withSourceFile,
  withTopology,
} from '../scenario.js';
import { startSwarm, stopSwarm } from '../swarm.js';
import { helperHosts, type Topology } from '../topology.js';

const TOPOLOGY: Topology = { clientMbit: 100, helperMbits: [25, 50, 100, 200] };
/** About 15 s at the sum of the helpers' links. */
const FILE_BYTES = 640 * MiB;
const SLOWEST_MBIT = Math.min(...TOPOLOGY.helperMbits);
const HELPERS_MBIT = sum(TOPOLOGY.helperMbits);

async function ddmRows(context: ScenarioContext, source: SourceFile, splitMbit: number): Promise<Row[]> {
  const swarm = await startSwarm(helperHosts(TOPOLOGY), context.signal);
  try {
    const limits = { timeoutMs: timeoutMs(FILE_BYTES, SLOWEST_MBIT), signal: context.signal };
    const rows: Row[] = [];
    for (const local of [false, true]) {
      const label = ddmLabel(local);
      const results = await repeat(context, label, () =>
        ddmGet(source, context.outDir, { swarm, local }, limits),
      );
      const limit = HELPERS_MBIT + (local ? TOPOLOGY.clientMbit : 0);
      rows.push(
        throughputRow(
          local ? 'client + 4 helpers' : '4 helpers',
          label,
          FILE_BYTES,
          limit,
          results,
          splitMbit,
        ),
      );
    }
    return rows;
  } finally {
    await stopSwarm(swarm);
  }
}

async function run(context: ScenarioContext): Promise<ScenarioReport[]> {
  const rows = await withTopology(TOPOLOGY, context, () =>
    withSourceFile(context, FILE_BYTES, async (source) => {
      // The slowest helper's quarter at its rate, with room to spare.
      const limits = { timeoutMs: timeoutMs(FILE_BYTES / 4, SLOWEST_MBIT), signal: context.signal };
      const split = await repeat(context, 'static split', () =>
        staticSplitGet(helperHosts(TOPOLOGY), source, context.outDir, limits),
      );
      const splitMbit = mbitPerSecond(FILE_BYTES, medianSeconds(split));
      const splitRow = throughputRow(
        '4 helpers',
        'static split (curl --range)',
        FILE_BYTES,
        HELPERS_MBIT,
        split,
        splitMbit,
      );
      if (!context.withDdm) {
        return [
          splitRow,
          pendingThroughputRow('4 helpers', ddmLabel(false), FILE_BYTES, HELPERS_MBIT),
          pendingThroughputRow(
            'client + 4 helpers',
            ddmLabel(true),
            FILE_BYTES,
            HELPERS_MBIT + TOPOLOGY.clientMbit,
          ),
        ];
      }
      return [splitRow, ...(await ddmRows(context, source, splitMbit))];
    }),
  );
  return [
    {
      title: 'Unequal helpers: 25, 50, 100 and 200 Mbit/s',
      setup: describeTopology(TOPOLOGY),
      columns: THROUGHPUT_COLUMNS,
      rows,
      notes: [
        'static split: each helper fetches one equal quarter with curl --range, all at once; timed until the last ' +
          'quarter is in (joining the parts is not timed).',
        'x baseline = speed over the static split.',
        ...(context.withDdm ? [] : [WITHOUT_DDM_NOTE]),
      ],
    },
  ];
}

export const unequalScenario: Scenario = {
  name: 'unequal',
  summary: 'helpers at 25/50/100/200 Mbit/s: ddm against an equal static split and the sum',
  run,
};
