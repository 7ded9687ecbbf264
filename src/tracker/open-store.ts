/** Chooses a tracker's store from `--store`: this process's memory by default, or Redis. */
import { DdmError } from '../errors.js';
import type { SwarmKey } from '../protocol/auth.js';
import { MemoryPeerStore, PeerRegistry } from './peer-registry.js';
import type { PeerStore } from './peer-store.js';

export interface StoreChoice {
  /** `memory` (or absent), `redis://[:PASSWORD@]HOST:PORT[/DB]`, or `rediss://` for TLS. */
  url: string | undefined;
  ttlMs: number;
  maxPeers: number;
  maxPeersPerSource: number;
  now: () => number;
  key: SwarmKey;
}

export async function openPeerStore(choice: StoreChoice, signal: AbortSignal): Promise<PeerStore> {
  const { url, ...limits } = choice;
  if (url === undefined || url === 'memory') return new MemoryPeerStore(new PeerRegistry(limits));
  if (!/^rediss?:\/\//i.test(url) || !URL.canParse(url)) {
    throw new DdmError('USAGE', `--store must be "memory" or redis://HOST:PORT, not "${url.slice(0, 200)}"`, {
      details: { key: 'store' },
    });
  }
  // Loaded only when asked for: the Redis client costs a tracker that keeps its peers in memory ~10 MiB.
  const { openRedisStore } = await import('./redis-store.js');
  return openRedisStore({ url, ...limits }, signal);
}
