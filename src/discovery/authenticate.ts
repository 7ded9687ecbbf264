/**
 * A discovered peer is used only once it proves it is a member of our swarm: a signed
 * GET /v1/info whose answer is signed over our nonce (transport/client/peer-client.ts). An
 * announcement can claim any id and name; only the authenticated answer is believed.
 */
import type { Dispatcher } from 'undici';
import { DISCOVERY_IDENTIFY_TIMEOUT_MS, PROTOCOL_VERSION } from '../constants.js';
import { abortError, isDdmError } from '../errors.js';
import type { SwarmKey } from '../protocol/auth.js';
import type { PeerInfoResponse } from '../protocol/messages.js';
import { isProtocolMismatch, PeerClient } from '../transport/client/peer-client.js';
import type { LanAnnouncement } from './browser.js';

export type DiscoveryVerdict =
  | { kind: 'member'; announcement: LanAnnouncement; url: string; address: string; info: PeerInfoResponse }
  | { kind: 'rejected'; announcement: LanAnnouncement; url: string; message: string };

export interface AuthenticateOptions {
  key: SwarmKey;
  /** Per address tried. */
  timeoutMs?: number;
  /** Carries the TLS trust for peers that announce https (transport/client/node-trust.ts `loadNodeTrust`). */
  dispatcher?: Dispatcher;
}

export function peerUrl(address: string, port: number, tls: boolean): string {
  return `${tls ? 'https' : 'http'}://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/**
 * A peer that says (in its signed answer) that it serves https, yet answered a plain http URL,
 * was reached through something that relays it: whatever we would send there next (URLs,
 * forwarded headers) would cross the network in clear.
 */
export function relayedInClear(info: PeerInfoResponse, url: string): boolean {
  return info.tls === true && !url.startsWith('https:');
}

/** Tries the announced addresses in turn until one answers; a wrong secret ends the search. */
export async function authenticateAnnouncement(
  announcement: LanAnnouncement,
  options: AuthenticateOptions,
  signal: AbortSignal,
): Promise<DiscoveryVerdict> {
  const rejected = (url: string, message: string): DiscoveryVerdict => ({
    kind: 'rejected',
    announcement,
    url,
    message,
  });
  const tls = announcement.tls === true;
  let failure = 'no address to try';
  let distrusted = false;
  let lastUrl = peerUrl(announcement.addresses[0] ?? '0.0.0.0', announcement.port, tls);
  for (const address of announcement.addresses) {
    const url = peerUrl(address, announcement.port, tls);
    lastUrl = url;
    const who = `"${announcement.name}" at ${url}, found on the LAN,`;
    try {
      const info = await new PeerClient(url, options.key, {
        timeoutMs: options.timeoutMs ?? DISCOVERY_IDENTIFY_TIMEOUT_MS,
        ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      }).info(signal);
      if (relayedInClear(info, url)) {
        return rejected(url, `${who} serves https but answered over plain http: something relays it`);
      }
      return { kind: 'member', announcement, url, address, info };
    } catch (error) {
      if (signal.aborted) throw abortError(signal);
      if (isProtocolMismatch(error)) {
        const theirs = error.details.peerProtocol;
        return rejected(url, `${who} speaks swarm protocol ${theirs}, this ddm ${PROTOCOL_VERSION}`);
      }
      if (isDdmError(error, 'AUTH_FAILED')) {
        return rejected(url, `${who} is not a member of this swarm (it does not share our secret)`);
      }
      // The certificate may name only some of the addresses: the next one may still be believed.
      distrusted = isDdmError(error, 'TLS_FAILED');
      failure = error instanceof Error ? error.message : String(error);
    }
  }
  const outcome = distrusted ? 'is not believed' : 'cannot be reached';
  return rejected(lastUrl, `"${announcement.name}", found on the LAN, ${outcome}: ${failure}`);
}

export function authenticateAll(
  announcements: readonly LanAnnouncement[],
  options: AuthenticateOptions,
  signal: AbortSignal,
): Promise<DiscoveryVerdict[]> {
  return Promise.all(announcements.map((found) => authenticateAnnouncement(found, options, signal)));
}
