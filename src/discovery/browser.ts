/**
 * The client's side of discovery: asks every link for `_ddm._tcp` services for a bounded time
 * and returns what peers say of themselves. Nothing here is trusted yet (see authenticate.ts).
 */
import { networkInterfaces } from 'node:os';
import { DISCOVERY_REQUERY_INTERVAL_MS, MDNS_SERVICE_TYPE } from '../constants.js';
import { abortError } from '../errors.js';
import { sleep } from '../util/abort.js';
import { type InterfaceTable, isOnLink, type LanLink, lanLinks, sortByFamily } from './lan-interfaces.js';
import { openMdnsLink } from './mdns-link.js';
import { type FoundService, ServiceCollector } from './service-collector.js';
import { parseServiceTxt, type ServiceTxt } from './service-txt.js';

/** A peer as its announcement describes it: claims, until it passes authentication. */
export interface LanAnnouncement extends ServiceTxt {
  /** The DNS-SD instance name, which tells announcements apart before anything is verified. */
  instance: string;
  port: number;
  /** Addresses on our links to try, IPv4 first. */
  addresses: string[];
}

export interface BrowseOptions {
  timeoutMs: number;
  /** The network interfaces; os.networkInterfaces by default. */
  interfaces?: () => InterfaceTable;
  /** A link that cannot be used, or an announcement that cannot be read; each message once. */
  onProblem?: (message: string) => void;
}

export type BrowseLan = (options: BrowseOptions, signal: AbortSignal) => Promise<LanAnnouncement[]>;

export const browseLan: BrowseLan = async (options, signal) => {
  const reported = new Set<string>();
  const onProblem = (message: string) => {
    if (reported.has(message)) return;
    reported.add(message);
    options.onProblem?.(message);
  };
  const links = lanLinks((options.interfaces ?? networkInterfaces)());
  if (links.length === 0) {
    onProblem('no network interface other than loopback: nothing to browse');
    return [];
  }
  const collector = new ServiceCollector();
  const sockets = links.map((link) =>
    openMdnsLink(link, { onProblem, onResponse: (packet, source) => collector.add(packet, source) }),
  );
  try {
    await askUntil(options.timeoutMs, signal, () =>
      Promise.all(
        sockets.map((socket) => socket.query({ questions: [{ name: MDNS_SERVICE_TYPE, type: 'PTR' }] })),
      ),
    );
  } finally {
    await Promise.all(sockets.map((socket) => socket.close()));
  }
  if (signal.aborted) throw abortError(signal);
  return announcementsFrom(collector.services(), links, onProblem);
};

/** What the services heard say, kept only where readable and reachable on one of our links. */
export function announcementsFrom(
  services: readonly FoundService[],
  links: readonly LanLink[],
  onProblem: (message: string) => void,
): LanAnnouncement[] {
  return services.flatMap((service) => {
    const parsed = parseServiceTxt(service.txt);
    if (!parsed.ok) {
      onProblem(`ignored the announcement ${service.instance}: ${parsed.reason}`);
      return [];
    }
    const addresses = sortByFamily(service.addresses.filter((address) => isOnLink(address, links)));
    if (addresses.length === 0) return [];
    return [{ ...parsed.txt, instance: service.instance, port: service.port, addresses }];
  });
}

/** Queries at once and again every interval (lost packets), until the time is up or the signal aborts. */
async function askUntil(timeoutMs: number, signal: AbortSignal, ask: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      await ask();
      const left = deadline - Date.now();
      if (left > DISCOVERY_REQUERY_INTERVAL_MS) {
        await sleep(DISCOVERY_REQUERY_INTERVAL_MS, signal);
        continue;
      }
      // No query in the last stretch: its answers would come too late to be heard.
      if (left > 0) await sleep(left, signal);
      return;
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}
