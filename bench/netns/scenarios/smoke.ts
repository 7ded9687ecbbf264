/**
 * smoke: the whole path in a few seconds, for CI. Two helpers and a small file; every download
 * is checked byte for byte. Speeds are printed but not judged: a busy CI machine may be slow.
 */
import { MiB } from '../../lib/data-file.js';
import type { Row } from '../../lib/table.js';
import { aria2cGet, curlGet, ddmGet, ddmLabel, type SourceFile, staticSplitGet } from '../downloads.js';
import {
  describeTopology,
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
import { CLIENT_HOST } from '../settings.js';
import { startSwarm, stopSwarm } from '../swarm.js';
import { helperHosts, type Topology } from '../topology.js';

const LINK_MBIT = 200;
const FILE_BYTES = 32 * MiB;
const TOPOLOGY: Topology = { clientMbit: LINK_MBIT, helperMbits: [LINK_MBIT, LINK_MBIT] };

async function ddmRows(context: ScenarioContext, source: SourceFile): Promise<Row[]> {
  const helpers = helperHosts(TOPOLOGY);
  const swarm = await startSwarm(helpers, context.signal);
  try {
    const limits = { timeoutMs: timeoutMs(FILE_BYTES, LINK_MBIT), signal: context.signal };
    const rows: Row[] = [];
    for (const local of [true, false]) {
      const label = ddmLabel(local);
      const results = await repeat(context, label, () =>
        ddmGet(source, context.outDir, { swarm, local }, limits),
      );
      const limit = sum(TOPOLOGY.helperMbits) + (local ? TOPOLOGY.clientMbit : 0);
      rows.push(throughputRow(local ? 'client + 2 helpers' : '2 helpers', label, FILE_BYTES, limit, results));
    }
    return rows;
  } finally {
    await stopSwarm(swarm);
  }
}

async function run(context: ScenarioContext): Promise<ScenarioReport[]> {
  const once = { ...context, runs: 1 };
  const rows = await withTopology(TOPOLOGY, once, () =>
    withSourceFile(once, FILE_BYTES, async (source) => {
      const limits = { timeoutMs: timeoutMs(FILE_BYTES, LINK_MBIT), signal: context.signal };
      const curl = await repeat(once, 'curl h0', () => curlGet(CLIENT_HOST, source, once.outDir, limits));
      const aria2c = await repeat(once, 'aria2c h0', () => aria2cGet(source, once.outDir, limits));
      const split = await repeat(once, 'static split', () =>
        staticSplitGet(helperHosts(TOPOLOGY), source, once.outDir, limits),
      );
      const baselines = [
        throughputRow('client alone', 'curl', FILE_BYTES, LINK_MBIT, curl),
        throughputRow('client alone', 'aria2c -x16', FILE_BYTES, LINK_MBIT, aria2c),
        throughputRow(
          '2 helpers',
          'static split (curl --range)',
          FILE_BYTES,
          sum(TOPOLOGY.helperMbits),
          split,
        ),
      ];
      return once.withDdm ? [...baselines, ...(await ddmRows(once, source))] : baselines;
    }),
  );
  return [
    {
      title: 'Smoke: every tool once, bytes checked with SHA-256',
      setup: describeTopology(TOPOLOGY),
      columns: THROUGHPUT_COLUMNS,
      rows,
      notes: context.withDdm ? [] : [WITHOUT_DDM_NOTE],
    },
  ];
}

export const smokeScenario: Scenario = {
  name: 'smoke',
  summary: '2 helpers, 32 MiB, 200 Mbit/s links: every tool once, SHA-256 checked (for CI)',
  run,
};
