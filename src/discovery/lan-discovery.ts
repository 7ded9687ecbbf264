/** Browse the LAN, then authenticate what was found: what `ddm get` and `ddm peers` call. */
import type { Dispatcher } from 'undici';
import type { SwarmKey } from '../protocol/auth.js';
import { authenticateAll, type DiscoveryVerdict } from './authenticate.js';
import { type BrowseLan, type BrowseOptions, browseLan } from './browser.js';

export interface LanDiscoveryOptions extends BrowseOptions {
  key: SwarmKey;
  /** Replaces the multicast browse (tests without network namespaces). */
  browse?: BrowseLan;
  /** Per address tried when authenticating. */
  identifyTimeoutMs?: number;
  /** Carries the TLS trust for peers that announce https. */
  dispatcher?: Dispatcher;
}

export async function discoverOnLan(
  options: LanDiscoveryOptions,
  signal: AbortSignal,
): Promise<DiscoveryVerdict[]> {
  const browse = options.browse ?? browseLan;
  const announcements = await browse(options, signal);
  return authenticateAll(
    announcements,
    {
      key: options.key,
      ...(options.identifyTimeoutMs === undefined ? {} : { timeoutMs: options.identifyTimeoutMs }),
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    },
    signal,
  );
}
