/**
 * Memory flatness: ddm's peak RSS on a small and on a large download. Streaming to positional
 * writes should make memory independent of file size; the target is large within 10% of small.
 */
import { type BenchOptions, MEMORY_SMALL_BYTES } from '../lib/args.js';
import { BenchError } from '../lib/bench-error.js';
import { type Contender, DDM_GET_OPTIONS, ddmGet } from '../lib/contenders.js';
import { formatSize } from '../lib/data-file.js';
import { probeDdm } from '../lib/ddm-cli.js';
import { measureOnce, roundName, runRounds, type SourceFile } from '../lib/measure.js';
import { describeRun, printTable, RESULT_COLUMNS, resultRow } from '../lib/results.js';
import { progress, withSession } from '../lib/session.js';
import { median } from '../lib/stats.js';
import { printTargets } from '../lib/targets.js';

/** Large-file peak RSS may exceed small-file peak RSS by at most this factor. */
const FLATNESS_TARGET_RATIO = 1.1;

export async function runMemory(options: BenchOptions, signal: AbortSignal): Promise<number> {
  const readiness = await probeDdm([{ command: 'get', options: DDM_GET_OPTIONS }]);
  if (!readiness.ready)
    throw new BenchError('NOT_READY', `memory mode measures ddm only: ${readiness.reason}`);
  if (options.sizeBytes <= MEMORY_SMALL_BYTES) {
    throw new BenchError(
      'USAGE',
      `memory mode compares ${formatSize(MEMORY_SMALL_BYTES)} with a larger --size`,
    );
  }

  return withSession([MEMORY_SMALL_BYTES, options.sizeBytes], signal, async ({ workspace, sources }) => {
    const bySource = new Map<Contender, SourceFile>(
      sources.map((source) => [ddmGet(`ddm get ${formatSize(source.sizeBytes)}`), source]),
    );
    const contenders = [...bySource.keys()];
    const results = await runRounds(
      contenders,
      options.runs,
      (contender) => measureOnce(contender, bySource.get(contender)!, workspace, signal),
      (contender, round, run) =>
        progress(
          `${roundName(round, options.runs)} ${contender.label}: ${describeRun(bySource.get(contender)!.sizeBytes, run)}`,
        ),
    );
    const rows = contenders.map((contender) =>
      resultRow(contender.label, bySource.get(contender)!.sizeBytes, results.get(contender)!),
    );
    printTable(`memory: ddm get --connections 4, ${options.runs} runs per size`, RESULT_COLUMNS, rows);

    const [small, large] = contenders.map((contender) =>
      median(results.get(contender)!.map((r) => r.peakRssKiB)),
    );
    const ratio = large! / small!;
    const verdict = ratio <= FLATNESS_TARGET_RATIO ? 'PASS' : 'FAIL';
    process.stdout.write(
      `\npeak RSS ${formatSize(options.sizeBytes)} / ${formatSize(MEMORY_SMALL_BYTES)} = ${ratio.toFixed(3)} ` +
        `(${(large! / 1024).toFixed(1)} / ${(small! / 1024).toFixed(1)} MiB; target <= ${FLATNESS_TARGET_RATIO}): ${verdict}\n`,
    );
    printTargets([
      {
        what: `ddm get ${formatSize(MEMORY_SMALL_BYTES)} peak RSS`,
        value: small! / 1024,
        limit: 64,
        kind: 'max',
        unit: ' MiB',
      },
      {
        what: `ddm get ${formatSize(options.sizeBytes)} peak RSS`,
        value: large! / 1024,
        limit: 64,
        kind: 'max',
        unit: ' MiB',
      },
    ]);
    return verdict === 'PASS' ? 0 : 1;
  });
}
