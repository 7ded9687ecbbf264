/**
 * `ddm peer`'s side of discovery: announces the peer as `_ddm._tcp` over multicast DNS on every
 * interface it can be reached on, IPv4 and IPv6, answers the queries of browsing clients, follows
 * interfaces that come and go, and says goodbye (records with TTL 0) when it stops.
 */
import { networkInterfaces } from 'node:os';
import {
  ANNOUNCE_GOODBYE_TIMEOUT_MS,
  ANNOUNCE_INTERFACE_RESCAN_MS,
  ANNOUNCE_REPEAT_COUNT,
  ANNOUNCE_REPEAT_INTERVAL_MS,
  MDNS_RECORD_TTL_S,
  MDNS_RESPONSE_DELAY_MAX_MS,
  MDNS_RESPONSE_DELAY_MIN_MS,
  PROTOCOL_VERSION,
} from '../constants.js';
import {
  type InterfaceTable,
  isFromLink,
  type LanLink,
  lanLinks,
  reachableAddresses,
} from './lan-interfaces.js';
import { type MdnsLink, openMdnsLink } from './mdns-link.js';
import { allRecords, replyTo, type ServiceRecords, serviceRecords } from './service-records.js';

export interface AnnouncerOptions {
  id: string;
  name: string;
  slots: number;
  /** The port the peer listens on. */
  port: number;
  /** The host the peer listens on: decides which addresses are announced (see reachableAddresses). */
  listenHost: string;
  protocol?: number;
  /** The peer serves https: announced as `tls=1`, so that clients dial https. */
  tls?: boolean;
  /** The network interfaces; os.networkInterfaces by default. */
  interfaces?: () => InterfaceTable;
  /** A link that cannot be used or a packet that cannot be sent; each message is reported once. */
  onProblem?: (message: string) => void;
}

export interface Announcer {
  /** The interfaces the peer is announced on now. */
  interfaceNames(): string[];
  /** Sends the goodbyes (bounded in time) and closes every socket. */
  stop(): Promise<void>;
}

interface AnnouncedLink {
  key: string;
  mdns: MdnsLink;
  records: ServiceRecords;
}

export function startAnnouncer(options: AnnouncerOptions, signal: AbortSignal): Announcer {
  const readInterfaces = options.interfaces ?? networkInterfaces;
  const reported = new Set<string>();
  const onProblem = (message: string) => {
    if (reported.has(message)) return;
    reported.add(message);
    options.onProblem?.(message);
  };
  const announced = new Map<string, AnnouncedLink>();
  const timers = new Set<NodeJS.Timeout>();
  let links: LanLink[] = [];
  let stopping: Promise<void> | undefined;

  const later = (delayMs: number, action: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, delayMs);
    timers.add(timer);
  };

  const open = (key: string, link: LanLink, addresses: string[]) => {
    const records = serviceRecords(
      {
        id: options.id,
        name: options.name,
        slots: options.slots,
        protocol: options.protocol ?? PROTOCOL_VERSION,
        ...(options.tls === true ? { tls: true } : {}),
        port: options.port,
        addresses,
      },
      MDNS_RECORD_TTL_S,
    );
    const entry: AnnouncedLink = {
      key,
      records,
      mdns: openMdnsLink(link, {
        onProblem,
        onQuery: (packet, source) => {
          if (!isFromLink(link, source, links)) return;
          const reply = replyTo(packet.questions ?? [], records);
          if (reply.answers.length === 0) return;
          later(responseDelayMs(), () => void entry.mdns.respond(reply));
        },
      }),
    };
    announced.set(key, entry);
    for (let round = 0; round < ANNOUNCE_REPEAT_COUNT; round++) {
      later(
        round * ANNOUNCE_REPEAT_INTERVAL_MS,
        () => void entry.mdns.respond({ answers: allRecords(records) }),
      );
    }
  };

  const retire = async (entry: AnnouncedLink) => {
    announced.delete(entry.key);
    await entry.mdns.respond({ answers: goodbye(entry.records) });
    await entry.mdns.close();
  };

  const rescan = () => {
    const table = readInterfaces();
    links = lanLinks(table);
    const wanted = new Map<string, { link: LanLink; addresses: string[] }>();
    for (const link of links) {
      const addresses = reachableAddresses(table[link.interfaceName] ?? [], options.listenHost);
      if (addresses.length === 0) continue;
      wanted.set(`${link.interfaceName}|${link.family}|${link.multicastInterface}|${addresses}`, {
        link,
        addresses,
      });
    }
    for (const entry of announced.values()) if (!wanted.has(entry.key)) void retire(entry);
    for (const [key, { link, addresses }] of wanted) if (!announced.has(key)) open(key, link, addresses);
  };

  rescan();
  const rescanTimer = setInterval(rescan, ANNOUNCE_INTERFACE_RESCAN_MS);

  const stop = () => {
    stopping ??= (async () => {
      clearInterval(rescanTimer);
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const entries = [...announced.values()];
      const goodbyes = Promise.all(entries.map(retire));
      const deadline = new Promise<void>((resolve) =>
        setTimeout(resolve, ANNOUNCE_GOODBYE_TIMEOUT_MS).unref(),
      );
      await Promise.race([goodbyes, deadline]);
      await Promise.all(entries.map((entry) => entry.mdns.close()));
    })();
    return stopping;
  };
  if (signal.aborted) void stop();
  else signal.addEventListener('abort', () => void stop(), { once: true });

  return {
    interfaceNames: () => [...new Set([...announced.values()].map((entry) => entry.mdns.link.interfaceName))],
    stop,
  };
}

function goodbye(records: ServiceRecords) {
  return allRecords(records).map((record) => ({ ...record, ttl: 0 }));
}

function responseDelayMs(): number {
  return (
    MDNS_RESPONSE_DELAY_MIN_MS + Math.random() * (MDNS_RESPONSE_DELAY_MAX_MS - MDNS_RESPONSE_DELAY_MIN_MS)
  );
}
