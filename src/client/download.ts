/**
 * One run of one download: `runDownload()` probes the origin, opens (or resumes) the output,
 * runs the segmented or single-stream transfer, and finalises the file. The engine
 * (src/engine/) runs every download through it; `download()` (engine/one-shot-download.ts) is
 * the one-promise wrapper over an engine. Progress comes out as DownloadEvents.
 */
import type { Dispatcher } from 'undici';
import {
  CONTROL_SAVE_INTERVAL_MS,
  DEFAULT_MAX_TRIES,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_USER_AGENT,
  MAX_REDIRECTS,
  MIN_SPLIT_BYTES,
  MIRROR_PROBE_TRIES,
  PROGRESS_INTERVAL_MS,
  SLOW_WORKER_FACTOR,
  STALL_TIMEOUT_MS,
} from '../constants.js';
import { DdmError, isDdmError } from '../errors.js';
import { discardBody, type OriginResponse } from '../origin/follow-redirects.js';
import {
  createOriginDispatcher,
  type OriginRequestOptions,
  proxyConfiguredInEnv,
} from '../origin/http-client.js';
import { plainDialer } from '../origin/origin-dialer.js';
import { OriginSockets } from '../origin/origin-sockets.js';
import { loadOriginTls, type OriginTlsOptions } from '../origin/origin-tls.js';
import { redactUrl } from '../origin/origin-url.js';
import { type ProbeResult, probe } from '../origin/probe.js';
import { checkUserHeaders, headersFor } from '../origin/request-headers.js';
import { withRetries } from '../origin/retry.js';
import { choosePieceBytes, Scheduler } from '../scheduler/scheduler.js';
import type { Checksum } from '../storage/checksum.js';
import { DownloadStore } from '../storage/download-store.js';
import { type PreparedOutput, prepareOutput } from '../storage/prepare-output.js';
import type { ByteRange } from '../types/byte-range.js';
import type { FileFacts } from '../types/file-facts.js';
import { childController } from '../util/abort.js';
import type { DownloadEvent, DownloadEventListener, WorkerStats } from './events.js';
import { isExpiredAnswer, linkExpiredError } from './link-expiry.js';
import { type LiveMirror, originPlans, probeMirrors, spreadSlots } from './mirror-set.js';
import { readOriginSlice } from './origin-slice.js';
import { createVerifier, verifyWithAudit } from './peer-verification.js';
import type { PeerVerifier } from './peer-verifier.js';
import { ProgressRate } from './progress-rate.js';
import type { SourcePlan } from './range-source.js';
import { describeResumeCheck } from './resume-notices.js';
import { SegmentedDownload } from './segmented-download.js';
import { runSingleStream } from './single-stream.js';
import type { Recruitment } from './swarm.js';

export interface DownloadOptions {
  url: string;
  /** More URLs of the same file: probed after `url`, one origin source each (client/mirror-set.ts). */
  mirrors?: readonly string[];
  /** The size the file must have (a Metalink's <size>): an origin serving another is LINK_MISMATCH. */
  size?: number;
  /** Output path (-o); an existing folder, or a path ending with '/', gets the origin's name inside. */
  output?: string | undefined;
  /** Directory for a name taken from the origin, and base of a relative -o (--dir); default the working directory. */
  dir?: string | undefined;
  /** Create missing folders of the output path (--create-dirs). */
  createDirs?: boolean;
  connections: number;
  headers?: Record<string, string>;
  userAgent?: string;
  checksum?: Checksum | undefined;
  maxTries?: number;
  timeoutMs?: number;
  overwrite?: boolean;
  /** Use the client's own connections (false with --no-local). */
  local?: boolean;
  /** Finds peers before the origin is touched; their slots join once they accept. */
  swarm?: (signal: AbortSignal) => Promise<Recruitment>;
  onEvent?: DownloadEventListener;
  /** A dispatcher to use instead of one built from the environment (tests; the engine's shared pool). */
  dispatcher?: Dispatcher;
  /** Decode a content coding the origin forces (`--compressed`); refused otherwise. */
  compressed?: boolean;
  /** `--ca-certificate` and `--insecure`: how the origin's certificate is judged. */
  originTls?: OriginTlsOptions;
  /** How a long-lived engine watches and steers this run; absent for a plain one-shot download. */
  hooks?: DownloadHooks;
  /**
   * This URL has served this download before (an earlier run probed it): a 401/403/410 from
   * the probe then means the link expired (LINK_EXPIRED), not that it was never good.
   */
  linkWorked?: boolean;
}

/** What an engine sees of, and changes in, a running segmented download. */
export interface LiveDownload {
  /** Ranges that were already on disk when this run started (resumed from the control file). */
  readonly resumed: readonly ByteRange[];
  /** Changes the number of the client's own connections to the origin, at once. */
  setConnections(connections: number): void;
  /** Lets peers deliver or stops them (their slots drain after the range in hand). */
  setPeersEnabled(enabled: boolean): void;
  /** A source that left (a peer gone from the directory) gets no more ranges; no failure is counted. */
  retireSource(sourceId: string): void;
  doneRanges(): ByteRange[];
  stats(): WorkerStats[];
  /** Ordered mode: the consumer took every byte before `position` (see DownloadHooks.windowBytes). */
  advanceReader(position: number): void;
  /** Bytes of `range` are fetched before any other (a preview waits for them). */
  prioritize(range: ByteRange): void;
  unprioritize(range: ByteRange): void;
  /** Helpers' bytes on disk whose spot checks have not passed yet: readers hold back from them. */
  uncheckedRanges(): ByteRange[];
}

export interface DownloadHooks {
  /** Called with the live download once ranges run, and with undefined when they stop. */
  onLive?: (live: LiveDownload | undefined) => void;
  /** Bytes [start, end) from `sourceId` are on disk. */
  onCommitted?: (sourceId: string, start: number, end: number) => void;
  /** Waits until `bytes` more may be taken in (speed limits); undefined when nothing limits now. */
  throttle?: (kind: 'local' | 'peer', bytes: number, signal: AbortSignal) => Promise<void> | undefined;
  /** Whether peers may deliver when they join (the helpers switch). */
  peersEnabled?: () => boolean;
  /** The origin answered the probe: what a new link for this download must match (identity check). */
  onProbed?: (facts: ProbedFile) => void;
  /** Ordered mode: ranges only within this many bytes ahead of the reader (LiveDownload.advanceReader). */
  windowBytes?: number;
}

/** What the probe learnt that names the file: a replacement link must serve the same. */
export interface ProbedFile {
  url: string;
  size: number | null;
  validators: ProbeResult['validators'];
}

export interface DownloadResult {
  output: string;
  size: number;
  elapsedMs: number;
  sources: WorkerStats[];
}

export async function runDownload(given: DownloadOptions, signal: AbortSignal): Promise<DownloadResult> {
  const started = Date.now();
  let options = given;
  const emit = options.onEvent ?? (() => {});
  const { requestOptions, insecure, close } = await originRequestsFor(options, signal);
  if (insecure) {
    emit({
      type: 'notice',
      message:
        "`insecure`: the origin's TLS certificate is not checked, so anyone on the path can read and change the download",
    });
  }
  const maxTries = options.maxTries ?? DEFAULT_MAX_TRIES;
  // The probe's own 200 when the origin ignored the range: read by the single stream, else dropped.
  let probeResponse: OriginResponse | undefined;
  let prepared: PreparedOutput | undefined;
  try {
    const recruitment = options.swarm ? await options.swarm(signal) : undefined;
    const found = await probeSomeOrigin(options, requestOptions, maxTries, signal);
    const { probed } = found;
    probeResponse = probed.response;
    checkExpectedSize(options, probed);
    // The URL that failed its probe stays the download's primary link for later runs and checks.
    if (found.options === options) {
      options.hooks?.onProbed?.({ url: options.url, size: probed.size, validators: probed.validators });
    }
    options = found.options;
    // Ranges go straight to the final URL: credentials given for another origin stay behind.
    const rangeOptions: OriginRequestOptions = {
      ...requestOptions,
      headers: headersFor(new URL(probed.url), new URL(options.url), requestOptions.headers),
    };
    const segmented =
      probed.rangeSupported && probed.size !== null && probed.size > 0 && hasValidator(probed);
    prepared = await prepareOutput(
      {
        output: options.output,
        dir: options.dir,
        fileName: probed.fileName,
        createDirs: options.createDirs ?? false,
        size: probed.size,
        overwrite: options.overwrite ?? false,
        checksum: options.checksum !== undefined,
        onNotice: (message) => emit({ type: 'notice', message }),
      },
      signal,
    );
    const output = prepared.path;
    // Before the store opens: progress recorded from one of them is checked against its answer.
    const mirrors = segmented
      ? await liveMirrors({ options, probed, emit, signal, requestOptions: rangeOptions })
      : [];
    const opened = await DownloadStore.open(
      {
        outputPath: output,
        url: options.url,
        finalUrl: probed.url,
        size: probed.size,
        validators: probed.validators,
        overwrite: options.overwrite ?? false,
        resumable: segmented && !prepared.discard,
        discard: prepared.discard,
        origins: {
          urls: [given.url, ...(given.mirrors ?? [])],
          answered: [
            { url: options.url, validators: probed.validators },
            ...mirrors.map((mirror) => ({ url: mirror.requested, validators: mirror.validators })),
          ],
        },
      },
      signal,
    );
    const { store, resumed, restartReason } = opened;
    const context: RunContext = {
      options,
      probed,
      output,
      store,
      emit,
      requestOptions: rangeOptions,
      maxTries,
      started,
      signal,
      recruitment,
      mirrors,
      takeProbeResponse: () => {
        const taken = probeResponse;
        probeResponse = undefined;
        return taken;
      },
    };
    try {
      const result = segmented
        ? await runSegmented(context, resumed, restartReason, describeResumeCheck(opened))
        : await runSingle(context, restartReason);
      return result;
    } catch (error) {
      await store.close();
      throw error;
    }
  } finally {
    if (probeResponse !== undefined) await discardBody(probeResponse.body, signal);
    await prepared?.release();
    await close();
  }
}

/** How this download's requests reach the origin: its headers, trust and pool (closed by `close`). */
export async function originRequestsFor(
  options: Omit<DownloadOptions, 'connections'>,
  signal: AbortSignal,
): Promise<{ requestOptions: OriginRequestOptions; insecure: boolean; close: () => Promise<void> }> {
  checkUserHeaders(options.headers ?? {});
  const tls = await loadOriginTls(options.originTls ?? {}, signal);
  const dispatcher =
    options.dispatcher ?? createOriginDispatcher({ timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, tls });
  // Behind a proxy every request goes through undici's proxy agent.
  const sockets = proxyConfiguredInEnv() ? undefined : new OriginSockets(plainDialer);
  const requestOptions: OriginRequestOptions = {
    dispatcher,
    headers: options.headers ?? {},
    userAgent: options.userAgent ?? DEFAULT_USER_AGENT,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxRedirects: MAX_REDIRECTS,
    ...(options.compressed ? { decodeContent: true } : {}),
    ...(sockets ? { sockets } : {}),
  };
  const close = async () => {
    sockets?.close();
    if (!options.dispatcher) await dispatcher.close().catch(() => {});
  };
  return { requestOptions, insecure: tls.insecure === true, close };
}

/**
 * Asks the origin what `url` serves, as a run's probe does (this download's headers and trust),
 * without downloading: the identity check of a new link for the download.
 */
export async function probeLink(
  options: Omit<DownloadOptions, 'connections'>,
  url: string,
  signal: AbortSignal,
): Promise<ProbedFile> {
  const { requestOptions, close } = await originRequestsFor(options, signal);
  try {
    const probed = await withRetries(() => probe(url, requestOptions, signal), {
      maxTries: options.maxTries ?? DEFAULT_MAX_TRIES,
      signal,
    });
    if (probed.response !== undefined) await discardBody(probed.response.body, signal);
    return { url, size: probed.size, validators: probed.validators };
  } finally {
    await close();
  }
}

function checkExpectedSize(options: DownloadOptions, probed: ProbeResult): void {
  if (options.size === undefined || probed.size === options.size) return;
  throw new DdmError(
    'LINK_MISMATCH',
    `${redactUrl(options.url)} serves ${probed.size === null ? 'a file of unknown size' : `${probed.size} bytes`}, not the ${options.size} bytes the Metalink gives`,
  );
}

/**
 * The primary URL's probe; with mirrors, one that fails makes the next mirror the primary of
 * this run (with a notice), so the download fails at its probe only when every origin did.
 */
async function probeSomeOrigin(
  options: DownloadOptions,
  requestOptions: OriginRequestOptions,
  maxTries: number,
  signal: AbortSignal,
): Promise<{ probed: ProbeResult; options: DownloadOptions }> {
  const emit = options.onEvent ?? (() => {});
  const urls = [options.url, ...(options.mirrors ?? [])];
  for (let index = 0; ; index++) {
    const run =
      index === 0
        ? options
        : { ...options, url: urls[index]!, mirrors: urls.slice(index + 1), linkWorked: false };
    try {
      const probed = await withRetries(() => probeOrExpired(run, requestOptions, signal), {
        maxTries: index === 0 ? maxTries : MIRROR_PROBE_TRIES,
        signal,
        onRetry: ({ tryNumber, delayMs, error }) =>
          emit({
            type: 'retry',
            source: 'probe',
            tryNumber,
            delayMs,
            code: error.code,
            message: error.message,
          }),
      });
      return { probed, options: run };
    } catch (error) {
      if (signal.aborted || index + 1 >= urls.length || isDdmError(error, 'LINK_EXPIRED')) throw error;
      emit({
        type: 'notice',
        message: `${redactUrl(urls[index]!)} failed its probe (${(error as Error).message}): trying the mirror ${redactUrl(urls[index + 1]!)} in its place`,
      });
    }
  }
}

/** The probe, where a 401/403/410 for a link that served this download before means it expired. */
async function probeOrExpired(
  options: DownloadOptions,
  requestOptions: OriginRequestOptions,
  signal: AbortSignal,
): Promise<ProbeResult> {
  try {
    return await probe(options.url, requestOptions, signal);
  } catch (error) {
    if (options.linkWorked === true && isExpiredAnswer(error)) throw linkExpiredError(error);
    throw error;
  }
}

/**
 * Ranges from several connections are one file only if every response can be tied to one
 * version: without an ETag or Last-Modified, a file replaced mid-download would be spliced.
 */
function hasValidator(probed: ProbeResult): boolean {
  return probed.validators.etag !== undefined || probed.validators.lastModified !== undefined;
}

/** Why the download runs as one stream, or undefined when that needs no word (an empty file). */
function singleStreamReason(probed: ProbeResult): string | undefined {
  if (probed.encodings !== undefined) {
    return `the origin sends the file ${probed.encodings.join(', ')}-encoded: decoding it (--compressed) in a single stream, without resume`;
  }
  if (probed.size === 0) return undefined;
  if (probed.size === null) return 'the origin gives no length: downloading with a single stream';
  if (!probed.rangeSupported) return 'the origin does not support ranges: downloading with a single stream';
  return 'the origin gives no ETag or Last-Modified, so ranges could mix two versions of the file: downloading with a single stream';
}

interface RunContext {
  options: DownloadOptions;
  probed: ProbeResult;
  output: string;
  store: DownloadStore;
  emit: (event: DownloadEvent) => void;
  requestOptions: OriginRequestOptions;
  maxTries: number;
  started: number;
  signal: AbortSignal;
  recruitment: Recruitment | undefined;
  /** The mirrors that answered their probes like the primary. */
  mirrors: LiveMirror[];
  takeProbeResponse: () => OriginResponse | undefined;
}

function describeRestart(reason: string | undefined): string | undefined {
  switch (reason) {
    case 'validators-changed':
      return 'the file changed on the server since the last run: starting over';
    case 'size-changed':
      return 'the file size changed on the server since the last run: starting over';
    case 'not-resumable':
      return 'the earlier partial download cannot be resumed (the server gives no validators, ranges or length): starting over';
    case 'part-unusable':
      return 'the earlier partial download is incomplete on disk (.part or control file missing or wrong size): starting over';
    case 'overwrite':
      return '`overwrite`: discarding the earlier partial download';
    default:
      return undefined;
  }
}

async function runSegmented(
  context: RunContext,
  resumed: { start: number; end: number }[],
  restartReason: string | undefined,
  resumeNotices: readonly string[],
): Promise<DownloadResult> {
  const { options, probed, store, emit } = context;
  const size = probed.size!;
  const facts: FileFacts = {
    url: options.url,
    finalUrl: probed.url,
    size,
    fileName: probed.fileName,
    validators: probed.validators,
    headers: context.requestOptions.headers,
  };
  const restartMessage = describeRestart(restartReason);
  if (restartMessage) emit({ type: 'notice', message: restartMessage });
  for (const message of resumeNotices) emit({ type: 'notice', message });
  const local = options.local ?? true;
  // Probed with --no-local too: the helpers spread over the mirrors.
  const { mirrors } = context;
  const plans: SourcePlan[] = local
    ? originPlans(
        { url: probed.url, validators: probed.validators, requestOptions: context.requestOptions },
        mirrors,
        size,
        options.connections,
      )
    : [];
  const originIds = plans.map((plan) => plan.source.id);
  facts.mirrors = mirrors.map((mirror) => ({
    finalUrl: mirror.url,
    validators: mirror.validators,
    headers: mirror.requestOptions.headers,
  }));
  if (plans.length === 0 && (context.recruitment?.candidates ?? 0) === 0) {
    throw new DdmError(
      'NO_WORKERS',
      'no peers were found and `local=false` was given: nobody can fetch the file',
    );
  }
  const workers =
    plans.reduce((sum, plan) => sum + plan.slots, 0) + (context.recruitment?.expectedSlots ?? 0);
  const windowBytes = options.hooks?.windowBytes;
  const scheduler = new Scheduler({
    size,
    pieceBytes: choosePieceBytes(size, workers, windowBytes),
    ...(windowBytes === undefined ? {} : { windowBytes }),
    minSplitBytes: MIN_SPLIT_BYTES,
    stallTimeoutMs: STALL_TIMEOUT_MS,
    slowFactor: SLOW_WORKER_FACTOR,
    done: resumed,
  });
  const resumedBytes = scheduler.doneBytes;
  emit({
    type: 'start',
    url: redactUrl(options.url),
    finalUrl: redactUrl(probed.url),
    output: context.output,
    size,
    mode: 'segmented',
    resumedBytes,
    ...(restartReason ? { restartReason } : {}),
    connections: workers,
  });
  const { controller: runController, dispose } = childController(context.signal);
  const readOrigin = readOriginSlice(
    probed.url,
    probed.validators,
    size,
    context.requestOptions,
    context.maxTries,
  );
  let verifier: PeerVerifier | undefined;
  const engine = new SegmentedDownload(scheduler, plans, {
    maxTries: context.maxTries,
    write: (chunks, position) => store.writeChunks(chunks, position),
    onEvent: emit,
    onPeerBytes: (sourceId, start, end) => {
      store.peerRanges.received(start, end);
      verifier?.record(sourceId, start, end);
    },
    onPeerPiece: (sourceId, start, end) => verifier?.check(sourceId, start, end),
    verifying: () => verifier?.busy ?? false,
    ...(options.hooks?.onCommitted ? { onCommitted: options.hooks.onCommitted } : {}),
    ...(options.hooks?.throttle ? { throttle: options.hooks.throttle } : {}),
  });
  const peerSlots = new Map<string, number>();
  const peersEnabled = options.hooks?.peersEnabled ?? (() => true);
  const addPeer = (plan: SourcePlan) => {
    peerSlots.set(plan.source.id, plan.slots);
    engine.addSource(peersEnabled() ? plan : { ...plan, slots: 0 });
  };
  options.hooks?.onLive?.({
    resumed,
    setConnections: (connections) => {
      const slots = spreadSlots(connections, originIds.length);
      for (const [index, id] of originIds.entries()) engine.setSlots(id, slots[index]!);
    },
    setPeersEnabled: (enabled) => {
      for (const [id, slots] of peerSlots) engine.setSlots(id, enabled ? slots : 0);
    },
    retireSource: (sourceId) => {
      peerSlots.delete(sourceId);
      engine.setSlots(sourceId, 0);
    },
    doneRanges: () => scheduler.doneRanges(),
    stats: () => engine.stats(),
    advanceReader: (position) => {
      scheduler.advanceReader(Math.min(position, size));
      engine.poke();
    },
    prioritize: (range) => {
      scheduler.prioritize(range);
      engine.poke();
    },
    unprioritize: (range) => scheduler.unprioritize(range),
    uncheckedRanges: () => store.peerRanges.unchecked,
  });
  if (context.recruitment || mirrors.length > 0) {
    verifier = createVerifier(store, emit, engine, scheduler, readOrigin, runController.signal);
  }
  const recruiting = context.recruitment?.recruit(facts, addPeer, runController.signal);
  const meter = new ProgressRate(scheduler.doneBytes);
  const reportProgress = () => {
    meter.sample(scheduler.doneBytes);
    emit({
      type: 'progress',
      doneBytes: scheduler.doneBytes,
      size,
      rateBps: meter.rateBps,
      etaSec: meter.etaSec(size - scheduler.doneBytes),
      active: engine.activeCount(),
      sources: engine.stats(),
    });
  };
  const timers = [
    setInterval(() => engine.sweep(), 1_000),
    setInterval(reportProgress, PROGRESS_INTERVAL_MS),
    setInterval(() => {
      store.checkpoint(scheduler.doneRanges(), runController.signal).catch(() => {});
    }, CONTROL_SAVE_INTERVAL_MS),
  ];
  try {
    await engine.run(runController.signal, recruiting);
  } catch (error) {
    // Whatever stopped us, the bytes written so far are made durable so the next run resumes.
    await store.checkpoint(scheduler.doneRanges(), new AbortController().signal).catch(() => {});
    throw error;
  } finally {
    for (const timer of timers) clearInterval(timer);
    // Stops asking peers that have not answered yet (e.g. an operator still at a prompt).
    runController.abort(new DdmError('ABORTED', 'download finished'));
    dispose();
    options.hooks?.onLive?.(undefined);
  }
  reportProgress();
  // "All done" is durable before the long final hash: a rerun after a crash goes straight to it.
  await store.checkpoint(scheduler.doneRanges(), context.signal);
  if (options.checksum) {
    const check = { store, emit, verifier, engine, readOrigin, done: scheduler.doneRanges() };
    await verifyWithAudit(check, options.checksum, context.signal);
  }
  await store.finalize({}, context.signal);
  const elapsedMs = Date.now() - context.started;
  const sources = engine.stats();
  const fetchedBytes = size - resumedBytes;
  emit({
    type: 'done',
    output: context.output,
    size,
    elapsedMs,
    rateBps: elapsedMs > 0 ? (fetchedBytes * 1000) / elapsedMs : 0,
    fetchedBytes,
    sources,
  });
  return { output: context.output, size, elapsedMs, sources };
}

/** The mirrors that serve the primary's file, probed now. */
async function liveMirrors(
  context: Pick<RunContext, 'options' | 'probed' | 'emit' | 'signal' | 'requestOptions'>,
): Promise<LiveMirror[]> {
  const { options, probed, emit, signal } = context;
  if ((options.mirrors ?? []).length === 0) return [];
  const live = await probeMirrors(options.mirrors!, {
    primary: probed,
    requestOptions: context.requestOptions,
    emit,
    signal,
  });
  if (live.length > 0) {
    emit({
      type: 'notice',
      message: `fetching from ${live.length + 1} origins (the URL and ${live.length} mirror${live.length === 1 ? '' : 's'}); the mirrors' ranges are spot-checked against the URL's; only a checksum proves the file`,
    });
  }
  return live;
}

async function runSingle(context: RunContext, restartReason: string | undefined): Promise<DownloadResult> {
  const { options, probed, emit } = context;
  if (options.local === false) {
    throw new DdmError(
      'NO_WORKERS',
      'the origin does not support ranges (or gives no length, no validator, or an encoded body), so it cannot be shared with peers; run without `local=false`',
    );
  }
  const why = singleStreamReason(probed);
  if (why !== undefined) emit({ type: 'notice', message: why });
  if ((options.mirrors ?? []).length > 0) {
    emit({ type: 'notice', message: 'a single stream comes from the URL alone: the mirrors are not used' });
  }
  const expectedSize = probed.size;
  emit({
    type: 'start',
    url: redactUrl(options.url),
    finalUrl: redactUrl(probed.url),
    output: context.output,
    size: expectedSize,
    mode: 'single',
    resumedBytes: 0,
    ...(restartReason ? { restartReason } : {}),
    connections: 1,
  });
  let written = 0;
  const meter = new ProgressRate(0);
  const timer = setInterval(() => {
    meter.sample(written);
    const remaining = probed.size === null ? null : probed.size - written;
    emit({
      type: 'progress',
      doneBytes: written,
      size: probed.size,
      rateBps: meter.rateBps,
      etaSec: remaining === null ? null : meter.etaSec(remaining),
      active: 1,
      sources: [],
    });
  }, PROGRESS_INTERVAL_MS);
  let size: number;
  try {
    size = await runSingleStream({
      url: probed.url,
      validators: probed.validators,
      requestOptions: context.requestOptions,
      store: context.store,
      maxTries: context.maxTries,
      onEvent: emit,
      signal: context.signal,
      expectedSize,
      takeProbeResponse: context.takeProbeResponse,
      onBytes: (bytes) => {
        written = bytes;
      },
    });
  } finally {
    clearInterval(timer);
  }
  await context.store.finalize(options.checksum ? { checksum: options.checksum } : {}, context.signal);
  const elapsedMs = Date.now() - context.started;
  const sources: WorkerStats[] = [
    {
      source: 'local',
      label: 'local',
      kind: 'local',
      bytes: size,
      rateBps: 0,
      active: 0,
      failures: 0,
      dropped: false,
    },
  ];
  emit({
    type: 'done',
    output: context.output,
    size,
    elapsedMs,
    rateBps: elapsedMs > 0 ? (size * 1000) / elapsedMs : 0,
    fetchedBytes: size,
    sources,
  });
  return { output: context.output, size, elapsedMs, sources };
}
