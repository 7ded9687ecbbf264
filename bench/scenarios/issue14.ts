/**
 * Issue 14 in one run: every target of its table, measured side by side with curl and aria2c
 * (medians of --runs), then the whole table with PASS/FAIL per row.
 *
 * Sections, one after the other on the same nginx and files:
 * 1. ddm get -c4, aria2c -x4 and curl on --size (default 1 GiB): CPU and wall against curl.
 * 2. ddm get -c4 on 64 MiB and on the large size (4 GiB; --size with --quick): peak RSS, flatness.
 * 3. one ddm peer (4 slots) relaying --size to a --no-local client: the helper's CPU against
 *    curl's (section 1) and its peak RSS.
 * 4. four loopback peers, --no-local, --size: speed against aria2c -x4 (section 1).
 * The netns row (client CPU per GB at 1 Gbit/s links) needs root and network namespaces; it is
 * printed with the command that measures it (`npm run bench:netns -- memory`).
 */
import { type BenchOptions, MEMORY_SMALL_BYTES } from '../lib/args.js';
import { BenchError } from '../lib/bench-error.js';
import {
  aria2c,
  type Contender,
  curl,
  DDM_GET_OPTIONS,
  DDM_SWARM_GET_OPTIONS,
  ddmGet,
  ddmSwarmGet,
} from '../lib/contenders.js';
import { formatSize, GiB } from '../lib/data-file.js';
import { probeDdm } from '../lib/ddm-cli.js';
import { type HelperRun, helperMeter } from '../lib/helper-cost.js';
import { measureOnce, roundName, runRounds, type SourceFile } from '../lib/measure.js';
import { describeRun, printTable, RESULT_COLUMNS, resultRow, rssMiB } from '../lib/results.js';
import { progress, withSession } from '../lib/session.js';
import { median } from '../lib/stats.js';
import { SWARM_USAGES, startSwarm } from '../lib/swarm.js';
import type { Column, Row } from '../lib/table.js';
import { passes, type TargetCheck } from '../lib/targets.js';
import type { TimedRun } from '../lib/timing.js';
import type { Workspace } from '../lib/workspace.js';

const LARGE_BYTES = 4 * GiB;
const SWARM_PEERS = 4;
const FLATNESS_RATIO = 1.1;

const TARGET_COLUMNS: readonly Column[] = [
  { title: 'figure', align: 'left' },
  { title: 'target', align: 'left' },
  { title: 'measured (medians)', align: 'left' },
  { title: '', align: 'left' },
];

interface Measured {
  readonly check?: TargetCheck;
  readonly figure: string;
  readonly target: string;
  readonly measured: string;
}

type Runs = Map<Contender, TimedRun[]>;

const med = (runs: Runs, contender: Contender, pick: keyof TimedRun) =>
  median(runs.get(contender)!.map((run) => run[pick]));

async function rounds(
  contenders: Contender[],
  runs: number,
  measure: (contender: Contender, round: number) => Promise<TimedRun>,
  sizeOf: (contender: Contender) => number,
): Promise<Runs> {
  return runRounds(contenders, runs, measure, (contender, round, run) =>
    progress(`${roundName(round, runs)} ${contender.label}: ${describeRun(sizeOf(contender), run)}`),
  );
}

export async function runIssue14(options: BenchOptions, signal: AbortSignal): Promise<number> {
  const readiness = await probeDdm([
    { command: 'get', options: DDM_GET_OPTIONS },
    { command: 'get', options: DDM_SWARM_GET_OPTIONS },
    ...SWARM_USAGES,
  ]);
  if (!readiness.ready) throw new BenchError('NOT_READY', `issue14 needs all of ddm: ${readiness.reason}`);
  const mainBytes = options.sizeBytes;
  const largeBytes = options.quick ? mainBytes : Math.max(LARGE_BYTES, mainBytes);
  const sizes = [...new Set([MEMORY_SMALL_BYTES, mainBytes, largeBytes])];

  return withSession(sizes, signal, async ({ tools, workspace, sources }) => {
    const bySize = (bytes: number) => sources.find((source) => source.sizeBytes === bytes)!;
    const main = bySize(mainBytes);
    const table: Measured[] = [];

    // 1. The byte path from nginx against curl and aria2c.
    const ddm = ddmGet();
    const aria = aria2c(tools.aria2c);
    const curlTool = curl(tools.curl);
    const single = await rounds(
      [ddm, aria, curlTool],
      options.runs,
      (contender) => measureOnce(contender, main, workspace, signal),
      () => mainBytes,
    );
    printTable(
      `issue14 1/4: ${formatSize(mainBytes)} from nginx on 127.0.0.1, ${options.runs} runs per tool`,
      RESULT_COLUMNS,
      [ddm, aria, curlTool].map((c) => resultRow(c.label, mainBytes, single.get(c)!)),
    );
    const curlCpu = med(single, curlTool, 'cpuSeconds');
    const curlWall = med(single, curlTool, 'wallSeconds');
    const ddmCpu = med(single, ddm, 'cpuSeconds');
    const ddmWall = med(single, ddm, 'wallSeconds');
    table.push(
      ratioRow(
        `\`ddm get -c4\`, ${formatSize(mainBytes)} from nginx, CPU s`,
        'at most 1.3x curl',
        ddmCpu,
        curlCpu,
        1.3,
        's',
      ),
      ratioRow('the same, wall time', 'at most 1.2x curl', ddmWall, curlWall, 1.2, 's'),
    );

    // 2. Peak RSS, small against large.
    const bySource = new Map<Contender, SourceFile>(
      [MEMORY_SMALL_BYTES, largeBytes].map((bytes) => [
        ddmGet(`ddm get ${formatSize(bytes)}`),
        bySize(bytes),
      ]),
    );
    const memory = await rounds(
      [...bySource.keys()],
      options.runs,
      (contender) => measureOnce(contender, bySource.get(contender)!, workspace, signal),
      (contender) => bySource.get(contender)!.sizeBytes,
    );
    printTable(
      `issue14 2/4: ddm get --connections 4 peak RSS, ${options.runs} runs per size`,
      RESULT_COLUMNS,
      [...bySource].map(([c, source]) => resultRow(c.label, source.sizeBytes, memory.get(c)!)),
    );
    const [small, large] = [...bySource.keys()].map((c) => med(memory, c, 'peakRssKiB') / 1024);
    table.push(rssRow(small!, large!, largeBytes));

    // 3. One helper relaying the file.
    const relay = await relayCost(main, workspace, options.runs, signal);
    table.push(
      ratioRow(
        `a helper relaying ${formatSize(mainBytes)} (\`ddm peer\`), CPU s`,
        'at most 1.3x curl',
        relay.cpuSeconds,
        curlCpu,
        1.3,
        's',
      ),
      {
        figure: "a helper's peak RSS while serving 4 slots",
        target: 'at most 64 MiB',
        measured: `${rssMiB(relay.peakRssKiB)} MiB`,
        check: { what: 'helper RSS', value: relay.peakRssKiB / 1024, limit: 64, kind: 'max' },
      },
    );

    // 4. Four loopback peers against aria2c -x4 from the origin.
    const swarmWall = await swarmWallSeconds(main, workspace, options.runs, signal);
    const ariaWall = med(single, aria, 'wallSeconds');
    const speed = ariaWall / swarmWall;
    table.push({
      figure: `${SWARM_PEERS} loopback peers, \`--no-local\`, ${formatSize(mainBytes)}`,
      target: 'at least 1.0x `aria2c -x4` from the origin',
      measured: `${swarmWall.toFixed(2)} s against ${ariaWall.toFixed(2)} s = ${speed.toFixed(2)}x`,
      check: { what: 'swarm speed', value: speed, limit: 1.0, kind: 'min' },
    });
    table.push({
      figure: 'bench/netns `memory` scenario (client + helpers at 1 Gbit/s)',
      target: "client CPU per GB halved from today's figure",
      measured: 'not measured here (root, network namespaces): `sudo npm run bench:netns -- memory`',
    });

    const rows: Row[] = table.map((row) => [
      row.figure,
      row.target,
      row.measured,
      row.check === undefined ? '—' : passes(row.check) ? 'PASS' : 'FAIL',
    ]);
    printTable(`issue14: the targets, ${options.runs} runs per figure (medians)`, TARGET_COLUMNS, rows);
    return 0;
  });
}

function ratioRow(
  figure: string,
  target: string,
  value: number,
  reference: number,
  limit: number,
  unit: string,
): Measured {
  const ratio = value / reference;
  return {
    figure,
    target,
    measured: `${value.toFixed(2)} ${unit} against curl's ${reference.toFixed(2)} ${unit} = ${ratio.toFixed(2)}x`,
    check: { what: figure, value: ratio, limit, kind: 'max' },
  };
}

function rssRow(small: number, large: number, largeBytes: number): Measured {
  const ratio = large / small;
  const ok = small <= 64 && large <= 64 && ratio <= FLATNESS_RATIO;
  return {
    figure: `\`ddm get\` peak RSS, 64 MiB and ${formatSize(largeBytes)}`,
    target: 'at most 64 MiB, and flat (within 10%)',
    measured: `${small.toFixed(1)} and ${large.toFixed(1)} MiB, ${ratio.toFixed(2)}x`,
    check: { what: 'rss', value: ok ? 0 : 1, limit: 0, kind: 'max' },
  };
}

async function relayCost(
  source: SourceFile,
  workspace: Workspace,
  runs: number,
  signal: AbortSignal,
): Promise<HelperRun> {
  const swarm = await startSwarm(1, signal);
  try {
    const helper = swarm.peers[0]!;
    const meter = helperMeter(helper.process.pid, helper.name);
    const client = ddmSwarmGet(swarm.trackerUrl, swarm.secret, 1);
    const helperRuns: HelperRun[] = [];
    const results = await rounds(
      [client],
      runs,
      async (contender, round) => {
        const { run, helper: spent } = await meter.measure(
          () => measureOnce(contender, source, workspace, signal),
          () => swarm.assertAlive(),
        );
        if (round >= 0) helperRuns.push(spent);
        progress(`  helper: CPU ${spent.cpuSeconds.toFixed(2)} s, peak RSS ${rssMiB(spent.peakRssKiB)} MiB`);
        return run;
      },
      () => source.sizeBytes,
    );
    printTable(
      `issue14 3/4: ${formatSize(source.sizeBytes)} through one ddm peer (4 slots); helper peak RSS ${meter.peaksPerRun ? 'per download' : 'since start'}`,
      RESULT_COLUMNS,
      [
        resultRow(client.label, source.sizeBytes, results.get(client)!),
        [
          `ddm peer (helper): median CPU ${median(helperRuns.map((r) => r.cpuSeconds)).toFixed(2)} s`,
          String(helperRuns.length),
          '',
          '',
          rssMiB(median(helperRuns.map((r) => r.peakRssKiB))),
          '',
          '',
          median(helperRuns.map((r) => r.cpuSeconds)).toFixed(2),
          '',
        ],
      ],
    );
    return {
      cpuSeconds: median(helperRuns.map((r) => r.cpuSeconds)),
      peakRssKiB: median(helperRuns.map((r) => r.peakRssKiB)),
    };
  } finally {
    await swarm.stop();
  }
}

async function swarmWallSeconds(
  source: SourceFile,
  workspace: Workspace,
  runs: number,
  signal: AbortSignal,
): Promise<number> {
  const swarm = await startSwarm(SWARM_PEERS, signal);
  try {
    const client = ddmSwarmGet(swarm.trackerUrl, swarm.secret, SWARM_PEERS);
    const results = await rounds(
      [client],
      runs,
      async (contender) => {
        const run = await measureOnce(contender, source, workspace, signal);
        swarm.assertAlive();
        return run;
      },
      () => source.sizeBytes,
    );
    printTable(
      `issue14 4/4: ${formatSize(source.sizeBytes)} through ${SWARM_PEERS} local peers, --no-local`,
      RESULT_COLUMNS,
      [resultRow(client.label, source.sizeBytes, results.get(client)!)],
    );
    return median(results.get(client)!.map((run) => run.wallSeconds));
  } finally {
    await swarm.stop();
  }
}
