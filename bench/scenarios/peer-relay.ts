/**
 * Issue 14: what a helper costs. One `ddm peer` (4 slots) relays every byte of the file from
 * nginx to a client that fetches nothing itself (--no-local); its CPU seconds (from /proc, before
 * and after each download) and its peak RSS (VmHWM reset before each) are set against curl
 * downloading the same bytes, alternating in every round.
 */
import type { BenchOptions } from '../lib/args.js';
import { BenchError } from '../lib/bench-error.js';
import { curl, DDM_SWARM_GET_OPTIONS, ddmSwarmGet } from '../lib/contenders.js';
import { formatSize } from '../lib/data-file.js';
import { probeDdm } from '../lib/ddm-cli.js';
import { type HelperRun, helperMeter } from '../lib/helper-cost.js';
import { measureOnce, roundName, runRounds } from '../lib/measure.js';
import { describeRun, printTable, RESULT_COLUMNS, resultRow, rssMiB } from '../lib/results.js';
import { progress, withSession } from '../lib/session.js';
import { maximum, median } from '../lib/stats.js';
import { SWARM_USAGES, startSwarm } from '../lib/swarm.js';
import type { Column } from '../lib/table.js';
import { printTargets } from '../lib/targets.js';

const HELPER_COLUMNS: readonly Column[] = [
  { title: 'helper', align: 'left' },
  { title: 'runs', align: 'right' },
  { title: 'median CPU per download (s)', align: 'right' },
  { title: 'max CPU (s)', align: 'right' },
  { title: 'median peak RSS (MiB)', align: 'right' },
  { title: 'max peak RSS (MiB)', align: 'right' },
];

export async function runPeerRelay(options: BenchOptions, signal: AbortSignal): Promise<number> {
  const readiness = await probeDdm([{ command: 'get', options: DDM_SWARM_GET_OPTIONS }, ...SWARM_USAGES]);
  if (!readiness.ready) {
    throw new BenchError(
      'NOT_READY',
      `the peer-relay scenario needs ddm tracker, peer and get --tracker: ${readiness.reason}`,
    );
  }

  return withSession([options.sizeBytes], signal, async ({ tools, workspace, sources }) => {
    const source = sources[0]!;
    const swarm = await startSwarm(1, signal);
    try {
      const helper = swarm.peers[0]!;
      const meter = helperMeter(helper.process.pid, helper.name);
      const ddm = ddmSwarmGet(swarm.trackerUrl, swarm.secret, 1);
      const curlTool = curl(tools.curl);
      const contenders = [ddm, curlTool];
      const helperRuns: HelperRun[] = [];
      const results = await runRounds(
        contenders,
        options.runs,
        async (contender, round) => {
          if (contender !== ddm) return measureOnce(contender, source, workspace, signal);
          const { run, helper: helperRun } = await meter.measure(
            () => measureOnce(contender, source, workspace, signal),
            () => swarm.assertAlive(),
          );
          if (round >= 0) helperRuns.push(helperRun);
          progress(
            `  helper: CPU ${helperRun.cpuSeconds.toFixed(2)} s, peak RSS ${rssMiB(helperRun.peakRssKiB)} MiB`,
          );
          return run;
        },
        (contender, round, run) =>
          progress(
            `${roundName(round, options.runs)} ${contender.label}: ${describeRun(source.sizeBytes, run)}`,
          ),
      );
      printTable(
        `peer-relay: ${formatSize(source.sizeBytes)} from nginx on 127.0.0.1 through one ddm peer (4 slots), ${options.runs} runs per tool, SHA-256 checked`,
        RESULT_COLUMNS,
        contenders.map((contender) => resultRow(contender.label, source.sizeBytes, results.get(contender)!)),
      );
      const cpu = helperRuns.map((run) => run.cpuSeconds);
      const peaks = helperRuns.map((run) => run.peakRssKiB);
      printTable(
        `peer-relay helper: CPU while relaying one download, peak RSS ${meter.peaksPerRun ? 'per download (VmHWM reset before each)' : 'since start (VmHWM could not be reset)'}`,
        HELPER_COLUMNS,
        [
          [
            `ddm peer (${helper.name})`,
            String(helperRuns.length),
            median(cpu).toFixed(2),
            maximum(cpu).toFixed(2),
            rssMiB(median(peaks)),
            rssMiB(maximum(peaks)),
          ],
        ],
      );
      const curlCpu = median(results.get(curlTool)!.map((run) => run.cpuSeconds));
      printTargets([
        {
          what: 'helper CPU / curl CPU for the same bytes',
          value: median(cpu) / curlCpu,
          limit: 1.3,
          kind: 'max',
        },
        {
          what: 'helper peak RSS serving 4 slots',
          value: median(peaks) / 1024,
          limit: 64,
          kind: 'max',
          unit: ' MiB',
        },
      ]);
      return 0;
    } finally {
      await swarm.stop();
    }
  });
}
