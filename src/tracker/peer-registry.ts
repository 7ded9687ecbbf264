/**
 * The tracker's list of live peers. Pure bookkeeping with an injected clock: the server decides
 * which address a peer has, this module only keeps records fresh, bounded and unforgeable.
 * Bounded twice: in all, and per source address, so that one machine flooding registrations
 * meets its own cap while peers elsewhere still get in. Every operation but listing costs time
 * in the number of peers of one address, never in the number of peers in all.
 */
import type IpAddr from 'ipaddr.js';
import {
  TRACKER_LIST_MAX_AGE_MS,
  TRACKER_LIST_REFRESH_MS,
  TRACKER_LIST_REFRESH_STEP_RECORDS,
} from '../constants.js';
import type { PeerRecord, RegisterRequest } from '../protocol/messages.js';
import { requirePackage } from '../util/require-package.js';
import { ListingBuild, type PeerListing, type PreparedBody, prepare, randomIndices } from './peer-listing.js';
import type { PeerStore, RemoveResult, UpsertResult } from './peer-store.js';

const ipaddr = requirePackage<typeof IpAddr>('ipaddr.js');

export type { RemoveResult, UpsertResult };

export interface PeerRegistryOptions {
  /** A peer not seen for this long is gone. */
  ttlMs: number;
  /** New peers beyond this many are refused. */
  maxPeers: number;
  /** New peers from one source (an IPv4 address, an IPv6 /64) beyond this many are refused. */
  maxPeersPerSource: number;
  now: () => number;
}

/** A snapshot being made: the records still to encode, and the list version it shows. */
interface SnapshotBuild {
  parts: ListingBuild;
  ids: Iterator<string>;
  version: number;
  startedAt: number;
}

export class PeerRegistry {
  /** In order of first registration. */
  private readonly peers = new Map<string, PeerRecord>();
  /** Ids in order of last sighting (each record's lastSeen), so expired ones are found from the front. */
  private readonly bySighting = new Set<string>();
  /** Ids per source (see sourceOf). */
  private readonly bySource = new Map<string, Set<string>>();
  /** Ids in no particular order, so a random sample is a few random indices (`slot` finds an id's). */
  private readonly dense: string[] = [];
  private readonly slot = new Map<string, number>();
  /**
   * Each record as JSON up to its lastSeen (`{...,"lastSeen":`), made when first listed after a
   * change other than a heartbeat: a listing adds the time and `}`, so the heartbeats of a
   * busy swarm cost a listing one concatenation a record instead of a JSON.stringify.
   */
  private readonly encodedHead = new Map<string, string>();
  /** Bumped when a peer joins, leaves or changes more than its lastSeen. */
  private version = 0;
  /** A heartbeat moved some lastSeen since the snapshot was made. */
  private refreshed = false;
  private snapshot: { listing: PeerListing; version: number; madeAt: number } | undefined;
  /** listing() found the snapshot's lastSeen aged: refreshStep has a new one to make. */
  private refreshWanted = false;
  /** The refresh being made, a part per refreshStep; dropped if the list changes meanwhile. */
  private build: SnapshotBuild | undefined;

  constructor(private readonly opts: PeerRegistryOptions) {}

  get size(): number {
    return this.peers.size;
  }

  /**
   * Registers or refreshes a peer at `address`. An id still held from another address is
   * refused, so nobody can take over (or redirect) another machine's entry.
   */
  upsert(info: RegisterRequest, address: string): UpsertResult {
    const now = this.opts.now();
    const existing = this.live(info.id, now);
    if (existing && existing.address !== address)
      return { ok: false, reason: 'id-taken', holder: existing.address };
    if (existing && sameListing(existing, info, address)) return this.sighted(existing, now);
    if (!existing) {
      const refusal = this.roomFor(info, address, now);
      if (refusal) return refusal;
    }
    const record: PeerRecord = { ...info, address, lastSeen: now };
    this.version += 1;
    this.encodedHead.delete(info.id);
    this.peers.set(info.id, record);
    this.bySighting.delete(info.id);
    this.bySighting.add(info.id);
    // A heartbeat comes from the address that holds the id: its source already counts it.
    if (!existing) {
      this.countSource(info.id, address);
      this.slot.set(info.id, this.dense.length);
      this.dense.push(info.id);
    }
    return { ok: true, record };
  }

  /**
   * A heartbeat that changes nothing but the time: the record is updated in place, so that
   * nothing of the request (its parsed object, its strings) outlives it. Replacing the record
   * made every heartbeat's garbage live until the next one, long enough to be promoted, and at
   * thousands a second the old generation's collections paused lists for milliseconds. Its
   * encoded head stays: only the time changed.
   */
  private sighted(record: PeerRecord, now: number): UpsertResult {
    record.lastSeen = now;
    this.refreshed = true;
    this.bySighting.delete(record.id);
    this.bySighting.add(record.id);
    return { ok: true, record };
  }

  private countSource(id: string, address: string): void {
    const source = sourceOf(address);
    const ids = this.bySource.get(source) ?? new Set<string>();
    ids.add(id);
    this.bySource.set(source, ids);
  }

  /** Removes a peer, but only on behalf of the address that registered it. */
  remove(id: string, address: string): RemoveResult {
    const existing = this.live(id, this.opts.now());
    if (!existing) return 'unknown';
    if (existing.address !== address) return 'other-address';
    this.delete(id);
    return 'removed';
  }

  /** Live peers, oldest registration first. */
  list(): PeerRecord[] {
    this.prune();
    return [...this.peers.values()].map((record) => ({ ...record }));
  }

  /**
   * The live peers serialised: a new snapshot when someone joined, left or changed, else the
   * last one. When only heartbeats moved lastSeen, the last one is still answered, and a fresh
   * one is wanted once it is TRACKER_LIST_REFRESH_MS old: refreshStep makes it a part at a
   * time, so that a swarm's heartbeats never make one caller wait for the whole list's encoding.
   * A snapshot nobody asked for in TRACKER_LIST_MAX_AGE_MS is remade at once, as a change is.
   */
  listing(): PeerListing {
    this.prune();
    const now = this.opts.now();
    const current = this.snapshot;
    const age = now - (current?.madeAt ?? 0);
    if (current && current.version === this.version && !(this.refreshed && age >= TRACKER_LIST_MAX_AGE_MS)) {
      if (this.refreshed && age >= TRACKER_LIST_REFRESH_MS) this.refreshWanted = true;
      return current.listing;
    }
    this.build = this.startBuild(now);
    this.buildPart(Number.POSITIVE_INFINITY);
    return this.snapshot!.listing;
  }

  /** Whether refreshStep has work: a refresh wanted or under way. */
  get refreshPending(): boolean {
    return this.refreshWanted || this.build !== undefined;
  }

  /**
   * Encodes up to `maxRecords` more records of the wanted refresh; when the last is in, the
   * refresh becomes the snapshot. True while there is more to do. A refresh that sees the list
   * change is dropped: the next listing() makes the changed list at once anyway.
   */
  refreshStep(maxRecords: number): boolean {
    if (this.build && this.build.version !== this.version) this.build = undefined;
    if (!this.build) {
      if (!this.refreshWanted || this.snapshot?.version !== this.version) return false;
      this.build = this.startBuild(this.opts.now());
    }
    return this.buildPart(maxRecords);
  }

  /** A snapshot of the list as it is now, to be made by buildPart. */
  private startBuild(now: number): SnapshotBuild {
    this.refreshed = false;
    this.refreshWanted = false;
    return { parts: new ListingBuild(), ids: this.peers.keys(), version: this.version, startedAt: now };
  }

  /**
   * Encodes up to `maxRecords` more records of the build under way; once the last is in, the
   * build is the snapshot. True while there is more to do.
   */
  private buildPart(maxRecords: number): boolean {
    const build = this.build!;
    const part: string[] = [];
    for (let next = build.ids.next(); !next.done; next = build.ids.next()) {
      part.push(this.encode(next.value));
      if (part.length >= maxRecords) break;
    }
    build.parts.add(part);
    if (part.length >= maxRecords) return true;
    this.build = undefined;
    this.snapshot = { listing: build.parts.finish(), version: build.version, madeAt: build.startedAt };
    return false;
  }

  /**
   * `limit` live peers at random, serialised now: time in `limit`, never in the swarm's size,
   * and no snapshot to make. Each at most once.
   */
  sample(limit: number): PreparedBody {
    this.prune();
    if (limit * 2 > this.dense.length) return this.listing().body(limit);
    return prepare(randomIndices(this.dense.length, limit).map((index) => this.encode(this.dense[index]!)));
  }

  /** The record as JSON, as JSON.stringify would write it (lastSeen is its last key). */
  private encode(id: string): string {
    const record = this.peers.get(id)!;
    let head = this.encodedHead.get(id);
    if (head === undefined) {
      head = encodeHead(record);
      this.encodedHead.set(id, head);
    }
    return `${head}${record.lastSeen}}`;
  }

  /** Drops expired peers; returns how many. */
  prune(): number {
    const horizon = this.opts.now() - this.opts.ttlMs;
    let removed = 0;
    for (const id of this.bySighting) {
      if ((this.peers.get(id)?.lastSeen ?? Number.NEGATIVE_INFINITY) >= horizon) break;
      this.delete(id);
      removed += 1;
    }
    return removed;
  }

  /** Why a new peer cannot be added, after making what room the rules allow; undefined if it can. */
  private roomFor(info: RegisterRequest, address: string, now: number): UpsertResult | undefined {
    const source = sourceOf(address);
    for (const id of this.bySource.get(source) ?? []) {
      const record = this.live(id, now);
      // A restarted peer comes back with a new id on the same address and port: it replaces its old self.
      if (record && record.address === address && record.port === info.port) this.delete(id);
    }
    if ((this.bySource.get(source)?.size ?? 0) >= this.opts.maxPeersPerSource) {
      return { ok: false, reason: 'source-full', source };
    }
    if (this.peers.size >= this.opts.maxPeers) this.prune();
    if (this.peers.size >= this.opts.maxPeers) return { ok: false, reason: 'full' };
    return undefined;
  }

  private live(id: string, now: number): PeerRecord | undefined {
    const record = this.peers.get(id);
    if (record && now - record.lastSeen > this.opts.ttlMs) {
      this.delete(id);
      return undefined;
    }
    return record;
  }

  private delete(id: string): void {
    const record = this.peers.get(id);
    if (record === undefined) return;
    this.peers.delete(id);
    this.bySighting.delete(id);
    this.encodedHead.delete(id);
    this.forgetSlot(id);
    this.version += 1;
    const source = sourceOf(record.address);
    const ids = this.bySource.get(source);
    ids?.delete(id);
    if (ids?.size === 0) this.bySource.delete(source);
  }

  /** Takes an id out of `dense` in O(1): the last id moves into its place. */
  private forgetSlot(id: string): void {
    const index = this.slot.get(id);
    if (index === undefined) return;
    this.slot.delete(id);
    const last = this.dense.pop()!;
    if (last === id) return;
    this.dense[index] = last;
    this.slot.set(last, index);
  }
}

/** `record` as JSON without its lastSeen and closing brace, ready for `${lastSeen}}`. */
function encodeHead(record: PeerRecord): string {
  const { lastSeen: _time, ...rest } = record;
  const json = JSON.stringify(rest);
  return `${json.slice(0, -1)},"lastSeen":`;
}

/** Whether a registration from `address` would list the peer as it is listed, but for lastSeen. */
function sameListing(record: PeerRecord, info: RegisterRequest, address: string): boolean {
  return (
    record.name === info.name &&
    record.port === info.port &&
    record.slots === info.slots &&
    record.version === info.version &&
    record.tls === info.tls &&
    record.address === address
  );
}

/** The registry as a tracker's store: the default, one tracker process's own memory. */
export class MemoryPeerStore implements PeerStore {
  #refreshing = false;
  #closed = false;

  constructor(readonly registry: PeerRegistry) {}

  async upsert(info: RegisterRequest, address: string): Promise<UpsertResult> {
    return this.registry.upsert(info, address);
  }

  async remove(id: string, address: string): Promise<RemoveResult> {
    return this.registry.remove(id, address);
  }

  async listing(): Promise<PeerListing> {
    const listing = this.registry.listing();
    if (this.registry.refreshPending) this.#refreshInSteps();
    return listing;
  }

  /** Drives the registry's refresh, a part per turn of the event loop, so requests run between. */
  #refreshInSteps(): void {
    if (this.#refreshing) return;
    this.#refreshing = true;
    const step = () => {
      if (!this.#closed && this.registry.refreshStep(TRACKER_LIST_REFRESH_STEP_RECORDS)) {
        setImmediate(step).unref();
        return;
      }
      this.#refreshing = false;
    };
    setImmediate(step).unref();
  }

  async sample(limit: number): Promise<PreparedBody> {
    return this.registry.sample(limit);
  }

  async prune(): Promise<void> {
    this.registry.prune();
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

/**
 * Where registrations come from, for the per-source cap: an IPv4 address, or the /64 of an IPv6
 * one, since a single IPv6 host can use any address of its /64.
 */
export function sourceOf(address: string): string {
  if (!ipaddr.IPv6.isValid(address) || ipaddr.IPv4.isValid(address)) return address;
  const parsed = ipaddr.IPv6.parse(address);
  if (parsed.isIPv4MappedAddress()) return parsed.toIPv4Address().toString();
  return `${parsed.parts
    .slice(0, 4)
    .map((part) => part.toString(16))
    .join(':')}::/64`;
}
