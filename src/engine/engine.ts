/**
 * The long-lived engine: owns what downloads share (one origin connection pool, the global
 * limits, the queue) and hands out a DownloadHandle per download. `ddm get`, `download()` and
 * the daemon all run their downloads here.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import type { Dispatcher } from 'undici';
import type { DownloadOptions } from '../client/download.js';
import type { DownloadEvent, DownloadEventListener } from '../client/events.js';
import {
  discoverSwarm,
  findPeersWithCoverage,
  type PeerSurvey,
  type Recruitment,
  type SwarmOptions,
} from '../client/swarm.js';
import {
  DEFAULT_MAX_ACTIVE_DOWNLOADS,
  DEFAULT_MAX_TOTAL_CONNECTIONS,
  DEFAULT_TIMEOUT_MS,
  DOWNLOAD_ID_HEX_DIGITS,
  MAX_PEER_NOTES,
} from '../constants.js';
import type { BrowseLan } from '../discovery/browser.js';
import { LiveLanBrowser } from '../discovery/live-browser.js';
import { DdmError } from '../errors.js';
import { createOriginDispatcher } from '../origin/http-client.js';
import { deriveKey } from '../protocol/auth.js';
import { childController } from '../util/abort.js';
import { RateLimiter } from '../util/rate-limiter.js';
import { DownloadHandle, type HandleEnvironment, type RestoredLink } from './download-handle.js';
import { type FindPeers, knownPeers, PeerDirectory, type PeerNote } from './peer-directory.js';
import { type DownloadRequest, parseDownloadRequest, requestError, type SwarmRequest } from './request.js';
import type { EngineEvent, HandleEvent, KnownPeer } from './types.js';

export interface EngineLimits {
  /** Downloads running at once; the others wait their turn. */
  maxActive: number;
  /** Connections to origins over all active downloads. */
  maxConnections: number;
  /** Bytes per second over all downloads; 0 = no limit. */
  maxSpeed: number;
}

export interface EngineConfig extends Partial<EngineLimits> {
  /** Where downloads without `output` or `dir` go; default the working directory. */
  dir?: string;
  /** The origin connection pool; the engine builds (and closes) one when absent. */
  dispatcher?: Dispatcher;
  /** For requests to trackers and peers: carries the TLS trust (transport/client/node-trust.ts `loadNodeTrust`). */
  peerDispatcher?: Dispatcher;
  /** Connect and idle timeout of the origin pool. */
  timeoutMs?: number;
  /** Aborting it stops the engine: every run checkpoints and stops. */
  signal?: AbortSignal;
  /** Replaces the engine's continuous mDNS browse (tests without multicast). */
  lanBrowse?: BrowseLan;
  /**
   * An expired link waits for a new one (the daemon: RPC, web UI) instead of ending the download
   * with LINK_EXPIRED (`ddm get`, which has only `refreshCmd`). Default false.
   */
  waitForLinks?: boolean;
  /** How often the peer directories look, and after how long an absent peer has left (tests). */
  directoryTiming?: { pollMs: number; goneAfterMs: number };
}

export interface AddOptions {
  /** Receives this download's events from the very first one. */
  onEvent?: (event: DownloadEvent) => void;
  /** Restores a download under its earlier id (a session file). */
  id?: string;
  /** Added paused: the queue leaves it alone until resumed. */
  paused?: boolean;
  /** What a session file says of its link: it had worked, it expired (waits for a new one). */
  restored?: RestoredLink;
}

/** Request keys a download takes from the engine when it does not give them itself. */
export interface RequestDefaults {
  dir?: string;
  connections?: number;
  maxSpeed?: number;
  tracker?: string[];
  peer?: string[];
  discover?: boolean;
  secret?: string;
}

export interface Engine {
  /** Checks `request` (keys as in downloadRequestSchema, missing ones from the defaults) and queues it. */
  add(request: unknown, options?: AddOptions): DownloadHandle;
  get(id: string): DownloadHandle | undefined;
  /** Every download not removed, in the order they were added. */
  list(): DownloadHandle[];
  limits(): EngineLimits;
  setLimits(changes: Partial<EngineLimits>): void;
  /**
   * Moves a waiting or paused download to `index` (clamped) of the queue of waiting and paused
   * downloads, which start oldest first; answers its new index. USAGE when it is not queued.
   */
  moveInQueue(id: string, index: number): number;
  /** For downloads added from now on (the daemon's settings). */
  setRequestDefaults(defaults: RequestDefaults): void;
  /** For trackers and peers of downloads started from now on (the TLS trust changed). */
  setPeerDispatcher(dispatcher: Dispatcher | undefined): void;
  /** The peers the engine's directories know now. */
  swarm(): KnownPeer[];
  /**
   * Looks for peers once, now, as a download with these swarm keys (`tracker`, `peer`,
   * `discover`, `secret`...; missing ones from the defaults) would: through the directory that
   * download would use. Problems met on the way (unreachable trackers, peers that failed to
   * prove themselves) go to `onEvent`; `ddm peers`.
   */
  lookForPeers(swarmKeys: unknown, signal: AbortSignal, onEvent?: DownloadEventListener): Promise<PeerSurvey>;
  /** Every event of every download. */
  on(listener: (event: EngineEvent) => void): () => void;
  /** Settles when no download is active or waiting. */
  idle(): Promise<void>;
  /** Stops every run (each checkpoints first) and releases the pool. */
  close(): Promise<void>;
}

export function createEngine(config: EngineConfig = {}): Engine {
  return new DownloadEngine(config);
}

/** For `download()`: a request already in the core's shape, with its own peer finder. */
export function addPrepared(engine: Engine, options: DownloadOptions): DownloadHandle {
  if (!(engine instanceof DownloadEngine)) throw new TypeError('not an engine made by createEngine');
  return engine.addPrepared(options);
}

class DownloadEngine implements Engine {
  readonly #handles = new Map<string, DownloadHandle>();
  readonly #listeners = new Set<(event: EngineEvent) => void>();
  readonly #idleWaiters = new Set<() => void>();
  readonly #limits: EngineLimits;
  readonly #globalLimiter: RateLimiter;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #controller: AbortController;
  readonly #dispose: () => void;
  #dir: string;
  #defaults: RequestDefaults = {};
  #peerDispatcher: Dispatcher | undefined;
  readonly #directories = new Map<string, PeerDirectory>();
  /** What downloads learned of each peer (refused, last error), for swarm(). */
  readonly #peerNotes = new Map<string, PeerNote>();
  readonly #lanBrowse: BrowseLan | undefined;
  #liveBrowser: LiveLanBrowser | undefined;
  /** The directory of the default swarm, watched for the engine's lifetime (a daemon's). */
  #defaultWatch: (() => void) | undefined;
  readonly #directoryTiming: EngineConfig['directoryTiming'];
  readonly #waitForLinks: boolean;
  #closed = false;

  constructor(config: EngineConfig) {
    this.#limits = checkLimits({
      maxActive: config.maxActive ?? DEFAULT_MAX_ACTIVE_DOWNLOADS,
      maxConnections: config.maxConnections ?? DEFAULT_MAX_TOTAL_CONNECTIONS,
      maxSpeed: config.maxSpeed ?? 0,
    });
    this.#globalLimiter = new RateLimiter(this.#limits.maxSpeed);
    this.#ownsDispatcher = config.dispatcher === undefined;
    this.#dispatcher =
      config.dispatcher ?? createOriginDispatcher({ timeoutMs: config.timeoutMs ?? DEFAULT_TIMEOUT_MS });
    const { controller, dispose } = childController(config.signal ?? new AbortController().signal);
    this.#controller = controller;
    this.#dispose = dispose;
    this.#dir = resolvePath(config.dir ?? '.');
    this.#peerDispatcher = config.peerDispatcher;
    this.#lanBrowse = config.lanBrowse;
    this.#directoryTiming = config.directoryTiming;
    this.#waitForLinks = config.waitForLinks ?? false;
  }

  add(input: unknown, options: AddOptions = {}): DownloadHandle {
    const request = parseDownloadRequest(withDefaults(input, this.#defaults));
    return this.#admit(request, options);
  }

  addPrepared(options: DownloadOptions): DownloadHandle {
    const { onEvent, swarm, dispatcher: _, hooks: __, ...core } = options;
    const request: DownloadRequest = {
      raw: parseDownloadRequest({ url: options.url }).raw,
      options: core,
      swarm: undefined,
      maxSpeed: 0,
      helpers: true,
    };
    return this.#admit(request, onEvent ? { onEvent } : {}, swarm);
  }

  get(id: string): DownloadHandle | undefined {
    return this.#handles.get(id);
  }

  list(): DownloadHandle[] {
    return [...this.#handles.values()];
  }

  limits(): EngineLimits {
    return { ...this.#limits };
  }

  setLimits(changes: Partial<EngineLimits>): void {
    Object.assign(this.#limits, checkLimits({ ...this.#limits, ...changes }));
    this.#globalLimiter.setRate(this.#limits.maxSpeed);
    this.#pump();
  }

  moveInQueue(id: string, index: number): number {
    const handle = this.#handles.get(id);
    const queued = (h: DownloadHandle) =>
      h.state === 'waiting' || h.state === 'paused' || h.state === 'expired';
    if (!handle || !queued(handle)) throw new DdmError('USAGE', `download ${id} is not in the queue`);
    const queue = this.list().filter((other) => other !== handle && queued(other));
    const at = Math.max(0, Math.min(index, queue.length));
    queue.splice(at, 0, handle);
    const others = this.list().filter((other) => !queue.includes(other));
    this.#handles.clear();
    for (const moved of [...others, ...queue]) this.#handles.set(moved.id, moved);
    this.#pump();
    return at;
  }

  setRequestDefaults(defaults: RequestDefaults): void {
    const { dir, ...keys } = defaults;
    if (dir !== undefined) this.#dir = resolvePath(dir);
    this.#defaults = Object.fromEntries(Object.entries(keys).filter(([, value]) => value !== undefined));
    this.#watchDefaultSwarm();
  }

  setPeerDispatcher(dispatcher: Dispatcher | undefined): void {
    this.#peerDispatcher = dispatcher;
  }

  swarm(): KnownPeer[] {
    return knownPeers([...this.#directories.values()], this.#peerNotes);
  }

  lookForPeers(
    swarmKeys: unknown,
    signal: AbortSignal,
    onEvent?: DownloadEventListener,
  ): Promise<PeerSurvey> {
    const keys = withDefaults(swarmKeys, this.#defaults);
    const request = parseDownloadRequest(
      typeof keys === 'object' && keys !== null ? { ...keys, url: SWARM_ONLY_URL } : keys,
    );
    const swarm = request.swarm;
    if (swarm === undefined) {
      throw requestError(
        'tracker',
        'is needed (or a peer, or LAN discovery with a secret) to look for peers',
      );
    }
    return this.#directoryFor(
      swarm,
      this.#swarmOptions(request, () => {}),
    ).look(signal, onEvent);
  }

  /**
   * Keeps the directory of the default swarm (the daemon's trackers, peers, LAN) polling while
   * no download runs, so that swarm() shows the peers and a new download finds them at once.
   */
  #watchDefaultSwarm(): void {
    this.#defaultWatch?.();
    this.#defaultWatch = undefined;
    if (this.#closed || this.#defaults.secret === undefined) return;
    let request: DownloadRequest;
    try {
      request = parseDownloadRequest({ ...this.#defaults, url: SWARM_ONLY_URL });
    } catch {
      return; // A bad default is reported by the first add() that uses it.
    }
    const swarm = request.swarm;
    if (swarm === undefined) return;
    const directory = this.#directoryFor(
      swarm,
      this.#swarmOptions(request, () => {}),
    );
    this.#defaultWatch = directory.subscribe(() => {});
  }

  on(listener: (event: EngineEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.add(resolve));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#controller.abort(new DdmError('ABORTED', 'the engine stopped'));
    this.#defaultWatch?.();
    await Promise.all(this.list().map((handle) => handle.settled()));
    await this.#liveBrowser?.close();
    this.#dispose();
    if (this.#ownsDispatcher) await this.#dispatcher.close().catch(() => {});
  }

  #admit(
    request: DownloadRequest,
    options: AddOptions,
    swarm?: (signal: AbortSignal) => Promise<Recruitment>,
  ): DownloadHandle {
    if (this.#closed) throw new DdmError('ABORTED', 'the engine has stopped');
    const id = options.id ?? newId();
    if (!isDownloadId(id)) throw requestError('id', `must be ${DOWNLOAD_ID_HEX_DIGITS} hex digits`);
    if (this.#handles.has(id)) throw requestError('id', `${id} is taken by another download`);
    const placed = placeIn(request, this.#dir);
    const handle = new DownloadHandle(id, placed, this.#environment(swarm));
    this.#handles.set(id, handle);
    if (options.onEvent) {
      const forward = options.onEvent;
      handle.on((event) => {
        if (event.type !== 'state') forward(event);
      });
    }
    handle.on((event) => {
      this.#notePeer(event);
      for (const listener of this.#listeners) listener({ id, event });
    });
    if (options.restored) handle.restoreLink(options.restored);
    if (options.paused) void handle.pause();
    queueMicrotask(() => this.#pump());
    return handle;
  }

  #environment(swarm?: (signal: AbortSignal) => Promise<Recruitment>): HandleEnvironment {
    return {
      dispatcher: this.#dispatcher,
      globalLimiter: this.#globalLimiter,
      signal: this.#controller.signal,
      swarmFor: (request, onEvent, retire) => swarm ?? this.#swarmFor(request, onEvent, retire),
      changed: () => this.#pump(),
      waitForLinks: this.#waitForLinks,
    };
  }

  #swarmFor(
    request: DownloadRequest,
    onEvent: (event: DownloadEvent) => void,
    retire: (sourceId: string, label: string) => void,
  ): ((signal: AbortSignal) => Promise<Recruitment>) | undefined {
    const swarm = request.swarm;
    if (swarm === undefined) return undefined;
    // The directory polls quietly; the download's own first look reports what it finds.
    const directory = this.#directoryFor(
      swarm,
      this.#swarmOptions(request, () => {}),
    );
    return async (signal) => {
      const recruitment = await discoverSwarm(this.#swarmOptions(request, onEvent), signal);
      return withLatePeers(recruitment, directory, retire);
    };
  }

  #swarmOptions(request: DownloadRequest, events: (event: DownloadEvent) => void): SwarmOptions {
    const swarm = request.swarm!;
    return {
      trackers: swarm.trackers,
      peers: swarm.peers,
      secret: swarm.secret,
      clientName: swarm.clientName ?? hostname(),
      onEvent: events,
      timeoutMs: request.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxHelpers: swarm.maxHelpers,
      ...(this.#peerDispatcher ? { dispatcher: this.#peerDispatcher } : {}),
      ...(swarm.discover
        ? { discovery: { timeoutMs: swarm.discoverTimeoutMs, browse: this.#lanBrowser() } }
        : {}),
    };
  }

  /** One browse of the LAN for the engine's lifetime, shared by every download and directory. */
  #lanBrowser(): BrowseLan {
    if (this.#lanBrowse) return this.#lanBrowse;
    this.#liveBrowser ??= new LiveLanBrowser();
    return this.#liveBrowser.browse;
  }

  /** A download's news of a peer (refused, failed, accepted), for swarm(). */
  #notePeer(event: HandleEvent): void {
    if (event.type !== 'peer' || !event.source.startsWith('peer:')) return;
    const id = event.source.slice('peer:'.length);
    if (event.status === 'asking') return;
    const trust =
      event.status === 'refused' ? 'refused' : event.status === 'accepted' ? 'trusted' : undefined;
    const previous = this.#peerNotes.get(id);
    this.#peerNotes.delete(id);
    this.#peerNotes.set(id, {
      trust: trust ?? previous?.trust ?? 'trusted',
      ...(event.message === undefined ? {} : { lastError: event.message }),
    });
    for (const oldest of this.#peerNotes.keys()) {
      if (this.#peerNotes.size <= MAX_PEER_NOTES) break;
      this.#peerNotes.delete(oldest);
    }
  }

  /** One directory per way of finding peers, shared by every download that finds them that way. */
  #directoryFor(swarm: SwarmRequest, options: SwarmOptions): PeerDirectory {
    const name = JSON.stringify([swarm.trackers, swarm.peers, swarm.secret, swarm.discover]);
    let directory = this.#directories.get(name);
    if (!directory) {
      const key = deriveKey(swarm.secret);
      const timing = this.#directoryTiming;
      const find: FindPeers = (signal, onEvent) =>
        findPeersWithCoverage(onEvent ? { ...options, onEvent } : options, key, signal);
      directory = timing
        ? new PeerDirectory(find, () => {}, timing.pollMs, timing.goneAfterMs)
        : new PeerDirectory(find);
      this.#directories.set(name, directory);
    }
    return directory;
  }

  /** Starts waiting downloads, oldest first, while the limits leave room. */
  #pump(): void {
    if (this.#closed) return;
    for (const handle of this.#handles.values()) {
      if (handle.state === 'removed') this.#handles.delete(handle.id);
    }
    const active = this.list().filter((handle) => handle.state === 'active');
    let connections = active.reduce((sum, handle) => sum + handle.connections, 0);
    let running = active.length;
    for (const handle of this.list()) {
      if (handle.state !== 'waiting') continue;
      if (running >= this.#limits.maxActive) break;
      // One download always runs, even one asking for more than the total allows.
      if (running > 0 && connections + handle.connections > this.#limits.maxConnections) break;
      handle.start();
      running += 1;
      connections += handle.connections;
    }
    if (this.#isIdle()) {
      for (const wake of this.#idleWaiters) wake();
      this.#idleWaiters.clear();
    }
  }

  #isIdle(): boolean {
    return this.list().every((handle) => handle.state !== 'active' && handle.state !== 'waiting');
  }
}

/**
 * The recruitment of one run, kept open to the directory: a peer that appears while the download
 * runs is offered it and joins; one that leaves is retired, its slots stop without a failure.
 */
function withLatePeers(
  recruitment: Recruitment,
  directory: PeerDirectory,
  retire: (sourceId: string, label: string) => void,
): Recruitment {
  const offer = recruitment.offer;
  if (offer === undefined) return recruitment;
  return {
    ...recruitment,
    recruit: async (file, add, signal) => {
      const offered = new Set((recruitment.peers ?? []).map((peer) => peer.id));
      const unsubscribe = directory.subscribe(({ kind, target }) => {
        if (kind === 'gone') {
          retire(`peer:${target.id}`, target.name);
        } else if (!offered.has(target.id) && !signal.aborted) {
          offered.add(target.id);
          void offer(target, file, add, signal).catch(() => {});
        }
      });
      signal.addEventListener('abort', unsubscribe, { once: true });
      await recruitment.recruit(file, add, signal);
    },
  };
}

/** A request that only names a swarm still needs a URL to pass the schema; it is never fetched. */
const SWARM_ONLY_URL = 'http://swarm.invalid/';

/** The request with every default it does not set itself (an explicit undefined counts as unset). */
function withDefaults(input: unknown, defaults: RequestDefaults): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const merged: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(input)) if (value !== undefined) merged[key] = value;
  return merged;
}

function placeIn(request: DownloadRequest, dir: string): DownloadRequest {
  const { output, dir: own } = request.options;
  // A relative output is a name inside the request's folder (ddm get --dir D -o NAME), else the engine's.
  if (output !== undefined)
    return { ...request, options: { ...request.options, output: resolvePath(own ?? dir, output) } };
  return { ...request, options: { ...request.options, dir: resolvePath(dir, own ?? '.') } };
}

function newId(): string {
  return randomBytes(DOWNLOAD_ID_HEX_DIGITS / 2).toString('hex');
}

export function isDownloadId(id: string): boolean {
  return new RegExp(`^[0-9a-f]{${DOWNLOAD_ID_HEX_DIGITS}}$`).test(id);
}

function checkLimits(limits: EngineLimits): EngineLimits {
  const positive = (key: keyof EngineLimits, min: number) => {
    const value = limits[key];
    if (!Number.isSafeInteger(value) || value < min) throw requestError(key, `must be at least ${min}`);
  };
  positive('maxActive', 1);
  positive('maxConnections', 1);
  positive('maxSpeed', 0);
  return limits;
}
