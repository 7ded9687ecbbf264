/**
 * One GET to an origin, following redirects by hand so that every hop is checked by
 * `beforeRequest` (the SSRF guard) and counted against `maxRedirects`.
 */
import { ORIGIN_BODY_HIGH_WATER_MARK_BYTES, ORIGIN_DISCARD_BODY_MAX_BYTES } from '../constants.js';
import { DdmError } from '../errors.js';
import { type ResponseBody, socketReusable } from './exact-body.js';
import type { OriginRequestOptions } from './http-client.js';
import { describeUrl, parseOriginUrl } from './origin-url.js';
import { buildRequestHeaders } from './request-headers.js';
import { headerValue, type ResponseHeaders } from './response-headers.js';
import { fromTransportError } from './transport-errors.js';

export const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface OriginResponse {
  /** Where the response came from, after redirects. */
  url: URL;
  statusCode: number;
  headers: ResponseHeaders;
  body: ResponseBody;
}

/** GETs `input` with `control` headers (Range, If-Range...) on every hop. The caller owns the body. */
export async function getFollowingRedirects(
  input: string,
  control: Record<string, string>,
  opts: OriginRequestOptions,
  signal: AbortSignal,
): Promise<OriginResponse> {
  const firstUrl = parseOriginUrl(input);
  const visited = new Set<string>();
  let url = firstUrl;
  for (let redirects = 0; ; redirects += 1) {
    opts.beforeRequest?.(url);
    visited.add(withoutFragment(url));
    const response = await send(url, buildRequestHeaders(url, firstUrl, opts, control), opts, signal);
    const location = REDIRECT_STATUSES.has(response.statusCode)
      ? headerValue(response.headers, 'location')
      : undefined;
    if (location === undefined) return response;
    await discardBody(response.body, signal);
    const next = redirectTarget(location, url);
    if (visited.has(withoutFragment(next))) {
      throw new DdmError('TOO_MANY_REDIRECTS', `redirect loop at ${describeUrl(next)}`, {
        details: { url: describeUrl(firstUrl), redirects: redirects + 1 },
      });
    }
    if (redirects + 1 > opts.maxRedirects) {
      throw new DdmError(
        'TOO_MANY_REDIRECTS',
        `more than ${opts.maxRedirects} redirects starting at ${describeUrl(firstUrl)}`,
        { details: { url: describeUrl(firstUrl), maxRedirects: opts.maxRedirects } },
      );
    }
    url = next;
  }
}

/** Reads and drops a small body so the socket can be reused; a large one is cut off. */
export async function discardBody(body: ResponseBody, signal: AbortSignal): Promise<void> {
  try {
    await body.dump({ limit: ORIGIN_DISCARD_BODY_MAX_BYTES, signal });
    await socketReusable();
  } catch {
    // The body is gone either way, and nothing in it was wanted.
  }
}

async function send(
  url: URL,
  headers: Record<string, string>,
  opts: OriginRequestOptions,
  signal: AbortSignal,
): Promise<OriginResponse> {
  try {
    const response = await opts.dispatcher.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers,
      signal,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      highWaterMark: opts.bodyHighWaterMarkBytes ?? ORIGIN_BODY_HIGH_WATER_MARK_BYTES,
    });
    return { url, statusCode: response.statusCode, headers: response.headers, body: response.body };
  } catch (error) {
    throw fromTransportError(error, url, signal);
  }
}

function redirectTarget(location: string, from: URL): URL {
  let next: URL;
  try {
    next = parseOriginUrl(location, from);
  } catch (error) {
    throw new DdmError(
      'BAD_RESPONSE',
      `${describeUrl(from)} redirects to ${JSON.stringify(location.slice(0, 200))}, which ddm cannot follow`,
      { cause: error, details: { url: describeUrl(from) } },
    );
  }
  if (from.protocol === 'https:' && next.protocol === 'http:') {
    throw new DdmError(
      'BAD_RESPONSE',
      `${describeUrl(from)} redirects to ${describeUrl(next)}: refusing to downgrade from https to http`,
      { details: { url: describeUrl(from) } },
    );
  }
  return next;
}

function withoutFragment(url: URL): string {
  return url.href.replace(/#.*$/, '');
}
