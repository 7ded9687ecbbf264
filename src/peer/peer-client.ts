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
import { signedJson, signedStream } from '../transport/client/signed-http.js';

export interface PeerClientOptions {
  dispatcher?: Dispatcher;
  /** For info and offers; an offer may wait for the operator, so it gets at least OFFER_REQUEST_TIMEOUT_MS. */
  timeoutMs?: number;
  /** For range streams: time to the first byte, and between chunks. */
  streamTimeoutMs?: number;
  /** The peer's id, when known; otherwise the first offer or fetch asks GET /v1/info for it. */
  peerId?: string;
}

export class PeerClient {
  private peerId: string | undefined;

  constructor(
    readonly baseUrl: string,
    private readonly key: SwarmKey,
    private readonly options: PeerClientOptions = {},
  ) {
    this.peerId = options.peerId;
  }

  /** Signed for whichever peer answers at the URL (unless its id is known), which it then proves. */
  async info(signal: AbortSignal): Promise<PeerInfoResponse> {
    const info = await signedJson({
      ...this.common(signal),
      ...(this.peerId === undefined ? {} : { node: this.peerId }),
      method: 'GET',
      path: API.info,
      schema: PeerInfoResponse,
    });
    this.peerId ??= info.id;
    return info;
  }

  /** Resolves when the peer accepts; a refusal is a PEER_REFUSED (or PEER_BUSY) DdmError. */
  async offer(offer: OfferRequest, signal: AbortSignal): Promise<OfferResponse> {
    return signedJson({
      ...(await this.bound(signal)),
      method: 'POST',
      path: API.offer,
      body: offer,
      schema: OfferResponse,
      timeoutMs: Math.max(this.options.timeoutMs ?? 0, OFFER_REQUEST_TIMEOUT_MS),
    });
  }

  /** Opens a range through the peer; the body yields exactly `end - start` bytes or throws a DdmError. */
  async fetch(request: FetchRequest, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    return signedStream({
      ...(await this.bound(signal)),
      path: API.fetch,
      body: request,
      expectedBytes: request.end - request.start,
      timeoutMs: this.options.streamTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
  }

  /** What every request but info needs: the peer's proven id, bound into the signature. */
  private async bound(signal: AbortSignal) {
    if (this.peerId === undefined) await this.info(signal);
    return { ...this.common(signal), node: this.peerId! };
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
