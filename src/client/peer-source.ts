import type { Dispatcher } from 'undici';
import type { SwarmKey } from '../protocol/auth.js';
import { API, type FetchRequest } from '../protocol/messages.js';
import type { ByteRange } from '../scheduler/types.js';
import { signedStream } from '../util/signed-http.js';
import type { RangeSource, Validators } from './range-source.js';

export interface PeerTarget {
  /** As the peer proved it in a signed GET /v1/info; every later request is bound to it. */
  id: string;
  name: string;
  /** Base URL of the peer, e.g. http://192.168.1.20:7801 */
  url: string;
}

/** A peer that accepted to help: each slot fetches ranges from the origin and streams them to us. */
export class PeerRangeSource implements RangeSource {
  readonly id: string;
  readonly label: string;
  readonly kind = 'peer' as const;

  constructor(
    private readonly peer: PeerTarget,
    private readonly request: {
      clientId: string;
      url: string;
      validators: Validators;
      headers: Record<string, string>;
    },
    private readonly key: SwarmKey,
    private readonly timeoutMs: number,
    /** Carries the TLS trust for https peers. */
    private readonly dispatcher?: Dispatcher,
  ) {
    this.id = `peer:${peer.id}`;
    this.label = peer.name;
  }

  open(range: ByteRange, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    const body: FetchRequest = {
      clientId: this.request.clientId,
      url: this.request.url,
      start: range.start,
      end: range.end,
      validators: withoutUndefined(this.request.validators),
      ...(Object.keys(this.request.headers).length > 0 ? { headers: this.request.headers } : {}),
    };
    return signedStream({
      baseUrl: this.peer.url,
      key: this.key,
      signal,
      path: API.fetch,
      body,
      expectedBytes: range.end - range.start,
      timeoutMs: this.timeoutMs,
      role: 'peer',
      node: this.peer.id,
      ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
    });
  }
}

function withoutUndefined(validators: Validators): FetchRequest['validators'] {
  const result: FetchRequest['validators'] = {};
  if (validators.etag !== undefined) result.etag = validators.etag;
  if (validators.lastModified !== undefined) result.lastModified = validators.lastModified;
  return result;
}
