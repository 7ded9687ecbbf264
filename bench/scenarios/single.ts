/**
 * Issue 2: one machine, one origin. ddm get against aria2c -x4 and curl, each downloading the
 * same random file from nginx on 127.0.0.1, alternating in every round.
 */
import type { BenchOptions } from '../lib/args.js';
import { aria2c, type Contender, curl, DDM_GET_OPTIONS, ddmGet } from '../lib/contenders.js';
import { formatSize } from '../lib/data-file.js';
import { probeDdm } from '../lib/ddm-cli.js';
import { measureOnce, roundName, runRounds } from '../lib/measure.js';
import { describeRun, pendingRow, printTable, RESULT_COLUMNS, resultRow } from '../lib/results.js';
import { progress, withSession } from '../lib/session.js';
import { median } from '../lib/stats.js';
import { printTargets } from '../lib/targets.js';

export async function runSingle(options: BenchOptions, signal: AbortSignal): Promise<number> {
  const readiness = await probeDdm([{ command: 'get', options: DDM_GET_OPTIONS }]);
  const ddm = ddmGet();
  if (!readiness.ready) progress(`ddm is PENDING (${readiness.reason}); measuring aria2c and curl only`);

  return withSession([options.sizeBytes], signal, async ({ tools, workspace, sources }) => {
    const source = sources[0]!;
    const contenders: Contender[] = [
      ...(readiness.ready ? [ddm] : []),
      aria2c(tools.aria2c),
      curl(tools.curl),
    ];
    const results = await runRounds(
      contenders,
      options.runs,
      (contender) => measureOnce(contender, source, workspace, signal),
      (contender, round, run) =>
        progress(
          `${roundName(round, options.runs)} ${contender.label}: ${describeRun(source.sizeBytes, run)}`,
        ),
    );
    const rows = contenders.map((contender) =>
      resultRow(contender.label, source.sizeBytes, results.get(contender)!),
    );
    if (!readiness.ready) rows.unshift(pendingRow(`${ddm.label} (pending)`));
    printTable(
      `single: ${formatSize(source.sizeBytes)} from nginx on 127.0.0.1, ${options.runs} runs per tool, SHA-256 checked`,
      RESULT_COLUMNS,
      rows,
    );
    if (!readiness.ready) process.stdout.write(`\nddm pending: ${readiness.reason}\n`);
    else {
      const medianOf = (contender: Contender, pick: 'cpuSeconds' | 'wallSeconds') =>
        median(results.get(contender)!.map((run) => run[pick]));
      const curlTool = contenders[contenders.length - 1]!;
      printTargets([
        {
          what: `${ddm.label} CPU / curl CPU`,
          value: medianOf(ddm, 'cpuSeconds') / medianOf(curlTool, 'cpuSeconds'),
          limit: 1.3,
          kind: 'max',
        },
        {
          what: `${ddm.label} wall / curl wall`,
          value: medianOf(ddm, 'wallSeconds') / medianOf(curlTool, 'wallSeconds'),
          limit: 1.2,
          kind: 'max',
        },
      ]);
    }
    return 0;
  });
}
