/**
 * Runs a ranged download: every slot of every source (local connections, peer slots) loops
 * pulling work from the scheduler and writing bytes at their offsets as they arrive.
 */
import { setMaxListeners } from 'node:events';
import { PEER_BUSY_BACKOFF_MS, WRITE_BATCH_MAX_AGE_MS, WRITE_BUFFER_BYTES } from '../constants.js';
import { policyFor } from '../error-policy.js';
import { DdmError, isDdmError } from '../errors.js';
import { isLeased } from '../origin/leased-bytes.js';
import { withRetries } from '../origin/retry.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { Assignment } from '../scheduler/types.js';
import type { ByteRange } from '../types/byte-range.js';
import { childController, sleep } from '../util/abort.js';
import { Notifier } from '../util/notifier.js';
import type { DownloadEventListener, WorkerStats } from './events.js';
import { isExpiredAnswer, linkExpiredError } from './link-expiry.js';
import type { RangeSource, SourcePlan } from './range-source.js';
import { WriteBatch } from './write-batch.js';

/** How long an idle slot waits before asking the scheduler again, in case rates changed. */
const IDLE_RECHECK_MS = 250;

export interface SegmentedDownloadOptions {
  maxTries: number;
  /** Writes consecutive chunks at `position`. */
  write: (chunks: readonly Uint8Array[], position: number) => Promise<void>;
  /** Bytes from a peer are on disk (what it would have to give back if it lied). */
  onPeerBytes?: (sourceId: string, start: number, end: number) => void;
  /** A peer's transfer ended; [start, end) of it is on disk, to be spot-checked against the origin. */
  onPeerPiece?: (sourceId: string, start: number, end: number) => void;
  /** Whether spot checks are still pending: the download is not over until they are. */
  verifying?: () => boolean;
  /** Bytes of `sourceId` at [start, end) are on disk and committed (the engine's piece map). */
  onCommitted?: (sourceId: string, start: number, end: number) => void;
  /** Waits until `bytes` more may be taken in from a source of this kind (speed limits). */
  throttle?: (kind: 'local' | 'peer', bytes: number, signal: AbortSignal) => Promise<void> | undefined;
  onEvent: DownloadEventListener;
  now?: () => number;
}

interface SourceState extends WorkerStats {
  source: string;
  rangeSource: RangeSource;
  lastError?: string;
  loops: Set<Promise<void>>;
  /** The origin refused this source's link as expired (401/403/410 after it worked): it stops, unblamed. */
  expired?: DdmError;
  /** The failure that dropped it (an origin's: what the download ends with when no origin is left). */
  droppedBy?: unknown;
}

/** Whether a source's bytes are spot-checked against the primary origin (peers', mirrors'). */
function crossChecked(state: SourceState): boolean {
  return state.kind === 'peer' || state.rangeSource.crossChecked === true;
}

interface Running {
  controller: AbortController;
  revoked: boolean;
  sourceId: string;
}

export class SegmentedDownload {
  private readonly sources: SourceState[] = [];
  private readonly slots = new Map<string, number>();
  private readonly loops = new Set<Promise<void>>();
  private stop: AbortController | undefined;
  private readonly running = new Map<number, Running>();
  private readonly changed = new Notifier();
  private readonly now: () => number;
  private fatal: unknown;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly plans: readonly SourcePlan[],
    private readonly options: SegmentedDownloadOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  private createState(source: RangeSource): SourceState {
    return {
      source: source.id,
      rangeSource: source,
      label: source.label,
      kind: source.kind,
      bytes: 0,
      rateBps: 0,
      active: 0,
      failures: 0,
      dropped: false,
      loops: new Set(),
    };
  }

  stats(): WorkerStats[] {
    return this.sources.map(
      ({ rangeSource: _, lastError, loops: __, expired: ___, droppedBy: ____, ...stats }) => ({
        ...stats,
        rateBps: this.sourceRate(stats.source),
        ...(lastError === undefined ? {} : { lastError }),
      }),
    );
  }

  /** Sources known to this download (every kind, dropped ones included). */
  sourceIds(kind?: 'local' | 'peer'): string[] {
    return this.sources.filter((s) => kind === undefined || s.kind === kind).map((s) => s.source);
  }

  /**
   * Changes how many slots a source runs, while the download runs: new slots start pulling at
   * once; surplus slots stop after their current range, so no byte in flight is thrown away.
   */
  setSlots(sourceId: string, slots: number): void {
    const state = this.sources.find((s) => s.source === sourceId);
    const current = this.slots.get(sourceId);
    if (!state || current === undefined || !Number.isSafeInteger(slots) || slots < 0) return;
    this.slots.set(sourceId, slots);
    if (this.stop && !this.stop.signal.aborted) {
      for (let slot = current; slot < slots; slot++) this.startSlot(state, slot, this.stop);
    }
    this.changed.notify();
  }

  activeCount(): number {
    return this.running.size;
  }

  /** Complete, and no spot check pending that could reopen ranges. */
  private finished(): boolean {
    return this.scheduler.isComplete && !(this.options.verifying?.() ?? false);
  }

  /** Wakes idle slots, e.g. when spot checks are over. */
  poke(): void {
    this.changed.notify();
  }

  /**
   * A source proved untrustworthy: it is dropped at once, its requests are cut, and once its
   * slots have stopped, `rangesOf()` (everything it delivered) is fetched again by the others.
   */
  async distrust(sourceId: string, message: string, rangesOf: () => readonly ByteRange[]): Promise<void> {
    const state = this.sources.find((s) => s.source === sourceId);
    if (!state) return;
    if (!state.dropped) {
      state.dropped = true;
      state.lastError = message;
      this.options.onEvent({
        type: 'peer',
        source: sourceId,
        label: state.label,
        status: 'dropped',
        message,
      });
    }
    for (const running of this.running.values()) {
      if (running.sourceId === sourceId) running.controller.abort(new DdmError('PEER_FAILED', message));
    }
    await Promise.allSettled([...state.loops]);
    for (const range of rangesOf()) this.scheduler.reopen(range.start, range.end);
    this.changed.notify();
  }

  /** Marks a source as dropped after the fact (for the summary), e.g. when an audit caught it. */
  markDropped(sourceId: string, message: string): void {
    const state = this.sources.find((s) => s.source === sourceId);
    if (!state || state.dropped) return;
    state.dropped = true;
    this.options.onEvent({ type: 'peer', source: sourceId, label: state.label, status: 'dropped', message });
  }

  /** Revokes stalled assignments; call periodically. */
  sweep(): void {
    for (const { assignment, reason } of this.scheduler.sweep(this.now())) {
      const running = this.running.get(assignment.id);
      if (!running) continue;
      running.revoked = true;
      running.controller.abort(new DdmError('TIMEOUT', `range ${reason}: no bytes received in time`));
    }
    this.changed.notify();
  }

  /** Adds a source while the download runs (a peer that just accepted); its slots start pulling at once. */
  addSource(plan: SourcePlan): void {
    this.addSources([plan]);
  }

  /**
   * Adds sources and starts their slots in turn (slot 0 of each, then slot 1...), so the first
   * pieces go round the sources (the primary URL and its mirrors) rather than all to the first.
   */
  private addSources(plans: readonly SourcePlan[]): void {
    if (!this.stop || this.stop.signal.aborted) return;
    const states = plans.map((plan) => {
      const state = this.createState(plan.source);
      this.sources.push(state);
      this.slots.set(plan.source.id, plan.slots);
      return state;
    });
    const most = Math.max(0, ...plans.map((plan) => plan.slots));
    for (let slot = 0; slot < most; slot++) {
      for (const [index, plan] of plans.entries())
        if (slot < plan.slots) this.startSlot(states[index]!, slot, this.stop);
    }
    this.changed.notify();
  }

  private startSlot(state: SourceState, slot: number, stop: AbortController): void {
    const loop: Promise<void> = this.slotLoop(state, slot, stop).finally(() => {
      this.loops.delete(loop);
      state.loops.delete(loop);
      this.changed.notify();
    });
    this.loops.add(loop);
    state.loops.add(loop);
  }

  /** A slot whose index is no longer below its source's slot count (setSlots shrank it) stops. */
  private slotWanted(state: SourceState, slot: number): boolean {
    return slot < (this.slots.get(state.source) ?? 0);
  }

  /**
   * Runs until the file is complete. `recruiting` settles when no more sources will be added;
   * until then an empty set of workers (e.g. --no-local while peers are asked) is not a failure.
   */
  async run(signal: AbortSignal, recruiting: Promise<unknown> = Promise.resolve()): Promise<void> {
    const { controller, dispose } = childController(signal);
    // Every slot's request listens on this signal; dozens of peer slots are expected.
    setMaxListeners(0, controller.signal);
    this.stop = controller;
    let recruited = false;
    recruiting
      .then(
        () => {},
        () => {},
      )
      .finally(() => {
        recruited = true;
        this.changed.notify();
      });
    this.addSources(this.plans);
    try {
      while (!this.finished() && this.fatal === undefined && !controller.signal.aborted) {
        if (recruited && this.loops.size === 0) break;
        // Every source still fetching has stopped, and a link expired: wait for no late peer.
        if (this.loops.size === 0 && this.expiredError() !== undefined) break;
        await this.changed.wait(IDLE_RECHECK_MS, controller.signal);
      }
      // Done or failed: idle slots notice on their next wake-up; wake them now.
      this.changed.notify();
      if (!this.scheduler.isComplete) controller.abort(this.fatal ?? this.expiredError() ?? signal.reason);
      await Promise.all([...this.loops]);
    } finally {
      dispose();
    }
    if (this.fatal !== undefined) throw this.fatal;
    if (signal.aborted) throw signal.reason;
    if (!this.scheduler.isComplete)
      throw this.expiredError() ?? this.originsGoneError() ?? this.noWorkersError();
  }

  /**
   * LINK_EXPIRED once some source's link expired and nobody is left fetching: the run ends
   * with every byte so far kept, for a new link to go on from.
   */
  private expiredError(): DdmError | undefined {
    const expired = this.sources.find((s) => s.expired !== undefined)?.expired;
    return expired === undefined ? undefined : linkExpiredError(expired);
  }

  /**
   * A source's link answered 401/403/410 after it had worked: its slots take no more ranges
   * (a slot already streaming finishes its range, so nothing in flight is fetched twice), and
   * it is no failure of the source.
   */
  private expire(state: SourceState, error: DdmError): void {
    if (state.expired !== undefined) return;
    state.expired = error;
    state.lastError = error.message;
    this.options.onEvent({
      type: 'notice',
      message: `${state.kind === 'peer' ? `peer ${state.label}: ` : ''}${error.message}: the link has expired, no more ranges are asked with it`,
    });
  }

  /**
   * With mirrors no origin ends the download alone; once every one was dropped (and no peer is
   * left either), the download ends with the primary's failure, or the last mirror's.
   */
  private originsGoneError(): unknown {
    const origins = this.sources.filter((s) => s.kind === 'local');
    if (origins.length === 0 || origins.some((s) => !s.dropped)) return undefined;
    return origins.find((s) => s.droppedBy !== undefined)?.droppedBy;
  }

  private noWorkersError(): DdmError {
    const peers = this.sources.filter((s) => s.kind === 'peer');
    const message =
      peers.length === 0
        ? 'no peer accepted to help and `local=false` was given: nobody can fetch the file'
        : `every peer failed (${peers.map((p) => `${p.label}: ${p.lastError ?? 'failed'}`).join('; ')}) and \`local=false\` was given`;
    return new DdmError('NO_WORKERS', message);
  }

  private async slotLoop(state: SourceState, slot: number, stop: AbortController): Promise<void> {
    const workerId = `${state.source}#${slot}`;
    while (
      !stop.signal.aborted &&
      !state.dropped &&
      state.expired === undefined &&
      !this.finished() &&
      this.slotWanted(state, slot)
    ) {
      const assignment = this.scheduler.next(workerId, this.now());
      if (!assignment) {
        await this.changed.wait(IDLE_RECHECK_MS, stop.signal);
        continue;
      }
      try {
        await this.runAssignment(state, assignment, stop.signal);
        this.scheduler.finish(assignment.id, this.now());
      } catch (error) {
        this.scheduler.fail(assignment.id, this.now());
        if (isExpiredAnswer(error) && !stop.signal.aborted) {
          this.expire(state, error);
        } else if (
          isDdmError(error) &&
          policyFor(error.code).peerFailure === 'wait' &&
          !stop.signal.aborted
        ) {
          // Busy is not broken: the peer is serving others (or sharing fairly); ask again later.
          await sleep(PEER_BUSY_BACKOFF_MS, stop.signal).catch(() => {});
        } else {
          this.handleFailure(state, error, stop);
        }
      } finally {
        this.changed.notify();
      }
    }
  }

  private handleFailure(state: SourceState, error: unknown, stop: AbortController): void {
    if (stop.signal.aborted) return;
    const code = isDdmError(error) ? error.code : undefined;
    if (state.rangeSource.failurePolicy.endsDownload || code === undefined) {
      // Our own connections failing after their retries, or a bug: the download cannot go on.
      this.fatal ??= error;
      stop.abort(error);
      return;
    }
    // What a code costs a peer (or the whole download) is decided in src/error-policy.ts.
    const policy = policyFor(code).peerFailure;
    if (policy === 'stop') {
      this.fatal ??= error;
      stop.abort(error);
      return;
    }
    state.failures += 1;
    state.lastError = error instanceof Error ? error.message : String(error);
    const message = error instanceof Error ? error.message : String(error);
    this.options.onEvent({
      type: 'peer',
      source: state.source,
      label: state.label,
      status: 'failed',
      message,
    });
    // A peer that hit a retryable origin error (a 503, say) gets more chances; one that found the
    // file changed, or was refused by the origin outright, cannot help with this download.
    const hopeless =
      policy === 'drop' || (policy === 'drop-unless-retryable' && !(isDdmError(error) && error.retryable));
    if (state.failures >= state.rangeSource.failurePolicy.maxFailures || hopeless) {
      if (!state.dropped) {
        state.dropped = true;
        state.droppedBy = error;
        this.options.onEvent({
          type: 'peer',
          source: state.source,
          label: state.label,
          status: 'dropped',
          message,
        });
      }
    }
  }

  private async runAssignment(
    state: SourceState,
    assignment: Assignment,
    signal: AbortSignal,
  ): Promise<void> {
    const { controller, dispose } = childController(signal);
    const running: Running = { controller, revoked: false, sourceId: state.source };
    this.running.set(assignment.id, running);
    state.active += 1;
    try {
      const attempt = () => this.transfer(state, assignment, controller.signal);
      if (state.rangeSource.failurePolicy.retried) {
        await withRetries(attempt, {
          maxTries: this.options.maxTries,
          signal: controller.signal,
          onRetry: ({ tryNumber, delayMs, error }) =>
            this.options.onEvent({
              type: 'retry',
              source: state.source,
              tryNumber,
              delayMs,
              code: error.code,
              message: error.message,
            }),
        });
      } else {
        await attempt();
      }
    } catch (error) {
      // A failed write leaves claimed bytes that nobody will fetch: never a quiet end, whatever the assignment.
      if (isDdmError(error, 'DISK_FULL') || isDdmError(error, 'FS_ERROR')) throw error;
      // A revoked or shrunk-to-nothing assignment ends quietly; its remainder is already back in the pool.
      if (running.revoked && !signal.aborted) {
        if (state.rangeSource.failurePolicy.stallIsFailure)
          throw new DdmError('PEER_FAILED', `${state.label} stalled`, { retryable: true });
        return;
      }
      // ...unless its bytes never reached the disk: a full disk must stop the download, not leave a hole.
      const stops = isDdmError(error) && policyFor(error.code).peerFailure === 'stop';
      if (assignment.pos >= assignment.end && !signal.aborted && !stops) return;
      throw error;
    } finally {
      state.active -= 1;
      this.running.delete(assignment.id);
      dispose();
    }
  }

  /**
   * One request for the rest of the assignment. Bytes are written as they arrive, coalesced
   * into writes of up to WRITE_BUFFER_BYTES (or WRITE_BATCH_MAX_AGE_MS of a slow stream);
   * one write runs while the next batch is read.
   */
  private async transfer(state: SourceState, assignment: Assignment, signal: AbortSignal): Promise<void> {
    if (assignment.pos >= assignment.end) return;
    const body = await state.rangeSource.open({ start: assignment.pos, end: assignment.end }, signal, {
      lease: true,
    });
    // A leased body hands out whole slabs, each written at once and then released for reuse.
    const leased = isLeased(body) ? body : undefined;
    const batchBytes = leased === undefined ? WRITE_BUFFER_BYTES : 1;
    const batch = new WriteBatch();
    const from = assignment.pos;
    let committedTo = from;
    let writing: Promise<void> | undefined;
    const flush = async () => {
      await writing;
      if (batch.length === 0) return;
      const { chunks, position, length } = batch.take();
      writing = this.options.write(chunks, position).then(() => {
        leased?.release(length);
        this.scheduler.commit(position, length);
        committedTo = position + length;
        state.bytes += length;
        this.options.onCommitted?.(state.source, position, position + length);
        if (crossChecked(state)) this.options.onPeerBytes?.(state.source, position, position + length);
      });
      // Awaited by the next flush; until then a failed write (a full disk) must not count as
      // unhandled, which would kill the process instead of reporting DISK_FULL.
      writing.catch(() => {});
    };
    try {
      for await (const chunk of body) {
        // No promise per chunk when no limit applies (the usual case): this loop is the hot path.
        const throttled = this.options.throttle?.(state.kind, chunk.byteLength, signal);
        if (throttled !== undefined) await throttled;
        const position = assignment.pos;
        const wanted = this.scheduler.claim(assignment.id, chunk.byteLength, this.now());
        if (wanted > 0) {
          batch.add(wanted === chunk.byteLength ? chunk : chunk.subarray(0, wanted), position);
          if (batch.length >= batchBytes || batch.ageMs() >= WRITE_BATCH_MAX_AGE_MS) await flush();
        }
        // The scheduler shrank this assignment (split or handed to a faster worker): stop here.
        if (assignment.pos >= assignment.end) break;
      }
    } finally {
      // Bytes already claimed are no longer in the pool: they must reach the disk and be
      // committed even when the transfer failed, or they would be a hole nobody fetches.
      await flush();
      await writing;
      if (crossChecked(state) && committedTo > from)
        this.options.onPeerPiece?.(state.source, from, committedTo);
    }
  }

  private sourceRate(sourceId: string): number {
    let total = 0;
    for (let slot = 0; slot < (this.slots.get(sourceId) ?? 0); slot++) {
      total += this.scheduler.workerRate(`${sourceId}#${slot}`) ?? 0;
    }
    return total;
  }
}
