/**
 * Keeps a peer from being an open proxy into its own network (SSRF). Two checks, both needed:
 *
 * - `assertAllowedUrl`, before every hop (redirects included): scheme, credentials, port, and
 *   the host when it is an IP address, since `net.connect` dials a literal without any lookup.
 * - `publicOnlyLookup`, when a socket is opened: names are resolved there and refused unless
 *   every address is public, so the address judged is the address dialled (no DNS rebinding
 *   between check and use).
 *
 * `createGuardedConnector` (guard-connector.ts) puts both at the socket for a dispatcher.
 */

import { effectivePort, isForbiddenPort } from '../util/http-ports.js';
import { nonPublicRange } from './guard-address.js';
import { forbiddenAddress, forbiddenCredentials, forbiddenPort, forbiddenScheme } from './guard-errors.js';
import { literalAddress, numericName } from './guard-host.js';
import { createPublicOnlyLookup } from './guard-lookup.js';

export { isPublicAddress, nonPublicRange } from './guard-address.js';
export { createGuardedConnector, type GuardedConnectorOptions } from './guard-connector.js';
export { createPublicOnlyLookup, type Resolver, systemResolver } from './guard-lookup.js';

/**
 * Throws FORBIDDEN_DESTINATION unless `url` may be fetched. Scheme, credentials and port are
 * checked even with `allowPrivate`: that flag widens the addresses, not the protocols.
 */
export function assertAllowedUrl(url: URL, allowPrivate: boolean): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw forbiddenScheme(url.protocol);
  if (url.username !== '' || url.password !== '') throw forbiddenCredentials(url.hostname);
  const port = effectivePort(url.protocol, url.port);
  if (isForbiddenPort(port)) throw forbiddenPort(url.hostname, port);
  if (allowPrivate) return;
  // A literal is dialled as is; a "name" made of numbers may be read as one by the resolver.
  const address = literalAddress(url.hostname) ?? numericName(url.hostname);
  if (address === undefined) return;
  const range = nonPublicRange(address);
  if (range !== undefined) throw forbiddenAddress(url.hostname, address, range);
}

/** A `lookup` for socket connect options that yields only public addresses (system resolver). */
export const publicOnlyLookup = createPublicOnlyLookup();
