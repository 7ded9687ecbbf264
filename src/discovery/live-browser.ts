/**
 * A browse that keeps going: the engine's view of the LAN for as long as it runs. It asks every
 * link for `_ddm._tcp` services now and every LAN_BROWSE_REQUERY_MS, keeps what answers in a
 * live set (at most MAX_DISCOVERED_SERVICES, the least recently heard making room), and forgets
 * a service that says goodbye or is not heard for LAN_BROWSE_EXPIRY_MS. Its `browse` answers
 * at once from that set, once the set has had a first browse's time to fill.
 */
import { networkInterfaces } from 'node:os';
import type { Packet } from 'dns-packet';
import {
  DISCOVERY_REQUERY_INTERVAL_MS,
  LAN_BROWSE_EXPIRY_MS,
  LAN_BROWSE_REQUERY_MS,
  MAX_DISCOVERED_SERVICES,
  MDNS_SERVICE_TYPE,
} from '../constants.js';
import { sleep } from '../util/abort.js';
import { announcementsFrom, type BrowseLan, type BrowseOptions } from './browser.js';
import { type InterfaceTable, type LanLink, lanLinks } from './lan-interfaces.js';
import { type MdnsLink, openMdnsLink } from './mdns-link.js';
import { type FoundService, ServiceCollector } from './service-collector.js';

export interface LiveBrowserOptions {
  interfaces?: () => InterfaceTable;
  onProblem?: (message: string) => void;
  requeryMs?: number;
  expiryMs?: number;
  maxServices?: number;
}

/**
 * The live set, without sockets: packets in, services out. A packet is read on its own (a ddm
 * announcer sends PTR, SRV, TXT and addresses together), so a service heard again is refreshed
 * whole and one that changed its port or TXT is seen changed.
 */
export class LiveServiceTable {
  /** By instance name, least recently heard first. */
  readonly #services = new Map<string, { service: FoundService; heardAt: number }>();

  constructor(
    private readonly expiryMs = LAN_BROWSE_EXPIRY_MS,
    private readonly maxServices = MAX_DISCOVERED_SERVICES,
  ) {}

  add(packet: Packet, source: string, now: number): void {
    for (const instance of goodbyes(packet)) this.#services.delete(instance);
    const collector = new ServiceCollector(this.maxServices);
    collector.add(packet, source);
    for (const service of collector.services()) {
      this.#services.delete(service.instance);
      this.#services.set(service.instance, { service, heardAt: now });
    }
    for (const oldest of this.#services.keys()) {
      if (this.#services.size <= this.maxServices) break;
      this.#services.delete(oldest);
    }
  }

  services(now: number): FoundService[] {
    for (const [instance, entry] of this.#services) {
      if (now - entry.heardAt >= this.expiryMs) this.#services.delete(instance);
    }
    return [...this.#services.values()].map((entry) => entry.service);
  }

  get size(): number {
    return this.#services.size;
  }
}

/** Instances a packet withdraws: PTR records of our type with TTL 0 (RFC 6762 section 10.1). */
function goodbyes(packet: Packet): string[] {
  return [...(packet.answers ?? []), ...(packet.additionals ?? [])].flatMap((record) =>
    record.type === 'PTR' && record.name.toLowerCase() === MDNS_SERVICE_TYPE && record.ttl === 0
      ? [String(record.data).toLowerCase()]
      : [],
  );
}

export class LiveLanBrowser {
  readonly #table: LiveServiceTable;
  readonly #controller = new AbortController();
  readonly #reported = new Set<string>();
  #links: LanLink[] = [];
  #sockets: MdnsLink[] = [];
  #startedAt: number | undefined;
  #running: Promise<void> | undefined;

  constructor(private readonly options: LiveBrowserOptions = {}) {
    this.#table = new LiveServiceTable(
      options.expiryMs ?? LAN_BROWSE_EXPIRY_MS,
      options.maxServices ?? MAX_DISCOVERED_SERVICES,
    );
  }

  /** A BrowseLan over the live set: starts the browse on first use, waits out its first look. */
  readonly browse: BrowseLan = async (options: BrowseOptions, signal: AbortSignal) => {
    this.#start();
    const age = Date.now() - (this.#startedAt ?? Date.now());
    if (age < options.timeoutMs) await sleep(options.timeoutMs - age, signal);
    const found = announcementsFrom(this.#table.services(Date.now()), this.#links, (message) =>
      this.#problem(message),
    );
    // Each caller hears what went wrong, as a browse of its own would have told it.
    for (const message of this.#reported) options.onProblem?.(message);
    return found;
  };

  async close(): Promise<void> {
    this.#controller.abort();
    await this.#running;
  }

  #start(): void {
    if (this.#running || this.#controller.signal.aborted) return;
    this.#startedAt = Date.now();
    this.#running = this.#run(this.#controller.signal);
  }

  async #run(signal: AbortSignal): Promise<void> {
    this.#links = lanLinks((this.options.interfaces ?? networkInterfaces)());
    if (this.#links.length === 0) {
      this.#problem('no network interface other than loopback: nothing to browse');
      return;
    }
    this.#sockets = this.#links.map((link) =>
      openMdnsLink(link, {
        onProblem: (message) => this.#problem(message),
        onResponse: (packet, source) => this.#table.add(packet, source, Date.now()),
      }),
    );
    let first = true;
    try {
      while (!signal.aborted) {
        await Promise.all(
          this.#sockets.map((socket) =>
            socket.query({ questions: [{ name: MDNS_SERVICE_TYPE, type: 'PTR' }] }),
          ),
        );
        // The second query soon after the first, as a one-shot browse does (a lost packet).
        const pause = first
          ? DISCOVERY_REQUERY_INTERVAL_MS
          : (this.options.requeryMs ?? LAN_BROWSE_REQUERY_MS);
        first = false;
        await sleep(pause, signal).catch(() => {});
      }
    } finally {
      await Promise.all(this.#sockets.map((socket) => socket.close()));
    }
  }

  #problem(message: string): void {
    if (this.#reported.has(message)) return;
    // Messages name what the LAN announced: a flood of names must not grow the memory of them.
    if (this.#reported.size >= MAX_DISCOVERED_SERVICES) this.#reported.clear();
    this.#reported.add(message);
    this.options.onProblem?.(message);
  }
}
