import type { OriginRequestOptions } from '../origin/http-client.js';
import { openRange } from '../origin/range-request.js';
import type { ByteRange } from '../types/byte-range.js';
import type { Validators } from '../types/validators.js';
import type { RangeSource, SourceFailurePolicy } from './range-source.js';

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

/** The client's own connections to the origin: one source, as many slots as --connections. */
export class OriginRangeSource implements RangeSource {
  readonly id = 'local';
  readonly label = 'local';
  readonly kind = 'local' as const;
  readonly failurePolicy = OWN_CONNECTION_FAILURES;

  constructor(
    private readonly url: string,
    private readonly validators: Validators,
    private readonly size: number,
    private readonly options: OriginRequestOptions,
  ) {}

  open(range: ByteRange, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    return openRange(this.url, range, this.validators, this.options, signal, { size: this.size });
  }
}
