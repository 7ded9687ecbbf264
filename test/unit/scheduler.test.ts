import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_PIECE_BYTES,
  MIN_RATE_SAMPLE_MS,
  MIN_SPLIT_BYTES,
  SLOW_WORKER_FACTOR,
  STALL_TIMEOUT_MS,
} from '../../src/constants.js';
import { choosePieceBytes, Scheduler } from '../../src/scheduler/scheduler.js';
import type { Assignment, Revocation } from '../../src/scheduler/types.js';
import type { ByteRange } from '../../src/types/byte-range.js';
import { MiB, take, testScheduler } from '../helpers/scheduler.js';

const TICK_MS = 100;
const scheduler = testScheduler;

function span(assignment: Assignment): ByteRange {
  return { start: assignment.start, end: assignment.end };
}

/** Delivers bytes at a steady rate for `ms`, one claim per tick, so the worker's rate is measured. */
function deliver(
  s: Scheduler,
  assignment: Assignment,
  bytesPerTick: number,
  fromMs: number,
  ms: number,
): void {
  for (let at = fromMs + TICK_MS; at <= fromMs + ms; at += TICK_MS) {
    const position = assignment.pos;
    const wanted = s.claim(assignment.id, bytesPerTick, at);
    s.commit(position, wanted);
  }
}

describe('Scheduler', () => {
  describe('pulling from the untaken pool', () => {
    it('hands out the lowest range, capped at pieceBytes', () => {
      const s = scheduler({ size: 10 * MiB });
      assert.deepEqual(span(take(s, 'a')), { start: 0, end: 4 * MiB });
      assert.deepEqual(span(take(s, 'b')), { start: 4 * MiB, end: 8 * MiB });
      assert.deepEqual(span(take(s, 'c')), { start: 8 * MiB, end: 10 * MiB });
    });

    it('includes a leftover smaller than minSplitBytes in the piece', () => {
      const s = scheduler({ size: 8 * MiB + 1000 });
      take(s, 'a');
      assert.deepEqual(span(take(s, 'b')), { start: 4 * MiB, end: 8 * MiB + 1000 });
    });

    it('refuses a second assignment to a worker that holds one', () => {
      const s = scheduler({ size: 10 * MiB });
      take(s, 'a');
      assert.throws(() => s.next('a', 0), /holding assignment/);
    });

    it('skips done ranges on resume and merges them', () => {
      const done = [
        { start: 2 * MiB, end: 3 * MiB },
        { start: 0, end: MiB },
        { start: MiB, end: 2 * MiB },
      ];
      const s = scheduler({ size: 5 * MiB, done });
      assert.deepEqual(s.doneRanges(), [{ start: 0, end: 3 * MiB }]);
      assert.equal(s.doneBytes, 3 * MiB);
      assert.deepEqual(span(take(s, 'a')), { start: 3 * MiB, end: 5 * MiB });
    });

    it('refuses done ranges outside the file and bad options', () => {
      assert.throws(() => scheduler({ size: MiB, done: [{ start: 0, end: MiB + 1 }] }), RangeError);
      assert.throws(() => scheduler({ size: MiB, done: [{ start: -1, end: 5 }] }), RangeError);
      assert.throws(() => scheduler({ size: -1 }), RangeError);
      assert.throws(() => scheduler({ size: MiB, pieceBytes: 0 }), RangeError);
    });

    it('is complete at once for a zero-byte file', () => {
      const s = scheduler({ size: 0 });
      assert.equal(s.isComplete, true);
      assert.equal(s.next('a', 0), null);
      assert.deepEqual(s.doneRanges(), []);
    });

    it('is complete when resumed with everything done', () => {
      const s = scheduler({ size: MiB, done: [{ start: 0, end: MiB }] });
      assert.equal(s.isComplete, true);
      assert.equal(s.next('a', 0), null);
    });
  });

  describe('claim, commit, finish, fail', () => {
    it('claims up to the end and counts bytes per worker', () => {
      const s = scheduler({ size: 2 * MiB, pieceBytes: 2 * MiB });
      const a = take(s, 'a');
      assert.equal(s.claim(a.id, MiB, 100), MiB);
      assert.equal(s.claim(a.id, 2 * MiB, 200), MiB);
      assert.equal(a.pos, 2 * MiB);
      assert.equal(s.claim(a.id, 10, 300), 0);
      assert.equal(s.workerBytes('a'), 2 * MiB);
      assert.equal(s.workerBytes('nobody'), 0);
      assert.equal(s.isComplete, false, 'claimed bytes are not done until committed');
      s.commit(0, 2 * MiB);
      assert.equal(s.isComplete, true);
    });

    it('measures the rate of a worker', () => {
      const s = scheduler({ size: 100 * MiB, pieceBytes: 64 * MiB });
      const a = take(s, 'a');
      assert.equal(s.workerRate('a'), undefined);
      deliver(s, a, 1_000_000, 0, 3_000);
      assert.equal(s.workerRate('a'), 10_000_000);
    });

    it('returns the unclaimed remainder to the pool on finish and fail', () => {
      const s = scheduler({ size: 8 * MiB });
      const a = take(s, 'a');
      const b = take(s, 'b');
      s.claim(a.id, 1000, 10);
      s.claim(b.id, 2000, 10);
      s.finish(a.id, 20);
      s.fail(b.id, 20);
      s.finish(a.id, 30);
      assert.equal(s.claim(a.id, 10, 40), 0, 'a finished assignment wants no bytes');
      assert.deepEqual(s.inFlight(), []);
      assert.deepEqual(span(take(s, 'c')), { start: 1000, end: 4 * MiB });
      assert.deepEqual(span(take(s, 'd')), { start: 4 * MiB + 2000, end: 8 * MiB });
    });

    it('refuses commits beyond the file', () => {
      const s = scheduler({ size: MiB });
      assert.throws(() => s.commit(MiB - 1, 2), RangeError);
      assert.throws(() => s.commit(0, -1), RangeError);
    });
  });

  describe('the tail', () => {
    it('splits the largest range in flight at the midpoint when rates are unknown', () => {
      const s = scheduler({ size: 12 * MiB });
      const a = take(s, 'a');
      const b = take(s, 'b');
      const c = take(s, 'c');
      s.claim(a.id, 2 * MiB, 10);
      s.claim(b.id, MiB, 10);
      s.claim(c.id, 3 * MiB, 10);
      const d = take(s, 'd', 10);
      assert.deepEqual(span(d), { start: 6.5 * MiB, end: 8 * MiB });
      assert.equal(b.end, 6.5 * MiB);
      assert.equal(s.claim(b.id, 2 * MiB, 20), 1.5 * MiB, 'the busy worker sees its shrunk end');
    });

    it('cuts where both workers should finish together when rates are known', () => {
      const s = scheduler({ size: 10 * MiB + 4_000_000, pieceBytes: 10 * MiB });
      const slow = take(s, 'slow');
      const fast = take(s, 'fast');
      deliver(s, slow, 100_000, 0, 1_000);
      deliver(s, fast, 400_000, 0, 1_000);
      s.finish(fast.id, 1_000);
      // fast is four times faster, so it should take four fifths of what slow has left.
      const tail = take(s, 'fast', 1_000);
      const cut = 1_000_000 + Math.round((10 * MiB - 1_000_000) / 5);
      assert.equal(slow.end, cut);
      assert.deepEqual(span(tail), { start: cut, end: 10 * MiB });
    });

    const clampCases = [
      { name: 'the busy part', busyPerTick: 1_000, freePerTick: 200_000 },
      { name: 'the free part', busyPerTick: 200_000, freePerTick: 1_000 },
    ];
    for (const { name, busyPerTick, freePerTick } of clampCases) {
      it(`keeps ${name} of a split at least minSplitBytes`, () => {
        // Two gaps: busy takes the first, free the second, which it finishes within a second.
        const freePiece = freePerTick * 10;
        const done = [{ start: 8 * MiB, end: 8 * MiB + 1 }];
        const s = scheduler({ size: 8 * MiB + 1 + freePiece, pieceBytes: 8 * MiB, done });
        const busy = take(s, 'busy');
        const free = take(s, 'free');
        deliver(s, busy, busyPerTick, 0, 1_000);
        deliver(s, free, freePerTick, 0, 1_000);
        s.finish(free.id, 1_000);
        const tail = take(s, 'free', 1_000);
        assert.equal(Math.min(busy.end - busy.pos, tail.end - tail.start), MiB);
        assert.equal(tail.start, busy.end);
        assert.equal(tail.end, 8 * MiB);
      });
    }

    it('does not split a range smaller than twice minSplitBytes', () => {
      const s = scheduler({ size: 3 * MiB, pieceBytes: 3 * MiB });
      const a = take(s, 'a');
      s.claim(a.id, MiB + 1, 10);
      assert.equal(s.next('b', 10), null);
    });

    it('hands the whole remainder of a much slower worker to a fast free one', () => {
      const s = scheduler({ size: 2 * MiB, pieceBytes: MiB });
      const slow = take(s, 'slow');
      const fast = take(s, 'fast');
      deliver(s, slow, 10_240, 0, 1_000);
      deliver(s, fast, 104_858, 0, 1_000);
      s.finish(fast.id, 1_000);
      const rest = take(s, 'fast', 1_000);
      assert.deepEqual(span(rest), { start: 100 * 1024, end: MiB });
      assert.equal(slow.end, slow.pos);
      assert.equal(s.claim(slow.id, 1000, 1_100), 0);
      const revoked = s.sweep(1_100);
      assert.deepEqual(
        revoked.map((r) => [r.assignment.id, r.reason]),
        [[slow.id, 'slow']],
      );
      assert.deepEqual(s.sweep(1_200), [], 'a takeover is reported once');
    });

    it('does not take over from a worker whose rate is not yet trusted', () => {
      const s = scheduler({ size: 2 * MiB, pieceBytes: MiB });
      const slow = take(s, 'slow');
      const fast = take(s, 'fast');
      const early = MIN_RATE_SAMPLE_MS / 2;
      deliver(s, fast, 209_716, 0, early);
      deliver(s, slow, 10_240, 0, early);
      s.finish(fast.id, early);
      assert.equal(s.next('fast', early), null);
    });

    it('does not take over from a worker that is not slow enough', () => {
      const s = scheduler({ size: 2 * MiB, pieceBytes: MiB });
      const slow = take(s, 'slow');
      const fast = take(s, 'fast');
      deliver(s, slow, 40_960, 0, 1_000);
      deliver(s, fast, 104_858, 0, 1_000);
      s.finish(fast.id, 1_000);
      assert.equal(s.next('fast', 1_000), null);
    });
  });

  describe('sweep', () => {
    it('revokes an assignment with no claimed bytes for stallTimeoutMs', () => {
      const s = scheduler({ size: 8 * MiB, stallTimeoutMs: 1_000 });
      const a = take(s, 'a');
      const b = take(s, 'b');
      s.claim(a.id, 1000, 500);
      s.claim(b.id, 1000, 500);
      s.claim(b.id, 1000, 1_400);
      assert.deepEqual(s.sweep(1_499), []);
      const revoked = s.sweep(1_500);
      assert.deepEqual(revoked, [{ assignment: a, reason: 'stalled' } satisfies Revocation]);
      assert.equal(a.end, 1000);
      assert.deepEqual(s.sweep(5_000).length, 1, 'b stalls later; a is not reported again');
      s.fail(a.id, 5_000);
      assert.deepEqual(span(take(s, 'a', 5_000)), { start: 1000, end: 4 * MiB });
    });

    it('counts a stall from the assignment start when nothing was ever claimed', () => {
      const s = scheduler({ size: MiB, stallTimeoutMs: 1_000 });
      const a = take(s, 'a', 100);
      assert.deepEqual(s.sweep(1_099), []);
      assert.equal(s.sweep(1_100)[0]?.assignment, a);
    });
  });

  it('lists assignments in flight', () => {
    const s = scheduler({ size: 8 * MiB });
    const a = take(s, 'a');
    const b = take(s, 'b');
    assert.deepEqual(s.inFlight(), [a, b]);
    s.finish(a.id, 0);
    assert.deepEqual(s.inFlight(), [b]);
  });
});

describe('choosePieceBytes', () => {
  const cases: { size: number; workers: number; expected: number }[] = [
    { size: 0, workers: 4, expected: MIN_SPLIT_BYTES },
    { size: 10 * MiB, workers: 4, expected: MIN_SPLIT_BYTES },
    { size: 64 * MiB, workers: 4, expected: 2 * MiB },
    { size: 100 * MiB, workers: 4, expected: 4 * MiB },
    { size: 100 * MiB, workers: 0, expected: 13 * MiB },
    { size: 100 * 1024 * MiB, workers: 4, expected: MAX_PIECE_BYTES },
  ];
  for (const { size, workers, expected } of cases) {
    it(`${size} bytes over ${workers} workers -> ${expected}`, () => {
      assert.equal(choosePieceBytes(size, workers), expected);
    });
  }
});

// --- A deterministic simulation: workers pull, claim, write and finish, tick by tick. ----------

interface SimWorker {
  id: string;
  bytesPerTick: number;
  /** The worker's request fails at this tick and the worker is gone. */
  dieAtTick?: number;
  /** From this tick on the worker delivers nothing (and is dropped once revoked). */
  stallFromTick?: number;
}

interface SimCase {
  name: string;
  size: number;
  workers: SimWorker[];
  maxTicks: number;
  pieceBytes?: number;
  stallTimeoutMs?: number;
  done?: ByteRange[];
  check?: (result: SimResult) => void;
}

interface SimResult {
  ticks: number;
  scheduler: Scheduler;
  revocations: Revocation[];
}

interface Request {
  assignment: Assignment;
  /** The end the worker asked the origin for; it never learns of a shrink except through claim. */
  requestedEnd: number;
}

function simulate(simCase: SimCase): SimResult {
  const { size, workers, maxTicks, done = [] } = simCase;
  const s = new Scheduler({
    size,
    pieceBytes: simCase.pieceBytes ?? choosePieceBytes(size, workers.length),
    minSplitBytes: MIN_SPLIT_BYTES,
    stallTimeoutMs: simCase.stallTimeoutMs ?? STALL_TIMEOUT_MS,
    slowFactor: SLOW_WORKER_FACTOR,
    done,
  });
  // Every byte must be claimed exactly once; bytes already on disk count as claimed.
  const claimed: ByteRange[] = done.map((range) => ({ ...range }));
  const requests = new Map<string, Request>();
  const gone = new Set<string>();
  const revocations: Revocation[] = [];
  // Writes land one tick after their claim: claim first, commit once the bytes are on disk.
  let unwritten: ByteRange[] = [];
  let tick = 0;
  for (;;) {
    for (const { start, end } of unwritten) s.commit(start, end - start);
    unwritten = [];
    if (s.isComplete) break;
    assert.ok(tick < maxTicks, `not complete after ${maxTicks} ticks (${s.doneBytes} of ${size} bytes)`);
    const now = tick * TICK_MS;

    for (const revocation of s.sweep(now)) {
      revocations.push(revocation);
      const { assignment, reason } = revocation;
      requests.delete(assignment.workerId);
      if (reason === 'stalled') {
        s.fail(assignment.id, now);
        gone.add(assignment.workerId);
      } else {
        s.finish(assignment.id, now);
      }
    }

    for (const worker of workers) {
      if (gone.has(worker.id)) continue;
      const request = requests.get(worker.id);
      if (worker.dieAtTick === tick) {
        if (request) s.fail(request.assignment.id, now);
        requests.delete(worker.id);
        gone.add(worker.id);
      } else if (request === undefined) {
        const assignment = s.next(worker.id, now);
        if (assignment) requests.set(worker.id, { assignment, requestedEnd: assignment.end });
      }
    }

    const endOfTick = now + TICK_MS;
    for (const worker of workers) {
      const request = requests.get(worker.id);
      if (request === undefined || tick >= (worker.stallFromTick ?? Number.POSITIVE_INFINITY)) continue;
      const { assignment, requestedEnd } = request;
      const position = assignment.pos;
      const offered = Math.min(worker.bytesPerTick, requestedEnd - position);
      const wanted = s.claim(assignment.id, offered, endOfTick);
      if (wanted > 0) {
        claimed.push({ start: position, end: position + wanted });
        unwritten.push({ start: position, end: position + wanted });
      }
      if (wanted < offered || assignment.pos === assignment.end) {
        s.finish(assignment.id, endOfTick);
        requests.delete(worker.id);
      }
    }
    tick++;
  }

  assert.deepEqual(s.doneRanges(), size === 0 ? [] : [{ start: 0, end: size }]);
  assertTiles(claimed, size);
  const doneBefore = done.reduce((sum, range) => sum + range.end - range.start, 0);
  const claimedByWorkers = workers.reduce((sum, worker) => sum + s.workerBytes(worker.id), 0);
  assert.equal(claimedByWorkers, size - doneBefore);
  return { ticks: tick, scheduler: s, revocations };
}

/** The ranges cover [0, size) with no overlap and no gap. */
function assertTiles(ranges: ByteRange[], size: number): void {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  let covered = 0;
  for (const { start, end } of sorted) {
    assert.ok(start >= covered, `bytes from ${start} to ${covered} were claimed twice`);
    assert.equal(start, covered, `bytes from ${covered} to ${start} were never claimed`);
    covered = end;
  }
  assert.equal(covered, size);
}

function share(result: SimResult, workerId: string, size: number): number {
  return result.scheduler.workerBytes(workerId) / size;
}

function idealTicks(size: number, workers: SimWorker[]): number {
  return size / workers.reduce((sum, worker) => sum + worker.bytesPerTick, 0);
}

const equalWorkers = ['a', 'b', 'c', 'd'].map((id) => ({ id, bytesPerTick: MiB }));
const oneFastThreeSlow = [
  { id: 'fast', bytesPerTick: MiB },
  { id: 'slow1', bytesPerTick: MiB / 4 },
  { id: 'slow2', bytesPerTick: MiB / 4 },
  { id: 'slow3', bytesPerTick: MiB / 4 },
];

const simCases: SimCase[] = [
  {
    name: 'equal workers share the work evenly',
    size: 64 * MiB,
    workers: equalWorkers,
    maxTicks: 18,
    check: (result) => {
      for (const { id } of equalWorkers) {
        const part = share(result, id, 64 * MiB);
        assert.ok(part > 0.2 && part < 0.3, `${id} did ${part}`);
      }
    },
  },
  {
    name: 'one fast and three slow workers finish close to the ideal time',
    size: 64 * MiB,
    workers: oneFastThreeSlow,
    maxTicks: 200,
    check: (result) => {
      const ideal = idealTicks(64 * MiB, oneFastThreeSlow);
      assert.ok(result.ticks <= ideal * 1.1 + 1, `${result.ticks} ticks, ideal ${ideal}`);
      assert.ok(share(result, 'fast', 64 * MiB) > 0.45, `fast did ${share(result, 'fast', 64 * MiB)}`);
    },
  },
  {
    name: 'a worker that dies mid-piece has its remainder done by others',
    size: 32 * MiB,
    workers: [{ id: 'a', bytesPerTick: MiB / 2, dieAtTick: 3 }, ...equalWorkers.slice(1)],
    maxTicks: 15,
    check: (result) => assert.equal(result.scheduler.workerBytes('a'), 1.5 * MiB),
  },
  {
    name: 'a worker that stalls is revoked and the others finish',
    size: 64 * MiB,
    workers: [{ id: 'a', bytesPerTick: MiB, stallFromTick: 2 }, ...equalWorkers.slice(1)],
    stallTimeoutMs: 1_000,
    maxTicks: 30,
    check: (result) => {
      const stalled = result.revocations.filter((r) => r.reason === 'stalled');
      assert.deepEqual(
        stalled.map((r) => r.assignment.workerId),
        ['a'],
      );
    },
  },
  {
    name: 'a file smaller than one piece',
    size: 100_000,
    workers: equalWorkers,
    maxTicks: 1,
  },
  { name: 'a zero-byte file', size: 0, workers: equalWorkers, maxTicks: 0 },
  {
    name: 'a size that does not divide evenly',
    size: 10 * MiB + 12_345,
    workers: [...oneFastThreeSlow, { id: 'odd', bytesPerTick: 777_777 }],
    maxTicks: 20,
  },
  {
    name: 'resume fetches only what is missing',
    size: 40 * MiB,
    done: [
      { start: 0, end: 3 * MiB },
      { start: 5 * MiB, end: 5 * MiB + 777 },
      { start: 9 * MiB - 1, end: 30 * MiB },
    ],
    workers: equalWorkers,
    maxTicks: 8,
  },
  {
    name: 'a slow worker in the tail loses its remainder to a fast free one',
    // Pieces of minSplitBytes cannot be split, so only a takeover ends the tail early:
    // alone, the slow worker would need 20 ticks for its first piece.
    size: 16 * MiB,
    pieceBytes: MIN_SPLIT_BYTES,
    workers: [
      { id: 'slow', bytesPerTick: 52_429 },
      { id: 'fast', bytesPerTick: MiB },
    ],
    maxTicks: 17,
    check: (result) => assert.ok(result.scheduler.workerBytes('slow') < MiB, 'slow kept its whole piece'),
  },
];

describe('Scheduler simulation', () => {
  for (const simCase of simCases) {
    it(simCase.name, () => {
      const result = simulate(simCase);
      simCase.check?.(result);
    });
  }
});

it('reopen takes committed bytes back so they are fetched again', () => {
  const scheduler = new Scheduler({
    size: 4 * 1024 * 1024,
    pieceBytes: 4 * 1024 * 1024,
    minSplitBytes: 1024 * 1024,
    stallTimeoutMs: 10_000,
    slowFactor: 4,
    done: [{ start: 0, end: 4 * 1024 * 1024 }],
  });
  assert.equal(scheduler.isComplete, true);
  scheduler.reopen(1024, 2048);
  assert.equal(scheduler.isComplete, false);
  assert.equal(scheduler.doneBytes, 4 * 1024 * 1024 - 1024);
  const again = scheduler.next('w', 0);
  assert.deepEqual([again?.start, again?.end], [1024, 2048]);
  assert.throws(() => scheduler.reopen(0, 5 * 1024 * 1024), RangeError);
});
