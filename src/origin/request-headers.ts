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
    const user = percentDecoded(firstUrl.username);
    const password = percentDecoded(firstUrl.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
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
  if (target.origin === first.origin) return headers;
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !CREDENTIAL_HEADERS.has(name.toLowerCase())),
  );
}

function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
