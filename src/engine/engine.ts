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
import type { DownloadEvent } from '../client/events.js';
import {
  discoverSwarm,
  findPeersWithCoverage,
  type Recruitment,
  type SwarmOptions,
} from '../client/swarm.js';
import {
  DEFAULT_MAX_ACTIVE_DOWNLOADS,
  DEFAULT_MAX_TOTAL_CONNECTIONS,
  DEFAULT_TIMEOUT_MS,
  DOWNLOAD_ID_HEX_DIGITS,
} from '../constants.js';
import { DdmError } from '../errors.js';
import { createOriginDispatcher } from '../origin/http-client.js';
import { deriveKey } from '../protocol/auth.js';
import { childController } from '../util/abort.js';
import { RateLimiter } from '../util/rate-limiter.js';
import { DownloadHandle, type HandleEnvironment } from './download-handle.js';
import { PeerDirectory } from './peer-directory.js';
import { type DownloadRequest, parseDownloadRequest, requestError, type SwarmRequest } from './request.js';
import type { EngineEvent } from './types.js';

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
  /** For requests to trackers and peers: carries the TLS trust (util/tls.ts `loadNodeTrust`). */
  peerDispatcher?: Dispatcher;
  /** Connect and idle timeout of the origin pool. */
  timeoutMs?: number;
  /** Aborting it stops the engine: every run checkpoints and stops. */
  signal?: AbortSignal;
}

export interface AddOptions {
  /** Receives this download's events from the very first one. */
  onEvent?: (event: DownloadEvent) => void;
  /** Restores a download under its earlier id (a session file). */
  id?: string;
  /** Added paused: the queue leaves it alone until resumed. */
  paused?: boolean;
}

export interface Engine {
  /** Checks `request` (keys as in downloadRequestSchema) and queues it. */
  add(request: unknown, options?: AddOptions): DownloadHandle;
  get(id: string): DownloadHandle | undefined;
  /** Every download not removed, in the order they were added. */
  list(): DownloadHandle[];
  limits(): EngineLimits;
  setLimits(changes: Partial<EngineLimits>): void;
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
  readonly #dir: string;
  readonly #directories = new Map<string, PeerDirectory>();
  #closed = false;

  constructor(private readonly config: EngineConfig) {
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
  }

  add(input: unknown, options: AddOptions = {}): DownloadHandle {
    const request = parseDownloadRequest(input);
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
    await Promise.all(this.list().map((handle) => handle.settled()));
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
      for (const listener of this.#listeners) listener({ id, event });
    });
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
    };
  }

  #swarmFor(
    request: DownloadRequest,
    onEvent: (event: DownloadEvent) => void,
    retire: (sourceId: string) => void,
  ): ((signal: AbortSignal) => Promise<Recruitment>) | undefined {
    const swarm = request.swarm;
    if (swarm === undefined) return undefined;
    const options = (events: (event: DownloadEvent) => void): SwarmOptions => ({
      trackers: swarm.trackers,
      peers: swarm.peers,
      secret: swarm.secret,
      clientName: swarm.clientName ?? hostname(),
      onEvent: events,
      timeoutMs: request.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxHelpers: swarm.maxHelpers,
      ...(this.config.peerDispatcher ? { dispatcher: this.config.peerDispatcher } : {}),
      ...(swarm.discover ? { discovery: { timeoutMs: swarm.discoverTimeoutMs } } : {}),
    });
    // The directory polls quietly; the download's own first look reports what it finds.
    const directory = this.#directoryFor(
      swarm,
      options(() => {}),
    );
    return async (signal) => {
      const recruitment = await discoverSwarm(options(onEvent), signal);
      return withLatePeers(recruitment, directory, retire);
    };
  }

  /** One directory per way of finding peers, shared by every download that finds them that way. */
  #directoryFor(swarm: SwarmRequest, options: SwarmOptions): PeerDirectory {
    const name = JSON.stringify([swarm.trackers, swarm.peers, swarm.secret, swarm.discover]);
    let directory = this.#directories.get(name);
    if (!directory) {
      const key = deriveKey(swarm.secret);
      directory = new PeerDirectory((signal) => findPeersWithCoverage(options, key, signal));
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
  retire: (sourceId: string) => void,
): Recruitment {
  const offer = recruitment.offer;
  if (offer === undefined) return recruitment;
  return {
    ...recruitment,
    recruit: async (file, add, signal) => {
      const offered = new Set((recruitment.peers ?? []).map((peer) => peer.id));
      const unsubscribe = directory.subscribe(({ kind, target }) => {
        if (kind === 'gone') {
          retire(`peer:${target.id}`);
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
