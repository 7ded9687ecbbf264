import type { OriginRequestOptions } from '../origin/http-client.js';
import { openRange } from '../origin/range-request.js';
import { withRetries } from '../origin/retry.js';
import type { ByteRange } from '../types/byte-range.js';
import type { Validators } from '../types/validators.js';

/** Reads a (small) range straight from the origin into memory, with the usual retries. */
export function readOriginSlice(
  url: string,
  validators: Validators,
  size: number,
  options: OriginRequestOptions,
  maxTries: number,
): (range: ByteRange, signal: AbortSignal) => Promise<Uint8Array> {
  return (range, signal) =>
    withRetries(
      async () => {
        const chunks: Uint8Array[] = [];
        for await (const chunk of await openRange(url, range, validators, options, signal, { size }))
          chunks.push(chunk);
        return Buffer.concat(chunks);
      },
      { maxTries, signal },
    );
}
