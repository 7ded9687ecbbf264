/**
 * The DNS-SD records of one peer's announcement (RFC 6763): PTR from the service type to the
 * instance, SRV (port and host name), TXT (who it is), and A/AAAA for the host name. Pure.
 */
import type { Answer, Question } from 'dns-packet';
import { MDNS_SERVICE_TYPE, MDNS_SERVICE_TYPES_ENUMERATION } from '../constants.js';
import { encodeServiceTxt, type ServiceTxt } from './service-txt.js';

export interface ServiceAnnouncement extends ServiceTxt {
  port: number;
  /** Addresses the peer is reachable at on the link the records are sent to. */
  addresses: readonly string[];
}

export interface ServiceRecords {
  instance: string;
  host: string;
  /** `_ddm._tcp.local` -> instance. */
  pointer: Answer;
  /** `_services._dns-sd._udp.local` -> `_ddm._tcp.local`. */
  typePointer: Answer;
  service: Answer;
  text: Answer;
  addresses: Answer[];
}

/** The random id makes instance and host names unique on any link, so no name probing is needed. */
export function instanceName(id: string): string {
  return `ddm-${id}.${MDNS_SERVICE_TYPE}`;
}

export function hostName(id: string): string {
  return `ddm-${id}.local`;
}

export function serviceRecords(announcement: ServiceAnnouncement, ttl: number): ServiceRecords {
  const instance = instanceName(announcement.id);
  const host = hostName(announcement.id);
  return {
    instance,
    host,
    pointer: { name: MDNS_SERVICE_TYPE, type: 'PTR', ttl, data: instance },
    typePointer: { name: MDNS_SERVICE_TYPES_ENUMERATION, type: 'PTR', ttl, data: MDNS_SERVICE_TYPE },
    // Records only this peer owns carry the cache-flush bit (RFC 6762 section 10.2).
    service: {
      name: instance,
      type: 'SRV',
      ttl,
      flush: true,
      data: { port: announcement.port, target: host, priority: 0, weight: 0 },
    },
    text: { name: instance, type: 'TXT', ttl, flush: true, data: encodeServiceTxt(announcement) },
    addresses: announcement.addresses.map((address) => ({
      name: host,
      type: address.includes(':') ? 'AAAA' : 'A',
      ttl,
      flush: true,
      data: address,
    })),
  };
}

/** The whole set, as sent in unsolicited announcements and (with TTL 0) in goodbyes. */
export function allRecords(records: ServiceRecords): Answer[] {
  return [records.pointer, records.service, records.text, ...records.addresses];
}

export interface Reply {
  answers: Answer[];
  additionals: Answer[];
}

/** What this peer answers to a query's questions; empty when none is about it. */
export function replyTo(questions: readonly Question[], records: ServiceRecords): Reply {
  const answers = new Set<Answer>();
  const instance = records.instance.toLowerCase();
  const host = records.host.toLowerCase();
  for (const question of questions) {
    const name = question.name.toLowerCase();
    // dns-packet's types leave out ANY (255), which queries may well ask for.
    const asked: string = question.type;
    const asks = (type: string) => asked === type || asked === 'ANY';
    if (name === MDNS_SERVICE_TYPE && asks('PTR')) answers.add(records.pointer);
    if (name === MDNS_SERVICE_TYPES_ENUMERATION && asks('PTR')) answers.add(records.typePointer);
    if (name === instance) {
      if (asks('SRV')) answers.add(records.service);
      if (asks('TXT')) answers.add(records.text);
    }
    if (name === host) {
      for (const address of records.addresses) if (asks(address.type)) answers.add(address);
    }
  }
  const answered = [...answers];
  if (!answered.some((answer) => answer === records.pointer || answer === records.service)) {
    return { answers: answered, additionals: [] };
  }
  // RFC 6763 section 12: with the PTR or SRV come the records a browser needs next.
  const additionals = [records.service, records.text, ...records.addresses].filter(
    (record) => !answers.has(record),
  );
  return { answers: answered, additionals };
}
