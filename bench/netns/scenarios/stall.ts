/**
 * stall: 4 helpers at 100 Mbit/s; one helper's link drops to 1 Mbit/s at 50% progress. The tail
 * (time beyond the ideal with the 3 others) must not grow with the slowed helper's share, so the
 * scenario runs with two file sizes.
 */
import { MiB } from '../../lib/data-file.js';
import type { Row } from '../../lib/table.js';
import { FAULT_COLUMNS, type FaultPlan, faultRow, measureFault, pendingFaultRow } from '../fault.js';
import {
  describeTopology,
  type Scenario,
  type ScenarioContext,
  type ScenarioReport,
  sum,
  WITHOUT_DDM_NOTE,
  withSourceFile,
  withTopology,
} from '../scenario.js';
import { helperHosts, setDownloadRate, type Topology } from '../topology.js';

const LINK_MBIT = 100;
const STALLED_MBIT = 1;
const TOPOLOGY: Topology = {
  clientMbit: LINK_MBIT,
  helperMbits: [LINK_MBIT, LINK_MBIT, LINK_MBIT, LINK_MBIT],
};
const SLOWED_HOST = 4;
const FILE_SIZES_BYTES = [320 * MiB, 640 * MiB] as const;

function planFor(context: ScenarioContext): FaultPlan {
  return {
    label: `h${SLOWED_HOST} link ${LINK_MBIT} -> ${STALLED_MBIT} Mbit/s`,
    helpers: helperHosts(TOPOLOGY),
    beforeMbit: sum(TOPOLOGY.helperMbits),
    afterMbit: sum(TOPOLOGY.helperMbits) - LINK_MBIT + STALLED_MBIT,
    inject: () => setDownloadRate(SLOWED_HOST, STALLED_MBIT, context.signal),
    restore: () => setDownloadRate(SLOWED_HOST, LINK_MBIT, context.signal),
  };
}

async function run(context: ScenarioContext): Promise<ScenarioReport[]> {
  const plan = planFor(context);
  const rows: Row[] = [];
  await withTopology(TOPOLOGY, context, async () => {
    for (const sizeBytes of FILE_SIZES_BYTES) {
      const row = await withSourceFile(context, sizeBytes, async (source) =>
        context.withDdm
          ? faultRow(plan, sizeBytes, await measureFault(context, source, plan))
          : pendingFaultRow(plan, sizeBytes),
      );
      rows.push(row);
    }
  });
  return [
    {
      title: `Stall: one of 4 helpers drops to ${STALLED_MBIT} Mbit/s at 50%`,
      setup: `${describeTopology(TOPOLOGY)}; ddm get --no-local`,
      columns: FAULT_COLUMNS,
      rows,
      notes: [
        'tail = time after the slowdown beyond the ideal for the rest at the 3 full links (+1 Mbit/s); it should not ' +
          'grow with the file size, i.e. with what the slowed helper still had to do.',
        ...(context.withDdm ? [] : [WITHOUT_DDM_NOTE]),
      ],
    },
  ];
}

export const stallScenario: Scenario = {
  name: 'stall',
  summary: "one of 4 helpers' links drops to 1 Mbit/s at 50%: the tail time, at two file sizes",
  run,
};
