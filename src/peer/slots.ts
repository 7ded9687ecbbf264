/**
 * A peer's concurrent fetch slots, taken without waiting so a full peer answers "busy" at once,
 * and shared fairly between clients: a client alone may hold every slot, but while another client
 * waits for one (it was refused lately), nobody may take a slot beyond an equal share. Slots that
 * the biggest holder frees therefore go to the client that is waiting, the next time it asks.
 */
import { SLOT_WAITER_MEMORY_MS } from '../constants.js';

/** The pool as one fetch sees it: on behalf of one client. */
export interface SlotPool {
  readonly total: number;
  readonly free: number;
  /** A release function when this client may take a slot (calling it twice frees one slot once). */
  tryTake(): (() => void) | undefined;
}

export interface SharedSlotsOptions {
  /** A refused client counts as waiting for this long. */
  waiterMemoryMs?: number;
  now?: () => number;
}

export class SharedSlots {
  private used = 0;
  /** Slots held, per client with at least one. */
  private readonly holdings = new Map<string, number>();
  /** When each waiting client was last refused, oldest first. */
  private readonly waiters = new Map<string, number>();
  private readonly waiterMemoryMs: number;
  private readonly now: () => number;

  #total: number;

  constructor(total: number, opts: SharedSlotsOptions = {}) {
    this.#total = total;
    this.waiterMemoryMs = opts.waiterMemoryMs ?? SLOT_WAITER_MEMORY_MS;
    this.now = opts.now ?? Date.now;
  }

  get total(): number {
    return this.#total;
  }

  /** Fewer slots take effect as fetches end: none in flight is cut. */
  resize(total: number): void {
    this.#total = total;
  }

  get free(): number {
    return Math.max(0, this.total - this.used);
  }

  held(client: string): number {
    return this.holdings.get(client) ?? 0;
  }

  /** How many slots `client` may hold right now: all of them alone, an equal share otherwise. */
  shareFor(client: string): number {
    this.forgetOldWaiters();
    const contenders = new Set([...this.holdings.keys(), ...this.waiters.keys(), client]).size;
    return Math.ceil(this.total / contenders);
  }

  tryTake(client: string): (() => void) | undefined {
    if (this.used >= this.total || this.held(client) >= this.shareFor(client)) {
      // Re-inserted so the map stays in order of last refusal.
      this.waiters.delete(client);
      this.waiters.set(client, this.now());
      return undefined;
    }
    this.waiters.delete(client);
    this.used += 1;
    this.holdings.set(client, this.held(client) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= 1;
      const left = this.held(client) - 1;
      if (left > 0) this.holdings.set(client, left);
      else this.holdings.delete(client);
    };
  }

  /** The pool on behalf of one client, e.g. the address a fetch came from. */
  forClient(client: string): SlotPool {
    const shared = this;
    return {
      get total() {
        return shared.total;
      },
      get free() {
        return shared.free;
      },
      tryTake: () => shared.tryTake(client),
    };
  }

  private forgetOldWaiters(): void {
    const horizon = this.now() - this.waiterMemoryMs;
    for (const [client, refusedAt] of this.waiters) {
      if (refusedAt > horizon) break;
      this.waiters.delete(client);
    }
  }
}
