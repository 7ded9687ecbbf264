/**
 * Wire messages between client, peer and tracker (see docs/PROTOCOL.md). Every message is
 * validated with these schemas at the edge; nothing here does I/O.
 */
import * as v from 'valibot';
import { MAX_PEER_SLOTS } from '../constants.js';
import { wholeNumber } from '../util/schema-parts.js';

/** Largest byte offset we accept on the wire (2^53 - 1). */
const offset = wholeNumber(0);
const peerId = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_-]{8,64}$/, 'peer id must be 8-64 characters of [A-Za-z0-9_-]'),
);
const name = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(64),
  v.regex(/^[^\u0000-\u001f\u007f-\u009f]+$/, 'name must not contain control characters'),
);
const port = wholeNumber(1, 65_535);
const slotCount = wholeNumber(1, MAX_PEER_SLOTS);
const integer = wholeNumber();
const httpUrl = v.pipe(
  v.string(),
  v.maxLength(8_192),
  v.check((value) => /^https?:\/\//i.test(value), 'only http and https URLs'),
);

/** Facts for machines (e.g. the origin's status); plain values only, never secrets. */
const errorDetails = v.record(
  v.pipe(v.string(), v.maxLength(64)),
  v.union([v.pipe(v.string(), v.maxLength(1_024)), v.number(), v.boolean(), v.null()]),
);

export const ErrorBody = v.object({
  error: v.object({
    code: v.pipe(v.string(), v.maxLength(64)),
    message: v.pipe(v.string(), v.maxLength(1_024)),
    details: v.optional(errorDetails),
  }),
});
export type ErrorBody = v.InferOutput<typeof ErrorBody>;

// --- Tracker ----------------------------------------------------------------------------------
export const RegisterRequest = v.strictObject({
  id: peerId,
  name,
  port,
  slots: slotCount,
  version: v.pipe(v.string(), v.minLength(1), v.maxLength(32)),
  /** The peer serves https (sent only when true, so older trackers still accept plain peers). */
  tls: v.optional(v.boolean()),
});
export type RegisterRequest = v.InferOutput<typeof RegisterRequest>;

export const RegisterResponse = v.object({
  /** The address the tracker saw on the connection: the one it will list. */
  address: v.string(),
  ttlMs: v.pipe(v.number(), v.integer(), v.gtValue(0)),
  heartbeatMs: v.pipe(v.number(), v.integer(), v.gtValue(0)),
});
export type RegisterResponse = v.InferOutput<typeof RegisterResponse>;

export const DeregisterRequest = v.strictObject({ id: peerId });
export type DeregisterRequest = v.InferOutput<typeof DeregisterRequest>;

/** `removed` is false when the tracker did not know the id (already expired or never registered). */
export const DeregisterResponse = v.object({ removed: v.boolean() });
export type DeregisterResponse = v.InferOutput<typeof DeregisterResponse>;

export const PeerRecord = v.object({
  id: peerId,
  name,
  address: v.string(),
  port,
  slots: slotCount,
  version: v.string(),
  /** The peer serves https: reach it at https://address:port. */
  tls: v.optional(v.boolean()),
  /** Milliseconds since the epoch of the last register or heartbeat. */
  lastSeen: integer,
});
export type PeerRecord = v.InferOutput<typeof PeerRecord>;

export const PeerListResponse = v.object({ peers: v.pipe(v.array(PeerRecord), v.maxLength(10_000)) });
export type PeerListResponse = v.InferOutput<typeof PeerListResponse>;

// --- Peer -------------------------------------------------------------------------------------
export const PeerInfoResponse = v.object({
  id: peerId,
  name,
  version: v.string(),
  protocol: integer,
  slots: integer,
  freeSlots: integer,
  /**
   * The peer serves https (sent only when true). Signed, unlike a LAN announcement, so a client
   * that reached the peer over plain http can tell it was relayed.
   */
  tls: v.optional(v.boolean()),
});
export type PeerInfoResponse = v.InferOutput<typeof PeerInfoResponse>;

const validators = v.strictObject({
  etag: v.optional(v.pipe(v.string(), v.maxLength(1_024))),
  lastModified: v.optional(v.pipe(v.string(), v.maxLength(128))),
});

export const OfferRequest = v.strictObject({
  clientId: peerId,
  clientName: name,
  url: httpUrl,
  /** Shown to the peer's operator, so no control characters (terminal escapes). */
  fileName: v.pipe(
    v.string(),
    v.maxLength(255),
    v.regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, 'file name must not contain control characters'),
  ),
  size: v.nullable(offset),
});
export type OfferRequest = v.InferOutput<typeof OfferRequest>;

export const OfferResponse = v.object({
  accepted: v.literal(true),
  slots: slotCount,
});
export type OfferResponse = v.InferOutput<typeof OfferResponse>;

/** Origin request headers a client may ask a peer to send (e.g. a token for the origin). */
const forwardedHeaders = v.optional(
  v.record(v.pipe(v.string(), v.maxLength(128)), v.pipe(v.string(), v.maxLength(8_192))),
);

export const FetchRequest = v.pipe(
  v.strictObject({
    clientId: peerId,
    url: httpUrl,
    start: offset,
    /** Exclusive. */
    end: offset,
    validators,
    headers: forwardedHeaders,
  }),
  v.check((r) => r.end > r.start, 'end must be greater than start'),
);
export type FetchRequest = v.InferOutput<typeof FetchRequest>;

export const API = {
  register: '/v1/register',
  heartbeat: '/v1/heartbeat',
  deregister: '/v1/deregister',
  peers: '/v1/peers',
  info: '/v1/info',
  offer: '/v1/offer',
  fetch: '/v1/fetch',
} as const;
