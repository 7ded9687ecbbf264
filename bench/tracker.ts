/**
 * `npm run bench -- tracker [--peers N] [--duration S] [--store redis://HOST:PORT]`: one
 * `ddm tracker` process with 10,000 signed peers registered from 157 loopback addresses (64
 * each, the per-address cap), as a campus would have them. Measures the registration rate,
 * GET /v1/peers latency (p50/p99) whole and with `?limit=64`, idle and under a heartbeat load
 * sustained for the duration (default 20 s; `--duration 120` is the 2-minute target) with the
 * refusals, the tracker's RSS idle and at its peak, and its CPU per request; then PASS/FAIL
 * against issue 17's targets: list p99 < 10 ms, 5,000 heartbeats/s for 2 minutes with nobody
 * refused, RSS < 128 MiB.
 *
 * Four processes: the tracker; two load generators (bench/tracker-load.ts), which register
 * the peers and send their heartbeats, half each; and this one, which only times lists and reads /proc,
 * so a busy generator cannot delay the timing of an answer. They still share the machine's cores,
 * so the instruments are kept light: every request goes over lean keep-alive connections
 * (bench/lib/lean-http-client.ts) that allocate nothing per byte of an answer, and the table
 * says how much CPU the host (a virtual machine's) stole during the load.
 */
import { fileURLToPath } from 'node:url';
import { ANY_NODE, deriveKey, type SwarmKey, signRequest } from '../src/protocol/auth.js';
import { API } from '../src/protocol/messages.js';
import type { BenchOptions } from './lib/args.js';
import { BenchError, throwIfAborted } from './lib/bench-error.js';
import { ddmCommand } from './lib/ddm-cli.js';
import { LeanHttpConnection } from './lib/lean-http-client.js';
import { freePorts, LOOPBACK, waitForPort } from './lib/ports.js';
import { readCpuSeconds, readPeakRssKiB, readRssKiB } from './lib/proc-status.js';
import { spawnTracked, stopProcess, type TrackedProcess } from './lib/processes.js';
import { type Column, type Row, renderMarkdown, renderText } from './lib/table.js';
import { machineCpuSnapshot, stealShare } from './netns/process-meter.js';
import type { LoadConfig, LoadReport } from './tracker-load.js';

const SECRET = 'bench-tracker-secret-0123456789';
/** Each peer beats every 2 s: 10,000 peers make 5,000 heartbeats a second. */
const HEARTBEAT_S = 2;
/**
 * The interval the tracker is told (its TTL is three of them plus 2 s): long enough that every
 * peer stays listed even when this machine cannot send HEARTBEAT_S's rate, so lists are full-size.
 */
const TRACKER_HEARTBEAT_S = 60;
/** The tracker's per-address cap: the generators' peers live 64 to a loopback address. */
const PEERS_PER_ADDRESS = 64;
const LIST_SAMPLES = 100;
const LIMITED_LIST_SAMPLES = 1_000;
const LIST_LIMIT = 64;
const MiB = 1024 * 1024;
const START_TIMEOUT_MS = 20_000;
const RSS_SAMPLE_MS = 500;
/** A list answer later than this fails the run: the tracker is stuck, not slow. */
const LIST_TIMEOUT_MS = 10_000;
/** Issue 17's targets. */
const TARGET_LIST_P99_MS = 10;
const TARGET_HEARTBEATS_PER_S = 5_000;
const TARGET_SECONDS = 120;
const TARGET_RSS_MIB = 128;
/** Generators in parallel, each with its share of the peers and of the rate: one process cannot sign 5,000 requests a second. */
const LOAD_PROCESSES = 2;
const LOAD_SCRIPT = fileURLToPath(new URL('./tracker-load.ts', import.meta.url));

export interface TrackerBenchOptions {
  peers: number;
  durationSec: number;
  /** `memory`, or a Redis URL the tracker uses as --store. */
  store: string;
  /** Heartbeats a second to sustain; default peers / HEARTBEAT_S. */
  rate?: number;
}

export async function runTracker(options: BenchOptions, signal: AbortSignal): Promise<number> {
  const bench: TrackerBenchOptions = {
    peers: options.peers ?? 10_000,
    durationSec: options.durationSec ?? (options.quick ? 10 : 20),
    store: options.store ?? 'memory',
  };
  const [port] = await freePorts(1);
  const command = ddmCommand([
    'tracker',
    '--listen',
    `${LOOPBACK}:${port}`,
    '--secret',
    SECRET,
    '--heartbeat',
    String(TRACKER_HEARTBEAT_S),
    '--store',
    bench.store,
    '--log-format',
    'json',
  ]);
  // BENCH_TRACKER_PROFILE_DIR=DIR: the tracker writes a V8 CPU profile there when it stops.
  const profileDir = process.env.BENCH_TRACKER_PROFILE_DIR;
  const tracker = spawnTracked(
    'ddm tracker',
    profileDir
      ? { ...command, args: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, ...command.args] }
      : command,
  );
  let timer: LeanHttpConnection | undefined;
  let loads: LoadProcess[] = [];
  try {
    await waitForPort(port!, 'ddm tracker', {
      timeoutMs: START_TIMEOUT_MS,
      signal,
      stillAlive: () => tracker.isRunning(),
    });
    const url = `http://${LOOPBACK}:${port}`;
    const rate = bench.rate ?? bench.peers / HEARTBEAT_S;
    process.stderr.write(
      `bench tracker: registering ${bench.peers} peers (load generator in its own process)\n`,
    );
    // Shares are multiples of the per-address cap, so no address is split between generators.
    const share = Math.ceil(bench.peers / LOAD_PROCESSES / PEERS_PER_ADDRESS) * PEERS_PER_ADDRESS;
    loads = Array.from({ length: LOAD_PROCESSES }, (_, index) => {
      const first = index * share;
      const peers = Math.max(0, Math.min(share, bench.peers - first));
      return startLoad({
        url,
        secret: SECRET,
        first,
        peers,
        rate: (rate * peers) / bench.peers,
        seconds: bench.durationSec,
      });
    });
    const registration = combine(await Promise.all(loads.map((load) => load.next(signal))));
    const key = deriveKey(SECRET);
    // Opened now, not before the registrations: the tracker closes a connection idle that long.
    timer = await LeanHttpConnection.open(LOOPBACK, port!, signal);
    const idle = await listLatencies(url, key, timer, signal);
    const rssIdleKiB = (await readRssKiB(tracker.pid)) ?? 0;
    process.stderr.write(`bench tracker: ${rate} heartbeats/s for ${bench.durationSec} s\n`);
    const cpuBefore = (await readCpuSeconds(tracker.pid)) ?? 0;
    const machineBefore = await machineCpuSnapshot();
    const rss = sampleRss(tracker);
    for (const load of loads) load.start();
    const sustainedReports = Promise.all(loads.map((load) => load.next(signal)));
    const loaded = await listLatencies(url, key, timer, signal, bench.durationSec * 1000 * 0.8);
    const sustained = combine(await sustainedReports);
    const cpuSec = ((await readCpuSeconds(tracker.pid)) ?? 0) - cpuBefore;
    const stolen = stealShare(machineBefore, await machineCpuSnapshot());
    const peakKiB = Math.max(rss.stop(), (await readPeakRssKiB(tracker.pid)) ?? 0);
    if (!tracker.isRunning())
      throw new BenchError('TOOL_FAILED', `the tracker died:\n${tracker.outputTail()}`);
    const requests = sustained.ok + sustained.refused + loaded.full.length + loaded.limited.length + 2;
    const report: Report = {
      registration,
      idle,
      loaded,
      sustained,
      rssIdleMiB: rssIdleKiB / 1024,
      rssMaxSampledMiB: rss.maxKiB() / 1024,
      rssPeakMiB: peakKiB / 1024,
      cpuMicrosPerRequest: (cpuSec / Math.max(1, requests)) * 1e6,
      ...(stolen === undefined ? {} : { stolenShare: stolen }),
    };
    printReport(bench, report);
    const verdicts = judge(bench, report);
    process.stdout.write(`${verdicts.map((verdict) => verdict.line).join('\n')}\n`);
    return verdicts.every((verdict) => verdict.pass) ? 0 : 1;
  } finally {
    timer?.close();
    await Promise.all(loads.map((load) => stopProcess(load.process)));
    await stopProcess(tracker);
  }
}

/** The generators' reports of one phase as one: counts added, the longest time. */
function combine(reports: readonly LoadReport[]): LoadReport {
  const reasons: Record<string, number> = {};
  for (const report of reports)
    for (const [reason, count] of Object.entries(report.reasons))
      reasons[reason] = (reasons[reason] ?? 0) + count;
  return {
    phase: reports[0]!.phase,
    ok: reports.reduce((sum, report) => sum + report.ok, 0),
    refused: reports.reduce((sum, report) => sum + report.refused, 0),
    reasons,
    seconds: Math.max(...reports.map((report) => report.seconds)),
    behind: reports.reduce((sum, report) => sum + report.behind, 0),
  };
}

interface LoadProcess {
  process: TrackedProcess;
  /** The generator's next report line. */
  next(signal: AbortSignal): Promise<LoadReport>;
  /** Starts the heartbeat phase. */
  start(): void;
}

function startLoad(config: LoadConfig): LoadProcess {
  const reports: LoadReport[] = [];
  let pending = '';
  let wake: (() => void) | undefined;
  const child = spawnTracked(
    'tracker load',
    { command: process.execPath, args: ['--import', 'tsx', LOAD_SCRIPT, JSON.stringify(config)] },
    {
      onStdout: (text) => {
        pending += text;
        for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n')) {
          reports.push(JSON.parse(pending.slice(0, end)) as LoadReport);
          pending = pending.slice(end + 1);
        }
        wake?.();
      },
    },
  );
  const next = async (signal: AbortSignal): Promise<LoadReport> => {
    for (;;) {
      throwIfAborted(signal);
      const report = reports.shift();
      if (report) return report;
      if (!child.isRunning())
        throw new BenchError('TOOL_FAILED', `the load generator stopped:\n${child.outputTail()}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1_000);
      });
    }
  };
  return { process: child, next, start: () => process.kill(child.pid, 'SIGUSR2') };
}

/** The tracker's RSS every RSS_SAMPLE_MS until stopped; stop() returns the largest seen (KiB). */
function sampleRss(tracker: TrackedProcess) {
  let max = 0;
  const timer = setInterval(() => {
    void readRssKiB(tracker.pid).then((kib) => {
      max = Math.max(max, kib ?? 0);
    });
  }, RSS_SAMPLE_MS);
  return {
    maxKiB: () => max,
    stop: () => {
      clearInterval(timer);
      return max;
    },
  };
}

interface Latencies {
  full: number[];
  limited: number[];
  fullBytes: number;
}

/** GET /v1/peers, one at a time, whole and with ?limit=; `spreadMs` spreads them over a load phase. */
async function listLatencies(
  url: string,
  key: SwarmKey,
  timer: LeanHttpConnection,
  signal: AbortSignal,
  spreadMs = 0,
): Promise<Latencies> {
  const result: Latencies = { full: [], limited: [], fullBytes: 0 };
  const authority = new URL(url).host;
  const one = async (path: string): Promise<number> => {
    const headers = signRequest(key, 'GET', path, undefined, { authority, node: ANY_NODE });
    const started = performance.now();
    const answer = await timer.request({ method: 'GET', path, headers, timeoutMs: LIST_TIMEOUT_MS, signal });
    if (answer.status !== 200)
      throw new BenchError('TOOL_FAILED', `GET ${path}: ${answer.status} ${answer.bodyStart.slice(0, 200)}`);
    const bytes = answer.bodyBytes;
    const ms = performance.now() - started;
    if (path === API.peers) result.fullBytes = bytes;
    return ms;
  };
  // Warm-up: the first list serialises, later ones reuse it.
  await one(API.peers);
  const limited = `${API.peers}?limit=${LIST_LIMIT}`;
  const total = LIST_SAMPLES + LIMITED_LIST_SAMPLES;
  // Interleaved, so both kinds see every part of the load phase.
  for (let n = 0; n < total; n += 1) {
    throwIfAborted(signal);
    const whole = n % (total / LIST_SAMPLES) === 0;
    if (whole) result.full.push(await one(API.peers));
    else result.limited.push(await one(limited));
    if (spreadMs > 0) await pause(spreadMs / total);
  }
  return result;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Report {
  registration: LoadReport;
  idle: Latencies;
  loaded: Latencies;
  sustained: LoadReport;
  rssIdleMiB: number;
  rssMaxSampledMiB: number;
  rssPeakMiB: number;
  cpuMicrosPerRequest: number;
  /** The machine's CPU the host took for others during the load (a virtual machine's steal). */
  stolenShare?: number;
}

interface Verdict {
  pass: boolean;
  line: string;
}

function judge(bench: TrackerBenchOptions, report: Report): Verdict[] {
  const verdict = (pass: boolean, what: string): Verdict => ({
    pass,
    line: `${pass ? 'PASS' : 'FAIL'}  ${what}`,
  });
  const idleP99 = percentile(report.idle.limited, 99);
  const loadedP99 = percentile(report.loaded.limited, 99);
  const { sustained } = report;
  const rate = sustained.ok / sustained.seconds;
  const short =
    bench.durationSec < TARGET_SECONDS ? ` (short run: the target is --duration ${TARGET_SECONDS})` : '';
  const atScale = bench.peers >= 10_000 ? '' : ` (only ${bench.peers} peers: the target is 10,000)`;
  return [
    verdict(
      Math.max(idleP99, loadedP99) < TARGET_LIST_P99_MS,
      `list ?limit=${LIST_LIMIT} p99 ${idleP99.toFixed(2)} ms idle, ${loadedP99.toFixed(2)} ms under load < ${TARGET_LIST_P99_MS} ms${atScale}`,
    ),
    verdict(
      rate >= TARGET_HEARTBEATS_PER_S * 0.99 && sustained.refused === 0 && report.registration.refused === 0,
      `${Math.round(rate)} heartbeats/s for ${sustained.seconds.toFixed(0)} s, ${sustained.refused} refused: >= ${TARGET_HEARTBEATS_PER_S}/s, none refused${short}`,
    ),
    verdict(
      report.rssPeakMiB < TARGET_RSS_MIB,
      `tracker RSS peak ${report.rssPeakMiB.toFixed(0)} MiB < ${TARGET_RSS_MIB} MiB`,
    ),
  ];
}

function printReport(bench: TrackerBenchOptions, report: Report): void {
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  const p50p99 = (values: readonly number[]) =>
    `${ms(percentile(values, 50))} / ${ms(percentile(values, 99))}`;
  const { registration, sustained } = report;
  const reasons = (tally: LoadReport) =>
    Object.entries(tally.reasons)
      .map(([reason, count]) => `${count} × ${reason}`)
      .join(', ');
  const columns: Column[] = [
    { title: 'figure', align: 'left' },
    { title: 'measured', align: 'right' },
    { title: 'target', align: 'left' },
  ];
  const rows: Row[] = [
    [
      'registrations',
      `${Math.round(registration.ok / registration.seconds)}/s (${registration.refused} refused)`,
      '',
    ],
    [
      `list ?limit=${LIST_LIMIT}, idle p50 / p99`,
      p50p99(report.idle.limited),
      `p99 < ${TARGET_LIST_P99_MS} ms`,
    ],
    [
      `list ?limit=${LIST_LIMIT}, under heartbeat load p50 / p99`,
      p50p99(report.loaded.limited),
      `p99 < ${TARGET_LIST_P99_MS} ms`,
    ],
    [
      `list, all ${bench.peers} (${(report.idle.fullBytes / MiB).toFixed(2)} MiB), idle p50 / p99`,
      p50p99(report.idle.full),
      '',
    ],
    ['list, all, under heartbeat load p50 / p99', p50p99(report.loaded.full), ''],
    [
      `heartbeats sustained for ${sustained.seconds.toFixed(0)} s`,
      `${Math.round(sustained.ok / sustained.seconds)}/s (${sustained.ok} ok)`,
      `${TARGET_HEARTBEATS_PER_S.toLocaleString('en')}/s for ${TARGET_SECONDS} s`,
    ],
    [
      'refused (heartbeats) / not sent in time',
      `${sustained.refused}${sustained.refused > 0 ? ` (${reasons(sustained)})` : ''} / ${sustained.behind}`,
      '0',
    ],
    ['tracker CPU per request (heartbeats and lists)', `${report.cpuMicrosPerRequest.toFixed(0)} µs`, ''],
    [
      'CPU the host stole during the load (all cores)',
      report.stolenShare === undefined ? 'unknown' : `${(report.stolenShare * 100).toFixed(1)}%`,
      '',
    ],
    [
      'tracker RSS idle / max sampled / peak (VmHWM)',
      `${report.rssIdleMiB.toFixed(0)} / ${report.rssMaxSampledMiB.toFixed(0)} / ${report.rssPeakMiB.toFixed(0)} MiB`,
      `< ${TARGET_RSS_MIB} MiB`,
    ],
  ];
  process.stdout.write(
    `\nddm tracker, ${bench.peers} peers, store ${bench.store}, ${bench.durationSec} s of load, on ${new Date().toISOString()}\n\n`,
  );
  process.stdout.write(`${renderText(columns, rows)}\n\n${renderMarkdown(columns, rows)}\n\n`);
}
