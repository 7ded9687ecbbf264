/** Reading the response headers that matter for ranged downloads. */
import type { Dispatcher } from 'undici';
import type { Validators } from '../types/validators.js';

export type ResponseHeaders = Dispatcher.ResponseData['headers'];

export function headerValue(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Content-Length as a number, or null when absent or not a plain count (chunked, garbage). */
export function contentLength(headers: ResponseHeaders): number | null {
  const value = headerValue(headers, 'content-length')?.trim();
  if (value === undefined || !/^\d{1,16}$/.test(value)) return null;
  const length = Number(value);
  return Number.isSafeInteger(length) ? length : null;
}

/** Strong ETag and Last-Modified; a weak ETag cannot vouch for byte ranges, so it is dropped. */
export function validatorsFrom(headers: ResponseHeaders): Validators {
  const etag = headerValue(headers, 'etag')?.trim();
  const lastModified = headerValue(headers, 'last-modified')?.trim();
  const validators: Validators = {};
  if (etag !== undefined && /^"[^"]*"$/.test(etag)) validators.etag = etag;
  if (lastModified !== undefined && lastModified !== '') validators.lastModified = lastModified;
  return validators;
}

/** The If-Range value: the strong ETag when there is one, else the date. */
export function ifRangeValue(validators: Validators): string | undefined {
  return validators.etag ?? validators.lastModified;
}

export type VersionMatch = 'same' | 'other' | 'unknown';

/**
 * Whether the response is the version we started with. Only the strongest validator we hold
 * is compared; 'unknown' when we hold none or the origin did not repeat it.
 */
export function compareVersion(ours: Validators, headers: ResponseHeaders): VersionMatch {
  if (ours.etag !== undefined) {
    const theirs = headerValue(headers, 'etag')?.trim();
    if (theirs === undefined) return 'unknown';
    // A server may mark the same tag weak on some responses; the opaque tag still names the version.
    return theirs === ours.etag || theirs === `W/${ours.etag}` ? 'same' : 'other';
  }
  if (ours.lastModified !== undefined) {
    const theirs = headerValue(headers, 'last-modified')?.trim();
    if (theirs === undefined) return 'unknown';
    return theirs === ours.lastModified ? 'same' : 'other';
  }
  return 'unknown';
}

/**
 * The content codings applied to the body, in the order they were applied (RFC 9110 §8.4),
 * lower-cased, `identity` left out: empty when the body is the representation's own bytes.
 */
export function contentEncodings(headers: ResponseHeaders): string[] {
  const value = headers['content-encoding'];
  const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return values
    .flatMap((item) => item.split(','))
    .map((item) => item.trim().toLowerCase())
    .filter((item) => item !== '' && item !== 'identity');
}
