/**
 * A discovered peer is used only once it proves it is a member of our swarm: a signed
 * GET /v1/info whose answer is signed over our nonce (util/signed-http.ts). An announcement can
 * claim any id and name; only the authenticated answer is believed.
 */
import { PROTOCOL_VERSION } from '../constants.js';
import { abortError, isDdmError } from '../errors.js';
import type { SwarmKey } from '../protocol/auth.js';
import { API, PeerInfoResponse } from '../protocol/messages.js';
import { signedJson } from '../util/signed-http.js';
import type { LanAnnouncement } from './browser.js';
import { DISCOVERY_IDENTIFY_TIMEOUT_MS } from './constants.js';

export type DiscoveryVerdict =
  | { kind: 'member'; announcement: LanAnnouncement; url: string; address: string; info: PeerInfoResponse }
  | { kind: 'rejected'; announcement: LanAnnouncement; url: string; message: string };

export function peerUrl(address: string, port: number): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** Tries the announced addresses in turn until one answers; a wrong secret ends the search. */
export async function authenticateAnnouncement(
  announcement: LanAnnouncement,
  key: SwarmKey,
  signal: AbortSignal,
  timeoutMs = DISCOVERY_IDENTIFY_TIMEOUT_MS,
): Promise<DiscoveryVerdict> {
  const rejected = (url: string, message: string): DiscoveryVerdict => ({
    kind: 'rejected',
    announcement,
    url,
    message,
  });
  let failure = 'no address to try';
  let lastUrl = peerUrl(announcement.addresses[0] ?? '0.0.0.0', announcement.port);
  for (const address of announcement.addresses) {
    const url = peerUrl(address, announcement.port);
    lastUrl = url;
    const who = `"${announcement.name}" at ${url}, found on the LAN,`;
    try {
      const info = await signedJson({
        baseUrl: url,
        method: 'GET',
        path: API.info,
        key,
        schema: PeerInfoResponse,
        signal,
        role: 'peer',
        timeoutMs,
      });
      if (info.protocol !== PROTOCOL_VERSION) {
        return rejected(url, `${who} speaks swarm protocol ${info.protocol}, this ddm ${PROTOCOL_VERSION}`);
      }
      return { kind: 'member', announcement, url, address, info };
    } catch (error) {
      if (signal.aborted) throw abortError(signal);
      if (isDdmError(error, 'AUTH_FAILED')) {
        return rejected(url, `${who} is not a member of this swarm (it does not share our secret)`);
      }
      failure = error instanceof Error ? error.message : String(error);
    }
  }
  return rejected(lastUrl, `"${announcement.name}", found on the LAN, cannot be reached: ${failure}`);
}

export function authenticateAll(
  announcements: readonly LanAnnouncement[],
  key: SwarmKey,
  signal: AbortSignal,
  timeoutMs?: number,
): Promise<DiscoveryVerdict[]> {
  return Promise.all(announcements.map((found) => authenticateAnnouncement(found, key, signal, timeoutMs)));
}
