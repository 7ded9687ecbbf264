/**
 * Issue 3: a client that fetches nothing itself (--no-local) and gets every byte through four
 * local peers, against aria2c -x4 straight from the same origin, alternating in every round.
 * Peers run for the whole benchmark; their peak RSS is reset before and read after each ddm run.
 */
import type { BenchOptions } from '../lib/args.js';
import { BenchError } from '../lib/bench-error.js';
import { aria2c, DDM_SWARM_GET_OPTIONS, ddmSwarmGet } from '../lib/contenders.js';
import { formatSize } from '../lib/data-file.js';
import { probeDdm } from '../lib/ddm-cli.js';
import { measureOnce, roundName, runRounds } from '../lib/measure.js';
import { readPeakRssKiB, readRssKiB, resetPeakRss } from '../lib/proc-status.js';
import { describeRun, printTable, RESULT_COLUMNS, resultRow, rssMiB } from '../lib/results.js';
import { progress, withSession } from '../lib/session.js';
import { maximum, median } from '../lib/stats.js';
import { SWARM_USAGES, type SwarmPeer, startSwarm } from '../lib/swarm.js';
import type { Column, Row } from '../lib/table.js';
import { printTargets } from '../lib/targets.js';

const PEER_COUNT = 4;

const PEER_COLUMNS: readonly Column[] = [
  { title: 'peer', align: 'left' },
  { title: 'RSS before first download (MiB)', align: 'right' },
  { title: 'median peak RSS per download (MiB)', align: 'right' },
  { title: 'max peak RSS (MiB)', align: 'right' },
];

async function resetPeaks(peers: readonly SwarmPeer[]): Promise<boolean> {
  const results = await Promise.all(peers.map((peer) => resetPeakRss(peer.process.pid)));
  return results.every(Boolean);
}

async function readEach(
  peers: readonly SwarmPeer[],
  read: (pid: number) => Promise<number | undefined>,
): Promise<number[]> {
  return Promise.all(peers.map(async (peer) => (await read(peer.process.pid)) ?? Number.NaN));
}

function peerRows(peers: readonly SwarmPeer[], idle: readonly number[], peaks: readonly number[][]): Row[] {
  return peers.map((peer, index) => {
    const mine = peaks.map((run) => run[index]!);
    return [peer.name, rssMiB(idle[index]!), rssMiB(median(mine)), rssMiB(maximum(mine))];
  });
}

export async function runSwarm(options: BenchOptions, signal: AbortSignal): Promise<number> {
  const readiness = await probeDdm([{ command: 'get', options: DDM_SWARM_GET_OPTIONS }, ...SWARM_USAGES]);
  if (!readiness.ready) {
    throw new BenchError(
      'NOT_READY',
      `the swarm scenario needs ddm tracker, peer and get --tracker: ${readiness.reason}`,
    );
  }

  return withSession([options.sizeBytes], signal, async ({ tools, workspace, sources }) => {
    const source = sources[0]!;
    const swarm = await startSwarm(PEER_COUNT, signal);
    try {
      progress(`tracker ${swarm.trackerUrl} lists ${swarm.peers.map((peer) => peer.name).join(', ')}`);
      const idle = await readEach(swarm.peers, readRssKiB);
      const ddm = ddmSwarmGet(swarm.trackerUrl, swarm.secret, PEER_COUNT);
      const contenders = [ddm, aria2c(tools.aria2c)];
      const peerPeaks: number[][] = [];
      let perRun = true;
      const results = await runRounds(
        contenders,
        options.runs,
        async (contender, round) => {
          if (contender !== ddm) return measureOnce(contender, source, workspace, signal);
          perRun = (await resetPeaks(swarm.peers)) && perRun;
          const run = await measureOnce(contender, source, workspace, signal);
          if (round >= 0) peerPeaks.push(await readEach(swarm.peers, readPeakRssKiB));
          swarm.assertAlive();
          return run;
        },
        (contender, round, run) =>
          progress(
            `${roundName(round, options.runs)} ${contender.label}: ${describeRun(source.sizeBytes, run)}`,
          ),
      );
      printTable(
        `swarm: ${formatSize(source.sizeBytes)} from nginx on 127.0.0.1, ${PEER_COUNT} local peers, ${options.runs} runs per tool, SHA-256 checked`,
        RESULT_COLUMNS,
        contenders.map((contender) => resultRow(contender.label, source.sizeBytes, results.get(contender)!)),
      );
      printTable(
        `swarm peers: peak RSS ${perRun ? 'per ddm download (VmHWM reset before each)' : 'since start (VmHWM could not be reset)'}`,
        PEER_COLUMNS,
        peerRows(swarm.peers, idle, peerPeaks),
      );
      const wall = (contender: (typeof contenders)[number]) =>
        median(results.get(contender)!.map((run) => run.wallSeconds));
      printTargets([
        {
          what: `${ddm.label} speed / aria2c -x4 speed`,
          value: wall(contenders[1]!) / wall(ddm),
          limit: 1.0,
          kind: 'min',
        },
      ]);
      return 0;
    } finally {
      await swarm.stop();
    }
  });
}
