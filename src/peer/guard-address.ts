/**
 * Which IP addresses a peer may dial on a client's behalf. An allow-list at heart: only
 * IPv4 outside the special-purpose ranges and IPv6 global unicast (2000::/3) can be public,
 * and IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4) are judged by that address.
 * Ranges are listed explicitly rather than taken from ipaddr.js's `range()` names, so the
 * policy is visible here and does not shift with a library upgrade.
 */
import type IpAddr from 'ipaddr.js';
import { requirePackage } from '../util/require-package.js';

const ipaddr = requirePackage<typeof IpAddr>('ipaddr.js');

interface NamedRange {
  label: string;
  cidr: [IpAddr.IPv4 | IpAddr.IPv6, number];
}

function ranges(table: readonly (readonly [string, string])[]): NamedRange[] {
  return table.map(([cidr, label]) => ({ label: `${label} (${cidr})`, cidr: ipaddr.parseCIDR(cidr) }));
}

/** IANA special-purpose IPv4 ranges a peer never dials (RFC 6890 and successors). */
const NON_PUBLIC_IPV4 = ranges([
  ['0.0.0.0/8', 'this-network'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared CGNAT'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', 'deprecated 6to4 relay'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved or broadcast'],
]);

/** The only IPv6 space that can be public. */
const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');

/** Special ranges inside 2000::/3 (6to4 is handled apart: it is judged by its IPv4 address). */
const NON_PUBLIC_GLOBAL_IPV6 = ranges([
  // Teredo (2001::/32), benchmarking, ORCHID, AMT...: nothing a download is served from.
  ['2001::/23', 'IETF protocol assignments'],
  ['2001:db8::/32', 'documentation'],
  ['3fff::/20', 'documentation'],
]);

/** Named so that refusals say why; everything outside 2000::/3 is refused anyway. */
const NON_PUBLIC_OTHER_IPV6 = ranges([
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::/96', 'IPv4-compatible (deprecated)'],
  ['::ffff:0:0:0/96', 'IPv4-translated'],
  ['64:ff9b:1::/48', 'local-use NAT64'],
  ['100::/64', 'discard-only'],
  ['fc00::/7', 'unique local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local (deprecated)'],
  ['ff00::/8', 'multicast'],
]);

/** IPv6 prefixes whose last 32 bits are an IPv4 address that the packet ends up at. */
const IPV4_IN_LAST_32_BITS = [ipaddr.parseCIDR('::ffff:0:0/96'), ipaddr.parseCIDR('64:ff9b::/96')];
const SIX_TO_FOUR = ipaddr.parseCIDR('2002::/16');

function firstMatch(address: IpAddr.IPv4 | IpAddr.IPv6, table: readonly NamedRange[]): string | undefined {
  return table.find((range) => address.match(range.cidr))?.label;
}

function ipv4From(high: number, low: number): IpAddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

function ipv4Verdict(address: IpAddr.IPv4): string | undefined {
  return firstMatch(address, NON_PUBLIC_IPV4);
}

function embedded(outer: string, inner: IpAddr.IPv4): string | undefined {
  const verdict = ipv4Verdict(inner);
  return verdict === undefined ? undefined : `${outer} of ${inner.toString()}, ${verdict}`;
}

function ipv6Verdict(address: IpAddr.IPv6): string | undefined {
  const parts = address.parts;
  if (IPV4_IN_LAST_32_BITS.some((prefix) => address.match(prefix))) {
    const kind = parts[0] === 0 ? 'IPv4-mapped form' : 'NAT64 form';
    return embedded(kind, ipv4From(parts[6] ?? 0, parts[7] ?? 0));
  }
  if (address.match(SIX_TO_FOUR)) return embedded('6to4 form', ipv4From(parts[1] ?? 0, parts[2] ?? 0));
  if (!address.match(GLOBAL_UNICAST)) {
    return firstMatch(address, NON_PUBLIC_OTHER_IPV6) ?? 'not global unicast (outside 2000::/3)';
  }
  return firstMatch(address, NON_PUBLIC_GLOBAL_IPV6);
}

const DOTTED_TAIL = /^(.*:)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(%.*)?$/;

/**
 * ipaddr.js reads `::a.b.c.d` as `::ffff:a.b.c.d`, which is another address; spelling the
 * IPv4 tail as two hex groups first gives the address that is actually dialled.
 */
function parse(address: string): IpAddr.IPv4 | IpAddr.IPv6 | undefined {
  const tail = DOTTED_TAIL.exec(address);
  let text = address;
  if (tail !== null) {
    const [, head = '', dotted = '', zone = ''] = tail;
    if (!ipaddr.IPv4.isValidFourPartDecimal(dotted)) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = ipaddr.IPv4.parse(dotted).octets;
    text = `${head}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}${zone}`;
  }
  return ipaddr.isValid(text) ? ipaddr.parse(text) : undefined;
}

/**
 * Why `address` is not public (a label naming the range), or undefined when it is public.
 * Anything that does not parse as an IP address is not public.
 */
export function nonPublicRange(address: string): string | undefined {
  const parsed = parse(address);
  if (parsed === undefined) return 'not an IP address';
  return parsed.kind() === 'ipv4' ? ipv4Verdict(parsed as IpAddr.IPv4) : ipv6Verdict(parsed as IpAddr.IPv6);
}

export function isPublicAddress(address: string): boolean {
  return nonPublicRange(address) === undefined;
}
