/** What an unwanted HTTP status from an origin means for the download. */
import { STATUS_CODES } from 'node:http';
import { DdmError } from '../errors.js';
import { describeUrl } from './origin-url.js';
import { headerValue, type ResponseHeaders } from './response-headers.js';
import { parseRetryAfter } from './retry.js';

export function statusLine(status: number): string {
  const text = STATUS_CODES[status];
  return text === undefined ? String(status) : `${status} ${text}`;
}

export function errorForStatus(
  status: number,
  url: URL,
  headers: ResponseHeaders,
  now = Date.now(),
): DdmError {
  const where = describeUrl(url);
  const message = `origin answered ${statusLine(status)} for ${where}`;
  const details: Record<string, unknown> = { status, url: where };
  if (status === 412) {
    return new DdmError('ORIGIN_CHANGED', `the file changed on the origin (${message})`, { details });
  }
  if (status === 416) {
    return new DdmError('BAD_RESPONSE', `${message}: the origin refused the byte range`, { details });
  }
  if (status === 429 || status === 503) {
    const retryAfterMs = parseRetryAfter(headerValue(headers, 'retry-after'), now);
    if (retryAfterMs !== undefined) details.retryAfterMs = retryAfterMs;
    return new DdmError('HTTP_STATUS', message, { details, retryable: true });
  }
  if (status >= 500 && status <= 599) {
    return new DdmError('HTTP_STATUS', message, { details, retryable: true });
  }
  if (status >= 400 && status <= 499) {
    // 408 is the server giving up on a slow request: a new one may well pass.
    return new DdmError('HTTP_STATUS', message, { details, retryable: status === 408 });
  }
  return new DdmError('BAD_RESPONSE', `unexpected ${message}`, { details });
}
