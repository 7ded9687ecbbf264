import {
  MAX_PIECE_BYTES,
  MIN_RATE_SAMPLE_MS,
  MIN_SPLIT_BYTES,
  PIECES_PER_WORKER,
  RATE_WINDOW_MS,
} from '../constants.js';
import type { ByteRange } from '../types/byte-range.js';
import { RangeSet } from './range-set.js';
import { RateMeter } from './rate-meter.js';
import type { Assignment, Revocation, SchedulerOptions } from './types.js';

interface Flight {
  readonly assignment: Assignment;
  /** When the assignment started or last had bytes claimed; the stall clock runs from here. */
  lastProgressAt: number;
}

interface WorkerState {
  readonly meter: RateMeter;
  claimedBytes: number;
}

/**
 * Decides which bytes each worker fetches next. Workers pull; nothing is split up front, so a
 * fast worker simply comes back more often, and in the tail the largest range in flight is
 * split so that no slow worker is left alone with a big remainder.
 *
 * Pure and synchronous: no timers, no I/O; the caller passes the time in.
 */
export class Scheduler {
  readonly size: number;
  readonly #options: SchedulerOptions;
  readonly #untaken: RangeSet;
  readonly #done: RangeSet;
  readonly #flights = new Map<number, Flight>();
  readonly #flightOfWorker = new Map<string, Flight>();
  readonly #workers = new Map<string, WorkerState>();
  /** Takeovers whose losers the caller has not yet been told about (reported by `sweep`). */
  #unreported: Revocation[] = [];
  #nextId = 1;
  /** Ordered mode: everything before this offset the consumer has taken. */
  #reader = 0;
  /** Ranges someone waits for now (a preview's request): handed out before any other. */
  readonly #urgent = new RangeSet();

  constructor(options: SchedulerOptions) {
    checkOptions(options);
    this.size = options.size;
    this.#options = options;
    this.#done = new RangeSet();
    for (const range of options.done ?? []) this.#addDone(range.start, range.end);
    this.#untaken = new RangeSet([{ start: 0, end: this.size }]);
    for (const range of this.#done.toArray()) this.#untaken.subtract(range.start, range.end);
  }

  get doneBytes(): number {
    return this.#done.bytes;
  }

  get isComplete(): boolean {
    return this.#done.bytes === this.size;
  }

  /** Done ranges, merged and sorted; a copy. */
  doneRanges(): ByteRange[] {
    return this.#done.toArray();
  }

  /** Assignments handed out and not yet finished, including shrunk ones the worker has not noticed. */
  inFlight(): readonly Assignment[] {
    return [...this.#flights.values()].map((flight) => flight.assignment);
  }

  /** Smoothed bytes per second, or undefined before the worker's first bytes. */
  workerRate(workerId: string): number | undefined {
    return this.#workers.get(workerId)?.meter.bytesPerSecond;
  }

  /** Bytes this worker has claimed in total (the bytes that will be written from it). */
  workerBytes(workerId: string): number {
    return this.#workers.get(workerId)?.claimedBytes ?? 0;
  }

  /**
   * The next range for this worker: the lowest untaken piece; else the tail of the largest range
   * in flight; else the whole remainder of a much slower worker (reported by the next `sweep`);
   * else null, and the worker asks again later. A worker holds at most one assignment.
   */
  next(workerId: string, now: number): Assignment | null {
    const held = this.#flightOfWorker.get(workerId);
    if (held !== undefined) {
      throw new Error(`worker ${workerId} asked for work while holding assignment ${held.assignment.id}`);
    }
    const worker = this.#worker(workerId);
    const range =
      this.#takeUntaken(worker, now) ?? this.#splitLargest(worker, now) ?? this.#takeOverSlowest(worker, now);
    return range === undefined ? null : this.#assign(workerId, worker, range, now);
  }

  /**
   * The worker has `bytes` more bytes at the assignment's `pos`. Returns how many of them are
   * wanted; the rest belong to someone else (the assignment shrank) and must be dropped.
   */
  claim(assignmentId: number, bytes: number, now: number): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`invalid byte count ${bytes}`);
    const flight = this.#flights.get(assignmentId);
    if (flight === undefined) return 0;
    const { assignment } = flight;
    const wanted = Math.min(bytes, assignment.end - assignment.pos);
    assignment.pos += wanted;
    const worker = this.#worker(assignment.workerId);
    worker.meter.record(bytes, now);
    if (wanted > 0) {
      worker.claimedBytes += wanted;
      flight.lastProgressAt = now;
    }
    return wanted;
  }

  /** Ordered mode: the consumer has taken every byte before `position`; the window moves on. */
  advanceReader(position: number): void {
    if (!Number.isSafeInteger(position) || position < 0 || position > this.size) {
      throw new RangeError(`invalid reader position ${position}`);
    }
    this.#reader = Math.max(this.#reader, position);
  }

  /** The bytes of [start, end) are wanted now: they go out before any other, window or not. */
  prioritize(range: ByteRange): void {
    this.#urgent.add(range.start, Math.min(range.end, this.size));
  }

  /** Nobody waits for [start, end) any more. */
  unprioritize(range: ByteRange): void {
    this.#urgent.subtract(range.start, Math.min(range.end, this.size));
  }

  /** Claimed bytes are now in storage. */
  commit(start: number, length: number): void {
    this.#addDone(start, start + length);
  }

  /**
   * Bytes once committed proved wrong (a peer lied): they leave the done set and are fetched
   * again. The caller makes sure no worker is still delivering into them.
   */
  reopen(start: number, end: number): void {
    if (
      !(
        Number.isSafeInteger(start) &&
        Number.isSafeInteger(end) &&
        0 <= start &&
        start <= end &&
        end <= this.size
      )
    ) {
      throw new RangeError(`invalid range [${start}, ${end}) for reopen`);
    }
    this.#done.subtract(start, end);
    this.#untaken.add(start, end);
  }

  /** The worker stops working on the assignment; whatever it did not claim is untaken again. */
  finish(assignmentId: number, now: number): void {
    const flight = this.#flights.get(assignmentId);
    if (flight === undefined) return;
    const { assignment } = flight;
    this.#untaken.add(assignment.pos, assignment.end);
    assignment.end = assignment.pos;
    this.#flights.delete(assignmentId);
    this.#flightOfWorker.delete(assignment.workerId);
    this.#worker(assignment.workerId).meter.stop(now);
  }

  /** The worker failed; its remainder goes back to the pool. */
  fail(assignmentId: number, now: number): void {
    this.finish(assignmentId, now);
  }

  /**
   * Revokes assignments that have claimed nothing for `stallTimeoutMs` (their remainder goes back
   * to the pool) and reports them, together with the remainders taken over from slow workers
   * since the last sweep, so the caller can abort those requests.
   */
  sweep(now: number): Revocation[] {
    const revoked = this.#unreported.filter(({ assignment }) => this.#flights.has(assignment.id));
    this.#unreported = [];
    for (const flight of this.#flights.values()) {
      const { assignment } = flight;
      if (assignment.pos === assignment.end) continue;
      if (now - flight.lastProgressAt < this.#options.stallTimeoutMs) continue;
      this.#untaken.add(assignment.pos, assignment.end);
      assignment.end = assignment.pos;
      revoked.push({ assignment, reason: 'stalled' });
    }
    return revoked;
  }

  /**
   * The next piece from the untaken pool: urgent bytes first; then, in ordered mode, the lowest
   * bytes of the window (a much slower worker gets the highest, so the fastest sources fetch
   * what the reader needs next); otherwise the lowest untaken bytes.
   */
  #takeUntaken(worker: WorkerState, now: number): ByteRange | undefined {
    const urgent = this.#firstUrgent();
    if (urgent !== undefined) return this.#cut(urgent, 'low');
    const { windowBytes } = this.#options;
    if (windowBytes === undefined) {
      const lowest = this.#untaken.first();
      return lowest === undefined ? undefined : this.#cut(lowest, 'low');
    }
    const limit = Math.min(this.size, this.#reader + windowBytes);
    // Untaken bytes behind the reader were reopened (a helper lied): they are still needed.
    const lowest = this.#untaken.firstWithin(0, limit);
    if (lowest === undefined) return undefined;
    if (this.#isMuchSlower(worker, now)) {
      return this.#cut(this.#untaken.lastWithin(lowest.start, limit)!, 'high');
    }
    return this.#cut(lowest, 'low');
  }

  /** The lowest untaken bytes that someone waits for. */
  #firstUrgent(): ByteRange | undefined {
    for (const wanted of this.#urgent.toArray()) {
      const untaken = this.#untaken.firstWithin(wanted.start, wanted.end);
      if (untaken !== undefined) return untaken;
    }
    return undefined;
  }

  /** A piece of at most pieceBytes from the low (or high) end of `free`, which is untaken. */
  #cut(free: ByteRange, from: 'low' | 'high'): ByteRange {
    const { pieceBytes, minSplitBytes } = this.#options;
    let length = Math.min(free.end - free.start, pieceBytes);
    // A sliver left behind would later be fetched on its own, costing a whole request.
    if (free.end - free.start - length < minSplitBytes) length = free.end - free.start;
    const piece =
      from === 'low'
        ? { start: free.start, end: free.start + length }
        : { start: free.end - length, end: free.end };
    this.#untaken.subtract(piece.start, piece.end);
    return piece;
  }

  /** This worker is SLOW_WORKER_FACTOR times slower than the fastest one measured. */
  #isMuchSlower(worker: WorkerState, now: number): boolean {
    const rate = this.#trustedRate(worker, now);
    if (rate === undefined) return false;
    let fastest = 0;
    for (const other of this.#workers.values())
      fastest = Math.max(fastest, this.#trustedRate(other, now) ?? 0);
    return fastest > this.#options.slowFactor * rate;
  }

  /** Splits the largest range in flight so that both workers should finish at the same time. */
  #splitLargest(worker: WorkerState, now: number): ByteRange | undefined {
    const { minSplitBytes } = this.#options;
    let largest: Assignment | undefined;
    for (const { assignment } of this.#flights.values()) {
      if (largest === undefined || remaining(assignment) > remaining(largest)) largest = assignment;
    }
    if (largest === undefined || remaining(largest) < 2 * minSplitBytes) return undefined;
    const busyRate = this.#trustedRate(this.#worker(largest.workerId), now);
    const freeRate = this.#trustedRate(worker, now);
    const busyShare =
      busyRate === undefined || freeRate === undefined || busyRate + freeRate === 0
        ? 0.5
        : busyRate / (busyRate + freeRate);
    const idealCut = largest.pos + Math.round(remaining(largest) * busyShare);
    const cut = clamp(idealCut, largest.pos + minSplitBytes, largest.end - minSplitBytes);
    const tail = { start: cut, end: largest.end };
    largest.end = cut;
    return tail;
  }

  /** Hands the whole remainder of the slowest worker to a free worker that is much faster. */
  #takeOverSlowest(worker: WorkerState, now: number): ByteRange | undefined {
    const freeRate = this.#trustedRate(worker, now);
    if (freeRate === undefined || freeRate === 0) return undefined;
    let slowest: { flight: Flight; rate: number; etaMs: number } | undefined;
    for (const flight of this.#flights.values()) {
      const left = remaining(flight.assignment);
      const rate = this.#trustedRate(this.#worker(flight.assignment.workerId), now);
      if (left === 0 || rate === undefined) continue;
      const etaMs = (left * 1000) / rate;
      if (slowest === undefined || etaMs > slowest.etaMs) slowest = { flight, rate, etaMs };
    }
    if (slowest === undefined || freeRate < this.#options.slowFactor * slowest.rate) return undefined;
    const { assignment } = slowest.flight;
    const rest = { start: assignment.pos, end: assignment.end };
    assignment.end = assignment.pos;
    this.#unreported.push({ assignment, reason: 'slow' });
    return rest;
  }

  #assign(workerId: string, worker: WorkerState, range: ByteRange, now: number): Assignment {
    const assignment: Assignment = {
      id: this.#nextId++,
      workerId,
      start: range.start,
      end: range.end,
      pos: range.start,
    };
    const flight: Flight = { assignment, lastProgressAt: now };
    this.#flights.set(assignment.id, flight);
    this.#flightOfWorker.set(workerId, flight);
    worker.meter.start(now);
    return assignment;
  }

  #worker(workerId: string): WorkerState {
    let worker = this.#workers.get(workerId);
    if (worker === undefined) {
      worker = { meter: new RateMeter(RATE_WINDOW_MS), claimedBytes: 0 };
      this.#workers.set(workerId, worker);
    }
    return worker;
  }

  /** The worker's rate if it rests on enough working time to base a decision on. */
  #trustedRate(worker: WorkerState, now: number): number | undefined {
    const reading = worker.meter.readingAt(now);
    return reading !== undefined && reading.measuredMs >= MIN_RATE_SAMPLE_MS
      ? reading.bytesPerSecond
      : undefined;
  }

  #addDone(start: number, end: number): void {
    if (end > this.size)
      throw new RangeError(`byte range [${start}, ${end}) is beyond the size ${this.size}`);
    this.#done.add(start, end);
  }
}

/**
 * A piece size that gives each worker several pieces (so fast workers can pull more) without
 * making requests tiny: a whole number of MIN_SPLIT_BYTES, between MIN_SPLIT_BYTES and MAX_PIECE_BYTES.
 * With a window (ordered mode) the pieces are cut from the window instead of the whole file.
 */
export function choosePieceBytes(size: number, workers: number, windowBytes?: number): number {
  // In ordered mode every worker needs a piece inside the window, with room for the next ones.
  const spread = windowBytes === undefined ? size : Math.min(size, windowBytes / 2);
  const perPiece = Math.ceil(spread / (Math.max(1, workers) * PIECES_PER_WORKER));
  const rounded = Math.ceil(perPiece / MIN_SPLIT_BYTES) * MIN_SPLIT_BYTES;
  return clamp(rounded, MIN_SPLIT_BYTES, MAX_PIECE_BYTES);
}

function remaining(assignment: Assignment): number {
  return assignment.end - assignment.pos;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

function checkOptions(options: SchedulerOptions): void {
  const { size, pieceBytes, minSplitBytes, stallTimeoutMs, slowFactor } = options;
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid size ${size}`);
  if (!Number.isSafeInteger(pieceBytes) || pieceBytes <= 0)
    throw new RangeError(`invalid pieceBytes ${pieceBytes}`);
  if (!Number.isSafeInteger(minSplitBytes) || minSplitBytes <= 0) {
    throw new RangeError(`invalid minSplitBytes ${minSplitBytes}`);
  }
  if (!(stallTimeoutMs > 0)) throw new RangeError(`invalid stallTimeoutMs ${stallTimeoutMs}`);
  if (!(slowFactor >= 1)) throw new RangeError(`invalid slowFactor ${slowFactor}`);
  const { windowBytes } = options;
  if (windowBytes !== undefined && (!Number.isSafeInteger(windowBytes) || windowBytes <= 0)) {
    throw new RangeError(`invalid windowBytes ${windowBytes}`);
  }
}
