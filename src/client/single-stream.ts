/**
 * The fallback for origins that ignore Range or give no length: one stream from the start,
 * written in order. A failure restarts from byte 0 (nothing else can be trusted), within --max-tries.
 */
import type { OriginRequestOptions } from '../origin/http-client.js';
import { openWhole } from '../origin/range-request.js';
import { withRetries } from '../origin/retry.js';
import type { DownloadStore } from '../storage/download-store.js';
import type { DownloadEventListener } from './events.js';
import type { Validators } from './range-source.js';

export interface SingleStreamOptions {
  url: string;
  validators: Validators;
  requestOptions: OriginRequestOptions;
  store: DownloadStore;
  maxTries: number;
  onEvent: DownloadEventListener;
  signal: AbortSignal;
  /** Bytes written so far in the current try, for progress. */
  onBytes?: (written: number) => void;
}

/** Returns the number of bytes written. */
export function runSingleStream(options: SingleStreamOptions): Promise<number> {
  const { store, signal } = options;
  return withRetries(
    async () => {
      const { body } = await openWhole(options.url, options.validators, options.requestOptions, signal);
      let position = 0;
      for await (const chunk of body) {
        await store.write(chunk, position);
        position += chunk.byteLength;
        options.onBytes?.(position);
      }
      return position;
    },
    {
      maxTries: options.maxTries,
      signal,
      onRetry: ({ tryNumber, delayMs, error }) =>
        options.onEvent({
          type: 'retry',
          source: 'local',
          tryNumber,
          delayMs,
          code: error.code,
          message: error.message,
        }),
    },
  );
}
