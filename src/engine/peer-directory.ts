/**
 * The peers an engine knows, kept fresh for as long as anyone listens: trackers listed, `--peer`
 * URLs identified and the LAN browsed again every PEER_DIRECTORY_POLL_MS, with the merge rules
 * of `findPeers`. Listeners hear when a peer appears and when one has left.
 */
import type { PeerTarget } from '../client/peer-source.js';
import { PEER_DIRECTORY_GONE_AFTER_POLLS, PEER_DIRECTORY_POLL_MS } from '../constants.js';
import { sleep } from '../util/abort.js';

export interface DirectoryChange {
  kind: 'appeared' | 'gone';
  target: PeerTarget;
}

type Listener = (change: DirectoryChange) => void;

export class PeerDirectory {
  readonly #known = new Map<string, { target: PeerTarget; missed: number }>();
  readonly #listeners = new Set<Listener>();
  #polling: AbortController | undefined;

  constructor(
    private readonly find: (signal: AbortSignal) => Promise<PeerTarget[]>,
    private readonly onProblem: (error: unknown) => void = () => {},
    private readonly intervalMs = PEER_DIRECTORY_POLL_MS,
  ) {}

  /** Peers known now. */
  current(): PeerTarget[] {
    return [...this.#known.values()].map((entry) => entry.target);
  }

  /** Hears of every peer known now (as appeared) and of every change; polls while anyone listens. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    for (const target of this.current()) listener({ kind: 'appeared', target });
    if (!this.#polling) {
      this.#polling = new AbortController();
      void this.#poll(this.#polling.signal);
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        this.#polling?.abort();
        this.#polling = undefined;
      }
    };
  }

  async #poll(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        this.#update(await this.find(signal));
      } catch (error) {
        if (signal.aborted) return;
        this.onProblem(error);
      }
      await sleep(this.intervalMs, signal).catch(() => {});
    }
  }

  #update(found: readonly PeerTarget[]): void {
    const seen = new Set<string>();
    for (const target of found) {
      seen.add(target.id);
      const entry = this.#known.get(target.id);
      if (entry) {
        entry.target = target;
        entry.missed = 0;
        continue;
      }
      this.#known.set(target.id, { target, missed: 0 });
      this.#tell({ kind: 'appeared', target });
    }
    for (const [id, entry] of this.#known) {
      if (seen.has(id)) continue;
      entry.missed += 1;
      if (entry.missed >= PEER_DIRECTORY_GONE_AFTER_POLLS) {
        this.#known.delete(id);
        this.#tell({ kind: 'gone', target: entry.target });
      }
    }
  }

  #tell(change: DirectoryChange): void {
    for (const listener of this.#listeners) listener(change);
  }
}
