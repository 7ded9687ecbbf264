/**
 * Where a tracker keeps its registrations: in its own memory (peer-registry.ts, the default) or
 * in a store shared by several trackers (redis-store.ts), so that any of them answers for the
 * whole swarm and one can stop without the swarm noticing. The rules are the same in both:
 * records expire, an id stays with the address that holds it, and the caps hold per source
 * address and in all.
 */
import type { PeerRecord, RegisterRequest } from '../protocol/messages.js';
import type { PeerListing, PreparedBody } from './peer-listing.js';

export type UpsertResult =
  | { ok: true; record: PeerRecord }
  | { ok: false; reason: 'id-taken'; holder: string }
  | { ok: false; reason: 'full' }
  | { ok: false; reason: 'source-full'; source: string };

export type RemoveResult = 'removed' | 'unknown' | 'other-address';

export interface PeerStore {
  /** Registers or refreshes a peer seen at `address` (a heartbeat is the same call). */
  upsert(info: RegisterRequest, address: string): Promise<UpsertResult>;
  /** Removes a peer, but only on behalf of the address that registered it. */
  remove(id: string, address: string): Promise<RemoveResult>;
  /** The live peers, serialised; the same snapshot until the list changes (or its lastSeen ages). */
  listing(): Promise<PeerListing>;
  /** At most `limit` live peers at random, serialised (GET /v1/peers?limit=). */
  sample(limit: number): Promise<PreparedBody>;
  /**
   * A store shared by several trackers also shares their replay memory: records `nonce` for
   * `ttlMs` and answers false if any tracker of the swarm saw it first. Absent on a store of one
   * process, whose request verifier already remembers every nonce it took.
   */
  claimNonce?(nonce: string, ttlMs: number): Promise<boolean>;
  /** Drops expired peers (a store with key TTLs may have nothing to do). */
  prune(): Promise<void>;
  close(): Promise<void>;
}
