/** Schedulers as the unit tests build them: the product's timing constants, a test's own sizes. */
import assert from 'node:assert/strict';
import { SLOW_WORKER_FACTOR, STALL_TIMEOUT_MS } from '../../src/constants.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import type { Assignment, SchedulerOptions } from '../../src/scheduler/types.js';

export const MiB = 1024 * 1024;

/** A scheduler over `size` bytes in pieces of `pieceBytes` (default 4 MiB), split down to 1 MiB. */
export function testScheduler(
  overrides: Partial<SchedulerOptions> & { size: number },
  pieceBytes = 4 * MiB,
): Scheduler {
  return new Scheduler({
    pieceBytes,
    minSplitBytes: MiB,
    stallTimeoutMs: STALL_TIMEOUT_MS,
    slowFactor: SLOW_WORKER_FACTOR,
    ...overrides,
  });
}

/** The next assignment for `workerId`, which must get one. */
export function take(s: Scheduler, workerId: string, now = 0): Assignment {
  const assignment = s.next(workerId, now);
  assert.ok(assignment, `${workerId} got no work`);
  return assignment;
}
