/**
 * What each error code means beyond its exit code (errors.ts): the HTTP status a node answers
 * when a route raises it, whether a client keeps it when it comes over the wire and retries it
 * by default, and what it costs a peer that hit it. One row per code, so a new code cannot be
 * added without deciding all of this (test/unit/error-codes.test.ts checks the rows against
 * each other and against the README).
 */
import { type ErrorCode, isDdmError } from './errors.js';

/** What a failed fetch through a peer does to that peer and to the download. */
export type PeerFailurePolicy =
  /** Counts towards PEER_MAX_FAILURES; the range goes back to the pool. */
  | 'count'
  /** Not a failure: the peer is serving others; its slot asks again after PEER_BUSY_BACKOFF_MS. */
  | 'wait'
  /** The peer cannot help with this download: dropped at once. */
  | 'drop'
  /** Dropped at once unless the error says retrying may help (a 503 from the origin, say). */
  | 'drop-unless-retryable'
  /** Nobody can go on: the download stops with this error. */
  | 'stop';

export interface CodePolicy {
  /** Status of a signed error answer when a route raises this code; 502 means "upstream of this node". */
  wireStatus: number;
  /** A client that reads this code in a signed error answer keeps it; otherwise it reads PROTOCOL. */
  keptFromWire: boolean;
  /** Retryable when a remote error does not say (`details.retryable`). */
  retryableFromWire: boolean;
  peerFailure: PeerFailurePolicy;
  /** A tracker or `--peer` failing with this code stops the client before the origin is touched. */
  stopsSwarmSetup: boolean;
}

const UPSTREAM = 502;

export const ERROR_POLICY = {
  USAGE: row(UPSTREAM),
  CONFIG_INVALID: row(UPSTREAM),
  URL_INVALID: row(400, { keptFromWire: true }),
  METALINK_INVALID: row(UPSTREAM),
  NOT_FOUND: row(UPSTREAM),
  HTTP_STATUS: row(UPSTREAM, { keptFromWire: true, peerFailure: 'drop-unless-retryable' }),
  TOO_MANY_REDIRECTS: row(UPSTREAM, { keptFromWire: true, peerFailure: 'drop-unless-retryable' }),
  ORIGIN_CHANGED: row(412, { keptFromWire: true, peerFailure: 'drop-unless-retryable' }),
  BAD_RESPONSE: row(UPSTREAM, { keptFromWire: true }),
  RETRY_AFTER_TOO_LONG: row(UPSTREAM, { keptFromWire: true }),
  // The origin content-codes the file whatever we ask: no peer can fetch ranges of it either.
  ENCODED_RESPONSE: row(UPSTREAM, { keptFromWire: true, peerFailure: 'drop' }),
  // Found by the client from the HTTP status a source met (client/link-expiry.ts), never sent by a node.
  LINK_EXPIRED: row(UPSTREAM),
  LINK_MISMATCH: row(UPSTREAM),
  // A peer that cannot trust the origin's certificate will not start trusting it on a retry.
  ORIGIN_TLS: row(UPSTREAM, { keptFromWire: true, peerFailure: 'drop' }),
  NETWORK: row(UPSTREAM, { keptFromWire: true, retryableFromWire: true }),
  TIMEOUT: row(UPSTREAM, { keptFromWire: true, retryableFromWire: true }),
  TRIES_EXHAUSTED: row(UPSTREAM, { keptFromWire: true, retryableFromWire: true }),
  FILE_EXISTS: row(UPSTREAM),
  OUTPUT_LOCKED: row(UPSTREAM),
  DISK_FULL: row(UPSTREAM, { peerFailure: 'stop' }),
  FS_ERROR: row(UPSTREAM, { peerFailure: 'stop' }),
  CONTROL_CORRUPT: row(UPSTREAM),
  CONTROL_FOREIGN: row(UPSTREAM),
  CHECKSUM_MISMATCH: row(UPSTREAM),
  AUTH_FAILED: row(401, { keptFromWire: true, peerFailure: 'drop', stopsSwarmSetup: true }),
  TLS_FAILED: row(UPSTREAM, { stopsSwarmSetup: true }),
  NO_SECRET: row(UPSTREAM),
  PEER_REFUSED: row(403, { keptFromWire: true }),
  PEER_BUSY: row(503, { keptFromWire: true, retryableFromWire: true, peerFailure: 'wait' }),
  PEER_FAILED: row(UPSTREAM),
  PEER_ID_TAKEN: row(409, { keptFromWire: true }),
  TRACKER_FULL: row(503, { keptFromWire: true }),
  STORE_UNAVAILABLE: row(503, { keptFromWire: true, retryableFromWire: true }),
  NO_WORKERS: row(UPSTREAM),
  FORBIDDEN_DESTINATION: row(403, { keptFromWire: true }),
  PROTOCOL: row(400, { keptFromWire: true }),
  ABORTED: row(UPSTREAM),
} as const satisfies Record<ErrorCode, CodePolicy>;

function row(wireStatus: number, decisions: Partial<Omit<CodePolicy, 'wireStatus'>> = {}): CodePolicy {
  return {
    wireStatus,
    keptFromWire: false,
    retryableFromWire: false,
    peerFailure: 'count',
    stopsSwarmSetup: false,
    ...decisions,
  };
}

export function policyFor(code: ErrorCode): CodePolicy {
  return ERROR_POLICY[code];
}

/** Whether a tracker or `--peer` that failed this way must stop the client (a wrong secret, an impostor). */
export function stopsSwarmSetup(error: unknown): boolean {
  return isDdmError(error) && policyFor(error.code).stopsSwarmSetup;
}

/** Whether a code read from a signed error answer keeps its meaning (anything else is PROTOCOL). */
export function isWireCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_POLICY, code) && ERROR_POLICY[code as ErrorCode].keptFromWire;
}
