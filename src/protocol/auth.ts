/**
 * Swarm authentication: every request between nodes carries an HMAC over what it says and to
 * whom (the node's id and the authority the client dialled), keyed by the shared secret, so the
 * secret never crosses the wire and a recorded request means nothing to another node. Responses
 * are signed over the request's nonce, so a client also knows it talks to a swarm member.
 * Pure: no I/O beyond node:crypto.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AUTH_WINDOW_MS, MIN_REPLAY_NONCES, REPLAY_NONCES_PER_SOURCE } from '../constants.js';
import { type ReplayLimits, ReplayMemory } from './replay-memory.js';

export const AUTH_HEADERS = {
  time: 'x-ddm-time',
  nonce: 'x-ddm-nonce',
  signature: 'x-ddm-auth',
  /** The id of the node the request is for, or ANY_NODE. */
  target: 'x-ddm-target',
} as const;

/**
 * Stands for "the node that answers at this authority" in a request that cannot name an id yet:
 * a first GET /v1/info to a --peer URL or to a LAN announcement (whose id is only a claim), and
 * every request to a tracker (trackers have no id).
 */
export const ANY_NODE = '*';

/** Whom a request is for: what the signature binds it to. */
export interface RequestTarget {
  /** The URL's host[:port] as dialled, sent as the Host header. */
  authority: string;
  /** The node's id, or ANY_NODE. */
  node: string;
}

const NONCE_PATTERN = /^[0-9a-f]{32}$/;
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;
const TARGET_PATTERN = /^(\*|[A-Za-z0-9_-]{8,64})$/;
const DOMAIN = 'ddm-swarm-v1';
/** Stands for "no digest" in a signed response whose body is a byte stream. */
export const STREAM_BODY = 'stream';

export type SwarmKey = Buffer & { readonly __swarmKey: unique symbol };

export function deriveKey(secret: string): SwarmKey {
  return createHash('sha256').update(`${DOMAIN}\0`).update(secret, 'utf8').digest() as SwarmKey;
}

/** A fresh random secret for `ddm secret`: 32 bytes, base64url. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function bodyDigest(body: Uint8Array | string | undefined): string {
  return createHash('sha256')
    .update(body ?? '')
    .digest('hex');
}

/** bodyDigest of a body given in parts, as they come: `digest()` once all are in. */
export function bodyDigester(): { update(part: Uint8Array): void; digest(): string } {
  const hash = createHash('sha256');
  return {
    update: (part) => {
      hash.update(part);
    },
    digest: () => hash.digest('hex'),
  };
}

function mac(key: SwarmKey, parts: readonly string[]): string {
  return createHmac('sha256', key).update(parts.join('\n')).digest('hex');
}

/** Version 2 of the request MAC (protocol 2): version 1 named neither the node nor the authority. */
const REQUEST_LABEL = 'request-v2';

interface SignedFields {
  method: string;
  path: string;
  target: RequestTarget;
  time: string;
  nonce: string;
  digest: string;
}

function requestParts(fields: SignedFields): string[] {
  return [
    DOMAIN,
    REQUEST_LABEL,
    fields.method.toUpperCase(),
    fields.target.authority.toLowerCase(),
    fields.target.node,
    fields.path,
    fields.time,
    fields.nonce,
    fields.digest,
  ];
}

/**
 * The headers that sign a request for `target`, Host included: the signature covers the Host
 * the client sends, so the caller must send these as they are.
 */
export function signRequest(
  key: SwarmKey,
  method: string,
  path: string,
  body: Uint8Array | string | undefined,
  target: RequestTarget,
  now = Date.now(),
): Record<string, string> {
  const time = String(now);
  const nonce = randomBytes(16).toString('hex');
  const digest = bodyDigest(body);
  return {
    host: target.authority,
    [AUTH_HEADERS.target]: target.node,
    [AUTH_HEADERS.time]: time,
    [AUTH_HEADERS.nonce]: nonce,
    [AUTH_HEADERS.signature]: mac(key, requestParts({ method, path, target, time, nonce, digest })),
  };
}

export function signResponse(key: SwarmKey, status: number, requestNonce: string, digest: string): string {
  return mac(key, [DOMAIN, 'response', String(status), requestNonce, digest]);
}

export function verifyResponse(
  key: SwarmKey,
  status: number,
  requestNonce: string,
  digest: string,
  signature: string | undefined,
): boolean {
  if (signature === undefined || !SIGNATURE_PATTERN.test(signature)) return false;
  return safeEqualHex(signResponse(key, status, requestNonce, digest), signature);
}

function safeEqualHex(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'hex');
  const b = Buffer.from(given, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export type AuthFailure =
  | 'missing'
  | 'outdated'
  | 'malformed'
  | 'expired'
  | 'replayed'
  | 'bad-signature'
  | 'overloaded'
  | 'source-overloaded';

export type VerifyResult =
  | { ok: true; nonce: string; target: RequestTarget }
  | { ok: false; reason: AuthFailure };

type HeaderBag = Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? undefined : value;
}

const DEFAULT_REPLAY_LIMITS: ReplayLimits = {
  capacity: MIN_REPLAY_NONCES,
  perSource: REPLAY_NONCES_PER_SOURCE,
};

/** Verifies signed requests and remembers nonces for the replay window. */
export class RequestVerifier {
  private readonly seen: ReplayMemory;

  constructor(
    private readonly key: SwarmKey,
    private readonly windowMs = AUTH_WINDOW_MS,
    replay: ReplayLimits = DEFAULT_REPLAY_LIMITS,
  ) {
    this.seen = new ReplayMemory(replay, windowMs);
  }

  verify(
    method: string,
    path: string,
    headers: HeaderBag,
    body: Uint8Array | string | undefined,
    now = Date.now(),
    /** Who sent it (the connection's address): each sender has a replay budget of its own. */
    source = '',
  ): VerifyResult {
    const time = header(headers, AUTH_HEADERS.time);
    const nonce = header(headers, AUTH_HEADERS.nonce);
    const signature = header(headers, AUTH_HEADERS.signature);
    const node = header(headers, AUTH_HEADERS.target);
    if (time === undefined || nonce === undefined || signature === undefined) {
      return { ok: false, reason: 'missing' };
    }
    // Signed, but not naming its target: a ddm that speaks protocol 1.
    if (node === undefined) return { ok: false, reason: 'outdated' };
    if (
      !/^\d{1,16}$/.test(time) ||
      !NONCE_PATTERN.test(nonce) ||
      !SIGNATURE_PATTERN.test(signature) ||
      !TARGET_PATTERN.test(node)
    ) {
      return { ok: false, reason: 'malformed' };
    }
    if (Math.abs(now - Number(time)) > this.windowMs) return { ok: false, reason: 'expired' };
    const target = { authority: header(headers, 'host') ?? '', node };
    const digest = bodyDigest(body);
    const expected = mac(this.key, requestParts({ method, path, target, time, nonce, digest }));
    if (!safeEqualHex(expected, signature)) return { ok: false, reason: 'bad-signature' };
    switch (this.seen.remember(nonce, Number(time), source, now)) {
      case 'replayed':
        return { ok: false, reason: 'replayed' };
      case 'source-full':
        return { ok: false, reason: 'source-overloaded' };
      case 'full':
        return { ok: false, reason: 'overloaded' };
      case 'new':
        return { ok: true, nonce, target };
    }
  }
}

export function describeAuthFailure(reason: AuthFailure): string {
  switch (reason) {
    case 'missing':
      return 'request is not signed: this node requires the swarm secret';
    case 'outdated':
      return 'request is signed the way of swarm protocol 1, which does not name its target: upgrade every ddm of this swarm';
    case 'malformed':
      return 'request signature is malformed';
    case 'expired':
      return 'request timestamp is outside the accepted window (check the clocks)';
    case 'replayed':
      return 'request was replayed';
    case 'bad-signature':
      return 'wrong swarm secret';
    case 'overloaded':
      return 'too many recent requests to check for replays; try again shortly';
    case 'source-overloaded':
      return 'too many recent requests from this address to check for replays; slow down and try again shortly';
  }
}
