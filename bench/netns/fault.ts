/**
 * The fault scenarios' common shape: a download through helpers only (--no-local, so the ideal
 * is exact), something done to one helper half way through, and the time after that moment
 * compared with the ideal time for the rest at the links that are left.
 */
import { formatSize } from '../lib/data-file.js';
import { median } from '../lib/stats.js';
import type { Column, Row } from '../lib/table.js';
import { ddmGet, type SourceFile, type TimedResult } from './downloads.js';
import { atFraction, type Firing } from './progress-trigger.js';
import {
  FAILED,
  fixed,
  idealSeconds,
  type Outcome,
  percent,
  repeat,
  runsCell,
  type ScenarioContext,
  timeoutMs,
} from './scenario.js';
import { type Swarm, startSwarm, stopSwarm } from './swarm.js';

export const FAULT_AT_FRACTION = 0.5;

export interface FaultPlan {
  readonly label: string;
  readonly helpers: readonly number[];
  /** The helpers' links before and after the fault, summed. */
  readonly beforeMbit: number;
  readonly afterMbit: number;
  /** The fault; it runs while the download goes on. */
  inject(swarm: Swarm): Promise<void>;
  /** Puts things back for the next run. */
  restore(): Promise<void>;
}

export interface FaultRun extends TimedResult {
  readonly firing: Firing;
}

async function faultRun(context: ScenarioContext, source: SourceFile, plan: FaultPlan): Promise<FaultRun> {
  // A fresh swarm each run: a killed peer would otherwise linger in the tracker's list.
  const swarm = await startSwarm(plan.helpers, context.signal);
  try {
    const trigger = atFraction(FAULT_AT_FRACTION, () => plan.inject(swarm));
    const limits = { timeoutMs: timeoutMs(source.sizeBytes, plan.afterMbit), signal: context.signal };
    const result = await ddmGet(
      source,
      context.outDir,
      { swarm, local: false, onProgress: trigger.onProgress },
      limits,
    );
    return { ...result, firing: await trigger.fired() };
  } finally {
    await stopSwarm(swarm);
    await plan.restore();
  }
}

export function measureFault(
  context: ScenarioContext,
  source: SourceFile,
  plan: FaultPlan,
): Promise<Outcome<FaultRun>> {
  return repeat(context, plan.label, () => faultRun(context, source, plan));
}

export const FAULT_COLUMNS: readonly Column[] = [
  { title: 'fault', align: 'left' },
  { title: 'file', align: 'right' },
  { title: 'runs', align: 'right' },
  { title: 'fault at', align: 'right' },
  { title: 'after fault s', align: 'right' },
  { title: 'ideal after s', align: 'right' },
  { title: 'tail s (after - ideal)', align: 'right' },
  { title: 'after / ideal', align: 'right' },
  { title: 'total s', align: 'right' },
  { title: 'ideal total s', align: 'right' },
];

interface FaultFigures {
  readonly afterSeconds: number;
  readonly idealAfterSeconds: number;
  readonly idealTotalSeconds: number;
}

function figures(run: FaultRun, sizeBytes: number, plan: FaultPlan): FaultFigures {
  const doneBytes = run.firing.fraction * sizeBytes;
  const idealAfterSeconds = idealSeconds(sizeBytes - doneBytes, plan.afterMbit);
  return {
    afterSeconds: run.seconds - run.firing.elapsedSeconds,
    idealAfterSeconds,
    idealTotalSeconds: idealSeconds(doneBytes, plan.beforeMbit) + idealAfterSeconds,
  };
}

/** Medians over the runs, each figure on its own. */
export function faultRow(plan: FaultPlan, sizeBytes: number, outcome: Outcome<FaultRun>): Row {
  const runs = outcome.results;
  if (runs.length === 0) {
    return [
      plan.label,
      formatSize(sizeBytes),
      runsCell(outcome),
      ...Array.from({ length: FAULT_COLUMNS.length - 3 }, () => FAILED),
    ];
  }
  const all = runs.map((run) => figures(run, sizeBytes, plan));
  const pick = (get: (f: FaultFigures) => number) => median(all.map(get));
  const after = pick((f) => f.afterSeconds);
  const idealAfter = pick((f) => f.idealAfterSeconds);
  const tail = pick((f) => f.afterSeconds - f.idealAfterSeconds);
  return [
    plan.label,
    formatSize(sizeBytes),
    runsCell(outcome),
    `${percent(median(runs.map((run) => run.firing.fraction)))}, ${fixed(median(runs.map((run) => run.firing.elapsedSeconds)), 1)} s`,
    fixed(after, 2),
    fixed(idealAfter, 2),
    fixed(tail, 2),
    percent(pick((f) => f.afterSeconds / f.idealAfterSeconds)),
    fixed(median(runs.map((run) => run.seconds)), 2),
    fixed(
      pick((f) => f.idealTotalSeconds),
      2,
    ),
  ];
}

export function pendingFaultRow(plan: FaultPlan, sizeBytes: number): Row {
  return [
    plan.label,
    formatSize(sizeBytes),
    '0',
    ...Array.from({ length: FAULT_COLUMNS.length - 3 }, () => 'not run'),
  ];
}
