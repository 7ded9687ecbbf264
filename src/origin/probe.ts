/**
 * Learns what the client must know before splitting a download: final URL, size, Range
 * support, validators and a file name, with one `Range: bytes=0-0` GET (HEAD is often
 * answered differently from GET by CDNs and signed URLs). When the origin ignores the range
 * and answers 200 with the whole file, that response is handed over still open, so the single
 * stream reads it instead of asking the origin a second time (a one-time link allows one GET).
 */

import { PROBE_BODY_HIGH_WATER_MARK_BYTES } from '../constants.js';
import { DdmError } from '../errors.js';
import type { Validators } from '../types/validators.js';
import { parseContentRange } from './content-range.js';
import { fileNameFor } from './filename.js';
import { discardBody, getFollowingRedirects, type OriginResponse } from './follow-redirects.js';
import type { OriginRequestOptions } from './http-client.js';
import { describeUrl } from './origin-url.js';
import { contentEncodings, contentLength, headerValue, validatorsFrom } from './response-headers.js';
import { errorForStatus } from './status-errors.js';
import { checkDecodable } from './whole-request.js';

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
  /** Content codings the origin forces on the body (with `decodeContent`); absent for plain bytes. */
  encodings?: string[];
  /**
   * The probe's own 200, body unread: the caller must read it (`wholeFromResponse`) or
   * discard it. Absent when the origin answered the range.
   */
  response?: OriginResponse;
}

export async function probe(
  url: string,
  opts: OriginRequestOptions,
  signal: AbortSignal,
): Promise<ProbeResult> {
  // A 200 here becomes the single stream, unread until the output is open: room to buffer keeps
  // undici's parser from pausing meanwhile (see PROBE_BODY_HIGH_WATER_MARK_BYTES).
  const probeOptions = { ...opts, bodyHighWaterMarkBytes: PROBE_BODY_HIGH_WATER_MARK_BYTES };
  const response = await getFollowingRedirects(url, { range: 'bytes=0-0' }, probeOptions, signal);
  let handedOver = false;
  try {
    const encodings = contentEncodings(response.headers);
    if (encodings.length > 0) checkDecodable(encodings, response.url, opts.decodeContent ?? false);
    const learned = sizeAndRangeSupport(response);
    // Sizes and ranges of an encoded body count encoded bytes, not the file's.
    const { size, rangeSupported } = encodings.length > 0 ? { size: null, rangeSupported: false } : learned;
    const contentType = headerValue(response.headers, 'content-type');
    handedOver = response.statusCode === 200;
    return {
      url: response.url.href,
      size,
      rangeSupported,
      validators: validatorsFrom(response.headers),
      fileName: fileNameFor(headerValue(response.headers, 'content-disposition'), response.url.href),
      ...(contentType === undefined ? {} : { contentType }),
      ...(encodings.length === 0 ? {} : { encodings }),
      ...(handedOver ? { response } : {}),
    };
  } finally {
    if (!handedOver) await discardBody(response.body, signal);
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
    // A 206 that starts at 0 and runs on (busybox httpd sends the rest of the file) still
    // proves ranges work; only its first byte was asked for.
    if (contentRange?.kind !== 'range' || contentRange.start !== 0) {
      throw badContentRange(response);
    }
    return { size: contentRange.size, rangeSupported: true };
  }
  // Byte 0 of an empty file does not exist, so an origin with ranges answers 416 with its size.
  if (statusCode === 416 && contentRange?.kind === 'unsatisfied' && contentRange.size === 0) {
    return { size: 0, rangeSupported: true };
  }
  // Some (npm http-server) say 416 without Content-Range; byte 0 not existing still means
  // an empty file. The plain GET that fetches it checks that its body really is empty.
  if (statusCode === 416 && headerValue(headers, 'content-range') === undefined) {
    return { size: 0, rangeSupported: false };
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
