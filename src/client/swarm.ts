/**
 * The client's side of the swarm: find peers (trackers, --peer and the LAN), ask each for
 * consent, and hand every accepting peer's slots to the engine as one more range source.
 */
import type { Dispatcher } from 'undici';
import {
  DEFAULT_MAX_HELPERS,
  DEFAULT_PEER_SLOTS,
  DEFAULT_TIMEOUT_MS,
  HELPER_CANDIDATES_PER_HELPER,
} from '../constants.js';
import { peerUrl, relayedInClear } from '../discovery/authenticate.js';
import type { BrowseLan } from '../discovery/browser.js';
import { discoverOnLan } from '../discovery/lan-discovery.js';
import type { InterfaceTable } from '../discovery/lan-interfaces.js';
import { FOUND_ON_LAN, mergeSightings, type Sighting } from '../discovery/peer-merge.js';
import { stopsSwarmSetup } from '../error-policy.js';
import { DdmError, isDdmError } from '../errors.js';
import { deriveKey, type SwarmKey } from '../protocol/auth.js';
import type { OfferRequest, PeerRecord } from '../protocol/messages.js';
import { TrackerClient } from '../tracker/tracker-client.js';
import { PeerClient } from '../transport/client/peer-client.js';
import type { FileFacts } from '../types/file-facts.js';
import { childController } from '../util/abort.js';
import { clientIdFor, displayName } from './client-identity.js';
import type { DownloadEventListener } from './events.js';
import { HelperPool } from './helper-pool.js';
import { PeerRangeSource, type PeerTarget } from './peer-source.js';
import type { SourcePlan } from './range-source.js';

export interface SwarmOptions {
  trackers: readonly string[];
  peers: readonly string[];
  secret: string;
  clientName: string;
  onEvent: DownloadEventListener;
  /** Timeout for origin-sized waits on a peer stream (first byte, between chunks). */
  timeoutMs?: number;
  /** Also look for peers on the LAN (mDNS); absent: do not. */
  discovery?: SwarmDiscovery;
  /** For every request to a tracker or peer: carries the TLS trust (transport/client/node-trust.ts `loadNodeTrust`). */
  dispatcher?: Dispatcher;
  /** Helpers recruited at once (`--max-helpers`); default DEFAULT_MAX_HELPERS. */
  maxHelpers?: number;
}

export interface SwarmDiscovery {
  /** How long to listen for answers. */
  timeoutMs: number;
  /** Replaces the multicast browse (tests without network namespaces). */
  browse?: BrowseLan;
  interfaces?: () => InterfaceTable;
}

export interface Recruitment {
  /** Peers found, before consent: sizes the pieces. */
  candidates: number;
  expectedSlots: number;
  /** Asks every candidate; calls `add` for each one that accepts. Settles when all have answered. */
  recruit(file: FileFacts, add: (plan: SourcePlan) => void, signal: AbortSignal): Promise<void>;
  /** The candidates found (an engine's peer directory offers the download to later ones). */
  readonly peers?: readonly PeerTarget[];
  /** Offers the download to one more peer, found after it began; `add` as in `recruit`. */
  offer?(
    target: PeerTarget,
    file: FileFacts,
    add: (plan: SourcePlan) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

/**
 * Asks every way of finding peers at once. A peer found several ways is one peer; its address
 * comes from --peer (the user's choice), else the LAN (just proven to work), else a tracker.
 */
export async function findPeers(
  options: SwarmOptions,
  key: SwarmKey,
  signal: AbortSignal,
): Promise<PeerTarget[]> {
  // Who to ask, no more: what else the look learned (slots, how found) is the directory's.
  return (await findPeersWithCoverage(options, key, signal)).peers.map(({ id, name, url }) => ({
    id,
    name,
    url,
  }));
}

/** What one look for peers found, and whether every tracker and `--peer` answered. */
export interface PeerSurvey {
  peers: PeerTarget[];
  /** False when a tracker or a `--peer` URL could not be asked: its peers' absence means nothing. */
  complete: boolean;
  /** Trackers that could not be asked this time, and why (reported as notices too). */
  unreachable: TrackerFailure[];
}

export interface TrackerFailure {
  url: string;
  error: unknown;
}

export async function findPeersWithCoverage(
  options: SwarmOptions,
  key: SwarmKey,
  signal: AbortSignal,
): Promise<PeerSurvey> {
  // A wrong secret stops everything: the browse must not keep its sockets open behind the error.
  const { controller, dispose } = childController(signal);
  try {
    const [fromTrackers, direct, onLan] = await Promise.all([
      Promise.all(options.trackers.map((url) => listTracker(url, key, options, controller.signal))),
      Promise.all(options.peers.map((url) => identifyPeer(url, key, options, controller.signal))),
      findOnLan(options, key, controller.signal),
    ]);
    const sightings: Sighting<PeerTarget>[] = [
      ...direct.flatMap((target) => (target ? [{ id: target.id, via: 'peer', value: target }] : [])),
      ...onLan.map((target) => ({ id: target.id, via: FOUND_ON_LAN, value: target })),
      ...fromTrackers.flatMap((listed, index) =>
        ('targets' in listed ? listed.targets : []).map((target) => ({
          id: target.id,
          via: options.trackers[index]!,
          value: target,
        })),
      ),
    ];
    // A tracker's sample says nothing of the peers it left out.
    const complete =
      fromTrackers.every((listed) => 'targets' in listed && !listed.sampled) && direct.every(Boolean);
    const peers = mergeSightings(sightings).map((peer) => ({ ...peer.value, foundBy: peer.foundBy }));
    const unreachable = fromTrackers.flatMap((listed, index) =>
      'error' in listed ? [{ url: options.trackers[index]!, error: listed.error }] : [],
    );
    return { peers, complete, unreachable };
  } catch (error) {
    controller.abort(error);
    throw error;
  } finally {
    dispose();
  }
}

/** Peers on the LAN that proved they share our secret; the others are reported, not used. */
async function findOnLan(options: SwarmOptions, key: SwarmKey, signal: AbortSignal): Promise<PeerTarget[]> {
  if (!options.discovery) return [];
  const verdicts = await discoverOnLan(
    {
      ...options.discovery,
      key,
      ...withDispatcher(options),
      onProblem: (message) => options.onEvent({ type: 'notice', message: `LAN discovery: ${message}` }),
    },
    signal,
  );
  const members: PeerTarget[] = [];
  for (const verdict of verdicts) {
    if (verdict.kind === 'member') {
      const { id, name, slots, freeSlots, version } = verdict.info;
      members.push({ id, name, url: verdict.url, slots, freeSlots, version });
      continue;
    }
    options.onEvent({
      type: 'peer',
      source: verdict.url,
      label: verdict.announcement.name,
      url: verdict.url,
      status: 'failed',
      message: verdict.message,
    });
  }
  if (members.length > 0) {
    const names = members.map((member) => member.name).join(', ');
    options.onEvent({ type: 'notice', message: `found on the LAN: ${names}` });
  }
  return members;
}

/** How many peers a client asks a tracker for: a sample sized by the helpers it may take, not the swarm. */
export function helperSampleSize(options: Pick<SwarmOptions, 'maxHelpers'>): number {
  return (options.maxHelpers ?? DEFAULT_MAX_HELPERS) * HELPER_CANDIDATES_PER_HELPER;
}

async function listTracker(
  url: string,
  key: SwarmKey,
  options: SwarmOptions,
  signal: AbortSignal,
): Promise<{ targets: PeerTarget[]; sampled: boolean } | { error: unknown }> {
  let records: PeerRecord[];
  const limit = helperSampleSize(options);
  try {
    records = await new TrackerClient(url, key, withDispatcher(options)).list(signal, limit);
  } catch (error) {
    // A wrong secret is the user's mistake and must be said plainly, and a tracker whose
    // certificate is not believed may be an impostor; an unreachable tracker is not fatal.
    if (stopsSwarmSetup(error)) throw error;
    options.onEvent({ type: 'notice', message: `tracker ${url} unavailable: ${(error as Error).message}` });
    return { error };
  }
  // A record is what some member registered, port included: only a peer that answers a signed
  // /v1/info under the listed id is used, and nothing else is sent to it before that.
  const proven = await Promise.all(
    records.map((record) => {
      const listed = peerUrl(reachableAddress(record.address, url), record.port, record.tls === true);
      return identifyPeer(listed, key, options, signal, { id: record.id, label: record.name });
    }),
  );
  const targets = proven.filter((target): target is PeerTarget => target !== undefined);
  return { targets, sampled: records.length >= limit };
}

/**
 * A peer on the tracker's own machine registers from loopback; for a client elsewhere that
 * machine is reached at the tracker's address.
 */
function reachableAddress(address: string, trackerUrl: string): string {
  const trackerHost = new URL(trackerUrl).hostname.replace(/^\[|\]$/g, '');
  const loopback = (host: string) => host === '::1' || host === 'localhost' || host.startsWith('127.');
  return loopback(address) && !loopback(trackerHost) ? trackerHost : address;
}

function withDispatcher(options: SwarmOptions): { dispatcher?: Dispatcher } {
  return options.dispatcher ? { dispatcher: options.dispatcher } : {};
}

/**
 * The free slots each found peer reported in its signed /v1/info, beside the target rather than
 * in it (a PeerTarget names a peer; this is a passing state): the helper pool ranks by it.
 */
export function reportedFreeSlots(target: PeerTarget): number | undefined {
  return target.freeSlots;
}

/** How a peer listed by a tracker is known before it proves itself. */
interface ListedAs {
  id: string;
  label: string;
}

/**
 * Asks the peer at `url` for its signed /v1/info. A --peer URL (no `listed`) that refuses our
 * secret stops everything: the user's secret or URL is wrong. A tracker's record that does not
 * answer as the member it names is only reported: some member registered it.
 */
async function identifyPeer(
  url: string,
  key: SwarmKey,
  options: SwarmOptions,
  signal: AbortSignal,
  listed?: ListedAs,
): Promise<PeerTarget | undefined> {
  const baseUrl = url.replace(/\/+$/, '');
  try {
    const client = new PeerClient(baseUrl, key, {
      ...(listed ? { peerId: listed.id } : {}),
      ...withDispatcher(options),
    });
    const info = await client.info(signal);
    if (relayedInClear(info, baseUrl)) {
      throw new DdmError(
        'TLS_FAILED',
        `peer at ${baseUrl} serves https but answered over plain http: something relays it; use https://`,
      );
    }
    const target: PeerTarget = {
      id: info.id,
      name: info.name,
      url: baseUrl,
      slots: info.slots,
      freeSlots: info.freeSlots,
      version: info.version,
    };
    return target;
  } catch (error) {
    if (stopsSwarmSetup(error) && listed === undefined) throw error;
    options.onEvent({
      type: 'peer',
      source: listed ? `peer:${listed.id}` : baseUrl,
      label: listed?.label ?? baseUrl,
      url: baseUrl,
      status: 'failed',
      message: (error as Error).message,
    });
    return undefined;
  }
}

/**
 * Finds peers before anything is fetched (so a wrong secret fails before the origin is touched);
 * consent is asked once the file is known, while the download already runs.
 */
export async function discoverSwarm(options: SwarmOptions, signal: AbortSignal): Promise<Recruitment> {
  const key = deriveKey(options.secret);
  const clientId = clientIdFor(options.secret);
  const targets = await findPeers(options, key, signal);
  if (targets.length === 0) options.onEvent({ type: 'notice', message: 'no peers found' });
  let engaged = 0;
  const engage = async (target: PeerTarget, file: FileFacts, recruitSignal: AbortSignal) => {
    // Helpers take the origins in turn: each is offered (and fetches) one URL, so the wire is
    // the same with mirrors as without; a consent stands for that URL alone.
    const origins = [file, ...(file.mirrors ?? [])];
    const origin = origins[engaged++ % origins.length]!;
    const offer: OfferRequest = {
      clientId,
      clientName: displayName(options.clientName),
      url: origin.finalUrl,
      fileName: file.fileName,
      size: file.size,
    };
    const slots = await askConsent(target, offer, key, options, recruitSignal);
    if (slots === 0) return undefined;
    const source = new PeerRangeSource(
      target,
      { clientId, url: origin.finalUrl, validators: origin.validators, headers: origin.headers },
      key,
      options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      options.dispatcher,
    );
    return { source, slots };
  };
  return helperRecruitment(options, targets, engage, (signal) => findPeers(options, key, signal));
}

/**
 * The recruitment of one download through a HelperPool: at most `maxHelpers` asked or helping
 * at once, the rest of the sample (and peers found later, through `offer`) waiting their turn.
 */
function helperRecruitment(
  options: SwarmOptions,
  targets: readonly PeerTarget[],
  engage: (target: PeerTarget, file: FileFacts, signal: AbortSignal) => Promise<SourcePlan | undefined>,
  survey: (signal: AbortSignal) => Promise<PeerTarget[]>,
): Recruitment {
  const maxHelpers = options.maxHelpers ?? DEFAULT_MAX_HELPERS;
  const expected = Math.min(targets.length, maxHelpers);
  let pool: HelperPool | undefined;
  let running: Promise<void> | undefined;
  let runSignal: AbortSignal | undefined;
  const later: PeerTarget[] = [];
  const runPool = (startFruitless: boolean) => {
    if (!pool || !runSignal || runSignal.aborted) return Promise.resolve();
    running ??= pool.run(runSignal, startFruitless).finally(() => {
      running = undefined;
    });
    return running;
  };
  return {
    candidates: expected,
    expectedSlots: expected * DEFAULT_PEER_SLOTS,
    peers: targets,
    offer: async (target) => {
      if (!pool) {
        if (later.length < helperSampleSize(options)) later.push(target);
        return;
      }
      // A peer found after the pool gave up on the swarm wakes it again.
      if (pool.consider([target]) > 0) void runPool(false);
    },
    recruit: async (file, add, signal) => {
      runSignal = signal;
      pool = new HelperPool({
        maxHelpers,
        survey,
        freeSlotsOf: reportedFreeSlots,
        engage: (target, engageSignal) => engage(target, file, engageSignal),
        add,
      });
      pool.consider([...targets, ...later]);
      await runPool(targets.length === 0 && later.length === 0);
    },
  };
}

/** Returns the slots granted, or 0 when the peer refused, failed, or did not answer. */
async function askConsent(
  target: PeerTarget,
  offer: OfferRequest,
  key: SwarmKey,
  options: SwarmOptions,
  signal: AbortSignal,
): Promise<number> {
  const source = `peer:${target.id}`;
  options.onEvent({ type: 'peer', source, label: target.name, status: 'asking' });
  try {
    // The operator may be asked on their terminal: the offer gets the prompt's time plus transit.
    const answer = await PeerClient.forProvenPeer(target, key, withDispatcher(options)).offer(offer, signal);
    options.onEvent({ type: 'peer', source, label: target.name, status: 'accepted' });
    return answer.slots;
  } catch (error) {
    if (signal.aborted) return 0;
    const refused = isDdmError(error, 'PEER_REFUSED');
    const message = error instanceof DdmError ? error.message : String(error);
    options.onEvent({
      type: 'peer',
      source,
      label: target.name,
      status: refused ? 'refused' : 'failed',
      message,
    });
    return 0;
  }
}
