/** Retrying transient origin failures: exponential backoff with full jitter, or as long as the origin asks. */
import { setTimeout as delay } from 'node:timers/promises';
import { MAX_RETRY_AFTER_MS, RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS } from '../constants.js';
import { abortError, DdmError, isDdmError } from '../errors.js';

export interface RetryInfo {
  /** The number of the try about to be made (2 for the first retry). */
  tryNumber: number;
  delayMs: number;
  /** Why the previous try failed. */
  error: DdmError;
}

export interface RetryOptions {
  /** Tries in all, the first included; at least 1. */
  maxTries: number;
  signal: AbortSignal;
  onRetry?: (info: RetryInfo) => void;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Runs `attempt` until it succeeds, fails with a non-retryable error, or `maxTries` is reached.
 * Only a DdmError with `retryable` is retried; the last one is rethrown with its code kept.
 */
export async function withRetries<T>(
  attempt: (tryNumber: number) => Promise<T>,
  opts: RetryOptions,
): Promise<T> {
  const maxTries = Math.max(1, Math.floor(opts.maxTries));
  for (let tryNumber = 1; ; tryNumber += 1) {
    if (opts.signal.aborted) throw abortError(opts.signal);
    try {
      return await attempt(tryNumber);
    } catch (error) {
      if (opts.signal.aborted) throw abortError(opts.signal);
      if (!isDdmError(error) || !error.retryable) throw error;
      if (tryNumber >= maxTries) throw exhausted(error, maxTries);
      const delayMs = retryDelayMs(error, tryNumber, opts);
      opts.onRetry?.({ tryNumber: tryNumber + 1, delayMs, error });
      await abortableSleep(delayMs, opts.signal);
    }
  }
}

/** How long to wait after failed try number `tryNumber`. */
export function retryDelayMs(
  error: DdmError,
  tryNumber: number,
  opts: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'> = {},
  random: () => number = Math.random,
): number {
  const retryAfterMs = error.details.retryAfterMs;
  if (typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs)) {
    if (retryAfterMs > MAX_RETRY_AFTER_MS) {
      throw new DdmError(
        'RETRY_AFTER_TOO_LONG',
        `the origin asks to retry in ${Math.ceil(retryAfterMs / 1000)} s, more than the ${MAX_RETRY_AFTER_MS / 1000} s ddm waits`,
        { cause: error, details: { ...error.details, retryAfterMs } },
      );
    }
    return Math.max(0, Math.round(retryAfterMs));
  }
  const base = opts.baseDelayMs ?? RETRY_BASE_DELAY_MS;
  const max = opts.maxDelayMs ?? RETRY_MAX_DELAY_MS;
  // Full jitter keeps many workers that failed together from retrying together.
  const ceiling = Math.min(max, base * 2 ** (tryNumber - 1));
  return Math.round(random() * ceiling);
}

/**
 * Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Returns milliseconds from `now`, or undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Date.parse would also accept bare numbers like "1.5" or "-3"; an HTTP date always names a weekday.
  if (!/^[A-Za-z]{3,9}[, ]/.test(text)) return undefined;
  // asctime dates carry no zone but are GMT by definition; Date.parse would read them as local time.
  const at = Date.parse(/(GMT|UTC)$/i.test(text) ? text : `${text} GMT`);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function exhausted(error: DdmError, tries: number): DdmError {
  const what = tries === 1 ? '1 try' : `${tries} tries`;
  return new DdmError(error.code, `${error.message} (after ${what})`, {
    cause: error,
    details: { ...error.details, tries },
    retryable: error.retryable,
  });
}

async function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (error) {
    if (signal.aborted) throw abortError(signal);
    throw error;
  }
}
