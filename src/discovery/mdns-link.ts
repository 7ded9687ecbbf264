/**
 * One multicast DNS socket on one link (interface and IP family), through multicast-dns.
 * Sending is best effort, as UDP is: a failure is reported to `onProblem`, never thrown.
 */
import { createSocket } from 'node:dgram';
import type { Packet } from 'dns-packet';
import type MulticastDns from 'multicast-dns';
import { requirePackage } from '../util/require-package.js';
import type { LanLink } from './lan-interfaces.js';

const makeMulticastDns = requirePackage<typeof MulticastDns>('multicast-dns');

const MDNS_GROUP = { IPv4: '224.0.0.251', IPv6: 'ff02::fb' } as const;

export interface MdnsLinkHandlers {
  onQuery?(packet: Packet, source: string): void;
  onResponse?(packet: Packet, source: string): void;
  onProblem(message: string): void;
}

export type OutgoingPacket = Required<Pick<Packet, 'answers'>> & Pick<Packet, 'additionals' | 'questions'>;

export interface MdnsLink {
  readonly link: LanLink;
  respond(packet: OutgoingPacket): Promise<void>;
  query(packet: Required<Pick<Packet, 'questions'>>): Promise<void>;
  close(): Promise<void>;
}

export function describeLink(link: LanLink): string {
  return `${link.interfaceName} (${link.family})`;
}

export function openMdnsLink(link: LanLink, handlers: MdnsLinkHandlers): MdnsLink {
  const ipv6 = link.family === 'IPv6';
  const mdns = makeMulticastDns({
    type: ipv6 ? 'udp6' : 'udp4',
    ip: MDNS_GROUP[link.family],
    interface: link.multicastInterface,
    // The wildcard: on Linux a socket bound to a unicast address never hears multicast.
    bind: ipv6 ? '::' : '0.0.0.0',
    // A dual-stack socket would also hear the IPv4 group and answer it over IPv6.
    ...(ipv6 ? { socket: createSocket({ type: 'udp6', reuseAddr: true, ipv6Only: true }) } : {}),
  });
  const where = describeLink(link);
  mdns.on('error', (error: Error) => handlers.onProblem(`mDNS on ${where}: ${error.message}`));
  mdns.on('warning', (error: Error & { code?: string }) => {
    // Undecodable packets from other devices are not our problem; system errors are.
    if (error.code !== undefined) handlers.onProblem(`mDNS on ${where}: ${error.message}`);
  });
  if (handlers.onQuery) mdns.on('query', (packet, rinfo) => handlers.onQuery!(packet, rinfo.address));
  if (handlers.onResponse)
    mdns.on('response', (packet, rinfo) => handlers.onResponse!(packet, rinfo.address));

  let closed: Promise<void> | undefined;
  const sent = (error: Error | null | undefined) => {
    if (error && !closed) handlers.onProblem(`mDNS on ${where}: cannot send: ${error.message}`);
  };
  return {
    link,
    respond: (packet) =>
      new Promise((resolve) =>
        mdns.respond(packet, (error?: Error | null) => {
          sent(error);
          resolve();
        }),
      ),
    query: (packet) =>
      new Promise((resolve) =>
        mdns.query(packet, (error?: Error | null) => {
          sent(error);
          resolve();
        }),
      ),
    close: () => {
      closed ??= new Promise((resolve) => mdns.destroy(() => resolve()));
      return closed;
    },
  };
}
