import { DdmError } from '../errors.js';

const SUPPORTED_PROTOCOLS = new Set(['http:', 'https:']);

/** Parses a URL the user (or a redirect) gave us; only http and https can reach an origin. */
export function parseOriginUrl(input: string, base?: string | URL): URL {
  let url: URL;
  try {
    url = new URL(input, base);
  } catch (error) {
    throw new DdmError('URL_INVALID', `not a valid URL: ${JSON.stringify(truncate(input))}`, {
      cause: error,
    });
  }
  if (!SUPPORTED_PROTOCOLS.has(url.protocol)) {
    throw new DdmError(
      'URL_INVALID',
      `unsupported URL scheme "${url.protocol.slice(0, -1)}" in ${describeUrl(url)}: only http and https are supported`,
      { details: { protocol: url.protocol } },
    );
  }
  return url;
}

/**
 * The URL as it may appear in messages: credentials and the query string are left out
 * because signed URLs and basic auth carry secrets there.
 */
export function describeUrl(url: URL): string {
  const query = url.search === '' ? '' : '?…';
  return `${url.protocol}//${url.host}${url.pathname}${query}`;
}

/**
 * The URL as `--json` events carry it: no credentials, and every query value replaced by `…`
 * (a script can still tell two signed URLs' parameters apart, never their signatures). A
 * string that is no URL is left out entirely.
 */
export function redactUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return '…';
  }
  const query = url.search === '' ? '' : `?${url.search.slice(1).split('&').map(redactParameter).join('&')}`;
  return `${url.protocol}//${url.host}${url.pathname}${query}`;
}

function redactParameter(parameter: string): string {
  const equals = parameter.indexOf('=');
  return equals < 0 ? '…' : `${parameter.slice(0, equals)}=…`;
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
