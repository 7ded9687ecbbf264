/**
 * The client chooses its helpers: from a sample of the swarm it recruits at most `maxHelpers`
 * at a time, best first (free slots), and replaces those that refuse, fail, keep answering
 * busy, or serve far slower than the others with the next candidate, asking the swarm for a
 * fresh sample when it runs out. What it holds and what it sends are bounded by `maxHelpers`,
 * never by the size of the swarm.
 */
import {
  HELPER_BUSY_REPLACE_MS,
  HELPER_CANDIDATES_PER_HELPER,
  HELPER_FRUITLESS_SURVEYS,
  HELPER_RATE_MIN_ACTIVE_MS,
  HELPER_RETRY_AFTER_MS,
  HELPER_REVIEW_MS,
  HELPER_SLOW_FRACTION,
  HELPER_SLOW_MIN_RATED,
  HELPER_SLOW_RELEASES_MAX,
  HELPER_SLOW_REPLACE_MS,
  PEER_MAX_FAILURES,
} from '../constants.js';
import { DdmError, isDdmError } from '../errors.js';
import { Notifier } from '../util/notifier.js';
import { meteredBody } from './metered-body.js';
import type { PeerTarget } from './peer-source.js';
import type { RangeReading, RangeSource, SourcePlan } from './range-source.js';

export interface HelperPoolOptions {
  maxHelpers: number;
  /** A fresh sample of the swarm (the tracker's `?limit=`, --peer URLs, the LAN). */
  survey(signal: AbortSignal): Promise<PeerTarget[]>;
  /** Offers the download to one peer: its plan if it accepts, undefined if not. */
  engage(target: PeerTarget, signal: AbortSignal): Promise<SourcePlan | undefined>;
  add(plan: SourcePlan): void;
  /** Free slots a candidate reported when found, if known: those with more are asked first. */
  freeSlotsOf?: (target: PeerTarget) => number | undefined;
  now?: () => number;
}

/** A helper that accepted, as the pool watches it through its source. */
class WatchedSource implements RangeSource {
  readonly id: string;
  readonly label: string;
  readonly kind = 'peer' as const;
  readonly failurePolicy: RangeSource['failurePolicy'];
  /** When a range last started flowing (or when the helper joined). */
  lastOpened: number;
  busyAnswers = 0;
  failures = 0;
  retiredBecause: string | undefined;
  /** Since when it has served below HELPER_SLOW_FRACTION of the others, if it does. */
  slowSince: number | undefined;
  #bytes = 0;
  #streams = 0;
  #servingSince = 0;
  #servedMs = 0;
  #ratedAt = { bytes: 0, servedMs: 0 };

  constructor(
    private readonly inner: RangeSource,
    private readonly now: () => number,
  ) {
    this.id = inner.id;
    this.label = inner.label;
    this.failurePolicy = inner.failurePolicy;
    this.lastOpened = now();
  }

  async open(
    range: Parameters<RangeSource['open']>[0],
    signal: AbortSignal,
    reading?: RangeReading,
  ): Promise<AsyncIterable<Uint8Array>> {
    // PEER_REFUSED counts as a failure: the slots stop after PEER_MAX_FAILURES, at once, locally.
    if (this.retiredBecause) throw new DdmError('PEER_REFUSED', this.retiredBecause);
    try {
      const body = await this.inner.open(range, signal, reading);
      this.lastOpened = this.now();
      this.busyAnswers = 0;
      return this.#metered(body);
    } catch (error) {
      if (isDdmError(error, 'PEER_BUSY')) this.busyAnswers += 1;
      else if (!signal.aborted) this.failures += 1;
      throw error;
    }
  }

  /** Counts the bytes, and the time spent serving (any stream open); a released helper's streams stop. */
  #metered(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    return meteredBody(body, {
      start: () => {
        if (this.#streams === 0) this.#servingSince = this.now();
        this.#streams += 1;
      },
      chunk: (bytes) => {
        if (this.retiredBecause) throw new DdmError('PEER_REFUSED', this.retiredBecause);
        this.#bytes += bytes;
      },
      end: () => {
        this.#streams -= 1;
        if (this.#streams === 0) this.#servedMs += this.now() - this.#servingSince;
      },
    });
  }

  /**
   * Bytes a second while serving since the last call, or undefined when it served too briefly
   * since then to tell (an idle helper is not a slow one).
   */
  takeRate(now: number): number | undefined {
    const servedMs = this.#servedMs + (this.#streams > 0 ? now - this.#servingSince : 0);
    const served = servedMs - this.#ratedAt.servedMs;
    if (served < HELPER_RATE_MIN_ACTIVE_MS) return undefined;
    const bytes = this.#bytes - this.#ratedAt.bytes;
    this.#ratedAt = { bytes: this.#bytes, servedMs };
    return (bytes / served) * 1000;
  }

  /** Why this helper should give way to another, or undefined while it is worth keeping. */
  verdict(now: number): string | undefined {
    if (this.failures >= PEER_MAX_FAILURES) return 'failed';
    if (this.busyAnswers > 0 && now - this.lastOpened >= HELPER_BUSY_REPLACE_MS) {
      return `replaced by another helper: busy for ${Math.round((now - this.lastOpened) / 1000)} s`;
    }
    return undefined;
  }
}

export class HelperPool {
  /** Candidates not yet asked, best first; at most maxHelpers × HELPER_CANDIDATES_PER_HELPER. */
  #queue: PeerTarget[] = [];
  /** Peers asking or helping now, by id: at most maxHelpers. */
  readonly #engaged = new Map<string, WatchedSource | 'asking'>();
  /** Peers that refused, failed or gave way, and when: not asked again for HELPER_RETRY_AFTER_MS. */
  readonly #tried = new Map<string, number>();
  readonly #changed = new Notifier();
  readonly #now: () => number;
  /** Rates (bytes/s) last measured, by helper id, for the median slow helpers are judged by. */
  readonly #rates = new Map<string, number>();
  #slowReleased = 0;

  constructor(private readonly opts: HelperPoolOptions) {
    this.#now = opts.now ?? Date.now;
  }

  get #maxQueued(): number {
    return this.opts.maxHelpers * HELPER_CANDIDATES_PER_HELPER;
  }

  /** Adds candidates (a survey's sample, a peer found later); known and recently tried ones are skipped. */
  consider(targets: readonly PeerTarget[]): number {
    const now = this.#now();
    let added = 0;
    for (const target of rankCandidates(targets, this.opts.freeSlotsOf)) {
      if (this.#queue.length >= this.#maxQueued) break;
      if (this.#engaged.has(target.id) || this.#queue.some((queued) => queued.id === target.id)) continue;
      const triedAt = this.#tried.get(target.id);
      if (triedAt !== undefined && now - triedAt < HELPER_RETRY_AFTER_MS) continue;
      this.#queue.push(target);
      added += 1;
    }
    this.#changed.notify();
    return added;
  }

  /**
   * Recruits until `signal` aborts (the download ended). Settles earlier only when the swarm
   * has nobody left to ask: HELPER_FRUITLESS_SURVEYS surveys in a row found no one new while
   * no helper was helping.
   */
  async run(signal: AbortSignal, startFruitless = false): Promise<void> {
    let fruitless = startFruitless ? HELPER_FRUITLESS_SURVEYS : 0;
    while (!signal.aborted) {
      this.#review();
      this.#fill(signal);
      // A slow helper waiting for someone to take its place also sends the client to the swarm.
      const wanted = this.#engaged.size < this.opts.maxHelpers || this.#slowWaiting();
      if (wanted && this.#queue.length === 0 && !this.#anyAsking()) {
        if (fruitless >= HELPER_FRUITLESS_SURVEYS && this.#helping() === 0) return;
        // A swarm with nobody new is asked less and less often, up to every 8 reviews.
        await this.#changed.wait(HELPER_REVIEW_MS * Math.min(fruitless + 1, 8), signal);
        if (signal.aborted) return;
        const found = await this.opts.survey(signal).catch(() => []);
        fruitless = this.consider(found) > 0 ? 0 : fruitless + 1;
        continue;
      }
      await this.#changed.wait(HELPER_REVIEW_MS, signal);
    }
  }

  #slowWaiting(): boolean {
    if (this.#slowReleased >= HELPER_SLOW_RELEASES_MAX) return false;
    for (const state of this.#engaged.values())
      if (state !== 'asking' && state.slowSince !== undefined) return true;
    return false;
  }

  #anyAsking(): boolean {
    for (const state of this.#engaged.values()) if (state === 'asking') return true;
    return false;
  }

  #helping(): number {
    return this.#engaged.size - [...this.#engaged.values()].filter((state) => state === 'asking').length;
  }

  /** Asks the next candidates while fewer than maxHelpers are asking or helping. */
  #fill(signal: AbortSignal): void {
    while (this.#engaged.size < this.opts.maxHelpers && this.#queue.length > 0 && !signal.aborted) {
      const target = this.#queue.shift()!;
      this.#engaged.set(target.id, 'asking');
      void this.#ask(target, signal);
    }
  }

  async #ask(target: PeerTarget, signal: AbortSignal): Promise<void> {
    const plan = await this.opts.engage(target, signal).catch(() => undefined);
    if (plan === undefined || signal.aborted) {
      this.#giveWay(target.id);
      return;
    }
    const watched = new WatchedSource(plan.source, this.#now);
    this.#engaged.set(target.id, watched);
    this.opts.add({ ...plan, source: watched });
    this.#changed.notify();
  }

  /** Retires helpers that keep answering busy, have failed out or are slow, so others take their place. */
  #review(): void {
    const now = this.#now();
    this.#measure(now);
    for (const [id, state] of this.#engaged) {
      if (state === 'asking') continue;
      const verdict = state.verdict(now) ?? this.#slowVerdict(id, state, now);
      if (verdict === undefined) continue;
      state.retiredBecause = verdict;
      this.#giveWay(id);
    }
  }

  #measure(now: number): void {
    for (const [id, state] of this.#engaged) {
      if (state === 'asking') continue;
      const rate = state.takeRate(now);
      if (rate !== undefined) this.#rates.set(id, rate);
    }
    for (const id of this.#rates.keys()) if (!this.#engaged.has(id)) this.#rates.delete(id);
  }

  /**
   * A helper far slower than the others is released, but only for a candidate waiting to take
   * its place, and at most HELPER_SLOW_RELEASES_MAX times a download: a slow helper still beats
   * an empty seat.
   */
  #slowVerdict(id: string, state: WatchedSource, now: number): string | undefined {
    const rate = this.#rates.get(id);
    const others = [...this.#rates].filter(([other]) => other !== id).map(([, value]) => value);
    if (rate === undefined || others.length + 1 < HELPER_SLOW_MIN_RATED) return undefined;
    const median = medianOf(others);
    if (rate >= median * HELPER_SLOW_FRACTION) {
      state.slowSince = undefined;
      return undefined;
    }
    state.slowSince ??= now;
    const slowFor = now - state.slowSince;
    if (slowFor < HELPER_SLOW_REPLACE_MS || this.#queue.length === 0) return undefined;
    if (this.#slowReleased >= HELPER_SLOW_RELEASES_MAX) return undefined;
    this.#slowReleased += 1;
    const kib = (value: number) => `${Math.round(value / 1024)} KiB/s`;
    return `released for another helper: ${kib(rate)} for ${Math.round(slowFor / 1000)} s, the others' median ${kib(median)}`;
  }

  #giveWay(id: string): void {
    this.#engaged.delete(id);
    this.#tried.delete(id);
    this.#tried.set(id, this.#now());
    // Bounded like the rest: the oldest memories of refusals go first.
    for (const oldest of this.#tried.keys()) {
      if (this.#tried.size <= this.#maxQueued * 4) break;
      this.#tried.delete(oldest);
    }
    this.#changed.notify();
  }
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Peers with free slots first (most first), then those that did not say, then the busy ones. */
export function rankCandidates(
  targets: readonly PeerTarget[],
  freeSlotsOf: (target: PeerTarget) => number | undefined = () => undefined,
): PeerTarget[] {
  const score = (target: PeerTarget) => {
    const free = freeSlotsOf(target);
    return free === undefined ? 0.5 : Math.min(free, 64) + 1;
  };
  return targets
    .filter((target) => freeSlotsOf(target) !== 0)
    .map((target) => ({ target, key: score(target) + Math.random() * 0.1 }))
    .sort((a, b) => b.key - a.key)
    .map((entry) => entry.target);
}
