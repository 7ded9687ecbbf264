import { DdmError } from '../errors.js';
import type { OriginRequestOptions } from './http-client.js';

/** Headers that prove who the user is; never carried to another origin by a redirect. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);
/** Headers ddm sets itself: a user value would break range or validator handling. */
const CONTROLLED_HEADERS = new Set([
  'range',
  'if-range',
  'if-match',
  'if-none-match',
  'accept-encoding',
  'host',
]);

/**
 * Refuses a user header that ddm would have to drop: a silently ignored `-H` is a lie.
 * `Host` is left out: it is the URL's to say.
 */
export function checkUserHeaders(headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    if (key === 'accept-encoding') {
      if (value.trim().toLowerCase() === 'identity') continue;
      throw new DdmError(
        'USAGE',
        `-H "Accept-Encoding: ${value}": ddm asks for identity itself, since ranges count stored bytes; use --compressed to decode an encoding the origin forces`,
      );
    }
    if (CONTROLLED_HEADERS.has(key) && key !== 'host') {
      throw new DdmError('USAGE', `-H "${name}": ddm sets this header itself for ranges and validators`);
    }
  }
}

/**
 * The headers for one hop. `firstUrl` is where the chain of redirects started: credentials
 * given for it (headers or user:pass in the URL) go only to that origin, as curl does.
 */
export function buildRequestHeaders(
  url: URL,
  firstUrl: URL,
  opts: Pick<OriginRequestOptions, 'headers' | 'userAgent'>,
  control: Record<string, string>,
): Record<string, string> {
  const sameOrigin = url.origin === firstUrl.origin;
  const headers: Record<string, string> = { 'user-agent': opts.userAgent };
  for (const [name, value] of Object.entries(opts.headers)) {
    const key = name.toLowerCase();
    if (CONTROLLED_HEADERS.has(key)) continue;
    if (!sameOrigin && CREDENTIAL_HEADERS.has(key)) continue;
    headers[key] = value;
  }
  if (sameOrigin && firstUrl.username !== '' && headers.authorization === undefined) {
    headers.authorization = basicAuthorization(firstUrl);
  }
  // Ranges count bytes of the representation as stored; a compressed one would shift every offset.
  headers['accept-encoding'] = 'identity';
  for (const [name, value] of Object.entries(control)) headers[name.toLowerCase()] = value;
  return headers;
}

/**
 * The user's headers for requests that go straight to `target` after a redirect chain that
 * started at `first`: credentials stay with the origin they were given for.
 */
export function headersFor(target: URL, first: URL, headers: Record<string, string>): Record<string, string> {
  if (target.origin === first.origin) {
    // The final URL of a redirect rarely repeats user:pass; the credentials still belong here.
    const carriesAuth = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
    if (first.username === '' || target.username !== '' || carriesAuth) return headers;
    return { ...headers, authorization: basicAuthorization(first) };
  }
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !CREDENTIAL_HEADERS.has(name.toLowerCase())),
  );
}

function basicAuthorization(url: URL): string {
  const user = percentDecoded(url.username);
  const password = percentDecoded(url.password);
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
