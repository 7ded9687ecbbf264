/**
 * Gathers the ddm services out of the mDNS responses a browse hears. Answers may come split over
 * several packets (other responders do that), so records are kept by name until the browse ends.
 * Pure: it sees packets, not sockets.
 */
import type { Answer, Packet } from 'dns-packet';
import { MAX_ADDRESSES_PER_HOST, MAX_DISCOVERED_SERVICES, MDNS_SERVICE_TYPE } from '../constants.js';

export interface FoundService {
  instance: string;
  port: number;
  /** The raw TXT strings. */
  txt: Buffer[];
  /** Addresses from the A/AAAA records, then the source of the packet that carried the SRV. */
  addresses: string[];
}

interface ServiceTarget {
  port: number;
  host: string;
  source: string;
}

export class ServiceCollector {
  private readonly instances = new Set<string>();
  private readonly targets = new Map<string, ServiceTarget>();
  private readonly texts = new Map<string, Buffer[]>();
  private readonly hosts = new Map<string, Set<string>>();

  constructor(private readonly maxServices = MAX_DISCOVERED_SERVICES) {}

  add(packet: Packet, source: string): void {
    for (const record of [...(packet.answers ?? []), ...(packet.additionals ?? [])]) {
      this.addRecord(record, source);
    }
  }

  services(): FoundService[] {
    const found: FoundService[] = [];
    for (const instance of this.instances) {
      const target = this.targets.get(instance);
      const txt = this.texts.get(instance);
      if (!target || !txt) continue;
      const addresses = new Set(this.hosts.get(target.host.toLowerCase()) ?? []);
      addresses.add(target.source);
      found.push({ instance, port: target.port, txt, addresses: [...addresses] });
    }
    return found;
  }

  private addRecord(record: Answer, source: string): void {
    const name = record.name.toLowerCase();
    // A TTL of 0 is a goodbye (RFC 6762 section 10.1): the record is withdrawn.
    const goodbye = 'ttl' in record && record.ttl === 0;
    switch (record.type) {
      case 'PTR':
        if (name !== MDNS_SERVICE_TYPE) return;
        if (goodbye) this.instances.delete(record.data.toLowerCase());
        else if (this.instances.size < this.maxServices) this.instances.add(record.data.toLowerCase());
        return;
      case 'SRV':
        if (goodbye) this.targets.delete(name);
        else if (this.targets.size < this.maxServices)
          this.targets.set(name, { port: record.data.port, host: record.data.target, source });
        return;
      case 'TXT':
        if (goodbye) this.texts.delete(name);
        else if (this.texts.size < this.maxServices) this.texts.set(name, txtStrings(record.data));
        return;
      case 'A':
      case 'AAAA':
        this.addAddress(name, record.data, goodbye);
        return;
      default:
        return;
    }
  }

  private addAddress(host: string, address: string, goodbye: boolean): void {
    const known = this.hosts.get(host);
    if (goodbye) {
      known?.delete(address);
      return;
    }
    if (known) {
      if (known.size < MAX_ADDRESSES_PER_HOST) known.add(address);
    } else if (this.hosts.size < this.maxServices) {
      this.hosts.set(host, new Set([address]));
    }
  }
}

function txtStrings(data: string | Buffer | (string | Buffer)[]): Buffer[] {
  const list = Array.isArray(data) ? data : [data];
  return list.map((entry) => (typeof entry === 'string' ? Buffer.from(entry, 'utf8') : entry));
}
