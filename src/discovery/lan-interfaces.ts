/**
 * Which network interfaces discovery uses, and which addresses a peer can be reached at.
 * Pure functions over the table of `os.networkInterfaces()`, so that they can be tested.
 */
import type { NetworkInterfaceInfo } from 'node:os';
import type IpAddr from 'ipaddr.js';
import { requirePackage } from '../util/require-package.js';

const ipaddr = requirePackage<typeof IpAddr>('ipaddr.js');

export type InterfaceTable = NodeJS.Dict<NetworkInterfaceInfo[]>;
export type IpFamily = 'IPv4' | 'IPv6';

/** One interface and one IP family: mDNS runs separately over IPv4 and IPv6 multicast. */
export interface LanLink {
  interfaceName: string;
  family: IpFamily;
  /** The interface as the socket API names it: its IPv4 address, or `::%name` for IPv6. */
  multicastInterface: string;
  /** Subnets of this interface (CIDR), to recognise packets that came from this link. */
  cidrs: string[];
}

/** Every non-loopback interface, once per IP family it has an address of. */
export function lanLinks(table: InterfaceTable): LanLink[] {
  const links: LanLink[] = [];
  for (const [interfaceName, infos] of Object.entries(table)) {
    const external = (infos ?? []).filter((info) => !info.internal);
    const cidrs = external.flatMap((info) => (info.cidr ? [info.cidr] : []));
    const ipv4 = external.find((info) => info.family === 'IPv4');
    if (ipv4) links.push({ interfaceName, family: 'IPv4', multicastInterface: ipv4.address, cidrs });
    if (external.some((info) => info.family === 'IPv6')) {
      links.push({ interfaceName, family: 'IPv6', multicastInterface: `::%${interfaceName}`, cidrs });
    }
  }
  return links;
}

/**
 * The addresses of one interface that a server listening on `listenHost` accepts connections on.
 * 0.0.0.0 takes IPv4 only; :: takes both (Node listens dual-stack); any other address only itself.
 * IPv6 link-local addresses are left out: reaching them needs a zone, which URLs handle badly.
 */
export function reachableAddresses(infos: readonly NetworkInterfaceInfo[], listenHost: string): string[] {
  const usable = infos.filter((info) => !info.internal && !isLinkLocalV6(info.address));
  if (listenHost === '0.0.0.0' || listenHost === '') {
    return usable.filter((info) => info.family === 'IPv4').map((info) => info.address);
  }
  if (listenHost === '::') return sortByFamily(usable.map((info) => info.address));
  if (!ipaddr.isValid(listenHost)) return [];
  const wanted = normalize(listenHost);
  return usable.filter((info) => normalize(info.address) === wanted).map((info) => info.address);
}

/** Why a peer listening on `listenHost` cannot be announced at all, or undefined when it can. */
export function whyNotAnnounceable(listenHost: string): string | undefined {
  if (listenHost === '') return undefined;
  if (!ipaddr.isValid(listenHost))
    return `listening on the name ${listenHost}; use an address, 0.0.0.0 or ::`;
  if (ipaddr.process(listenHost).range() === 'loopback') return `listening on loopback (${listenHost}) only`;
  return undefined;
}

/**
 * Sockets bound to the mDNS port hear the multicast of every interface, so each link decides
 * whether a packet is its own: by the zone of an IPv6 link-local source, else by subnet. A source
 * in no known subnet (a misconfigured neighbour) is answered everywhere rather than nowhere.
 */
export function isFromLink(link: LanLink, source: string, links: readonly LanLink[]): boolean {
  const zone = source.split('%')[1];
  if (zone !== undefined) return zone === link.interfaceName;
  if (inAny(source, link.cidrs)) return true;
  return !links.some((other) => inAny(source, other.cidrs));
}

/**
 * Whether a discovered address is on one of our links. A stranger's announcement may name any
 * address; a client must not be sent knocking on hosts outside its own networks.
 */
export function isOnLink(address: string, links: readonly LanLink[]): boolean {
  return !isLinkLocalV6(address) && links.some((link) => inAny(address, link.cidrs));
}

/** IPv4 first: it needs no zone, and LANs that are IPv6-only are rare. */
export function sortByFamily(addresses: readonly string[]): string[] {
  const v4 = addresses.filter((address) => !address.includes(':'));
  const v6 = addresses.filter((address) => address.includes(':'));
  return [...v4, ...v6];
}

function inAny(address: string, cidrs: readonly string[]): boolean {
  const bare = address.split('%')[0]!;
  if (!ipaddr.isValid(bare)) return false;
  const parsed = ipaddr.process(bare);
  return cidrs.some((cidr) => {
    try {
      const range = ipaddr.parseCIDR(cidr);
      return parsed.kind() === range[0].kind() && parsed.match(range);
    } catch {
      return false;
    }
  });
}

function isLinkLocalV6(address: string): boolean {
  const bare = address.split('%')[0]!;
  return bare.includes(':') && ipaddr.isValid(bare) && ipaddr.parse(bare).range() === 'linkLocal';
}

function normalize(address: string): string {
  return ipaddr.process(address.split('%')[0]!).toNormalizedString();
}
