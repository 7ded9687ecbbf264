/**
 * The peers an engine knows, kept fresh for as long as anyone listens: trackers listed, `--peer`
 * URLs identified and the LAN browsed again every PEER_DIRECTORY_POLL_MS, with the merge rules
 * of `findPeers`. Listeners hear when a peer appears and when one has left.
 */
import type { DownloadEventListener } from '../client/events.js';
import type { PeerTarget } from '../client/peer-source.js';
import type { PeerSurvey } from '../client/swarm.js';
import { MAX_DIRECTORY_PEERS, PEER_DIRECTORY_GONE_AFTER_MS, PEER_DIRECTORY_POLL_MS } from '../constants.js';
import { sleep } from '../util/abort.js';
import type { KnownPeer } from './types.js';

export interface DirectoryChange {
  kind: 'appeared' | 'gone';
  target: PeerTarget;
}

type Listener = (change: DirectoryChange) => void;

/** One look for peers; what it runs into (peers that failed to prove themselves...) goes to `onEvent`. */
export type FindPeers = (signal: AbortSignal, onEvent?: DownloadEventListener) => Promise<PeerSurvey>;

/** Every peer the directories know, one entry per id (the freshest sighting wins). */
export function knownPeers(
  directories: readonly PeerDirectory[],
  notes: ReadonlyMap<string, PeerNote> = new Map(),
): KnownPeer[] {
  const byId = new Map<string, KnownPeer>();
  for (const directory of directories) {
    for (const peer of directory.known()) {
      const known = byId.get(peer.id);
      const foundBy = [...new Set([...(known?.foundBy ?? []), ...peer.foundBy])];
      const freshest = !known || known.lastSeen < peer.lastSeen ? peer : known;
      byId.set(peer.id, { ...freshest, foundBy });
    }
  }
  return [...byId.values()]
    .map((peer) => {
      const note = notes.get(peer.id);
      if (!note) return peer;
      return { ...peer, trust: note.trust, ...(note.lastError ? { lastError: note.lastError } : {}) };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** What downloads learned of a peer: whether it refused, and its last error. */
export interface PeerNote {
  trust: KnownPeer['trust'];
  lastError?: string;
}

/** How a sighting's `via` (tracker URL, "peer", "mdns") is shown. */
function foundByOf(via: readonly string[] | undefined): KnownPeer['foundBy'] {
  const kinds = (via ?? []).map((way) => (way === 'peer' ? 'static' : way === 'mdns' ? 'lan' : 'tracker'));
  return [...new Set(kinds)];
}

export class PeerDirectory {
  /** `lastSeen`: when a poll last found the peer (ms since the epoch). */
  readonly #known = new Map<string, { target: PeerTarget; lastSeen: number }>();
  readonly #listeners = new Set<Listener>();
  #polling: AbortController | undefined;

  constructor(
    private readonly find: FindPeers,
    private readonly onProblem: (error: unknown) => void = () => {},
    private readonly intervalMs = PEER_DIRECTORY_POLL_MS,
    private readonly goneAfterMs = PEER_DIRECTORY_GONE_AFTER_MS,
  ) {}

  /** Peers known now. */
  current(): PeerTarget[] {
    return [...this.#known.values()].map((entry) => entry.target);
  }

  /** Whether anyone listens (so what it knows is kept fresh). */
  get watched(): boolean {
    return this.#listeners.size > 0;
  }

  /** Peers known now, as `engine.swarm()` shows them; nothing while nobody listens (it may be stale). */
  known(): KnownPeer[] {
    if (!this.watched) return [];
    return [...this.#known.values()].map(({ target, lastSeen }) => ({
      id: target.id,
      name: target.name,
      url: target.url,
      foundBy: foundByOf(target.foundBy),
      slots: target.slots ?? null,
      freeSlots: target.freeSlots ?? null,
      version: target.version ?? null,
      lastSeen,
      // Only peers that proved they hold the swarm's secret get here.
      trust: 'trusted',
    }));
  }

  /**
   * One look now, outside the polls (`ddm peers`): the same finder and merge rules as theirs,
   * and what it finds is known to the directory as a poll's findings are.
   */
  async look(signal: AbortSignal, onEvent?: DownloadEventListener): Promise<PeerSurvey> {
    const survey = await this.find(signal, onEvent);
    this.#update(survey);
    return survey;
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

  #update(survey: PeerSurvey, now = Date.now()): void {
    for (const target of survey.peers) {
      const entry = this.#known.get(target.id);
      if (entry) {
        entry.target = target;
        entry.lastSeen = now;
        continue;
      }
      this.#known.set(target.id, { target, lastSeen: now });
      this.#tell({ kind: 'appeared', target });
    }
    forgetOldest(this.#known, MAX_DIRECTORY_PEERS);
    // A poll in which some tracker or --peer could not be asked proves no one absent.
    if (!survey.complete) return;
    for (const [id, entry] of this.#known) {
      if (now - entry.lastSeen < this.goneAfterMs) continue;
      this.#known.delete(id);
      this.#tell({ kind: 'gone', target: entry.target });
    }
  }

  #tell(change: DirectoryChange): void {
    for (const listener of this.#listeners) listener(change);
  }
}

/**
 * A tracker that lists a sample (`?limit=`) names different peers at each poll, and none of
 * them proves the others gone: the directory keeps the most recently seen, bounded by this
 * number rather than by the swarm's size. Forgetting says nothing of a peer, so nobody is told.
 */
function forgetOldest(known: Map<string, { lastSeen: number }>, limit: number): void {
  if (known.size <= limit) return;
  const oldestFirst = [...known].sort((a, b) => a[1].lastSeen - b[1].lastSeen);
  for (const [id] of oldestFirst.slice(0, known.size - limit)) known.delete(id);
}
