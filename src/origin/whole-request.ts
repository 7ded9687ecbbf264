/** The single-stream fallback: the whole resource in one plain GET, for origins without usable ranges. */
import type { Validators } from '../client/range-source.js';
import { DdmError } from '../errors.js';
import { exactBody } from './exact-body.js';
import { discardBody, getFollowingRedirects, type OriginResponse } from './follow-redirects.js';
import type { OriginRequestOptions } from './http-client.js';
import { describeUrl } from './origin-url.js';
import { compareVersion, contentLength, headerValue } from './response-headers.js';
import { errorForStatus } from './status-errors.js';

export interface WholeResponse {
  /** Yields the announced Content-Length exactly, or whatever arrives when none was announced. */
  body: AsyncIterable<Uint8Array>;
  size: number | null;
}

export async function openWhole(
  url: string,
  validators: Validators,
  opts: OriginRequestOptions,
  signal: AbortSignal,
): Promise<WholeResponse> {
  const response = await getFollowingRedirects(url, {}, opts, signal);
  try {
    checkWholeResponse(response, validators);
  } catch (error) {
    await discardBody(response.body, signal);
    throw error;
  }
  const chunked = /chunked/i.test(headerValue(response.headers, 'transfer-encoding') ?? '');
  const size = chunked ? null : contentLength(response.headers);
  return { body: exactBody(response.body, size, response.url, signal), size };
}

function checkWholeResponse(response: OriginResponse, validators: Validators): void {
  const { statusCode, headers, url } = response;
  const where = describeUrl(url);
  if (statusCode >= 200 && statusCode <= 299 && statusCode !== 200) {
    throw new DdmError('BAD_RESPONSE', `origin answered ${statusCode} to a plain GET of ${where}`, {
      details: { url: where, status: statusCode },
    });
  }
  if (statusCode !== 200) throw errorForStatus(statusCode, url, headers);
  if (compareVersion(validators, headers) === 'other') {
    throw new DdmError(
      'ORIGIN_CHANGED',
      `the file changed on the origin since the download started (${where})`,
      {
        details: { url: where },
      },
    );
  }
}
