/**
 * The one way to talk to a peer: every info, offer and fetch goes through here, signed with the
 * swarm key, its answer validated by the wire schemas (protocol/messages.ts), and nothing but an
 * info is sent to a peer before a signed info proved its id and that it speaks this ddm's
 * protocol version.
 */
import type { Dispatcher } from 'undici';
import { DEFAULT_TIMEOUT_MS, OFFER_REQUEST_TIMEOUT_MS, PROTOCOL_VERSION } from '../../constants.js';
import { DdmError } from '../../errors.js';
import type { SwarmKey } from '../../protocol/auth.js';
import {
  API,
  type FetchRequest,
  type OfferRequest,
  OfferResponse,
  PeerInfoResponse,
} from '../../protocol/messages.js';
import { peerSockets } from './peer-sockets.js';
import { signedJson, signedStream } from './signed-http.js';
import { signedSocketStream } from './signed-socket-stream.js';

export interface PeerClientOptions {
  dispatcher?: Dispatcher;
  /** For info and offers; an offer may wait for the operator, so it gets at least OFFER_REQUEST_TIMEOUT_MS. */
  timeoutMs?: number;
  /** For range streams: time to the first byte, and between chunks. */
  streamTimeoutMs?: number;
  /**
   * The id the peer must answer as (a tracker's record, say); otherwise whichever peer answers at
   * the URL, whose id the info then learns. Either way the first offer or fetch asks for the info.
   */
  peerId?: string;
}

/** A peer that a signed info from this process already proved: its id, and a protocol we speak. */
export interface ProvenPeer {
  id: string;
  url: string;
}

export class PeerClient {
  private peerId: string | undefined;
  /** Set once a signed info answered with our protocol version; until then only info is asked. */
  private proven = false;

  constructor(
    readonly baseUrl: string,
    private readonly key: SwarmKey,
    private readonly options: PeerClientOptions = {},
  ) {
    this.peerId = options.peerId;
  }

  /**
   * For a peer found by the swarm's look (`findPeers`, LAN discovery): those build a peer only
   * from an info this client class checked, so its offers and fetches need not ask again.
   */
  static forProvenPeer(peer: ProvenPeer, key: SwarmKey, options: PeerClientOptions = {}): PeerClient {
    const client = new PeerClient(peer.url, key, { ...options, peerId: peer.id });
    client.proven = true;
    return client;
  }

  /**
   * Signed for whichever peer answers at the URL (unless its id is known), which it then proves.
   * A peer speaking another protocol version is a PROTOCOL DdmError.
   */
  async info(signal: AbortSignal): Promise<PeerInfoResponse> {
    const info = await signedJson({
      ...this.common(signal),
      ...(this.peerId === undefined ? {} : { node: this.peerId }),
      method: 'GET',
      path: API.info,
      schema: PeerInfoResponse,
    });
    checkProtocol(info, this.baseUrl);
    this.peerId ??= info.id;
    this.proven = true;
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

  /**
   * Opens a range through the peer; the body yields exactly `end - start` bytes or throws a
   * DdmError. A caller that writes each chunk and releases it (`reading.lease`) gets the
   * bytes of a plain-http peer in reused slabs (signed-socket-stream.ts).
   */
  async fetch(
    request: FetchRequest,
    signal: AbortSignal,
    reading?: { lease: boolean },
  ): Promise<AsyncIterable<Uint8Array>> {
    const options = {
      ...(await this.bound(signal)),
      path: API.fetch,
      body: request,
      expectedBytes: request.end - request.start,
      timeoutMs: this.options.streamTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    };
    if (reading?.lease === true && isPlainHttp(this.baseUrl)) {
      return signedSocketStream(peerSockets(), options);
    }
    return signedStream(options);
  }

  /** What every request but info needs: the peer's proven id (and protocol), bound into the signature. */
  private async bound(signal: AbortSignal) {
    if (!this.proven) await this.info(signal);
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

function isPlainHttp(url: string): boolean {
  try {
    return new URL(url).protocol === 'http:';
  } catch {
    return false; // signedStream says what is wrong with it
  }
}

/** Whether a PROTOCOL error says the peer speaks another protocol version (not a malformed answer). */
export function isProtocolMismatch(error: unknown): error is DdmError {
  return (
    error instanceof DdmError && error.code === 'PROTOCOL' && typeof error.details.peerProtocol === 'number'
  );
}

function checkProtocol(info: PeerInfoResponse, baseUrl: string): void {
  if (info.protocol === PROTOCOL_VERSION) return;
  throw new DdmError(
    'PROTOCOL',
    `peer at ${baseUrl} speaks swarm protocol ${info.protocol}, this ddm ${PROTOCOL_VERSION}: upgrade every node together`,
    { details: { peerProtocol: info.protocol, protocol: PROTOCOL_VERSION } },
  );
}
