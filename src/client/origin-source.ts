import type { OriginRequestOptions } from '../origin/http-client.js';
import { openRange } from '../origin/range-request.js';
import type { ByteRange } from '../types/byte-range.js';
import type { Validators } from '../types/validators.js';
import type { RangeSource } from './range-source.js';

/** The client's own connections to the origin: one source, as many slots as --connections. */
export class OriginRangeSource implements RangeSource {
  readonly id = 'local';
  readonly label = 'local';
  readonly kind = 'local' as const;

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
