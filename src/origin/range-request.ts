/**
 * One byte range of the resource from the origin, guarded so that every byte comes from the
 * version the probe saw: `If-Range` on the way out, Content-Range and ETag checks on the way in.
 */

import { DdmError } from '../errors.js';
import type { ByteRange } from '../types/byte-range.js';
import type { Validators } from '../types/validators.js';
import { parseContentRange } from './content-range.js';
import { exactBody, leadingBytes } from './exact-body.js';
import {
  discardBody,
  getFollowingRedirects,
  type OriginResponse,
  REDIRECT_STATUSES,
} from './follow-redirects.js';
import type { OriginRequestOptions } from './http-client.js';
import type { LeasedBytes } from './leased-bytes.js';
import type { OriginSockets } from './origin-sockets.js';
import { describeUrl, parseOriginUrl } from './origin-url.js';
import { buildRequestHeaders } from './request-headers.js';
import {
  compareVersion,
  contentEncodings,
  contentLength,
  headerValue,
  ifRangeValue,
} from './response-headers.js';
import { errorForStatus } from './status-errors.js';

export { openWhole, type WholeResponse } from './whole-request.js';

export interface RangeExpectation {
  /** Total size from the probe; a Content-Range naming another size is refused. */
  size?: number | null;
  /**
   * The consumer releases each chunk once written (leased-bytes.ts), so a plain-http range may
   * be read over `opts.sockets` into reused buffers.
   */
  lease?: boolean;
}

/**
 * GETs [range.start, range.end) and resolves once the origin has answered with exactly that
 * range of the same version. The iterable then yields exactly `end - start` bytes or throws.
 */
export async function openRange(
  url: string,
  range: ByteRange,
  validators: Validators,
  opts: OriginRequestOptions,
  signal: AbortSignal,
  expect: RangeExpectation = {},
): Promise<AsyncIterable<Uint8Array>> {
  assertValidRange(range);
  if (expect.lease === true && opts.sockets !== undefined) {
    const leased = await openOverSockets(url, range, validators, opts, opts.sockets, signal, expect);
    if (leased !== undefined) return leased;
  }
  return rangeBytes(await openRangeBody(url, range, validators, opts, signal, expect), signal);
}

/**
 * The range over ddm's own connection (`opts.sockets`), with the same checks as `openRangeBody`;
 * undefined when it must go through undici after all (no sockets, not http:, a redirect, a body
 * not framed by its length). The caller releases every chunk once it is written or sent.
 */
export function openLeasedRange(
  url: string,
  range: ByteRange,
  validators: Validators,
  opts: OriginRequestOptions,
  signal: AbortSignal,
  expect: RangeExpectation = {},
): Promise<LeasedBytes | undefined> {
  assertValidRange(range);
  if (opts.sockets === undefined) return Promise.resolve(undefined);
  return openOverSockets(url, range, validators, opts, opts.sockets, signal, expect);
}

async function openOverSockets(
  url: string,
  range: ByteRange,
  validators: Validators,
  opts: OriginRequestOptions,
  sockets: OriginSockets,
  signal: AbortSignal,
  expect: RangeExpectation,
): Promise<LeasedBytes | undefined> {
  const target = parseOriginUrl(url);
  if (target.protocol !== 'http:') return undefined;
  opts.beforeRequest?.(target);
  const control = rangeControl(range, validators);
  const headers = buildRequestHeaders(target, target, opts, control);
  const answer = await sockets.request(target, headers, range.end - range.start, opts.timeoutMs, signal);
  if (answer === undefined) return undefined;
  const { head, connection } = answer;
  if (REDIRECT_STATUSES.has(head.statusCode) && headerValue(head.headers, 'location') !== undefined) {
    connection.destroy();
    return undefined;
  }
  try {
    const response = { statusCode: head.statusCode, headers: head.headers, url: target };
    checkRangeResponse(response, range, validators, expect, control['if-range'] !== undefined);
  } catch (error) {
    connection.destroy();
    throw error;
  }
  const body = connection.acceptBody();
  if (body === undefined) connection.destroy();
  return body;
}

/** The Range (and If-Range) headers of a request for `range` of the version `validators` name. */
function rangeControl(range: ByteRange, validators: Validators): Record<string, string> {
  const control: Record<string, string> = { range: `bytes=${range.start}-${range.end - 1}` };
  const ifRange = ifRangeValue(validators);
  if (ifRange !== undefined) control['if-range'] = ifRange;
  return control;
}

/** The opened range's bytes, exactly `wanted` of them or an error (a longer body is cut to them). */
export function rangeBytes(opened: OpenedRange, signal: AbortSignal): AsyncIterable<Uint8Array> {
  return opened.runsLonger
    ? leadingBytes(opened.body, opened.wanted, opened.url, signal)
    : exactBody(opened.body, opened.wanted, opened.url, signal);
}

/** A checked range response whose body the caller reads (e.g. relays) itself, `wanted` bytes of it. */
export interface OpenedRange {
  body: OriginResponse['body'];
  wanted: number;
  /** The body goes on past the range (busybox httpd): only its first `wanted` bytes are the range's. */
  runsLonger: boolean;
  /** Where the response came from, after redirects. */
  url: URL;
}

/** As `openRange`, but hands over the raw body: see `relayBody` for reading it with the same checks. */
export async function openRangeBody(
  url: string,
  range: ByteRange,
  validators: Validators,
  opts: OriginRequestOptions,
  signal: AbortSignal,
  expect: RangeExpectation = {},
): Promise<OpenedRange> {
  assertValidRange(range);
  const control = rangeControl(range, validators);
  const response = await getFollowingRedirects(url, control, opts, signal);
  let announcedBytes: number;
  try {
    announcedBytes = checkRangeResponse(
      response,
      range,
      validators,
      expect,
      control['if-range'] !== undefined,
    );
  } catch (error) {
    await discardBody(response.body, signal);
    throw error;
  }
  const wanted = range.end - range.start;
  return { body: response.body, wanted, runsLonger: announcedBytes > wanted, url: response.url };
}

/** Checks a range response; returns how many body bytes it announces (at least the range's). */
function checkRangeResponse(
  response: Pick<OriginResponse, 'statusCode' | 'headers' | 'url'>,
  range: ByteRange,
  validators: Validators,
  expect: RangeExpectation,
  sentIfRange: boolean,
): number {
  const { statusCode, headers, url } = response;
  const where = describeUrl(url);
  const asked = `bytes=${range.start}-${range.end - 1}`;
  const details = { url: where, status: statusCode, range: asked };
  if (statusCode === 200) {
    // After If-Range, a full 200 means the validator no longer matches, unless the origin
    // shows the very same version and simply ignores Range.
    if (sentIfRange && compareVersion(validators, headers) !== 'same') {
      throw new DdmError(
        'ORIGIN_CHANGED',
        `the file changed on the origin since the download started (${where})`,
        {
          details,
        },
      );
    }
    throw new DdmError('BAD_RESPONSE', `origin ignored the Range header (${asked}) for ${where}`, {
      details,
    });
  }
  if (statusCode !== 206) throw errorForStatus(statusCode, url, headers);
  const encodings = contentEncodings(headers);
  if (encodings.length > 0) throw encodedRange(encodings, asked, details);
  if (compareVersion(validators, headers) === 'other') {
    throw new DdmError(
      'ORIGIN_CHANGED',
      `the file changed on the origin since the download started (${where})`,
      {
        details: { ...details, etag: headerValue(headers, 'etag') },
      },
    );
  }
  const announced = headerValue(headers, 'content-range');
  const contentRange = parseContentRange(announced);
  const expectedSize = expect.size ?? null;
  // Starting where asked and running longer is usable (busybox httpd answers `0-0` to the end).
  const matches =
    contentRange?.kind === 'range' &&
    contentRange.start === range.start &&
    contentRange.last >= range.end - 1 &&
    (expectedSize === null || contentRange.size === null || contentRange.size === expectedSize);
  if (!matches) {
    throw new DdmError(
      'BAD_RESPONSE',
      `origin answered ${asked} with Content-Range ${JSON.stringify(announced ?? null)} for ${where}`,
      { details: { ...details, contentRange: announced ?? null }, retryable: true },
    );
  }
  const announcedBytes = contentRange!.last - contentRange!.start + 1;
  const length = contentLength(headers);
  if (length !== null && length !== announcedBytes) {
    throw new DdmError(
      'BAD_RESPONSE',
      `origin announced ${length} bytes for ${asked} with Content-Range ${announced} from ${where}`,
      { details, retryable: true },
    );
  }
  return announcedBytes;
}

function encodedRange(encodings: string[], asked: string, details: Record<string, unknown>): DdmError {
  return new DdmError(
    'ENCODED_RESPONSE',
    `origin answered ${asked} with a ${encodings.join(', ')}-encoded body (${details.url}): ranges of an encoded body are not ranges of the file`,
    { details: { ...details, contentEncoding: encodings.join(', ') } },
  );
}

function assertValidRange(range: ByteRange): void {
  const valid =
    Number.isSafeInteger(range.start) &&
    Number.isSafeInteger(range.end) &&
    range.start >= 0 &&
    range.end > range.start;
  if (!valid) {
    throw new DdmError('USAGE', `invalid byte range [${range.start}, ${range.end})`, {
      details: { ...range },
    });
  }
}
