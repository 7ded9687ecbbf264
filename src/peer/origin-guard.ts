/**
 * Keeps a peer from being an open proxy into its own network: only http and https, and only
 * public addresses, checked on every hop for IP literals and at connect time for names, so
 * the address actually dialled is the one judged (no DNS rebinding between check and use).
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { DdmError } from '../errors.js';

/** Only ordinary global unicast is public; every special range (loopback, private, CGNAT...) is not. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return isPublicAddress(v6.toIPv4Address().toString());
    // ::a.b.c.d (IPv4-compatible, deprecated) has no range of its own in ipaddr.js.
    if (v6.parts.slice(0, 6).every((part) => part === 0)) return false;
  }
  return parsed.range() === 'unicast';
}

export function forbiddenDestination(host: string, address?: string): DdmError {
  return new DdmError(
    'FORBIDDEN_DESTINATION',
    `refusing to fetch ${host}: it resolves to a private address (use --allow-private to permit)`,
    { details: { host, ...(address === undefined ? {} : { address }) } },
  );
}

/** The host of a URL as an IP address, or undefined when it is a name. */
function literalAddress(url: URL): string | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return ipaddr.isValid(host) ? host : undefined;
}

/**
 * Checks one hop before it is sent: the scheme, and the address when the host is an IP literal
 * (a literal never goes through `lookup`). Names are judged by `publicOnlyLookup`.
 */
export function assertAllowedUrl(url: URL, allowPrivate: boolean): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DdmError(
      'FORBIDDEN_DESTINATION',
      `refusing to fetch ${url.protocol} URLs: only http and https`,
      {
        details: { scheme: url.protocol },
      },
    );
  }
  if (allowPrivate) return;
  const address = literalAddress(url);
  if (address !== undefined && !isPublicAddress(address)) throw forbiddenDestination(url.hostname, address);
}

type LookupCallback = Parameters<LookupFunction>[2];

/**
 * A `lookup` for socket connect options that resolves as usual but fails when any address of
 * the name is not public: a name that also points inside the LAN is not safe to dial at all.
 */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  const wanted: LookupOptions = { ...options, all: true };
  dnsLookup(hostname, wanted, (error, resolved) => {
    if (error) {
      callback(error, '', 0);
      return;
    }
    const addresses = resolved as unknown as LookupAddress[];
    const refused = addresses.find((entry) => !isPublicAddress(entry.address));
    if (refused !== undefined || addresses.length === 0) {
      callback(forbiddenDestination(hostname, refused?.address) as unknown as NodeJS.ErrnoException, '', 0);
      return;
    }
    answer(callback, addresses, options.all === true);
  });
};

function answer(callback: LookupCallback, addresses: LookupAddress[], all: boolean): void {
  if (all) {
    callback(null, addresses);
    return;
  }
  const first = addresses[0]!;
  callback(null, first.address, first.family);
}
