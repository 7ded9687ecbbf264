/**
 * Every figure of the multi-host benchmark in one place, with its unit in its name. The addresses
 * must match bench/netns/netns.sh, which builds the namespaces they live in.
 */

export const ORIGIN_ADDRESS = '10.200.0.1';
export const LAN_SUBNET_PREFIX = '10.201.0.';
/** Host i has LAN address 10.201.0.(10 + i); host 0 is the client. */
export const HOST_ADDRESS_OFFSET = 10;
export const CLIENT_HOST = 0;
export const TRACKER_PORT = 7800;
export const PEER_PORT = 7801;

export const DEFAULT_RUNS = 3;
/** Slots each helper offers; ddm's own default, written out so the tables say what was used. */
export const PEER_SLOTS = 4;
/** aria2c's best case from one host, as a user would tune it. */
export const ARIA2C_CONNECTIONS = 16;

/**
 * tbf counts whole Ethernet frames; a full TCP segment with timestamps carries 1448 payload bytes
 * in a 1514-byte frame. So a link of R Mbit/s moves at most R * 0.956 Mbit/s of file bytes.
 */
export const TCP_PAYLOAD_PER_FRAME_RATIO = 1448 / 1514;

export const NETNS_COMMAND_TIMEOUT_MS = 60_000;
export const PEERS_READY_TIMEOUT_MS = 30_000;
export const PEERS_READY_POLL_MS = 250;
/** Peak RSS of a running process is sampled this often; VmHWM is a high-water mark, so little is missed. */
export const RSS_SAMPLE_INTERVAL_MS = 100;
/** A run may take this many times its ideal time before it counts as hung. */
export const RUN_TIMEOUT_FACTOR = 4;
export const RUN_TIMEOUT_FLOOR_MS = 60_000;
export const STOP_GRACE_MS = 5_000;
