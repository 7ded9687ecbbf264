import type { OriginRequestOptions } from '../origin/http-client.js';
import { openRange } from '../origin/range-request.js';
import type { ByteRange } from '../types/byte-range.js';
import type { Validators } from '../types/validators.js';
import type { RangeReading, RangeSource, SourceFailurePolicy } from './range-source.js';

/**
 * Our own connections retry with backoff, and once they give up nobody else fetches what they
 * could not (the peers are optional), so the download stops with the error, progress saved.
 * A stalled range is only revoked: its rest goes back to the pool.
 */
export const OWN_CONNECTION_FAILURES: SourceFailurePolicy = {
  retried: true,
  endsDownload: true,
  maxFailures: 1,
  stallIsFailure: false,
};

/** How one origin source differs from the primary URL's (a mirror's: client/mirror-set.ts). */
export interface OriginSourceIdentity {
  id?: string;
  label?: string;
  policy?: SourceFailurePolicy;
  crossChecked?: boolean;
}

/** The client's own connections to one origin URL: one source, as many slots as it is given. */
export class OriginRangeSource implements RangeSource {
  readonly id: string;
  readonly label: string;
  readonly kind = 'local' as const;
  readonly failurePolicy: SourceFailurePolicy;
  readonly crossChecked: boolean;

  constructor(
    private readonly url: string,
    private readonly validators: Validators,
    private readonly size: number,
    private readonly options: OriginRequestOptions,
    identity: OriginSourceIdentity = {},
  ) {
    this.id = identity.id ?? 'local';
    this.label = identity.label ?? 'local';
    this.failurePolicy = identity.policy ?? OWN_CONNECTION_FAILURES;
    this.crossChecked = identity.crossChecked ?? false;
  }

  open(range: ByteRange, signal: AbortSignal, reading?: RangeReading): Promise<AsyncIterable<Uint8Array>> {
    return openRange(this.url, range, this.validators, this.options, signal, {
      size: this.size,
      lease: reading?.lease === true,
    });
  }
}
