/**
 * One download in an engine: its id, its state machine, and the run that moves its bytes.
 * Pausing aborts the run, which checkpoints what is on disk; resuming starts a new run that
 * picks up from the control file, so no byte is fetched twice.
 */
import { rm } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import {
  type DownloadOptions,
  type DownloadResult,
  type LiveDownload,
  runDownload,
} from '../client/download.js';
import type { DownloadEvent, WorkerStats } from '../client/events.js';
import type { Recruitment } from '../client/swarm.js';
import { DdmError, isDdmError } from '../errors.js';
import { controlPath, partPath } from '../storage/download-store.js';
import { childController } from '../util/abort.js';
import { RateLimiter } from '../util/rate-limiter.js';
import { PieceMap } from './piece-map.js';
import type { DownloadRequest } from './request.js';
import { SourceStates } from './source-states.js';
import type { DownloadState, DownloadStatus, HandleEvent, LiveOptions } from './types.js';

/** What a handle borrows from its engine. */
export interface HandleEnvironment {
  dispatcher: Dispatcher;
  /** The engine's global limit, taken after the download's own. */
  globalLimiter: RateLimiter;
  /** Finds peers for this download, or undefined when it has none to ask. */
  swarmFor(
    request: DownloadRequest,
    onEvent: (event: DownloadEvent) => void,
    retire: (sourceId: string, label: string) => void,
  ): ((signal: AbortSignal) => Promise<Recruitment>) | undefined;
  /** The engine's lifetime: aborting it interrupts every run (they checkpoint first). */
  signal: AbortSignal;
  /** Something the queue or the session file cares about changed. */
  changed(): void;
}

type Stopping = 'pause' | 'remove' | undefined;

export class DownloadHandle {
  #state: DownloadState = 'waiting';
  readonly #listeners = new Set<(event: HandleEvent) => void>();
  readonly #pieces = new PieceMap();
  readonly #limiter: RateLimiter;
  readonly #options: LiveOptions;
  readonly #settled: Promise<DownloadResult>;
  #resolve!: (result: DownloadResult) => void;
  #reject!: (error: unknown) => void;
  #run: { controller: AbortController; done: Promise<void> } | undefined;
  #stopping: Stopping;
  #live: LiveDownload | undefined;
  #lastSources: WorkerStats[] = [];
  readonly #sourceStates = new SourceStates();
  #output: string | undefined;
  #totalBytes: number | null = null;
  #progressBytes = 0;
  #speedBps = 0;
  #error: DownloadStatus['error'];
  /** The download's origin URLs, primary first: the request's `url`, then its `mirrors`. */
  #uris: string[];
  /** After the first run opened the files, later runs resume them, whatever `overwrite` said. */
  #started = false;
  #keepFiles = false;

  constructor(
    readonly id: string,
    readonly request: DownloadRequest,
    private readonly environment: HandleEnvironment,
  ) {
    this.#options = {
      connections: request.options.connections,
      maxSpeed: request.maxSpeed,
      helpers: request.helpers,
    };
    this.#limiter = new RateLimiter(request.maxSpeed);
    this.#uris = [request.options.url, ...(request.options.mirrors ?? [])];
    this.#settled = new Promise<DownloadResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Nobody may be waiting on the result (a daemon's download); a failure is in status() then.
    this.#settled.catch(() => {});
  }

  get state(): DownloadState {
    return this.#state;
  }

  /** Connections this download holds while active, for the engine's total. */
  get connections(): number {
    return this.#options.connections;
  }

  /** The origin URLs of this download, primary first (then the mirrors, in the order given). */
  uris(): string[] {
    return [...this.#uris];
  }

  /** Settles when the download is complete (fulfilled) or failed, was removed or the engine stopped. */
  finished(): Promise<DownloadResult> {
    return this.#settled;
  }

  /** Listens to this download's events; returns the function that stops listening. */
  on(listener: (event: HandleEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  status(): DownloadStatus {
    const sources = this.#live?.stats() ?? this.#lastSources;
    return {
      id: this.id,
      state: this.#state,
      url: this.request.options.url,
      output: this.#output,
      totalBytes: this.#totalBytes,
      completedBytes: Math.max(this.#pieces.bytes, this.#progressBytes),
      speedBps: this.#state === 'active' ? this.#speedBps : 0,
      connections: this.#state === 'active' ? sources.reduce((sum, s) => sum + s.active, 0) : 0,
      options: { ...this.#options },
      sources: this.#sourceStates.statuses(sources),
      pieces: this.#pieces.pieces(),
      ...(this.#error ? { error: this.#error } : {}),
    };
  }

  /**
   * The request as a session file keeps it: paths made absolute, the live options as they are
   * now, and no `overwrite` once the files were opened (a restart must resume, not start over).
   */
  sessionRequest(): Record<string, unknown> {
    const { output, dir } = this.request.options;
    return {
      ...this.request.raw,
      mirrors: this.#uris.slice(1),
      ...(output === undefined ? {} : { output }),
      ...(dir === undefined || output !== undefined ? {} : { dir }),
      connections: this.#options.connections,
      maxSpeed: this.#options.maxSpeed,
      helpers: this.#options.helpers,
      overwrite: this.request.raw.overwrite && !this.#started,
    };
  }

  /** Changes connections, speed limit or helpers at once, also in the middle of a run. */
  setOptions(changes: Partial<LiveOptions>): void {
    if (changes.connections !== undefined) {
      this.#options.connections = changes.connections;
      this.#live?.setConnections(changes.connections);
    }
    if (changes.maxSpeed !== undefined) {
      this.#options.maxSpeed = changes.maxSpeed;
      this.#limiter.setRate(changes.maxSpeed);
    }
    if (changes.helpers !== undefined) {
      this.#options.helpers = changes.helpers;
      this.#live?.setPeersEnabled(changes.helpers);
    }
    this.environment.changed();
  }

  /** Stops the run after a checkpoint; a waiting download just stays out of the queue. */
  async pause(): Promise<void> {
    if (this.#state === 'waiting') this.#setState('paused');
    else if (this.#state === 'active') await this.#stop('pause');
  }

  /** A paused download goes back into the queue. */
  resume(): void {
    if (this.#state !== 'paused') return;
    this.#setState('waiting');
  }

  /** Stops and forgets the download; its .part and control file go too unless `keepFiles`. */
  async remove(options: { keepFiles?: boolean } = {}): Promise<void> {
    if (this.#state === 'removed') return;
    this.#keepFiles = options.keepFiles ?? false;
    if (this.#state === 'active') await this.#stop('remove');
    else await this.#finishRemoval();
  }

  /** Starts a run; the engine calls this when the queue has room. */
  start(): void {
    if (this.#state !== 'waiting') return;
    this.#setState('active');
    const { controller, dispose } = childController(this.environment.signal);
    const done = this.#runOnce(controller.signal).finally(() => {
      dispose();
      this.#run = undefined;
      this.environment.changed();
    });
    this.#run = { controller, done };
  }

  /** Waits for the current run, if any, to be over (checkpoint written). */
  async settled(): Promise<void> {
    await this.#run?.done;
  }

  async #stop(why: Exclude<Stopping, undefined>): Promise<void> {
    const run = this.#run;
    if (!run) return;
    this.#stopping = why;
    run.controller.abort(new DdmError('ABORTED', why === 'pause' ? 'paused' : 'removed'));
    await run.done;
  }

  async #runOnce(signal: AbortSignal): Promise<void> {
    const onEvent = (event: DownloadEvent) => this.#onEvent(event);
    this.#sourceStates.reset();
    const retire = (sourceId: string, label: string) => {
      this.#live?.retireSource(sourceId);
      this.#sourceStates.departed(sourceId, label);
    };
    const swarm = this.#options.helpers
      ? this.environment.swarmFor(this.request, onEvent, retire)
      : undefined;
    const options: DownloadOptions = {
      ...this.request.options,
      connections: this.#options.connections,
      overwrite: (this.request.options.overwrite ?? false) && !this.#started,
      // The shared pool judges origins by the system CAs; a download with its own origin trust
      // (--ca-certificate, --insecure) gets a pool of its own, built and closed by its run.
      ...(hasOwnOriginTrust(this.request.options) ? {} : { dispatcher: this.environment.dispatcher }),
      onEvent,
      ...(swarm ? { swarm } : {}),
      hooks: {
        onLive: (live) => this.#onLive(live),
        onCommitted: (source, start, end) => this.#pieces.add(source, start, end),
        throttle: async (_kind, bytes, throttleSignal) => {
          await this.#limiter.take(bytes, throttleSignal);
          await this.environment.globalLimiter.take(bytes, throttleSignal);
        },
        peersEnabled: () => this.#options.helpers,
      },
    };
    try {
      const result = await runDownload(options, signal);
      this.#error = undefined;
      this.#setState('complete');
      this.#resolve(result);
    } catch (error) {
      await this.#afterFailure(error, signal);
    }
  }

  async #afterFailure(error: unknown, signal: AbortSignal): Promise<void> {
    const stopping = this.#stopping;
    this.#stopping = undefined;
    if (stopping === 'pause' && signal.aborted) {
      this.#setState('paused');
    } else if (stopping === 'remove' && signal.aborted) {
      await this.#finishRemoval();
    } else if (this.environment.signal.aborted) {
      // The engine stopped: the download is resumable and goes back into the queue on the next start.
      this.#setState('waiting');
      this.#reject(error);
    } else {
      this.#error = {
        code: isDdmError(error) ? error.code : 'PROTOCOL',
        message: error instanceof Error ? error.message : String(error),
      };
      this.#setState('error');
      this.#reject(error);
    }
  }

  async #finishRemoval(): Promise<void> {
    const output = this.#output;
    if (!this.#keepFiles && output !== undefined && this.#state !== 'complete') {
      await rm(partPath(output), { force: true });
      await rm(controlPath(output), { force: true });
    }
    this.#setState('removed');
    this.#reject(new DdmError('ABORTED', 'the download was removed'));
  }

  #onLive(live: LiveDownload | undefined): void {
    if (live) {
      this.#started = true;
      this.#pieces.keepOnly(live.resumed);
    } else if (this.#live) {
      this.#lastSources = this.#live.stats();
    }
    this.#live = live;
  }

  #onEvent(event: DownloadEvent): void {
    if (event.type === 'peer') this.#sourceStates.heard(event);
    if (event.type === 'start') {
      this.#output = event.output;
      this.#totalBytes = event.size;
      this.#progressBytes = event.resumedBytes;
    } else if (event.type === 'progress') {
      this.#progressBytes = event.doneBytes;
      this.#speedBps = event.rateBps;
      this.#lastSources = event.sources;
    } else if (event.type === 'done') {
      this.#progressBytes = event.size;
      this.#totalBytes = event.size;
      this.#lastSources = event.sources;
    }
    this.#emit(event);
  }

  #setState(state: DownloadState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#emit({ type: 'state', state, previous });
    this.environment.changed();
  }

  #emit(event: HandleEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}

function hasOwnOriginTrust(options: Pick<DownloadOptions, 'originTls'>): boolean {
  return options.originTls?.caFile !== undefined || options.originTls?.insecure === true;
}
