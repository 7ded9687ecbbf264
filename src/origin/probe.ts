/**
 * Learns what the client must know before splitting a download: final URL, size, Range
 * support, validators and a file name, with one `Range: bytes=0-0` GET (HEAD is often
 * answered differently from GET by CDNs and signed URLs).
 */
import type { Validators } from '../client/range-source.js';
import { DdmError } from '../errors.js';
import { parseContentRange } from './content-range.js';
import { fileNameFor } from './filename.js';
import { discardBody, getFollowingRedirects, type OriginResponse } from './follow-redirects.js';
import type { OriginRequestOptions } from './http-client.js';
import { describeUrl } from './origin-url.js';
import { contentLength, headerValue, validatorsFrom } from './response-headers.js';
import { errorForStatus } from './status-errors.js';

export interface ProbeResult {
  /** Final URL after redirects: every later request goes straight there. */
  url: string;
  /** Total bytes, or null when the origin does not say (chunked, or `bytes 0-0/*`). */
  size: number | null;
  /** The origin answers ranges with 206; a parallel download also needs `size`. */
  rangeSupported: boolean;
  validators: Validators;
  fileName: string;
  contentType?: string;
}

export async function probe(
  url: string,
  opts: OriginRequestOptions,
  signal: AbortSignal,
): Promise<ProbeResult> {
  const response = await getFollowingRedirects(url, { range: 'bytes=0-0' }, opts, signal);
  try {
    const { size, rangeSupported } = sizeAndRangeSupport(response);
    const contentType = headerValue(response.headers, 'content-type');
    return {
      url: response.url.href,
      size,
      rangeSupported,
      validators: validatorsFrom(response.headers),
      fileName: fileNameFor(headerValue(response.headers, 'content-disposition'), response.url.href),
      ...(contentType === undefined ? {} : { contentType }),
    };
  } finally {
    // A 200 may be the whole file: it is cut off, not read.
    await discardBody(response.body, signal);
  }
}

function sizeAndRangeSupport(response: OriginResponse): { size: number | null; rangeSupported: boolean } {
  const { statusCode, headers } = response;
  if (statusCode === 200) {
    const chunked = /chunked/i.test(headerValue(headers, 'transfer-encoding') ?? '');
    return { size: chunked ? null : contentLength(headers), rangeSupported: false };
  }
  const contentRange = parseContentRange(headerValue(headers, 'content-range'));
  if (statusCode === 206) {
    if (contentRange?.kind !== 'range' || contentRange.start !== 0 || contentRange.last !== 0) {
      throw badContentRange(response);
    }
    return { size: contentRange.size, rangeSupported: true };
  }
  // Byte 0 of an empty file does not exist, so an origin with ranges answers 416 with its size.
  if (statusCode === 416 && contentRange?.kind === 'unsatisfied' && contentRange.size === 0) {
    return { size: 0, rangeSupported: true };
  }
  throw errorForStatus(statusCode, response.url, headers);
}

function badContentRange(response: OriginResponse): DdmError {
  const where = describeUrl(response.url);
  const value = headerValue(response.headers, 'content-range');
  return new DdmError(
    'BAD_RESPONSE',
    `origin answered bytes=0-0 with Content-Range ${JSON.stringify(value ?? null)} for ${where}`,
    { details: { url: where }, retryable: true },
  );
}
