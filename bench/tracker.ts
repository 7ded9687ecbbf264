/**
 * `npm run bench -- tracker [--peers N] [--duration S] [--store redis]`: one `ddm tracker`
 * process with 10,000 signed peers registered from 157 loopback addresses (64 each, the
 * per-address cap), as a campus would have them. Measures the registration rate, GET /v1/peers
 * latency (p50/p99) with and without `?limit=64`, idle and under load, heartbeats per second
 * sustained for the duration (default 20 s; `--duration 120` is the 2-minute target) with the
 * count of refusals, and the tracker's resident memory. Targets (issue 17): list p99 < 10 ms,
 * 5,000 heartbeats/s for 2 minutes with nobody refused, RSS < 128 MiB.
 *
 * The load comes from this process over keep-alive connections bound to each peer's address;
 * the tracker is a child process, so its RSS is its own. Both share the machine's cores.
 */
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'undici';
import { ANY_NODE, deriveKey, type SwarmKey, signRequest } from '../src/protocol/auth.js';
import { API } from '../src/protocol/messages.js';
import type { BenchOptions } from './lib/args.js';
import { BenchError, throwIfAborted } from './lib/bench-error.js';
import { ddmCommand } from './lib/ddm-cli.js';
import { freePorts, LOOPBACK, waitForPort } from './lib/ports.js';
import { readPeakRssKiB, readRssKiB } from './lib/proc-status.js';
import { spawnTracked, stopProcess, type TrackedProcess } from './lib/processes.js';
import { type Column, type Row, renderMarkdown, renderText } from './lib/table.js';

const SECRET = 'bench-tracker-secret-0123456789';
const PEERS_PER_ADDRESS = 64;
/** Each peer beats every 2 s: 10,000 peers make 5,000 heartbeats a second. */
const HEARTBEAT_S = 2;
/**
 * The interval the tracker is told (its TTL is three of them plus 2 s): long enough that every
 * peer stays listed even when this machine cannot send HEARTBEAT_S's rate, so lists are full-size.
 */
const TRACKER_HEARTBEAT_S = 60;
const CONNECTIONS_PER_ADDRESS = 2;
const REGISTER_IN_FLIGHT = 64;
const HEARTBEAT_MAX_IN_FLIGHT = 1_024;
const TICK_MS = 10;
const LIST_SAMPLES = 200;
const LIMITED_LIST_SAMPLES = 1_000;
const LIST_LIMIT = 64;
const MiB = 1024 * 1024;
const START_TIMEOUT_MS = 20_000;

export interface TrackerBenchOptions {
  peers: number;
  durationSec: number;
  /** `memory`, or a Redis URL the tracker uses as --store. */
  store: string;
  /** Heartbeats a second to sustain; default peers / HEARTBEAT_S. */
  rate?: number;
}

interface Member {
  id: string;
  port: number;
  agent: Agent;
  body: string;
}

interface Outcome {
  ok: number;
  refused: number;
  /** Refusals by status and code, e.g. `401 AUTH_FAILED`. */
  reasons: Map<string, number>;
}

export async function runTracker(options: BenchOptions, signal: AbortSignal): Promise<number> {
  const bench: TrackerBenchOptions = {
    peers: options.peers ?? 10_000,
    durationSec: options.durationSec ?? (options.quick ? 10 : 20),
    store: options.store ?? 'memory',
  };
  const key = deriveKey(SECRET);
  const [port] = await freePorts(1);
  const tracker = spawnTracked(
    'ddm tracker',
    ddmCommand([
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
    ]),
  );
  const agents: Agent[] = [];
  try {
    await waitForPort(port!, 'ddm tracker', {
      timeoutMs: START_TIMEOUT_MS,
      signal,
      stillAlive: () => tracker.isRunning(),
    });
    const url = `http://${LOOPBACK}:${port}`;
    const members = makeMembers(bench.peers, agents);
    process.stderr.write(`bench tracker: registering ${bench.peers} peers from ${agents.length} addresses\n`);
    const registration = await timed(() => register(url, key, members, signal));
    const idle = await listLatencies(url, key, agents[0]!, signal);
    const rssIdleKiB = (await readRssKiB(tracker.pid)) ?? 0;
    const rate = bench.rate ?? bench.peers / HEARTBEAT_S;
    process.stderr.write(`bench tracker: ${rate} heartbeats/s for ${bench.durationSec} s\n`);
    const loadedLists = listLatencies(url, key, agents[1] ?? agents[0]!, signal, 2_000);
    const sustained = await sustain(url, key, members, rate, bench.durationSec, tracker, signal);
    const loaded = await loadedLists;
    const peakKiB = Math.max(sustained.peakRssKiB, (await readPeakRssKiB(tracker.pid)) ?? 0);
    printReport(bench, {
      registrationRate: bench.peers / (registration.ms / 1000),
      registrationRefused: registration.value.refused,
      idle,
      loaded,
      sustained,
      rssIdleMiB: rssIdleKiB / 1024,
      rssPeakMiB: peakKiB / 1024,
    });
    return registration.value.refused + sustained.outcome.refused === 0 ? 0 : 1;
  } finally {
    await Promise.all(agents.map((agent) => agent.close()));
    await stopProcess(tracker);
  }
}

/** Peer n lives at 127.1.X.Y, 64 to an address, each with its own port. */
function makeMembers(count: number, agents: Agent[]): Member[] {
  const members: Member[] = [];
  for (let n = 0; n < count; n += 1) {
    const slot = n % PEERS_PER_ADDRESS;
    const host = Math.floor(n / PEERS_PER_ADDRESS) + 1;
    if (slot === 0) {
      const localAddress = `127.1.${host >> 8}.${host & 255}`;
      agents.push(
        new Agent({ localAddress, connections: CONNECTIONS_PER_ADDRESS, keepAliveTimeout: 30_000 }),
      );
    }
    const id = `bench-${String(n).padStart(6, '0')}`;
    const port = 20_000 + slot;
    const body = JSON.stringify({ id, name: id, port, slots: 4, version: '0.1.0' });
    members.push({ id, port, agent: agents.at(-1)!, body });
  }
  return members;
}

async function signedPost(
  url: string,
  key: SwarmKey,
  path: string,
  member: Member,
): Promise<string | undefined> {
  const target = { authority: new URL(url).host, node: ANY_NODE };
  const headers = {
    ...signRequest(key, 'POST', path, member.body, target),
    'content-type': 'application/json',
  };
  const response = await request(`${url}${path}`, {
    method: 'POST',
    headers,
    body: member.body,
    dispatcher: member.agent,
  });
  const text = await response.body.text();
  if (response.statusCode === 200) return undefined;
  const code = /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? '?';
  return `${response.statusCode} ${code}`;
}

function tally(outcome: Outcome, refusal: string | undefined): void {
  if (refusal === undefined) {
    outcome.ok += 1;
    return;
  }
  outcome.refused += 1;
  outcome.reasons.set(refusal, (outcome.reasons.get(refusal) ?? 0) + 1);
}

function newOutcome(): Outcome {
  return { ok: 0, refused: 0, reasons: new Map() };
}

async function register(
  url: string,
  key: SwarmKey,
  members: Member[],
  signal: AbortSignal,
): Promise<Outcome> {
  const outcome = newOutcome();
  let next = 0;
  const worker = async () => {
    while (next < members.length) {
      throwIfAborted(signal);
      const member = members[next++]!;
      tally(outcome, await signedPost(url, key, API.register, member).catch((error: Error) => error.message));
    }
  };
  await Promise.all(Array.from({ length: REGISTER_IN_FLIGHT }, worker));
  return outcome;
}

interface Latencies {
  full: number[];
  limited: number[];
  fullBytes: number;
}

/** GET /v1/peers, one at a time, whole and with ?limit=; `pauseMs` spreads them over a load phase. */
async function listLatencies(
  url: string,
  key: SwarmKey,
  agent: Agent,
  signal: AbortSignal,
  spreadMs = 0,
): Promise<Latencies> {
  const result: Latencies = { full: [], limited: [], fullBytes: 0 };
  const authority = new URL(url).host;
  const one = async (path: string): Promise<number> => {
    const headers = signRequest(key, 'GET', path, undefined, { authority, node: ANY_NODE });
    const started = performance.now();
    const response = await request(`${url}${path}`, { headers, dispatcher: agent });
    const bytes = Buffer.from(await response.body.arrayBuffer());
    const ms = performance.now() - started;
    if (response.statusCode !== 200)
      throw new BenchError('TOOL_FAILED', `GET ${path}: ${response.statusCode}`);
    if (path === API.peers) result.fullBytes = bytes.length;
    return ms;
  };
  // Warm-up: the first list serialises, later ones reuse it.
  await one(API.peers);
  for (let n = 0; n < LIST_SAMPLES; n += 1) {
    throwIfAborted(signal);
    result.full.push(await one(API.peers));
    if (spreadMs > 0) await pause(spreadMs / LIST_SAMPLES);
  }
  for (let n = 0; n < LIMITED_LIST_SAMPLES; n += 1) {
    throwIfAborted(signal);
    result.limited.push(await one(`${API.peers}?limit=${LIST_LIMIT}`));
    if (spreadMs > 0) await pause(spreadMs / LIMITED_LIST_SAMPLES);
  }
  return result;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Sustained {
  outcome: Outcome;
  seconds: number;
  achievedRate: number;
  /** Heartbeats that could not be sent on time because too many were in flight. */
  behind: number;
  peakRssKiB: number;
  maxRssKiB: number;
  /** CPU seconds the tracker spent in the phase (user + system). */
  trackerCpuSec: number;
}

/** User plus system CPU seconds of a process so far (/proc/PID/stat, in clock ticks of 10 ms). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Sends `rate` heartbeats a second, round-robin over the members, for `seconds`. */
async function sustain(
  url: string,
  key: SwarmKey,
  members: Member[],
  rate: number,
  seconds: number,
  tracker: TrackedProcess,
  signal: AbortSignal,
): Promise<Sustained> {
  const outcome = newOutcome();
  let inFlight = 0;
  let sent = 0;
  let behind = 0;
  let next = 0;
  let maxRssKiB = 0;
  const cpuBefore = await cpuSeconds(tracker.pid);
  const started = performance.now();
  const endAt = started + seconds * 1000;
  const settled = new EventTarget();
  const rssTimer = setInterval(() => {
    void readRssKiB(tracker.pid).then((kib) => {
      maxRssKiB = Math.max(maxRssKiB, kib ?? 0);
    });
  }, 1_000);
  try {
    while (performance.now() < endAt) {
      throwIfAborted(signal);
      if (!tracker.isRunning())
        throw new BenchError('TOOL_FAILED', `the tracker died:\n${tracker.outputTail()}`);
      const due = Math.floor(((performance.now() - started) / 1000) * rate);
      while (sent < due) {
        sent += 1;
        if (inFlight >= HEARTBEAT_MAX_IN_FLIGHT) {
          behind += 1;
          continue;
        }
        const member = members[next]!;
        next = (next + 1) % members.length;
        inFlight += 1;
        void signedPost(url, key, API.heartbeat, member)
          .catch((error: Error) => `error ${error.message}`)
          .then((refusal) => {
            tally(outcome, refusal);
            inFlight -= 1;
            settled.dispatchEvent(new Event('settled'));
          });
      }
      await pause(TICK_MS);
    }
    while (inFlight > 0) await once(settled, 'settled');
  } finally {
    clearInterval(rssTimer);
  }
  const elapsed = (performance.now() - started) / 1000;
  return {
    outcome,
    seconds: elapsed,
    achievedRate: outcome.ok / elapsed,
    behind,
    peakRssKiB: (await readPeakRssKiB(tracker.pid)) ?? 0,
    maxRssKiB,
    trackerCpuSec: (await cpuSeconds(tracker.pid)) - cpuBefore,
  };
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Report {
  registrationRate: number;
  registrationRefused: number;
  idle: Latencies;
  loaded: Latencies;
  sustained: Sustained;
  rssIdleMiB: number;
  rssPeakMiB: number;
}

function printReport(bench: TrackerBenchOptions, report: Report): void {
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  const { sustained } = report;
  const reasons = [...sustained.outcome.reasons].map(([reason, count]) => `${count} × ${reason}`).join(', ');
  const columns: Column[] = [
    { title: 'figure', align: 'left' },
    { title: 'measured', align: 'right' },
    { title: 'target', align: 'left' },
  ];
  const rows: Row[] = [
    ['registrations', `${Math.round(report.registrationRate)}/s (${report.registrationRefused} refused)`, ''],
    [
      `list, all ${bench.peers} (${(report.idle.fullBytes / MiB).toFixed(2)} MiB), idle p50 / p99`,
      `${ms(percentile(report.idle.full, 50))} / ${ms(percentile(report.idle.full, 99))}`,
      '',
    ],
    [
      `list ?limit=${LIST_LIMIT}, idle p50 / p99`,
      `${ms(percentile(report.idle.limited, 50))} / ${ms(percentile(report.idle.limited, 99))}`,
      'p99 < 10 ms',
    ],
    [
      'list, all, under heartbeat load p50 / p99',
      `${ms(percentile(report.loaded.full, 50))} / ${ms(percentile(report.loaded.full, 99))}`,
      '',
    ],
    [
      `list ?limit=${LIST_LIMIT}, under heartbeat load p50 / p99`,
      `${ms(percentile(report.loaded.limited, 50))} / ${ms(percentile(report.loaded.limited, 99))}`,
      'p99 < 10 ms',
    ],
    [
      `heartbeats sustained for ${sustained.seconds.toFixed(0)} s`,
      `${Math.round(sustained.achievedRate)}/s (${sustained.outcome.ok} ok)`,
      '5,000/s for 120 s',
    ],
    [
      'heartbeats refused / not sent in time',
      `${sustained.outcome.refused}${reasons ? ` (${reasons})` : ''} / ${sustained.behind}`,
      '0',
    ],
    [
      'tracker CPU per heartbeat (so heartbeats/s one core could take)',
      `${((sustained.trackerCpuSec / Math.max(1, sustained.outcome.ok)) * 1e6).toFixed(0)} µs (${Math.round(
        sustained.outcome.ok / Math.max(0.01, sustained.trackerCpuSec),
      )}/s)`,
      '',
    ],
    [
      'tracker RSS idle / max sampled / peak (VmHWM)',
      `${report.rssIdleMiB.toFixed(0)} / ${(sustained.maxRssKiB / 1024).toFixed(0)} / ${report.rssPeakMiB.toFixed(0)} MiB`,
      '< 128 MiB',
    ],
  ];
  process.stdout.write(
    `\nddm tracker, ${bench.peers} peers, store ${bench.store}, on ${new Date().toISOString()}\n\n`,
  );
  process.stdout.write(`${renderText(columns, rows)}\n\n${renderMarkdown(columns, rows)}\n`);
}
