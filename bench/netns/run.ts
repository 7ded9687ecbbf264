/**
 * The multi-host benchmark: several hosts simulated with network namespaces on this machine,
 * each with its own shaped download link (see bench/netns/netns.sh). Needs root.
 *
 *   node --import tsx bench/netns/run.ts [SCENARIO...] [--runs N] [--without-ddm] [--out FILE]
 *
 * With no scenario, all of them run. The hosts are torn down after every scenario and on any
 * exit, Ctrl-C included; a run killed harder than that is cleaned up by the next one.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { BenchError, isBenchError } from '../lib/bench-error.js';
import { probeDdm } from '../lib/ddm-cli.js';
import { describeMachine } from '../lib/machine.js';
import { ensureSystemTools, findExecutable } from '../lib/system-tools.js';
import { renderMarkdown, renderText } from '../lib/table.js';
import { currentDdmBuild, type DdmBuild, describeDdmBuild, sameBuild } from './ddm-build.js';
import { killAllHostProcessesNow } from './host-process.js';
import { releaseRunLock, takeRunLock } from './run-lock.js';
import type { Scenario, ScenarioContext, ScenarioReport } from './scenario.js';
import { failoverScenario } from './scenarios/failover.js';
import { linkScenario } from './scenarios/link.js';
import { memoryScenario } from './scenarios/memory.js';
import { scaleScenario } from './scenarios/scale.js';
import { smokeScenario } from './scenarios/smoke.js';
import { stallScenario } from './scenarios/stall.js';
import { unequalScenario } from './scenarios/unequal.js';
import { DEFAULT_RUNS } from './settings.js';
import { tearDownTopology, tearDownTopologyNow } from './topology.js';

const run = promisify(execFile);
const APT_TIMEOUT_MS = 10 * 60_000;
const SCENARIOS: readonly Scenario[] = [
  smokeScenario,
  linkScenario,
  scaleScenario,
  unequalScenario,
  failoverScenario,
  stallScenario,
  memoryScenario,
];
const DDM_USAGES = [
  { command: 'tracker', options: ['--listen', '--secret'] },
  {
    command: 'peer',
    options: ['--listen', '--tracker', '--name', '--accept', '--slots', '--allow-private', '--secret'],
  },
  { command: 'get', options: ['-o', '--tracker', '--secret', '--no-local', '--json'] },
];

interface Options {
  readonly scenarios: readonly Scenario[];
  readonly runs: number;
  readonly withDdm: boolean;
  readonly outFile: string | undefined;
}

function usage(): string {
  const names = SCENARIOS.map((scenario) => `  ${scenario.name.padEnd(9)} ${scenario.summary}`).join('\n');
  return [
    'usage: node --import tsx bench/netns/run.ts [SCENARIO...] [--runs N] [--without-ddm] [--out FILE]',
    '',
    'Simulates hosts with network namespaces and tc shaping (needs root). Scenarios (all when none given):',
    names,
    '',
    '  --runs N        runs per measurement, the median is reported (default 3; smoke always runs once)',
    '  --without-ddm   only the baselines (aria2c, curl, static split), e.g. before the ddm CLI is built',
    '  --out FILE      also write the result tables as Markdown to FILE',
  ].join('\n');
}

function parseOptions(argv: readonly string[]): Options | undefined {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      runs: { type: 'string', default: String(DEFAULT_RUNS) },
      'without-ddm': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new BenchError('USAGE', '--runs must be a whole number >= 1');
  }
  const scenarios = positionals.map((name) => {
    const scenario = SCENARIOS.find((candidate) => candidate.name === name);
    if (scenario === undefined) throw new BenchError('USAGE', `unknown scenario "${name}"\n\n${usage()}`);
    return scenario;
  });
  return {
    scenarios: scenarios.length > 0 ? scenarios : SCENARIOS,
    runs,
    withDdm: !values['without-ddm'],
    outFile: values.out,
  };
}

/** ip and tc come with iproute2, which a slim image may lack. */
async function ensureIproute2(): Promise<void> {
  if ((await findExecutable('ip')) !== undefined && (await findExecutable('tc')) !== undefined) return;
  process.stderr.write('bench: ip/tc missing, installing Debian package iproute2\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env, timeout: APT_TIMEOUT_MS });
  await run('apt-get', ['install', '-y', '-qq', 'iproute2'], { env, timeout: APT_TIMEOUT_MS });
}

async function checkPrerequisites(options: Options): Promise<string> {
  if (process.getuid?.() !== 0) {
    throw new BenchError(
      'USAGE',
      'the multi-host benchmark needs root (network namespaces and tc); try sudo',
    );
  }
  await ensureIproute2();
  const tools = await ensureSystemTools();
  if (options.withDdm) {
    const readiness = await probeDdm(DDM_USAGES);
    if (!readiness.ready) {
      throw new BenchError(
        'NOT_READY',
        `ddm is not ready: ${readiness.reason}. Build it (npm run build), or measure the baselines only with --without-ddm.`,
      );
    }
  }
  return describeMachine(tools);
}

function reportAsText(report: ScenarioReport): string {
  const notes = report.notes.map((note) => `  note: ${note}`);
  return [
    `\n== ${report.title}`,
    `   ${report.setup}`,
    '',
    renderText(report.columns, report.rows),
    ...notes,
    '',
  ].join('\n');
}

function reportAsMarkdown(report: ScenarioReport): string {
  return [
    `#### ${report.title}`,
    '',
    report.setup,
    '',
    renderMarkdown(report.columns, report.rows),
    ...(report.notes.length > 0 ? ['', ...report.notes.map((note) => `- ${note}`)] : []),
    '',
  ].join('\n');
}

/** The command line as it matters for the figures: where they were written to does not. */
function withoutOutOption(argv: readonly string[]): string[] {
  return argv.filter(
    (arg, index) => arg !== '--out' && argv[index - 1] !== '--out' && !arg.startsWith('--out='),
  );
}

async function writeMarkdown(
  file: string,
  argv: readonly string[],
  machine: string,
  reports: ScenarioReport[],
) {
  const command = ['node --import tsx bench/netns/run.ts', ...withoutOutOption(argv)].join(' ');
  const header = [
    `Command: \`${command}\` (${new Date().toISOString().slice(0, 10)})`,
    '',
    '```',
    machine,
    '```',
    '',
  ];
  await writeFile(file, [...header, ...reports.map(reportAsMarkdown)].join('\n'));
}

function installCleanup(workDir: string, controller: AbortController): void {
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    process.stderr.write(`\nbench: ${signal}, stopping and tearing down the hosts\n`);
    controller.abort(new BenchError('ABORTED', `interrupted by ${signal}`));
    if (interrupts > 1) process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Last resort, synchronous: whatever path we leave by, no host and no temp data stays behind.
  process.on('exit', () => {
    killAllHostProcessesNow();
    tearDownTopologyNow();
    rmSync(workDir, { recursive: true, force: true });
    releaseRunLock();
  });
}

async function runScenarios(
  options: Options,
  context: ScenarioContext,
): Promise<{ reports: ScenarioReport[]; failed: number }> {
  const reports: ScenarioReport[] = [];
  let failed = 0;
  for (const scenario of options.scenarios) {
    if (context.signal.aborted) break;
    process.stdout.write(`\n### scenario ${scenario.name}: ${scenario.summary}\n`);
    try {
      const loadBefore = loadavg()[0]!;
      for (const report of await scenario.run(context)) {
        // Other work on the machine slows the simulated hosts too; the tables say how busy it was.
        const load = `load average (1 min) ${loadBefore.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end, on ${cpus().length} cores.`;
        const withLoad = { ...report, notes: [...report.notes, load] };
        reports.push(withLoad);
        process.stdout.write(reportAsText(withLoad));
      }
    } catch (error) {
      failed++;
      const message = error instanceof Error ? error.message : String(error);
      const code = isBenchError(error) ? error.code : 'FAILED';
      process.stderr.write(`bench: scenario ${scenario.name} failed: ${code}: ${message}\n`);
      await tearDownTopology().catch(() => undefined);
    }
  }
  return { reports, failed };
}

function makeContext(
  workDir: string,
  options: Options,
  signal: AbortSignal,
  failedRuns: string[],
): ScenarioContext {
  return {
    servedDir: join(workDir, 'www'),
    outDir: join(workDir, 'out'),
    runs: options.runs,
    withDdm: options.withDdm,
    signal,
    log: (message) => process.stdout.write(`  ${message}\n`),
    reportFailure: (message) => {
      failedRuns.push(message.split('\n')[0] ?? message);
      process.stderr.write(`  FAILED: ${message}\n`);
    },
  };
}

/** Empty when the same ddm build served the whole run. */
async function rebuildWarning(before: DdmBuild): Promise<string> {
  const after = await currentDdmBuild();
  if (sameBuild(before, after)) return '';
  return `WARNING: ddm was rebuilt during the run; the figures mix builds (now ${describeDdmBuild(after)})`;
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseOptions(argv);
  if (options === undefined) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const build = await currentDdmBuild();
  const machine = `${await checkPrerequisites(options)}\n${describeDdmBuild(build)}`;
  takeRunLock();
  const workDir = await mkdtemp(join(tmpdir(), 'ddm-netns-'));
  const controller = new AbortController();
  installCleanup(workDir, controller);
  const failedRuns: string[] = [];
  const context = makeContext(workDir, options, controller.signal, failedRuns);
  await mkdir(context.servedDir);
  process.stdout.write(`${machine}\nwork dir: ${workDir}\n`);
  const { reports, failed } = await runScenarios(options, context);
  const warning = await rebuildWarning(build);
  if (warning !== '') process.stderr.write(`\n${warning}\n`);
  if (failedRuns.length > 0) {
    const lines = failedRuns.map((line) => `  ${line}`).join('\n');
    process.stderr.write(`\nbench: ${failedRuns.length} run(s) failed:\n${lines}\n`);
  }
  if (options.outFile !== undefined) {
    await writeMarkdown(options.outFile, argv, warning === '' ? machine : `${machine}\n${warning}`, reports);
  }
  if (controller.signal.aborted) return 130;
  return failed > 0 || failedRuns.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const code = isBenchError(error) ? error.code : 'FAILED';
    process.stderr.write(`bench: ${code}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = isBenchError(error, 'USAGE') ? 2 : 1;
  },
);
