/**
 * The tracker's list of live peers. Pure bookkeeping with an injected clock: the server decides
 * which address a peer has, this module only keeps records fresh, bounded and unforgeable.
 */
import type { PeerRecord, RegisterRequest } from '../protocol/messages.js';

export interface PeerRegistryOptions {
  /** A peer not seen for this long is gone. */
  ttlMs: number;
  /** New peers beyond this many are refused. */
  maxPeers: number;
  now: () => number;
}

export type UpsertResult =
  | { ok: true; record: PeerRecord }
  | { ok: false; reason: 'id-taken'; holder: string }
  | { ok: false; reason: 'full' };

export type RemoveResult = 'removed' | 'unknown' | 'other-address';

export class PeerRegistry {
  private readonly peers = new Map<string, PeerRecord>();

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
    if (!existing) {
      // A restarted peer comes back with a new id on the same address and port: it replaces its old self.
      this.removeWhere((record) => record.address === address && record.port === info.port);
      this.prune();
      if (this.peers.size >= this.opts.maxPeers) return { ok: false, reason: 'full' };
    }
    const record: PeerRecord = { ...info, address, lastSeen: now };
    this.peers.set(info.id, record);
    return { ok: true, record };
  }

  /** Removes a peer, but only on behalf of the address that registered it. */
  remove(id: string, address: string): RemoveResult {
    const existing = this.live(id, this.opts.now());
    if (!existing) return 'unknown';
    if (existing.address !== address) return 'other-address';
    this.peers.delete(id);
    return 'removed';
  }

  /** Live peers, oldest registration first. */
  list(): PeerRecord[] {
    this.prune();
    return [...this.peers.values()];
  }

  /** Drops expired peers; returns how many. */
  prune(): number {
    const now = this.opts.now();
    return this.removeWhere((record) => this.expired(record, now));
  }

  private live(id: string, now: number): PeerRecord | undefined {
    const record = this.peers.get(id);
    if (record && this.expired(record, now)) {
      this.peers.delete(id);
      return undefined;
    }
    return record;
  }

  private expired(record: PeerRecord, now: number): boolean {
    return now - record.lastSeen > this.opts.ttlMs;
  }

  private removeWhere(matches: (record: PeerRecord) => boolean): number {
    let removed = 0;
    for (const [id, record] of this.peers) {
      if (!matches(record)) continue;
      this.peers.delete(id);
      removed += 1;
    }
    return removed;
  }
}
