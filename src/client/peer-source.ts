import type { Dispatcher } from 'undici';
import { PEER_MAX_FAILURES } from '../constants.js';
import type { SwarmKey } from '../protocol/auth.js';
import type { FetchRequest } from '../protocol/messages.js';
import { PeerClient } from '../transport/client/peer-client.js';
import type { ByteRange } from '../types/byte-range.js';
import type { Validators } from '../types/validators.js';
import type { RangeReading, RangeSource, SourceFailurePolicy } from './range-source.js';

export interface PeerTarget {
  /**
   * As the peer proved it in a signed GET /v1/info (PeerClient.info, which also checked that it
   * speaks our protocol version); every later request is bound to it.
   */
  id: string;
  name: string;
  /** Base URL of the peer, e.g. http://192.168.1.20:7801 */
  url: string;
  /** What its /v1/info said (a directory shows them). */
  slots?: number;
  freeSlots?: number;
  version?: string;
  /** How it was found: tracker URLs, "peer" for --peer, "mdns" for the LAN. */
  foundBy?: string[];
}

/**
 * A peer's failure hands the rest of its range back to the pool at once (no retry: the other
 * sources fetch it); after PEER_MAX_FAILURES the peer is dropped for this download. A stalled
 * range counts as a failure.
 */
export const PEER_SLOT_FAILURES: SourceFailurePolicy = {
  retried: false,
  endsDownload: false,
  maxFailures: PEER_MAX_FAILURES,
  stallIsFailure: true,
};

/** A peer that accepted to help: each slot fetches ranges from the origin and streams them to us. */
export class PeerRangeSource implements RangeSource {
  readonly id: string;
  readonly label: string;
  readonly kind = 'peer' as const;
  readonly failurePolicy = PEER_SLOT_FAILURES;
  private readonly client: PeerClient;

  constructor(
    readonly peer: PeerTarget,
    private readonly request: {
      clientId: string;
      url: string;
      validators: Validators;
      headers: Record<string, string>;
    },
    key: SwarmKey,
    timeoutMs: number,
    /** Carries the TLS trust for https peers. */
    dispatcher?: Dispatcher,
  ) {
    this.id = `peer:${peer.id}`;
    this.label = peer.name;
    this.client = PeerClient.forProvenPeer(peer, key, {
      streamTimeoutMs: timeoutMs,
      ...(dispatcher ? { dispatcher } : {}),
    });
  }

  open(range: ByteRange, signal: AbortSignal, reading?: RangeReading): Promise<AsyncIterable<Uint8Array>> {
    const body: FetchRequest = {
      clientId: this.request.clientId,
      url: this.request.url,
      start: range.start,
      end: range.end,
      validators: withoutUndefined(this.request.validators),
      ...(Object.keys(this.request.headers).length > 0 ? { headers: this.request.headers } : {}),
    };
    return this.client.fetch(body, signal, reading);
  }
}

function withoutUndefined(validators: Validators): FetchRequest['validators'] {
  const result: FetchRequest['validators'] = {};
  if (validators.etag !== undefined) result.etag = validators.etag;
  if (validators.lastModified !== undefined) result.lastModified = validators.lastModified;
  return result;
}
