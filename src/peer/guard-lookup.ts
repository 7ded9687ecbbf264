/**
 * The connect-time half of the SSRF guard: a `lookup` for socket options that resolves a name
 * and fails unless every address it got is public. The socket dials only what this function
 * returned, so the check is on the address actually dialled, on every connection: a name that
 * answers public first and private later (DNS rebinding) is refused the moment it turns.
 *
 * A name with both public and private answers is refused outright rather than trimmed to its
 * public answers: such a name is either misconfigured or an attack, and refusing is simpler to
 * reason about than a partial answer.
 */
import type { LookupAddress, LookupAllOptions, LookupOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { DdmError } from '../errors.js';
import { nonPublicRange } from './guard-address.js';
import { forbiddenAddress, forbiddenName } from './guard-errors.js';
import { isLoopbackName, numericName } from './guard-host.js';

/** Resolves a name to all its addresses, like `dns.lookup` with `all: true`; injectable for tests. */
export type Resolver = (hostname: string, options: LookupAllOptions) => Promise<LookupAddress[]>;

/** The operating system's resolver (getaddrinfo: /etc/hosts, then DNS), as sockets use by default. */
export const systemResolver: Resolver = (hostname, options) => dnsLookup(hostname, options);

type LookupCallback = Parameters<LookupFunction>[2];

/** A `lookup` for `net.connect`/undici connect options that only ever yields public addresses. */
export function createPublicOnlyLookup(resolve: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    resolvePublic(hostname, options, resolve).then(
      (addresses) => answer(callback, addresses, options.all === true),
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

/** All addresses of `hostname`, provided every one of them is public. */
export async function resolvePublic(
  hostname: string,
  options: LookupOptions,
  resolve: Resolver,
): Promise<LookupAddress[]> {
  if (isLoopbackName(hostname)) throw forbiddenName(hostname, 'loopback name');
  // A resolver may read `127.0.0.1.` or `127.1` as a number; refuse without asking it.
  const numeric = numericName(hostname);
  if (numeric !== undefined) {
    const range = nonPublicRange(numeric);
    if (range !== undefined) throw forbiddenAddress(hostname, numeric, range);
  }
  const addresses = await resolve(hostname, { ...options, all: true });
  if (addresses.length === 0) {
    throw new DdmError('NETWORK', `${hostname} resolves to no address`, {
      details: { host: hostname },
      retryable: true,
    });
  }
  if (addresses.some((entry) => nonPublicRange(entry.address) !== undefined)) {
    throw forbiddenName(hostname, 'resolves to a non-public address');
  }
  return addresses;
}

function answer(callback: LookupCallback, addresses: LookupAddress[], all: boolean): void {
  if (all) {
    callback(null, addresses);
    return;
  }
  const [first] = addresses as [LookupAddress];
  callback(null, first.address, first.family);
}
