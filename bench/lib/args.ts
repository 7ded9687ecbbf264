/** Command-line options of `npm run bench -- [single|swarm|memory|rss|ratelimit|peer-relay] [--size S] [--runs N] [--quick] [--memory]`. */
import { parseArgs } from 'node:util';
import { BenchError } from './bench-error.js';
import { GiB, MiB, parseSize } from './data-file.js';

export const SCENARIOS = [
  'single',
  'swarm',
  'memory',
  'ratelimit',
  'peer-relay',
  'tracker',
  'issue14',
] as const;
/** Other names a scenario answers to. */
const ALIASES: Readonly<Record<string, Scenario>> = { rss: 'memory' };
export type Scenario = (typeof SCENARIOS)[number];

export interface BenchOptions {
  readonly scenario: Scenario;
  /** The download size; in `memory` mode the large one (the small one is fixed). */
  readonly sizeBytes: number;
  readonly runs: number;
  readonly quick: boolean;
  /** tracker: peers registered, seconds of sustained heartbeats, and the tracker's --store. */
  readonly peers?: number;
  readonly durationSec?: number;
  readonly store?: string;
}

export const DEFAULT_RUNS = 5;
const QUICK_RUNS = 3;
const MAX_RUNS = 100;
export const DEFAULT_SIZE_BYTES = GiB;
const QUICK_SIZE_BYTES = 64 * MiB;
export const MEMORY_SMALL_BYTES = 64 * MiB;
const MEMORY_LARGE_BYTES = 4 * GiB;
const QUICK_MEMORY_LARGE_BYTES = GiB;

export const USAGE = `usage: npm run bench -- [single|swarm|memory|rss|ratelimit|peer-relay|tracker|issue14] [--size 64M|1G|4G] [--runs N] [--quick] [--memory]

  single    (default) ddm get, aria2c -x4 and curl from a local nginx, alternating
  swarm     ddm get through a tracker and 4 local peers (--no-local) against aria2c -x4
  memory    peak RSS of ddm get on 64 MiB and on 4 GiB (same as --memory; also named rss)
  ratelimit speed limits (per download, global) held over 10 s against a local origin
  peer-relay one ddm peer relays the file to a --no-local client: its CPU and peak RSS against curl
  issue14   issue 14's whole target table in one run: single, peak RSS (64M and 4G; --quick: 64M
            and --size), peer-relay and swarm, with PASS/FAIL per target
  tracker   one ddm tracker with 10,000 signed peers, the load from two processes of its own:
            registrations/s, list p50/p99 (?limit=64 and whole) idle and under load,
            heartbeats/s sustained (--duration S, default 20; 120 for the target) with
            refusals, tracker RSS idle/peak and CPU per request, PASS/FAIL against issue 17's
            targets; --peers N, --store redis://HOST:PORT
  --size    download size (default 1G; in memory mode the large size, default 4G)
  --runs    runs per tool (default ${DEFAULT_RUNS})
  --quick   smoke run: 64M and ${QUICK_RUNS} runs (memory mode: 64M against 1G) unless --size/--runs say otherwise`;

function parseRuns(text: string): number {
  const runs = Number(text);
  if (!Number.isInteger(runs) || runs < 1 || runs > MAX_RUNS) {
    throw new BenchError('USAGE', `bad --runs "${text}": a whole number from 1 to ${MAX_RUNS}`);
  }
  return runs;
}

function parseScenario(positionals: readonly string[], memoryFlag: boolean): Scenario {
  if (positionals.length > 1)
    throw new BenchError('USAGE', `one scenario at most, got: ${positionals.join(' ')}`);
  const given = positionals[0] ?? (memoryFlag ? 'memory' : 'single');
  const named = ALIASES[given] ?? given;
  const scenario = SCENARIOS.find((candidate) => candidate === named);
  if (scenario === undefined) throw new BenchError('USAGE', `unknown scenario "${named}"\n${USAGE}`);
  if (memoryFlag && scenario !== 'memory')
    throw new BenchError('USAGE', `--memory cannot be combined with ${scenario}`);
  return scenario;
}

function defaultSize(scenario: Scenario, quick: boolean): number {
  if (scenario === 'memory') return quick ? QUICK_MEMORY_LARGE_BYTES : MEMORY_LARGE_BYTES;
  return quick ? QUICK_SIZE_BYTES : DEFAULT_SIZE_BYTES;
}

/** Returns undefined when help was asked for. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions | undefined {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new BenchError('USAGE', `${(error as Error).message}\n${USAGE}`, { cause: error });
  }
  const { values, positionals } = parsed;
  if (values.help === true) return undefined;
  const quick = values.quick === true;
  const scenario = parseScenario(positionals, values.memory === true);
  return {
    scenario,
    quick,
    sizeBytes: values.size === undefined ? defaultSize(scenario, quick) : parseSize(values.size),
    runs: values.runs === undefined ? (quick ? QUICK_RUNS : DEFAULT_RUNS) : parseRuns(values.runs),
    ...trackerOptions(values),
  };
}

function wholeNumber(name: string, text: string, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new BenchError('USAGE', `bad --${name} "${text}": a whole number from 1 to ${max}`);
  }
  return value;
}

function trackerOptions(values: ReturnType<typeof parse>['values']) {
  return {
    ...(values.peers === undefined ? {} : { peers: wholeNumber('peers', values.peers, 100_000) }),
    ...(values.duration === undefined
      ? {}
      : { durationSec: wholeNumber('duration', values.duration, 3_600) }),
    ...(values.store === undefined ? {} : { store: values.store }),
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      size: { type: 'string' },
      runs: { type: 'string' },
      quick: { type: 'boolean' },
      memory: { type: 'boolean' },
      peers: { type: 'string' },
      duration: { type: 'string' },
      store: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
