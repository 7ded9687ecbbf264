/**
 * failover: 4 helpers at 100 Mbit/s; one is killed with SIGKILL at 50% progress. The rest of
 * the file should then come in at the pace of the 3 helpers left.
 */
import { MiB } from '../../lib/data-file.js';
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
import { crashPeer } from '../swarm.js';
import { helperHosts, type Topology } from '../topology.js';

const LINK_MBIT = 100;
const TOPOLOGY: Topology = {
  clientMbit: LINK_MBIT,
  helperMbits: [LINK_MBIT, LINK_MBIT, LINK_MBIT, LINK_MBIT],
};
const VICTIM_HOST = 4;
/** About 7 s before the kill and 9 s after. */
const FILE_BYTES = 640 * MiB;

const PLAN: FaultPlan = {
  label: `kill -9 the peer on h${VICTIM_HOST}`,
  helpers: helperHosts(TOPOLOGY),
  beforeMbit: sum(TOPOLOGY.helperMbits),
  afterMbit: sum(TOPOLOGY.helperMbits) - LINK_MBIT,
  inject: (swarm) => crashPeer(swarm, VICTIM_HOST),
  restore: async () => {},
};

async function run(context: ScenarioContext): Promise<ScenarioReport[]> {
  const rows = await withTopology(TOPOLOGY, context, () =>
    withSourceFile(context, FILE_BYTES, async (source) =>
      context.withDdm
        ? [faultRow(PLAN, FILE_BYTES, await measureFault(context, source, PLAN))]
        : [pendingFaultRow(PLAN, FILE_BYTES)],
    ),
  );
  return [
    {
      title: 'Failover: one of 4 helpers killed at 50%',
      setup: `${describeTopology(TOPOLOGY)}; ddm get --no-local`,
      columns: FAULT_COLUMNS,
      rows,
      notes: [
        'fault at = progress and time of the first --json progress event at or past 50% (events come once a second).',
        'ideal after = the rest of the file at the TCP maximum of the 3 links left; ideal total adds the part before ' +
          'the kill at the TCP maximum of all 4.',
        ...(context.withDdm ? [] : [WITHOUT_DDM_NOTE]),
      ],
    },
  ];
}

export const failoverScenario: Scenario = {
  name: 'failover',
  summary: '4 helpers at 100 Mbit/s, one killed with kill -9 at 50%: time against the ideal with 3',
  run,
};
