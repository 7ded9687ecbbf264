/** What a client says to a peer, signed with the swarm key. */
import type { Dispatcher } from 'undici';
import { DEFAULT_TIMEOUT_MS, OFFER_REQUEST_TIMEOUT_MS } from '../constants.js';
import type { SwarmKey } from '../protocol/auth.js';
import {
  API,
  type FetchRequest,
  type OfferRequest,
  OfferResponse,
  PeerInfoResponse,
} from '../protocol/messages.js';
import { signedJson, signedStream } from '../util/signed-http.js';

export interface PeerClientOptions {
  dispatcher?: Dispatcher;
  /** For info and offers; an offer may wait for the operator, so it gets at least OFFER_REQUEST_TIMEOUT_MS. */
  timeoutMs?: number;
  /** For range streams: time to the first byte, and between chunks. */
  streamTimeoutMs?: number;
}

export class PeerClient {
  constructor(
    readonly baseUrl: string,
    private readonly key: SwarmKey,
    private readonly options: PeerClientOptions = {},
  ) {}

  info(signal: AbortSignal): Promise<PeerInfoResponse> {
    return signedJson({ ...this.common(signal), method: 'GET', path: API.info, schema: PeerInfoResponse });
  }

  /** Resolves when the peer accepts; a refusal is a PEER_REFUSED (or PEER_BUSY) DdmError. */
  offer(offer: OfferRequest, signal: AbortSignal): Promise<OfferResponse> {
    return signedJson({
      ...this.common(signal),
      method: 'POST',
      path: API.offer,
      body: offer,
      schema: OfferResponse,
      timeoutMs: Math.max(this.options.timeoutMs ?? 0, OFFER_REQUEST_TIMEOUT_MS),
    });
  }

  /** Opens a range through the peer; the body yields exactly `end - start` bytes or throws a DdmError. */
  fetch(request: FetchRequest, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    return signedStream({
      ...this.common(signal),
      path: API.fetch,
      body: request,
      expectedBytes: request.end - request.start,
      timeoutMs: this.options.streamTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
  }

  private common(signal: AbortSignal) {
    return {
      baseUrl: this.baseUrl,
      key: this.key,
      signal,
      role: 'peer' as const,
      ...(this.options.timeoutMs === undefined ? {} : { timeoutMs: this.options.timeoutMs }),
      ...(this.options.dispatcher ? { dispatcher: this.options.dispatcher } : {}),
    };
  }
}
