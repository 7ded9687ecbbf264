/**
 * The fallback for origins that ignore Range, give no length, give no validator, or force a
 * content coding: one stream from the start, written in order. A failure restarts from byte 0
 * (nothing else can be trusted), within --max-tries.
 */
import type { OriginResponse } from '../origin/follow-redirects.js';
import type { OriginRequestOptions } from '../origin/http-client.js';
import { withRetries } from '../origin/retry.js';
import { openWhole, type WholeResponse, wholeFromResponse } from '../origin/whole-request.js';
import type { DownloadStore } from '../storage/download-store.js';
import type { Validators } from '../types/validators.js';
import type { DownloadEventListener } from './events.js';

export interface SingleStreamOptions {
  url: string;
  validators: Validators;
  requestOptions: OriginRequestOptions;
  store: DownloadStore;
  maxTries: number;
  onEvent: DownloadEventListener;
  signal: AbortSignal;
  /** Size the probe learned (null when unknown or encoded): a plain body of another length is refused. */
  expectedSize?: number | null;
  /**
   * The probe's own 200, still unread, for the first try: the origin is asked once, not twice.
   * Called at most once; returns undefined when there is none (or it was taken).
   */
  takeProbeResponse?: () => OriginResponse | undefined;
  /** Bytes written so far in the current try, for progress. */
  onBytes?: (written: number) => void;
}

/** Returns the number of bytes written. */
export function runSingleStream(options: SingleStreamOptions): Promise<number> {
  const { store, signal } = options;
  const expect = { size: options.expectedSize ?? null };
  const open = (): Promise<WholeResponse> => {
    const probed = options.takeProbeResponse?.();
    if (probed !== undefined) {
      return wholeFromResponse(probed, options.validators, options.requestOptions, signal, expect);
    }
    return openWhole(options.url, options.validators, options.requestOptions, signal, expect);
  };
  return withRetries(
    async () => {
      const { body } = await open();
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
