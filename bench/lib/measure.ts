/**
 * One measured download: run the tool under time(1), check every byte against the source, then
 * delete the output so the next run starts from the same state.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BenchError } from './bench-error.js';
import type { Contender } from './contenders.js';
import { sha256File } from './data-file.js';
import { runTimed, type TimedRun } from './timing.js';
import type { Workspace } from './workspace.js';

/** Generous floor rate for the per-run time limit: a hung tool fails instead of stalling the bench. */
const SLOWEST_EXPECTED_BYTES_PER_SECOND = 10e6;
const RUN_TIMEOUT_BASE_MS = 60_000;

export interface SourceFile {
  readonly fileName: string;
  readonly url: string;
  readonly sizeBytes: number;
  readonly sha256: string;
}

export function runTimeoutMs(sizeBytes: number): number {
  return RUN_TIMEOUT_BASE_MS + Math.ceil((sizeBytes / SLOWEST_EXPECTED_BYTES_PER_SECOND) * 1000);
}

async function verify(contender: Contender, outFile: string, source: SourceFile, signal: AbortSignal) {
  const size = await stat(outFile).then(
    (stats) => stats.size,
    () => undefined,
  );
  if (size !== source.sizeBytes) {
    throw new BenchError(
      'CHECKSUM_MISMATCH',
      `${contender.label}: output ${outFile} has ${size ?? 'no file'} bytes, expected ${source.sizeBytes}`,
    );
  }
  const actual = await sha256File(outFile, signal);
  if (actual !== source.sha256) {
    throw new BenchError(
      'CHECKSUM_MISMATCH',
      `${contender.label}: SHA-256 MISMATCH on ${source.fileName}: got ${actual}, expected ${source.sha256}`,
    );
  }
}

export async function measureOnce(
  contender: Contender,
  source: SourceFile,
  workspace: Workspace,
  signal: AbortSignal,
): Promise<TimedRun> {
  await workspace.clearOutputs();
  const outFile = join(workspace.outDir, source.fileName);
  try {
    const run = await runTimed(contender.label, contender.command(source.url, outFile), {
      reportFile: workspace.timeReport,
      timeoutMs: runTimeoutMs(source.sizeBytes),
      signal,
    });
    await verify(contender, outFile, source, signal);
    return run;
  } finally {
    await workspace.clearOutputs();
  }
}

/** `round` counts from 0; warm-up rounds are negative and their runs are not kept. */
export type MeasureFn = (contender: Contender, round: number) => Promise<TimedRun>;

/**
 * One unmeasured round first: the very first download after the data is written pays for cold
 * code, page-cache and write-back effects that say nothing about the tool.
 */
export const WARMUP_ROUNDS = 1;

/**
 * Runs every contender once per round, starting each round with a different one, so that no
 * tool always runs right after the same other tool (warm caches, CPU frequency).
 */
export async function runRounds(
  contenders: readonly Contender[],
  rounds: number,
  measure: MeasureFn,
  report: (contender: Contender, round: number, run: TimedRun) => void,
): Promise<Map<Contender, TimedRun[]>> {
  const results = new Map<Contender, TimedRun[]>(contenders.map((contender) => [contender, []]));
  for (let round = -WARMUP_ROUNDS; round < rounds; round++) {
    const shift = round + WARMUP_ROUNDS;
    const order = contenders.map((_, index) => contenders[(index + shift) % contenders.length]!);
    for (const contender of order) {
      const run = await measure(contender, round);
      if (round >= 0) results.get(contender)!.push(run);
      report(contender, round, run);
    }
  }
  return results;
}

/** "round 2/5" or "warm-up", for progress lines. */
export function roundName(round: number, rounds: number): string {
  return round < 0 ? 'warm-up' : `round ${round + 1}/${rounds}`;
}
