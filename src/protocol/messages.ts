/**
 * Wire messages between client, peer and tracker (see docs/PROTOCOL.md). Every message is
 * validated with these schemas at the edge; nothing here does I/O.
 */
import { z } from 'zod';
import { MAX_PEER_SLOTS } from '../constants.js';

/** Largest byte offset we accept on the wire (2^53 - 1). */
const offset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const peerId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'peer id must be 8-64 characters of [A-Za-z0-9_-]');
const name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^\u0000-\u001f\u007f-\u009f]+$/, 'name must not contain control characters');
const port = z.number().int().min(1).max(65_535);
const httpUrl = z
  .string()
  .max(8_192)
  .refine((value) => /^https?:\/\//i.test(value), 'only http and https URLs');

/** Facts for machines (e.g. the origin's status); plain values only, never secrets. */
const errorDetails = z.record(
  z.string().max(64),
  z.union([z.string().max(1_024), z.number(), z.boolean(), z.null()]),
);

export const ErrorBody = z.object({
  error: z.object({
    code: z.string().max(64),
    message: z.string().max(1_024),
    details: errorDetails.optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

// --- Tracker ----------------------------------------------------------------------------------
export const RegisterRequest = z.strictObject({
  id: peerId,
  name,
  port,
  slots: z.number().int().min(1).max(MAX_PEER_SLOTS),
  version: z.string().min(1).max(32),
  /** The peer serves https (sent only when true, so older trackers still accept plain peers). */
  tls: z.boolean().optional(),
});
export type RegisterRequest = z.infer<typeof RegisterRequest>;

export const RegisterResponse = z.object({
  /** The address the tracker saw on the connection: the one it will list. */
  address: z.string(),
  ttlMs: z.number().int().positive(),
  heartbeatMs: z.number().int().positive(),
});
export type RegisterResponse = z.infer<typeof RegisterResponse>;

export const DeregisterRequest = z.strictObject({ id: peerId });
export type DeregisterRequest = z.infer<typeof DeregisterRequest>;

/** `removed` is false when the tracker did not know the id (already expired or never registered). */
export const DeregisterResponse = z.object({ removed: z.boolean() });
export type DeregisterResponse = z.infer<typeof DeregisterResponse>;

export const PeerRecord = z.object({
  id: peerId,
  name,
  address: z.string(),
  port,
  slots: z.number().int().min(1).max(MAX_PEER_SLOTS),
  version: z.string(),
  /** The peer serves https: reach it at https://address:port. */
  tls: z.boolean().optional(),
  /** Milliseconds since the epoch of the last register or heartbeat. */
  lastSeen: z.number().int(),
});
export type PeerRecord = z.infer<typeof PeerRecord>;

export const PeerListResponse = z.object({ peers: z.array(PeerRecord).max(10_000) });
export type PeerListResponse = z.infer<typeof PeerListResponse>;

// --- Peer -------------------------------------------------------------------------------------
export const PeerInfoResponse = z.object({
  id: peerId,
  name,
  version: z.string(),
  protocol: z.number().int(),
  slots: z.number().int(),
  freeSlots: z.number().int(),
  /**
   * The peer serves https (sent only when true). Signed, unlike a LAN announcement, so a client
   * that reached the peer over plain http can tell it was relayed.
   */
  tls: z.boolean().optional(),
});
export type PeerInfoResponse = z.infer<typeof PeerInfoResponse>;

const validators = z.strictObject({
  etag: z.string().max(1_024).optional(),
  lastModified: z.string().max(128).optional(),
});

export const OfferRequest = z.strictObject({
  clientId: peerId,
  clientName: name,
  url: httpUrl,
  /** Shown to the peer's operator, so no control characters (terminal escapes). */
  fileName: z
    .string()
    .max(255)
    .regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, 'file name must not contain control characters'),
  size: offset.nullable(),
});
export type OfferRequest = z.infer<typeof OfferRequest>;

export const OfferResponse = z.object({
  accepted: z.literal(true),
  slots: z.number().int().min(1).max(MAX_PEER_SLOTS),
});
export type OfferResponse = z.infer<typeof OfferResponse>;

/** Origin request headers a client may ask a peer to send (e.g. a token for the origin). */
const forwardedHeaders = z.record(z.string().max(128), z.string().max(8_192)).optional();

export const FetchRequest = z
  .strictObject({
    clientId: peerId,
    url: httpUrl,
    start: offset,
    /** Exclusive. */
    end: offset,
    validators,
    headers: forwardedHeaders,
  })
  .refine((r) => r.end > r.start, 'end must be greater than start');
export type FetchRequest = z.infer<typeof FetchRequest>;

export const API = {
  register: '/v1/register',
  heartbeat: '/v1/heartbeat',
  deregister: '/v1/deregister',
  peers: '/v1/peers',
  info: '/v1/info',
  offer: '/v1/offer',
  fetch: '/v1/fetch',
} as const;
