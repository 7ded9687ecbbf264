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
  type ProbedFile,
  probeLink,
  runDownload,
} from '../client/download.js';
import type { DownloadEvent, WorkerStats } from '../client/events.js';
import { runRefreshCommand } from '../client/refresh-command.js';
import type { Recruitment } from '../client/swarm.js';
import { REFRESH_MIN_INTERVAL_MS } from '../constants.js';
import { abortError, DdmError, isDdmError } from '../errors.js';
import { redactUrl } from '../origin/origin-url.js';
import { loadControl } from '../storage/control-file.js';
import { controlPath, partPath } from '../storage/download-store.js';
import { identityMismatch, sizeMismatch } from '../storage/file-identity.js';
import { childController } from '../util/abort.js';
import { RateLimiter, takeAll } from '../util/rate-limiter.js';
import { PieceMap } from './piece-map.js';
import { ReadSteering } from './read-steering.js';
import { checkUrl, type DownloadRequest } from './request.js';
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
  /**
   * An expired link waits for a new one (a daemon: RPC, web UI); otherwise, without a
   * `refreshCmd`, the download ends with LINK_EXPIRED (`ddm get`), its files kept for a rerun.
   */
  waitForLinks: boolean;
}

/** How a download restored from a session file was left. */
export interface RestoredLink {
  /** The link had served the download: a 401/403/410 from its probe means it expired. */
  linkWorked?: boolean;
  /** It was waiting for a new link, for this reason. */
  expired?: { message: string };
  /** Where its files are (the control file names the file a new link must match). */
  output?: string;
}

type Stopping = 'pause' | 'remove' | 'relink' | undefined;

/** aria2.changeUri's change: URLs to delete, URLs to insert at `position` (default the end). */
export interface UriChange {
  remove: readonly string[];
  add: readonly string[];
  position?: number | undefined;
}

/** A pending or running `refreshCmd`: its timer, its run, and its engine-stop listener. */
interface RefreshWait {
  timer?: NodeJS.Timeout | undefined;
  controller?: AbortController;
  unlisten: () => void;
}

export class DownloadHandle {
  #state: DownloadState = 'waiting';
  readonly #listeners = new Set<(event: HandleEvent) => void>();
  readonly #pieces = new PieceMap();
  /** Readers of the bytes while the download runs (`-o -`, the daemon's preview). */
  readonly reading = new ReadSteering();
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
  #linkWorked = false;
  /** What the link served last (the probe): a new link must serve the same file. */
  #facts: ProbedFile | undefined;
  /** When `refreshCmd` last ran (ms since epoch): it runs at most once a REFRESH_MIN_INTERVAL_MS. */
  #lastRefreshAt = Number.NEGATIVE_INFINITY;
  #refresh: RefreshWait | undefined;
  /** New links are checked one at a time. */
  #linkChange: Promise<unknown> = Promise.resolve();

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

  /** The primary link: the one the probe asks, and peers fetch. */
  get #url(): string {
    return this.#uris[0]!;
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
      url: this.#url,
      mirrors: this.#uris.slice(1),
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
      url: this.#url,
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

  /** Stops the run after a checkpoint; a waiting (or expired) download just stays out of the queue. */
  async pause(): Promise<void> {
    if (this.#state === 'waiting' || this.#state === 'expired') {
      this.#cancelRefresh();
      this.#setState('paused');
    } else if (this.#state === 'active') await this.#stop('pause');
  }

  /** A paused download goes back into the queue; an expired one tries its link again. */
  resume(): void {
    if (this.#state !== 'paused' && this.#state !== 'expired') return;
    this.#cancelRefresh();
    this.#setState('waiting');
  }

  /** Whether the link served this download (a session file keeps it). */
  get linkWorked(): boolean {
    return this.#linkWorked;
  }

  /** The engine restores what a session file said about the link (before the first start). */
  restoreLink(restored: RestoredLink): void {
    if (restored.linkWorked === true) this.#linkWorked = true;
    if (restored.output !== undefined) this.#output = restored.output;
    if (restored.expired !== undefined && this.#state === 'waiting') {
      this.#error = { code: 'LINK_EXPIRED', message: restored.expired.message };
      this.#setState('expired');
      this.#scheduleRefresh();
    }
  }

  /**
   * Replaces the download's link (its primary URL): `changeUris` deleting the old and adding the
   * new one in its place.
   */
  changeLink(url: string, signal: AbortSignal = this.environment.signal): Promise<void> {
    return this.changeUris({ remove: [this.#url], add: [url], position: 0 }, signal).then(() => {});
  }

  /**
   * Changes the download's URLs as aria2.changeUri does: `remove` deletes each URL it names
   * (once), then `add` is inserted at `position` (default: the end). The URL that ends up
   * primary, if it changed, is probed and accepted only if it serves the same file (same size,
   * and the same strong ETag or Last-Modified); a new mirror needs the same size (the full check
   * when the download is expired: it replaces a dead link). Any refusal (LINK_MISMATCH, or the
   * probe's own error) leaves the download exactly as it was. Accepted, it goes on from every
   * byte on disk: an expired download goes back into the queue, a running one restarts its run
   * with the new URLs, and peers are offered the new primary link. Answers [deleted, added].
   */
  changeUris(change: UriChange, signal: AbortSignal = this.environment.signal): Promise<[number, number]> {
    const changed = this.#linkChange.then(() => this.#changeUris(change, signal));
    this.#linkChange = changed.catch(() => {});
    return changed;
  }

  async #changeUris(change: UriChange, signal: AbortSignal): Promise<[number, number]> {
    this.#assertLinksChangeable();
    const uris = [...this.#uris];
    let deleted = 0;
    for (const uri of change.remove) {
      const index = uris.indexOf(uri);
      if (index < 0) continue;
      uris.splice(index, 1);
      deleted += 1;
    }
    const added = change.add
      .map((uri, index) => checkUrl(uri, index === 0 ? 'url' : 'mirrors'))
      .filter((uri, index, all) => !uris.includes(uri) && all.indexOf(uri) === index);
    const at = Math.max(0, Math.min(change.position ?? uris.length, uris.length));
    uris.splice(at, 0, ...added);
    if (uris.length === 0) {
      throw new DdmError('USAGE', `download ${this.id} needs a URL: add the new one in the same call`);
    }
    if (deleted === 0 && added.length === 0) return [0, 0];
    const primaryChanged = uris[0] !== this.#url;
    // What the URLs must match: the last probe, the control file, or (a download that never ran
    // getting mirrors) the primary link asked now.
    const known =
      this.#facts ??
      (await this.#recordedFacts(signal)) ??
      (primaryChanged ? undefined : await probeLink(this.#optionsFor(this.#url), this.#url, signal));
    let primaryFacts: ProbedFile | undefined;
    for (const uri of new Set([...(primaryChanged ? [uris[0]!] : []), ...added])) {
      const probed = await probeLink(this.#optionsFor(uri), uri, signal);
      const full = uri === uris[0] || this.#state === 'expired';
      const why =
        known === undefined
          ? undefined
          : full
            ? identityMismatch(known, probed)
            : sizeMismatch(known, probed);
      if (why !== undefined) {
        throw new DdmError(
          'LINK_MISMATCH',
          `the new link ${redactUrl(uri)} is not the same file: ${why}; the download stays as it was`,
          { details: { url: redactUrl(uri) } },
        );
      }
      if (uri === uris[0]) primaryFacts = probed;
    }
    this.#assertLinksChangeable();
    // The run reads its URLs when it starts: a running download restarts from its checkpoint.
    if (this.#state === 'active') await this.#stop('relink');
    this.#uris = uris;
    if (primaryFacts !== undefined) {
      this.#facts = primaryFacts;
      this.#linkWorked = true;
      this.#emit({ type: 'notice', message: `a new link was accepted: ${redactUrl(uris[0]!)}` });
    }
    if (this.#state === 'expired') {
      this.#cancelRefresh();
      this.#error = undefined;
      this.#setState('waiting');
    }
    this.environment.changed();
    return [deleted, added.length];
  }

  #assertLinksChangeable(): void {
    if (!['waiting', 'active', 'paused', 'expired'].includes(this.#state)) {
      throw new DdmError('USAGE', `download ${this.id} is ${this.#state}: its URLs cannot change`);
    }
  }

  /** What the control file says the download is, when this process has not probed it yet. */
  async #recordedFacts(signal: AbortSignal): Promise<ProbedFile | undefined> {
    if (this.#output === undefined) return undefined;
    const state = await loadControl(controlPath(this.#output), signal).catch(() => null);
    return state === null ? undefined : { url: state.url, size: state.size, validators: state.validators };
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
    const reason = { pause: 'paused', remove: 'removed', relink: 'its link was replaced' }[why];
    run.controller.abort(new DdmError('ABORTED', reason));
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
      ...this.#optionsFor(this.#url),
      mirrors: this.#uris.slice(1),
      linkWorked: this.#linkWorked,
      connections: this.#options.connections,
      overwrite: (this.request.options.overwrite ?? false) && !this.#started,
      onEvent,
      ...(swarm ? { swarm } : {}),
      hooks: {
        onLive: (live) => this.#onLive(live),
        onCommitted: (source, start, end) => {
          this.#pieces.add(source, start, end);
          this.reading.landed(start);
        },
        ...(this.reading.windowBytes === undefined ? {} : { windowBytes: this.reading.windowBytes }),
        throttle: (_kind, bytes, throttleSignal) => {
          const global = this.environment.globalLimiter;
          if (this.#limiter.bytesPerSecond === 0 && global.bytesPerSecond === 0) return undefined;
          return takeAll([this.#limiter, global], bytes, throttleSignal);
        },
        peersEnabled: () => this.#options.helpers,
        onProbed: (facts) => {
          this.#facts = facts;
          this.#linkWorked = true;
        },
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
    } else if (stopping === 'relink' && signal.aborted) {
      this.#setState('waiting');
    } else if (isDdmError(error, 'LINK_EXPIRED') && !this.environment.signal.aborted) {
      this.#expired(error);
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

  /** The link expired: wait for a new one, or run `refreshCmd`, or (ddm get) end with the error. */
  #expired(error: DdmError): void {
    this.#error = { code: error.code, message: error.message };
    if (this.request.raw.refreshCmd === undefined && !this.environment.waitForLinks) {
      const ended = new DdmError(
        'LINK_EXPIRED',
        `${error.message}: the .part and control file are kept, so the same command with a new link to the same file resumes it (--refresh-cmd can fetch one by itself)`,
        { cause: error, details: error.details },
      );
      this.#error = { code: ended.code, message: ended.message };
      this.#setState('error');
      this.#reject(ended);
      return;
    }
    this.#setState('expired');
    this.#scheduleRefresh();
  }

  /** Runs `refreshCmd` now, or once REFRESH_MIN_INTERVAL_MS has passed since its last run. */
  #scheduleRefresh(): void {
    const command = this.request.raw.refreshCmd;
    if (command === undefined || this.#refresh !== undefined || this.environment.signal.aborted) return;
    const waitMs = Math.max(0, this.#lastRefreshAt + REFRESH_MIN_INTERVAL_MS - Date.now());
    if (waitMs > 0) {
      this.#emit({
        type: 'notice',
        message: `the refresh command runs again in ${Math.ceil(waitMs / 1000)} s (at most once a minute)`,
      });
    }
    // The engine stopping ends the wait: the download stays expired (the session says so).
    const onStop = () => {
      this.#cancelRefresh();
      this.#reject(abortError(this.environment.signal));
    };
    this.environment.signal.addEventListener('abort', onStop, { once: true });
    const refresh: RefreshWait = {
      unlisten: () => this.environment.signal.removeEventListener('abort', onStop),
    };
    refresh.timer = setTimeout(() => {
      refresh.timer = undefined;
      void this.#runRefresh(command, refresh);
    }, waitMs);
    this.#refresh = refresh;
  }

  async #runRefresh(command: string, refresh: RefreshWait): Promise<void> {
    const controller = new AbortController();
    refresh.controller = controller;
    this.#lastRefreshAt = Date.now();
    this.#emit({ type: 'notice', message: 'the link expired: running the refresh command (refreshCmd)' });
    try {
      const url = await runRefreshCommand(
        command,
        { expiredUrl: this.#url, output: this.#output },
        controller.signal,
      );
      await this.changeLink(url, controller.signal);
    } catch (error) {
      if (controller.signal.aborted || this.#refresh !== refresh) return;
      this.#refreshFailed(error);
    } finally {
      if (this.#refresh === refresh) {
        refresh.unlisten();
        this.#refresh = undefined;
      }
    }
    if (this.#state === 'expired' && this.#refresh === undefined && this.environment.waitForLinks) {
      this.#scheduleRefresh();
    }
  }

  /** The refresh gave no usable link: said at once; `ddm get` ends, a daemon tries again later. */
  #refreshFailed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.#emit({ type: 'notice', message });
    const code = isDdmError(error) && error.code === 'LINK_MISMATCH' ? 'LINK_MISMATCH' : 'LINK_EXPIRED';
    const failure = new DdmError(code, `the link expired and no new one could be had: ${message}`, {
      cause: error,
    });
    this.#error = { code, message: failure.message };
    if (this.#state !== 'expired') return;
    if (!this.environment.waitForLinks) {
      this.#setState('error');
      this.#reject(failure);
    } else {
      this.environment.changed();
    }
  }

  #cancelRefresh(): void {
    const refresh = this.#refresh;
    if (refresh === undefined) return;
    this.#refresh = undefined;
    if (refresh.timer !== undefined) clearTimeout(refresh.timer);
    refresh.controller?.abort(new DdmError('ABORTED', 'the refresh was cancelled'));
    refresh.unlisten();
  }

  /** The request's options for a run or a probe of `url`. */
  #optionsFor(url: string): Omit<DownloadOptions, 'connections'> {
    return {
      ...this.request.options,
      url,
      // The shared pool judges origins by the system CAs; a download with its own origin trust
      // (--ca-certificate, --insecure) gets a pool of its own, built and closed by its run.
      ...(hasOwnOriginTrust(this.request.options) ? {} : { dispatcher: this.environment.dispatcher }),
    };
  }

  async #finishRemoval(): Promise<void> {
    this.#cancelRefresh();
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
    this.reading.attach(live);
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
    this.reading.landed();
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
