/**
 * link: the shaping itself. One host through its 100 Mbit/s link with curl and with aria2c -x16;
 * both should sit just under the TCP maximum of the link, whatever the number of connections.
 */
import { MiB } from '../../lib/data-file.js';
import { aria2cGet, curlGet } from '../downloads.js';
import {
  describeTopology,
  repeat,
  type Scenario,
  type ScenarioContext,
  type ScenarioReport,
  THROUGHPUT_COLUMNS,
  throughputRow,
  timeoutMs,
  withSourceFile,
  withTopology,
} from '../scenario.js';
import { CLIENT_HOST } from '../settings.js';
import type { Topology } from '../topology.js';

const LINK_MBIT = 100;
const FILE_BYTES = 64 * MiB;
const TOPOLOGY: Topology = { clientMbit: LINK_MBIT, helperMbits: [LINK_MBIT] };

async function run(context: ScenarioContext): Promise<ScenarioReport[]> {
  const rows = await withTopology(TOPOLOGY, context, () =>
    withSourceFile(context, FILE_BYTES, async (source) => {
      const limits = { timeoutMs: timeoutMs(FILE_BYTES, LINK_MBIT), signal: context.signal };
      const client = await repeat(context, 'curl h0', () =>
        curlGet(CLIENT_HOST, source, context.outDir, limits),
      );
      const helper = await repeat(context, 'curl h1', () => curlGet(1, source, context.outDir, limits));
      const aria2c = await repeat(context, 'aria2c h0', () => aria2cGet(source, context.outDir, limits));
      return [
        throughputRow('client h0', 'curl', FILE_BYTES, LINK_MBIT, client),
        throughputRow('helper h1', 'curl', FILE_BYTES, LINK_MBIT, helper),
        throughputRow('client h0', 'aria2c -x16', FILE_BYTES, LINK_MBIT, aria2c),
      ];
    }),
  );
  return [
    {
      title: 'Link check: one host through its own shaped link',
      setup: describeTopology(TOPOLOGY),
      columns: THROUGHPUT_COLUMNS,
      rows,
      notes: [
        'The TCP maximum of a link is 1448/1514 of its rate: tbf counts whole frames, the file is the TCP payload.',
      ],
    },
  ];
}

export const linkScenario: Scenario = {
  name: 'link',
  summary: 'one host through its 100 Mbit/s link with curl and aria2c -x16 (checks the shaping)',
  run,
};
