/**
 * How the SSRF guard reads a host: exactly as the socket layer will. Node's `net.connect`
 * dials a host that `net.isIP` accepts as is, without calling `lookup`, so those hosts must be
 * judged as addresses; every other host goes through `lookup` and is judged there.
 */
import { isIP } from 'node:net';
import type IpAddr from 'ipaddr.js';
import { requirePackage } from '../util/require-package.js';

const ipaddr = requirePackage<typeof IpAddr>('ipaddr.js');

/** A URL's hostname without IPv6 brackets, as undici hands it to `net.connect`. */
export function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/** The address `net.connect` would dial without a lookup, or undefined when the host is a name. */
export function literalAddress(hostname: string): string | undefined {
  const host = bareHost(hostname);
  return isIP(host) === 0 ? undefined : host;
}

function withoutTrailingDots(name: string): string {
  return name.replace(/\.+$/, '');
}

/**
 * The address a resolver may read out of a "name" that is really a number (`127.0.0.1.`,
 * `127.1..`: inet_aton-style spellings URL parsing leaves alone), or undefined.
 */
export function numericName(hostname: string): string | undefined {
  const trimmed = withoutTrailingDots(bareHost(hostname));
  return trimmed !== '' && ipaddr.isValid(trimmed) ? trimmed : undefined;
}

/** `localhost` and every name under it are loopback by definition (RFC 6761 §6.3), whatever DNS says. */
export function isLoopbackName(hostname: string): boolean {
  const name = withoutTrailingDots(hostname.toLowerCase());
  return name === 'localhost' || name.endsWith('.localhost');
}
