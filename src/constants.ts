/**
 * Every tunable of ddm in one place, with its unit in its name.
 * Change a figure here, not at its point of use.
 */
import { DDM_VERSION } from './version.js';

/** This build's version (from package.json) as `--version`, peers and the RPC report it. */
export { DDM_VERSION };

const KiB = 1024;
const MiB = 1024 * KiB;

export const BYTES = { KiB, MiB, GiB: 1024 * MiB } as const;

// --- Scheduling -----------------------------------------------------------------------------
/** Largest piece a worker pulls from the untaken pool; big pieces mean fewer requests. */
export const MAX_PIECE_BYTES = 32 * MiB;
/** Smallest piece and smallest tail worth splitting off a range in flight. */
export const MIN_SPLIT_BYTES = 1 * MiB;
/** Aim for this many pieces per worker so fast workers can pull more than slow ones. */
export const PIECES_PER_WORKER = 8;
/** A worker with no new bytes for this long loses its remainder. */
export const STALL_TIMEOUT_MS = 15_000;
/** In the tail, a worker this many times slower than a free one hands over its whole remainder. */
export const SLOW_WORKER_FACTOR = 4;
/** Rates are smoothed over roughly this window. */
export const RATE_WINDOW_MS = 2_000;
/** A worker must have been measured this long before its rate is trusted for slowness decisions. */
export const MIN_RATE_SAMPLE_MS = 1_000;

// --- Local connections ------------------------------------------------------------------------
export const DEFAULT_CONNECTIONS = 4;
export const MAX_CONNECTIONS = 64;

// --- Origin HTTP ------------------------------------------------------------------------------
export const DEFAULT_MAX_TRIES = 5;
/** Connect and idle-body timeout for one origin request. */
export const DEFAULT_TIMEOUT_MS = 30_000;
export const MAX_REDIRECTS = 10;

// --- Mirrors ----------------------------------------------------------------------------------
/** Most mirror URLs one download takes besides its primary URL (`--mirror`, addUri, Metalink). */
export const MAX_MIRRORS = 32;
/** Failed ranges (after their retries) after which a mirror gets no more work for this download. */
export const MIRROR_MAX_FAILURES = 3;
/** Tries of a mirror's probe: a mirror is optional, so one that does not answer is dropped soon. */
export const MIRROR_PROBE_TRIES = 2;
/** Largest Metalink document read (`ddm get FILE.meta4`, aria2.addMetalink), in bytes. */
export const MAX_METALINK_BYTES = 4 * 1024 * 1024;
export const RETRY_BASE_DELAY_MS = 500;
export const RETRY_MAX_DELAY_MS = 30_000;
/** A Retry-After longer than this is an error rather than a wait. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;
export const DEFAULT_USER_AGENT = `ddm/${DDM_VERSION}`;
/** Idle keep-alive sockets to an origin are closed after this (servers may ask for less). */
export const ORIGIN_KEEP_ALIVE_TIMEOUT_MS = 10_000;
/** Bytes buffered ahead from one origin response body; larger means fewer, bigger chunks. */
export const ORIGIN_BODY_HIGH_WATER_MARK_BYTES = 1 * MiB;
/**
 * What the probe's body may buffer while the output is being opened (an origin that ignores
 * Range answers the probe with the whole file, which becomes the single stream). undici 7
 * crashes the process (an assertion in its HTTP/1 parser, nodejs/undici#5360, fixed only in
 * undici 8, which needs Node 22) when a connection-close server ends the socket while the parser
 * is paused by backpressure; a file that fits here is never paused before ddm starts reading.
 */
export const PROBE_BODY_HIGH_WATER_MARK_BYTES = 16 * MiB;
/**
 * A range from a plain-http origin is read straight from the socket into buffers of this size
 * (origin/slab-ring.ts), each written to disk whole once full: no buffer per socket read, and
 * writes large enough to be cheap but small enough to still be in the CPU's cache.
 */
export const ORIGIN_SLAB_BYTES = 256 * KiB;
/** Slabs one range may hold (filled, being written or waiting); past this its socket is paused. */
export const ORIGIN_SLABS_PER_RANGE = 4;
/** Slabs kept for reuse once written, across all ranges of the process. */
export const ORIGIN_IDLE_SLABS = 16;
/** Largest response head (status line and headers) read from an origin's socket. */
export const ORIGIN_HEAD_MAX_BYTES = 32 * KiB;
/** An error or redirect body smaller than this is read and dropped so its socket can be reused. */
export const ORIGIN_DISCARD_BODY_MAX_BYTES = 64 * KiB;

// --- Expired links ------------------------------------------------------------------------------
/** `--refresh-cmd` runs at most this often for one download (a signed-URL service is not hammered). */
export const REFRESH_MIN_INTERVAL_MS = 60_000;
/** `--refresh-cmd` that has printed no line by then is killed and counts as failed. */
export const REFRESH_TIMEOUT_MS = 30_000;
/** Most output of `--refresh-cmd` read (its first line is the URL; stderr is quoted on failure). */
export const REFRESH_OUTPUT_MAX_BYTES = 64 * KiB;

// --- SSRF guard (peers) ------------------------------------------------------------------------
/**
 * Ports a peer never dials, whatever the address: the Fetch standard's "bad ports"
 * (https://fetch.spec.whatwg.org/#port-blocking), which browsers block for the same reason,
 * plus port 0 and the databases, caches and container APIs that listen without auth by default.
 * HTTP's usual ports (80, 443, 8000, 8080, 8443...) and ephemeral ports stay allowed.
 */
export const FORBIDDEN_PORTS: readonly number[] = [
  // Fetch standard
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104,
  109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515,
  526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049,
  3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
  // ddm's own additions: no such port / Docker API / MySQL / PostgreSQL / Redis / memcached / MongoDB
  0, 2375, 2376, 3306, 5432, 6379, 11211, 27017,
];

// --- Storage ----------------------------------------------------------------------------------
/** Progress is made durable at least this often. */
export const CONTROL_SAVE_INTERVAL_MS = 1_000;
/** Writes are coalesced up to this size before a positional write. */
export const WRITE_BUFFER_BYTES = 1 * MiB;
/** ...or until the oldest byte in the batch has waited this long, so slow streams reach the disk too. */
export const WRITE_BATCH_MAX_AGE_MS = 250;
export const PART_SUFFIX = '.part';
export const CONTROL_SUFFIX = '.ddm';
/**
 * 2 added the peer-delivered and not-yet-checked ranges and the piece digests (SHA-256); 3 made
 * the digests XXH64. Versions 1 and 2 are still read (see control-file.ts).
 */
export const CONTROL_FORMAT_VERSION = 3;
/**
 * Completed, aligned pieces of this size get a digest in the control file, checked on resume to
 * find a damaged `.part`. Larger means a smaller control file but more refetched per damage.
 */
export const PIECE_DIGEST_BYTES = 4 * MiB;
/**
 * Bytes read back at a time (into one buffer per checkpoint) for a piece no running hash covers:
 * a piece filled by two workers is hashed from the synced file without a buffer of its size.
 */
export const PIECE_READ_BACK_STEP_BYTES = 256 * KiB;
/**
 * Hash used for piece digests: they detect damage on disk, not an adversary, so XXH64 (a quarter
 * of SHA-256's CPU per byte) is enough.
 */
export const PIECE_DIGEST_ALGORITHM = 'xxh64';
/** Hex digits of each piece digest: all 64 bits of XXH64. */
export const PIECE_DIGEST_HEX_CHARS = 16;
/** The piece digests of control format 2, still checked on resume: SHA-256... */
export const LEGACY_PIECE_DIGEST_ALGORITHM = 'sha256';
/** ...cut to its first 128 bits. */
export const LEGACY_PIECE_DIGEST_HEX_CHARS = 32;
/** Beside the output while a run owns it; holds the owner's PID. */
export const LOCK_SUFFIX = '.ddm-lock';
/** The limit of one name on ext4, XFS, btrfs, APFS (NTFS counts UTF-16 units: bytes is the stricter bound). */
export const MAX_FILE_NAME_BYTES = 255;
/**
 * What ddm adds to an output name for its side files; the longest is the control file's temp name
 * `.NAME.ddm.PID.RANDOM.tmp` (1 + 4 + 1 + 7-digit PID + 1 + 12 hex + 4 bytes).
 */
export const SIDE_FILE_NAME_BYTES = 30;
/** A control-file temp file this old is a crash's leftover even if its PID is alive again (reused). */
export const STALE_TEMP_FILE_AGE_MS = 24 * 60 * 60 * 1000;
/** Free space kept beyond the remaining bytes, for the control file and the file system's own blocks. */
export const FREE_SPACE_MARGIN_BYTES = 1 * MiB;

// --- Progress output --------------------------------------------------------------------------
export const PROGRESS_INTERVAL_MS = 250;
export const JSON_PROGRESS_INTERVAL_MS = 1_000;

/** The progress bar is redrawn at most this often (5 per second). */
export const PROGRESS_REDRAW_INTERVAL_MS = 200;
/** Width assumed for a terminal that does not say its own. */
export const DEFAULT_TERMINAL_COLUMNS = 80;

// --- Swarm ------------------------------------------------------------------------------------
/** 2: request signatures name the target node and authority (docs/PROTOCOL.md §3). */
export const PROTOCOL_VERSION = 2;
export const DEFAULT_TRACKER_PORT = 7800;
export const DEFAULT_PEER_PORT = 7801;
export const DEFAULT_PEER_SLOTS = 4;
export const MAX_PEER_SLOTS = 64;
export const HEARTBEAT_INTERVAL_MS = 10_000;
/** A tracker may ask for faster heartbeats (tests do), but not faster than this. */
export const MIN_HEARTBEAT_INTERVAL_MS = 500;
/**
 * A tracker that refuses the peer's secret is asked again after twice the interval, then four
 * times... up to this: an operator may fix the secret, but nobody wants a refusal every 10 s.
 */
export const REFUSED_REGISTRATION_MAX_BACKOFF_MS = 5 * 60_000;
/** A peer that missed about three heartbeats is gone. */
/** Slack on top of three heartbeats for a slow network or a busy peer. */
export const PEER_TTL_SLACK_MS = 2_000;

export function trackerTtlMs(heartbeatMs: number): number {
  return 3 * heartbeatMs + PEER_TTL_SLACK_MS;
}

export const PEER_TTL_MS = trackerTtlMs(HEARTBEAT_INTERVAL_MS);
/** Signed requests older or newer than this are refused (clock skew plus transit). */
export const AUTH_WINDOW_MS = 60_000;
/**
 * Replay memory a node keeps per swarm member it is sized for, in nonces: one signed request a
 * second from each member for a whole window (a heartbeat every 10 s is a tenth of that).
 */
export const REPLAY_NONCES_PER_MEMBER = 60;
/** The least replay memory of any node (a peer; a tracker sized for a small swarm), in nonces. */
export const MIN_REPLAY_NONCES = 200_000;
/**
 * Nonces one sender (source address) may have remembered at once: about 333 signed requests a
 * second for a window. Beyond, only that sender is refused until its nonces age out.
 */
export const REPLAY_NONCES_PER_SOURCE = 20_000;

/** The replay memory, in nonces, of a node that serves a swarm of `members`. */
export function replayCapacityFor(members: number): number {
  return Math.max(MIN_REPLAY_NONCES, members * REPLAY_NONCES_PER_MEMBER);
}
/** How long an operator has to answer a consent prompt before it counts as no. */
export const CONSENT_PROMPT_TIMEOUT_MS = 30_000;
/** A given consent covers this client and URL for this long. */
export const CONSENT_TTL_MS = 60 * 60_000;
/**
 * Consents a peer remembers at most, so offers cannot exhaust its memory. When full, the client
 * (source address) holding the most gives up its oldest consent that no fetch is using.
 */
export const MAX_CONSENT_GRANTS = 10_000;
/**
 * Consents one client (source address) holds at most; beyond, its own oldest unused one goes.
 * A flood of offers thus evicts only the flooder's consents, never another client's.
 */
export const MAX_CONSENT_GRANTS_PER_CLIENT = 64;
/** Helpers a client recruits at once by default (`--max-helpers`); the rest of the swarm waits. */
export const DEFAULT_MAX_HELPERS = 16;
/** Largest `--max-helpers`. */
export const MAX_HELPERS_LIMIT = 256;
/**
 * A client asks a tracker for this many candidates per helper it may recruit (`?limit=`), so
 * refusals and busy peers can be replaced without asking again at once.
 */
export const HELPER_CANDIDATES_PER_HELPER = 4;
/** A helper whose every fetch has answered busy for this long gives its place to another. */
export const HELPER_BUSY_REPLACE_MS = 10_000;
/** How often a client reviews its helpers (and, with room and no candidate left, asks the swarm again). */
export const HELPER_REVIEW_MS = 2_000;
/** A peer that refused, failed or gave way is not asked again for this long. */
export const HELPER_RETRY_AFTER_MS = 60_000;
/**
 * A helper is slow when, while serving, it delivers less than this fraction of the median rate
 * of the client's other helpers (measured between reviews); once slow for HELPER_SLOW_REPLACE_MS
 * it is released for a waiting candidate.
 */
export const HELPER_SLOW_FRACTION = 0.25;
/** How long a helper stays slow (see HELPER_SLOW_FRACTION) before it gives way (ms). */
export const HELPER_SLOW_REPLACE_MS = 4_000;
/** Fewer helpers serving than this and nobody is judged slow: a median of two says little. */
export const HELPER_SLOW_MIN_RATED = 3;
/** A helper's rate counts only once it has served this long since the last review (ms). */
export const HELPER_RATE_MIN_ACTIVE_MS = 1_000;
/** Slow helpers one download releases at most, so a swarm of equally slow peers is not churned. */
export const HELPER_SLOW_RELEASES_MAX = 8;
/** Looks at the swarm in a row that find nobody new, with no helper helping, before the client stops asking. */
export const HELPER_FRUITLESS_SURVEYS = 5;
/** A slot that hears "busy" from a peer waits this long before it asks that peer again. */
export const PEER_BUSY_BACKOFF_MS = 1_000;
/**
 * Largest byte range a peer fetches for one request (clients ask for MAX_PIECE_BYTES at most);
 * anything larger is refused before the origin is contacted.
 */
export const MAX_FETCH_RANGE_BYTES = BYTES.GiB;
/**
 * A client refused a slot counts as waiting for this long; while anyone waits, no client may take
 * more than an equal share of a peer's slots, so the slots freed next go to the one waiting.
 */
export const SLOT_WAITER_MEMORY_MS = 2_000;
/**
 * A peer takes back the slot of a fetch whose client has read nothing for this long while bytes
 * wait for it: the client's own stall rule, so a member that stops reading cannot hold a slot.
 */
export const PEER_CLIENT_STALL_TIMEOUT_MS = STALL_TIMEOUT_MS;
/** A peer failing this many times is dropped for the rest of the download. */
export const PEER_MAX_FAILURES = 3;
/** Timeout for small JSON requests between nodes (tracker, consent). */
export const CONTROL_REQUEST_TIMEOUT_MS = 5_000;
/** Largest JSON body a tracker or peer accepts. */
export const MAX_JSON_BODY_BYTES = 64 * KiB;

// --- Swarm servers (tracker and peer) -----------------------------------------------------------
/** Largest JSON body a client accepts from a tracker or peer (a full peer list fits). */
export const MAX_JSON_RESPONSE_BYTES = 4 * MiB;
/** A tracker refuses new peers beyond this many, so a flood cannot exhaust its memory (`--max-peers`). */
export const MAX_TRACKER_PEERS = 10_000;
/** Largest `--max-peers` (and `--max-peers-per-address`): its replay memory is sized from it. */
export const MAX_TRACKER_PEERS_LIMIT = 100_000;
/**
 * Peers one source address (for IPv6, one /64) may have listed at once, so a single machine
 * cannot fill the tracker for everyone else.
 */
export const MAX_TRACKER_PEERS_PER_ADDRESS = 64;
/**
 * A tracker serialises its peer list once per change; heartbeats alone (which move only
 * lastSeen) make it serialise again at most this often (ms), in steps, so a listed lastSeen is
 * this stale, plus the steps' time, at most.
 */
export const TRACKER_LIST_REFRESH_MS = 1_000;
/**
 * Records a tracker encodes per turn of its event loop when it refreshes the list's lastSeen
 * (records): ~0.5 ms of work, where the whole 10,000 at once held every request for ~7 ms.
 */
export const TRACKER_LIST_REFRESH_STEP_RECORDS = 1_000;
/**
 * The oldest a listed lastSeen gets (ms): a list nobody asked for since its refresh was due is
 * made at once, not in steps, when it is this old.
 */
export const TRACKER_LIST_MAX_AGE_MS = 3_000;
/**
 * V8's --semi-space-growth-factor in every `ddm` process (a ratio; V8's default is 2): 1 keeps
 * the young generation at its starting size under a download's or a tracker's churn
 * (src/util/v8-flags.ts).
 */
export const DDM_SEMI_SPACE_GROWTH_FACTOR = 1;
/**
 * V8's --wasm-tiering-budget in every `ddm` process (roughly bytes of WebAssembly executed per
 * function before TurboFan compiles it; V8's default is 1,800,000): high enough that undici's
 * HTTP parser stays in the baseline tier, low enough that XXH64 over a file tiers up within its
 * first megabytes (src/util/v8-flags.ts).
 */
export const DDM_WASM_TIERING_BUDGET = 100_000_000;
/**
 * V8's --heap-growing-percent in a `ddm tracker` process (%): the old generation may grow this
 * much past what a full GC left before the next one, instead of V8's allocation-driven factor.
 */
export const TRACKER_HEAP_GROWING_PERCENT = 10;
/** Largest `?limit=` of GET /v1/peers: a sample as large as the largest list. */
export const MAX_PEER_LIST_LIMIT = 10_000;
/** A tracker gives up reaching its Redis store (`--store`) at start after this. */
export const STORE_CONNECT_TIMEOUT_MS = 2_000;
/** One Redis command may take this long before the request is answered 503 STORE_UNAVAILABLE. */
export const STORE_COMMAND_TIMEOUT_MS = 2_000;
/** A tracker whose Redis went away tries again with growing waits, up to this. */
export const STORE_RECONNECT_MAX_DELAY_MS = 1_000;
/** How often a tracker drops expired peers even when nobody lists them. */
export const TRACKER_PRUNE_INTERVAL_MS = 5_000;
/**
 * Simultaneous TCP connections a tracker or peer server holds. Beyond, the oldest connection
 * that serves no request is closed to make room; if every one is busy, the newcomer is dropped.
 */
export const SERVER_MAX_CONNECTIONS = 512;
/** The same bound per source address, so one machine cannot take every connection. */
export const SERVER_MAX_CONNECTIONS_PER_ADDRESS = 128;
/**
 * Of those, connections that have not yet carried a correctly signed request. Strangers cannot
 * sign, so they never hold more than this: the rest of SERVER_MAX_CONNECTIONS stays for members.
 * Beyond it, the oldest unauthenticated connection is closed, whatever it is doing.
 */
export const SERVER_MAX_UNAUTHENTICATED_CONNECTIONS = 128;
/** The same bound per source address. */
export const SERVER_MAX_UNAUTHENTICATED_PER_ADDRESS = 16;
/** Largest request line plus headers a tracker or peer reads; more is answered 431. */
export const SERVER_MAX_HEADER_BYTES = 16 * KiB;
/**
 * Requests that can wait (a tracker's heartbeats) run this many at a time before the event loop
 * polls again, so a list parsed meanwhile waits for at most one batch (~2 ms at ~140 µs each).
 */
export const BACKGROUND_BATCH_REQUESTS = 16;
/** How often the header and request timeouts are enforced (node's default of 30 s lets them overrun). */
export const SERVER_TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/**
 * A connection with no traffic either way for this long is closed: a client that stopped reading
 * must not hold a slot for ever. Longer than any silent wait of a route (consent, origin head).
 */
export const SERVER_SOCKET_IDLE_TIMEOUT_MS = 120_000;
/**
 * A client must send its request headers within this time. Short: a head is a few hundred bytes,
 * and every second a trickling stranger holds a connection is a second a member may wait.
 */
export const SERVER_HEADERS_TIMEOUT_MS = 4_000;
/** A client must send its whole request (headers and JSON body, at most 64 KiB) within this time. */
export const SERVER_REQUEST_TIMEOUT_MS = 5_000;
/** Idle keep-alive connections are closed after this. */
export const SERVER_KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Deregistering from the trackers on shutdown may take at most this long. */
export const DEREGISTER_TIMEOUT_MS = 2_000;
/** Offers waiting for the operator's answer; more are refused as busy. */
export const MAX_PENDING_CONSENT_PROMPTS = 16;
/**
 * A client waits this long for an answer to an offer: the operator's prompt time plus transit.
 */
export const OFFER_REQUEST_TIMEOUT_MS = CONSENT_PROMPT_TIMEOUT_MS + CONTROL_REQUEST_TIMEOUT_MS;

// --- Verifying bytes from peers -------------------------------------------------------------
/** Share of the bytes each peer delivers that the client re-fetches from the origin to compare. */
export const VERIFY_SAMPLE_RATE = 0.01;
/** Size of one spot-check slice. */
export const VERIFY_SLICE_BYTES = 64 * KiB;
/** Spot checks running at once (they compete with the download for the client's own link). */
export const VERIFY_CONCURRENCY = 4;
/** Bytes compared at a time when auditing a peer's ranges after a checksum mismatch. */
export const AUDIT_CHUNK_BYTES = 1 * MiB;

// --- LAN discovery (mDNS / DNS-SD) --------------------------------------------------------------
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

// --- Engine and queue ---------------------------------------------------------------------------
/** Downloads an engine runs at once by default; the rest wait in the queue (--max-active). */
export const DEFAULT_MAX_ACTIVE_DOWNLOADS = 5;
/** Connections to origins an engine holds at once, over all its downloads, by default. */
export const DEFAULT_MAX_TOTAL_CONNECTIONS = 64;
/** Peers an engine's directory remembers at most (a sampled swarm names new ones at every poll). */
export const MAX_DIRECTORY_PEERS = 1_024;
/** The engine's peer directory asks trackers, --peer URLs and the LAN again this often. */
export const PEER_DIRECTORY_POLL_MS = 2_000;
/** Hex digits of a download id (like aria2's GID: 64 random bits). */
export const DOWNLOAD_ID_HEX_DIGITS = 16;

// --- Speed limits -----------------------------------------------------------------------------
/**
 * A token bucket holds at most this much time's worth of bytes: an idle limiter lets a burst this
 * long through, no more, so the rate measured over seconds stays within a few percent of the limit.
 */
export const RATE_LIMIT_BURST_MS = 100;
/** A throttled reader re-reads the limit at least this often, so a changed limit applies at once. */
export const RATE_LIMIT_RECHECK_MS = 100;

// --- Reading while downloading (-o -, previews) ------------------------------------------------
/** `-o -`: ranges are fetched at most this far ahead of what stdout has taken (disk, not memory). */
export const STREAM_WINDOW_BYTES = 16 * MiB;
/** Largest read from the part file for one write to stdout or to a preview's response. */
export const STREAM_READ_BYTES = 1 * MiB;
/** A reader waiting for bytes looks again at least this often, whatever it was told. */
export const STREAM_RECHECK_MS = 250;
/** A preview request waits this long at most for bytes not yet on disk, then answers 503. */
export const PREVIEW_WAIT_MS = 60_000;
/** A preview asks for this much ahead of what it sends, so the player does not wait on each piece. */
export const PREVIEW_AHEAD_BYTES = 4 * MiB;
/** Hex digits of a preview token (an HMAC-SHA-256 of the download's id, cut). */
export const PREVIEW_TOKEN_HEX_DIGITS = 32;

// --- Daemon -----------------------------------------------------------------------------------
/** `ddm daemon` listens here by default: loopback, aria2's RPC port. */
export const DEFAULT_DAEMON_PORT = 6800;
/** Random bytes of the daemon's API secret (hex-encoded in its file). */
export const DAEMON_SECRET_BYTES = 32;
/** File names in the state directory ($XDG_STATE_HOME/ddm). */
export const SESSION_FILE_NAME = 'session.json';
export const DAEMON_SECRET_FILE_NAME = 'daemon-secret';
export const PREVIEW_KEY_FILE_NAME = 'preview-key';

// --- JSON-RPC (aria2's, served by the daemon at /jsonrpc) -------------------------------------
/** The largest JSON-RPC request, over HTTP or in one WebSocket message: aria2's limit. */
export const RPC_MAX_REQUEST_BYTES = 2 * 1024 * 1024;
/** A wrong or missing token is answered after this long, as aria2 does, to slow down guessing. */
export const RPC_AUTH_FAILURE_DELAY_MS = 1_000;
/**
 * A WebSocket session with this much unsent data is dropped: a client that never reads must not
 * make the daemon hold its answers and notifications without bound.
 */
export const RPC_WS_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** `ddm.subscribe`: progress notifications at most this often, and by default this often. */
export const RPC_PROGRESS_MIN_INTERVAL_MS = 200;
export const RPC_PROGRESS_DEFAULT_INTERVAL_MS = 1_000;
/** `ddm.getEvents` keeps this many events per download. */
export const RPC_EVENTS_KEPT = 200;
/** The piece length aria2's status object reports (its default, 1 MiB): ddm has no pieces of its own. */
export const RPC_PIECE_LENGTH_BYTES = 1024 * 1024;
/** Downloads removed through the RPC that aria2.tellStopped still lists, oldest forgotten first. */
export const RPC_MAX_STOPPED_KEPT = 1_000;
/**
 * A peer absent from every answer for this long has left. Only polls in which every tracker and
 * `--peer` answered count: an unreachable tracker says nothing about its peers. Two heartbeat
 * intervals, because a restarted tracker is empty until its peers' next heartbeat.
 */
export const PEER_DIRECTORY_GONE_AFTER_MS = 2 * HEARTBEAT_INTERVAL_MS + PEER_DIRECTORY_POLL_MS;

/** The web UI: a signed-in browser stays signed in this long after its last request (ms). */
export const UI_SESSION_IDLE_MS = 30 * 24 * 60 * 60 * 1000;
/** At most this many browser sessions at once; the least recently used one is dropped first. */
export const UI_SESSION_MAX = 64;
/** Random bytes in a one-time sign-in token and in a session id. */
export const UI_TOKEN_BYTES = 24;
/** A wrong secret on the sign-in page is answered after this delay (ms), to slow guessing. */
export const UI_SIGN_IN_FAILURE_DELAY_MS = 400;
/** The sign-in form's body is a secret and a field name: anything bigger is refused (bytes). */
export const UI_SIGN_IN_MAX_BODY_BYTES = 4096;
/** The swarm secret the daemon's settings set (write-only there), mode 0600 in the state directory. */
export const SWARM_SECRET_FILE_NAME = 'swarm-secret';
/** Random bytes of a swarm secret made by `settings.generateSwarmSecret()` (hex-encoded). */
export const GENERATED_SWARM_SECRET_BYTES = 24;
/** Client names the helper role keeps (from offers) to label the fetches it serves. */
export const HELPER_CLIENT_NAMES_REMEMBERED = 1_024;
/** The helper role's per-client speed is smoothed over about this long. */
export const HELPER_RATE_WINDOW_MS = 3_000;
/** Peers a download remembers the consent answer of (for its sources' states). */
export const MAX_SOURCE_NOTES = 256;
/** A long-lived browse (the engine's) asks the LAN for peers again this often. */
export const LAN_BROWSE_REQUERY_MS = 5_000;
/** A peer not heard for this long (three queries unanswered) has left the LAN's live set. */
export const LAN_BROWSE_EXPIRY_MS = 3 * LAN_BROWSE_REQUERY_MS;
/** Peers an engine remembers the last answer and error of (for its swarm list). */
export const MAX_PEER_NOTES = 1_024;
