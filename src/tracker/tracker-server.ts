/**
 * `ddm tracker`: keeps the list of live peers. Peers register and heartbeat (the same upsert, so
 * a restarted tracker is full again after one heartbeat interval); clients list. The address
 * recorded is the one seen on the connection, never one a peer claims.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import {
  AUTH_WINDOW_MS,
  HEARTBEAT_INTERVAL_MS,
  MAX_PEER_LIST_LIMIT,
  MAX_TRACKER_PEERS,
  MAX_TRACKER_PEERS_PER_ADDRESS,
  PEER_TTL_MS,
  REPLAY_NONCES_PER_SOURCE,
  replayCapacityFor,
  TRACKER_PRUNE_INTERVAL_MS,
} from '../constants.js';
import { DdmError } from '../errors.js';
import { AUTH_HEADERS, describeAuthFailure, type SwarmKey, signResponse } from '../protocol/auth.js';
import {
  API,
  DeregisterRequest,
  type DeregisterResponse,
  RegisterRequest,
  type RegisterResponse,
} from '../protocol/messages.js';
import type { ServerTls } from '../transport/server/server-tls.js';
import { type Route, type SignedContext, startSignedServer } from '../transport/server/signed-server.js';
import { isForbiddenPort } from '../util/http-ports.js';
import { openPeerStore } from './open-store.js';
import type { PreparedBody } from './peer-listing.js';
import type { UpsertResult } from './peer-registry.js';
import type { PeerStore } from './peer-store.js';

export interface TrackerOptions {
  host: string;
  port: number;
  key: SwarmKey;
  log?: Logger;
  /** Clock for expiry (tests move it); request signatures are always checked against the real clock. */
  now?: () => number;
  ttlMs?: number;
  /** The heartbeat interval the tracker asks peers to keep. */
  heartbeatMs?: number;
  maxPeers?: number;
  /** New peers from one source address (an IPv6 /64) beyond this many are refused. */
  maxPeersPerAddress?: number;
  /** Serve https with this certificate. */
  tls?: ServerTls;
  /** Where registrations live: `redis://HOST:PORT` shares them between trackers; default this process's memory. */
  store?: string;
}

export interface Tracker {
  url: string;
  address: AddressInfo;
  close(): Promise<void>;
}

export async function startTracker(opts: TrackerOptions, signal: AbortSignal): Promise<Tracker> {
  const ttlMs = opts.ttlMs ?? PEER_TTL_MS;
  const heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_INTERVAL_MS;
  const limits = {
    maxPeers: opts.maxPeers ?? MAX_TRACKER_PEERS,
    maxPeersPerSource: opts.maxPeersPerAddress ?? MAX_TRACKER_PEERS_PER_ADDRESS,
  };
  const registry = await openPeerStore(
    { url: opts.store, ttlMs, ...limits, now: opts.now ?? Date.now, key: opts.key },
    signal,
  );
  const upsert = async (ctx: SignedContext) => {
    const info = ctx.json(RegisterRequest);
    assertHttpPort(info.port);
    const result = await registry.upsert(info, ctx.address);
    if (!result.ok) throw upsertRefusal(result, info.id, limits);
    opts.log?.debug({ id: info.id, name: info.name, address: ctx.address, port: info.port }, 'peer seen');
    const answer: RegisterResponse = { address: ctx.address, ttlMs, heartbeatMs };
    ctx.reply(200, answer);
  };
  const server = await startSignedServer(
    {
      host: opts.host,
      port: opts.port,
      key: opts.key,
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
      // Sized by the swarm this tracker takes, so a full swarm heartbeating is never refused.
      replay: { capacity: replayCapacityFor(limits.maxPeers), perSource: REPLAY_NONCES_PER_SOURCE },
      // A heartbeat has seconds of slack (the TTL is three intervals); a client waits on its list.
      backgroundRoutes: [`POST ${API.heartbeat}`],
      routes: sharingReplays(registry, {
        [`POST ${API.register}`]: upsert,
        [`POST ${API.heartbeat}`]: upsert,
        [`POST ${API.deregister}`]: async (ctx) => {
          const { id } = ctx.json(DeregisterRequest);
          const outcome = await registry.remove(id, ctx.address);
          if (outcome === 'other-address') {
            throw new DdmError('PEER_ID_TAKEN', `peer id ${id} is registered from another address`);
          }
          opts.log?.debug({ id, address: ctx.address, outcome }, 'peer deregistered');
          const answer: DeregisterResponse = { removed: outcome === 'removed' };
          ctx.reply(200, answer);
        },
        [`GET ${API.peers}`]: async (ctx) => {
          const limit = listLimit(ctx.req.url ?? '');
          sendPrepared(
            ctx,
            limit === undefined ? (await registry.listing()).body() : await registry.sample(limit),
          );
        },
      }),
    },
    signal,
  ).catch(async (error: unknown) => {
    await registry.close();
    throw error;
  });
  const pruner = setInterval(
    () => {
      registry.prune().catch((error: unknown) => opts.log?.warn({ err: error }, 'pruning the store failed'));
    },
    Math.min(TRACKER_PRUNE_INTERVAL_MS, ttlMs),
  );
  pruner.unref();
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      clearInterval(pruner);
      await server.close();
      await registry.close();
    })();
    return closing;
  };
  signal.addEventListener('abort', () => void close(), { once: true });
  return { url: server.url, address: server.address, close };
}

/**
 * On a store shared with other trackers, every route first claims the request's nonce in the
 * store: the verifier here only knows what this process took, and a request recorded on its way
 * to a sibling (same signature, same Host when they answer one name) must not count twice.
 */
function sharingReplays(store: PeerStore, routes: Record<string, Route>): Record<string, Route> {
  const claim = store.claimNonce?.bind(store);
  if (claim === undefined) return routes;
  const guard =
    (route: Route): Route =>
    async (ctx) => {
      // Remembered until the request's own timestamp leaves the window, as in the verifier.
      const signedAt = Number(ctx.req.headers[AUTH_HEADERS.time]);
      if (!(await claim(ctx.nonce, signedAt + AUTH_WINDOW_MS - Date.now()))) {
        throw new DdmError('AUTH_FAILED', describeAuthFailure('replayed'));
      }
      await route(ctx);
    };
  return Object.fromEntries(Object.entries(routes).map(([name, route]) => [name, guard(route)]));
}

/**
 * `?limit=N` of GET /v1/peers: at most N peers, picked at random, so that a client of a large
 * swarm reads a sample rather than the whole list. Absent: every peer.
 */
function listLimit(url: string): number | undefined {
  const query = url.indexOf('?');
  if (query === -1) return undefined;
  const given = new URLSearchParams(url.slice(query + 1)).get('limit');
  if (given === null) return undefined;
  const limit = /^\d{1,6}$/.test(given) ? Number(given) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_PEER_LIST_LIMIT)) {
    throw new DdmError('PROTOCOL', `limit must be a whole number from 1 to ${MAX_PEER_LIST_LIMIT}`);
  }
  return limit;
}

/** Answers a body serialised beforehand, signed for this request like every other answer. */
function sendPrepared(ctx: SignedContext, body: PreparedBody): void {
  ctx.res
    .writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': body.bytes.byteLength,
      'cache-control': 'no-store',
      [AUTH_HEADERS.signature]: signResponse(ctx.key, 200, ctx.nonce, body.digest),
    })
    .end(body.bytes);
}

/**
 * Clients would dial the port listed: one where mail, SSH or a database listens (the ports peers
 * refuse for origins) must not be listed, or a member could aim every client at such a service.
 */
function assertHttpPort(port: number): void {
  if (!isForbiddenPort(port)) return;
  throw new DdmError('FORBIDDEN_DESTINATION', `port ${port} is not for HTTP: a peer cannot be listed there`, {
    details: { port },
  });
}

function upsertRefusal(
  result: Exclude<UpsertResult, { ok: true }>,
  id: string,
  limits: { maxPeers: number; maxPeersPerSource: number },
): DdmError {
  switch (result.reason) {
    case 'id-taken':
      return new DdmError('PEER_ID_TAKEN', `peer id ${id} is already registered from another address`);
    case 'source-full':
      return new DdmError(
        'TRACKER_FULL',
        `too many peers registered from ${result.source} (at most ${limits.maxPeersPerSource} per address); try again once some have left`,
        { retryable: true, details: { limit: limits.maxPeersPerSource, scope: 'address' } },
      );
    case 'full':
      return new DdmError('TRACKER_FULL', `tracker is full (${limits.maxPeers} peers); try again later`, {
        retryable: true,
        details: { limit: limits.maxPeers, scope: 'tracker' },
      });
  }
}
