/**
 * Tunables of LAN discovery, with their units in their names.
 * They belong in src/constants.ts; they stay here until that file is free to edit.
 */

/** DNS-SD service type of a ddm peer (RFC 6763), in the .local domain of multicast DNS. */
export const MDNS_SERVICE_TYPE = '_ddm._tcp.local';
/** Lets generic browsers (avahi-browse -a, dns-sd -B) list ddm among the service types. */
export const MDNS_SERVICE_TYPES_ENUMERATION = '_services._dns-sd._udp.local';
/**
 * Time to live of every announced record. RFC 6762 suggests 75 min for PTR and TXT; a short one
 * for all makes the caches of other browsers forget a peer that crashed without a goodbye.
 */
export const MDNS_RECORD_TTL_S = 120;
/** How long `ddm get` and `ddm peers` listen for answers by default (--discover-timeout). */
export const DISCOVERY_BROWSE_TIMEOUT_MS = 1_500;
/** A browse asks again after this, in case the first query or an answer was lost (Wi-Fi drops multicast). */
export const DISCOVERY_REQUERY_INTERVAL_MS = 1_000;
/** A peer announces itself this many times at start, this far apart (RFC 6762 section 8.3). */
export const ANNOUNCE_REPEAT_COUNT = 2;
export const ANNOUNCE_REPEAT_INTERVAL_MS = 1_000;
/** Answers to multicast queries wait a random delay in this window so responders do not collide. */
export const MDNS_RESPONSE_DELAY_MIN_MS = 20;
export const MDNS_RESPONSE_DELAY_MAX_MS = 120;
/** A peer looks for new or changed network interfaces (Wi-Fi reconnect, cable plugged) this often. */
export const ANNOUNCE_INTERFACE_RESCAN_MS = 10_000;
/** Sending the goodbye on shutdown may take at most this long. */
export const ANNOUNCE_GOODBYE_TIMEOUT_MS = 1_000;
/** Time for a discovered peer to answer the signed GET /v1/info, per address tried. */
export const DISCOVERY_IDENTIFY_TIMEOUT_MS = 2_000;
/** A browse keeps at most this many services, so a flood of fake announcements cannot exhaust memory. */
export const MAX_DISCOVERED_SERVICES = 256;
/** Addresses kept per announced host name. */
export const MAX_ADDRESSES_PER_HOST = 8;
