/**
 * `npm run bench -- [single|swarm|memory|rss|ratelimit|peer-relay|tracker|issue14] [--size S] [--runs N] [--quick]`: see BENCHMARKS.md.
 * Every process started here is killed on the way out, on Ctrl-C and on SIGTERM, and the work
 * dir is removed.
 */
import { type BenchOptions, parseBenchArgs, type Scenario, USAGE } from './lib/args.js';
import { BenchError, isBenchError } from './lib/bench-error.js';
import { killAllNow } from './lib/processes.js';
import { removeAllWorkspacesNow } from './lib/workspace.js';
import { runIssue14 } from './scenarios/issue14.js';
import { runMemory } from './scenarios/memory.js';
import { runPeerRelay } from './scenarios/peer-relay.js';
import { runRateLimit } from './scenarios/ratelimit.js';
import { runSingle } from './scenarios/single.js';
import { runSwarm } from './scenarios/swarm.js';
import { runTracker } from './tracker.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const EXIT_INTERRUPTED = 130;

const SCENARIO_RUNNERS: Record<Scenario, (options: BenchOptions, signal: AbortSignal) => Promise<number>> = {
  single: runSingle,
  swarm: runSwarm,
  memory: runMemory,
  ratelimit: runRateLimit,
  'peer-relay': runPeerRelay,
  tracker: runTracker,
  issue14: runIssue14,
};

function exitCodeOf(error: unknown): number {
  if (isBenchError(error, 'USAGE')) return EXIT_USAGE;
  if (isBenchError(error, 'ABORTED')) return EXIT_INTERRUPTED;
  return EXIT_FAILURE;
}

function describeError(error: unknown): string {
  if (error instanceof BenchError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

async function main(argv: readonly string[]): Promise<number> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    // A second Ctrl-C means "now": skip the orderly teardown.
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
    process.stderr.write(`\nbench: ${signal}, stopping\n`);
    controller.abort(new BenchError('ABORTED', `interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => {
    killAllNow();
    removeAllWorkspacesNow();
  });
  try {
    const options = parseBenchArgs(argv);
    if (options === undefined) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    return await SCENARIO_RUNNERS[options.scenario](options, controller.signal);
  } catch (error) {
    process.stderr.write(`bench: ${describeError(error)}\n`);
    return exitCodeOf(error);
  }
}

// Exit explicitly: a stray handle must not keep a finished benchmark alive.
main(process.argv.slice(2)).then((code) => process.exit(code));
