import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MIN_RATE_SAMPLE_MS } from '../../src/constants.js';
import { RangeSet } from '../../src/scheduler/range-set.js';
import type { Scheduler } from '../../src/scheduler/scheduler.js';
import type { Assignment, SchedulerOptions } from '../../src/scheduler/types.js';
import { MiB, take, testScheduler } from '../helpers/scheduler.js';

const TICK_MS = 100;

const scheduler = (overrides: Partial<SchedulerOptions> & { size: number }) =>
  testScheduler(overrides, 2 * MiB);

/** Delivers the whole assignment at `bytesPerTick` from `fromMs`, committing as it goes; returns the end time. */
function deliverAll(s: Scheduler, assignment: Assignment, bytesPerTick: number, fromMs: number): number {
  let at = fromMs;
  while (assignment.pos < assignment.end) {
    at += TICK_MS;
    const position = assignment.pos;
    const wanted = s.claim(assignment.id, bytesPerTick, at);
    s.commit(position, wanted);
  }
  s.finish(assignment.id, at);
  return at;
}

describe('RangeSet windows', () => {
  it('finds the lowest and highest parts inside a window', () => {
    const set = new RangeSet([
      { start: 0, end: 10 },
      { start: 20, end: 30 },
      { start: 40, end: 50 },
    ]);
    assert.deepEqual(set.firstWithin(5, 45), { start: 5, end: 10 });
    assert.deepEqual(set.firstWithin(10, 45), { start: 20, end: 30 });
    assert.deepEqual(set.firstWithin(12, 18), undefined);
    assert.deepEqual(set.lastWithin(5, 45), { start: 40, end: 45 });
    assert.deepEqual(set.lastWithin(0, 40), { start: 20, end: 30 });
    assert.deepEqual(set.lastWithin(30, 40), undefined);
  });
});

describe('Scheduler in ordered mode', () => {
  it('hands out nothing beyond the window until the reader moves', () => {
    const s = scheduler({ size: 16 * MiB, windowBytes: 4 * MiB });
    const a = take(s, 'a');
    const b = take(s, 'b');
    assert.deepEqual([a.start, a.end, b.start, b.end], [0, 2 * MiB, 2 * MiB, 4 * MiB]);
    deliverAll(s, a, MiB, 0);
    // The window is all taken or done: no piece, and no split of b beyond what is left in it.
    const c = s.next('c', 1_000);
    assert.ok(c === null || c.end <= 4 * MiB, 'nothing past the window');
    if (c) s.finish(c.id, 1_000);
    s.advanceReader(2 * MiB);
    const d = take(s, 'a', 1_000);
    assert.ok(d.start >= 2 * MiB && d.end <= 6 * MiB, `within the moved window: ${d.start}-${d.end}`);
  });

  it('gives the lowest missing range first, whatever was returned to the pool', () => {
    const s = scheduler({ size: 8 * MiB, windowBytes: 8 * MiB });
    const a = take(s, 'a');
    const b = take(s, 'b');
    s.fail(a.id, 10);
    assert.equal(take(s, 'c', 10).start, 0);
    assert.equal(b.start, 2 * MiB);
  });

  it('leaves the lowest ranges to the fastest source', () => {
    const s = scheduler({ size: 32 * MiB, windowBytes: 16 * MiB });
    let fastAt = 0;
    let slowAt = 0;
    // Both are measured: fast at 1.25 MiB/s, slow at about 0.16 MiB/s.
    fastAt = deliverAll(s, take(s, 'fast', fastAt), MiB / 8, fastAt);
    const slowFirst = take(s, 'slow', 0);
    slowAt = deliverAll(s, slowFirst, MiB / 64, 0);
    assert.ok(slowAt >= MIN_RATE_SAMPLE_MS);
    s.advanceReader(4 * MiB);
    const now = Math.max(fastAt, slowAt);
    const slow = take(s, 'slow', now);
    const fast = take(s, 'fast', now);
    assert.ok(fast.start < slow.start, `fast ${fast.start} before slow ${slow.start}`);
    assert.equal(fast.start, 4 * MiB);
    assert.equal(slow.end, 20 * MiB, 'the slow source works at the far end of the window');
  });

  it('serves a prioritized range first, even far outside the window', () => {
    const s = scheduler({ size: 64 * MiB, windowBytes: 4 * MiB });
    s.prioritize({ start: 40 * MiB, end: 41 * MiB });
    const a = take(s, 'a');
    assert.deepEqual([a.start, a.end], [40 * MiB, 41 * MiB]);
    const b = take(s, 'b');
    assert.equal(b.start, 0, 'then back to the window');
    deliverAll(s, a, MiB, 0);
    s.unprioritize({ start: 40 * MiB, end: 41 * MiB });
    s.prioritize({ start: 50 * MiB, end: 54 * MiB });
    s.unprioritize({ start: 50 * MiB, end: 54 * MiB });
    const c = take(s, 'c', 200);
    assert.ok(c.end <= 4 * MiB, 'an unprioritized range is no longer urgent');
  });

  it('makes urgent bytes go first in unordered mode too', () => {
    const s = scheduler({ size: 64 * MiB });
    s.prioritize({ start: 30 * MiB + 5, end: 31 * MiB });
    const a = take(s, 'a');
    assert.deepEqual([a.start, a.end], [30 * MiB + 5, 31 * MiB]);
    assert.equal(take(s, 'b').start, 0);
  });

  it('finishes a whole file when the reader keeps up', () => {
    const size = 20 * MiB + 12_345;
    const s = scheduler({ size, windowBytes: 5 * MiB });
    let now = 0;
    const lowestNotDone = () => (s.doneRanges()[0]?.start === 0 ? s.doneRanges()[0]!.end : 0);
    for (let round = 0; round < 1_000 && !s.isComplete; round++) {
      const assignment = s.next(`w${round % 3}`, now);
      if (assignment) now = deliverAll(s, assignment, MiB / 2, now);
      s.advanceReader(lowestNotDone());
    }
    assert.ok(s.isComplete);
    assert.equal(s.doneBytes, size);
  });

  it('refuses a bad window and a bad reader position', () => {
    assert.throws(() => scheduler({ size: MiB, windowBytes: 0 }), RangeError);
    const s = scheduler({ size: MiB, windowBytes: MiB });
    assert.throws(() => s.advanceReader(2 * MiB), RangeError);
    assert.throws(() => s.advanceReader(-1), RangeError);
  });
});

describe('Scheduler in ordered mode, after a lie', () => {
  it('fetches reopened bytes behind the reader again', () => {
    const s = scheduler({ size: 8 * MiB, windowBytes: 2 * MiB });
    let now = 0;
    for (const worker of ['a', 'b', 'c', 'd']) {
      now = deliverAll(s, take(s, worker, now), MiB, now);
      s.advanceReader(s.doneRanges()[0]!.end);
    }
    assert.ok(s.isComplete);
    s.reopen(MiB, 2 * MiB);
    const again = take(s, 'a', now);
    assert.deepEqual([again.start, again.end], [MiB, 2 * MiB]);
  });
});
