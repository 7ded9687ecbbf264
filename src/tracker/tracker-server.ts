/**
 * `ddm tracker`: keeps the list of live peers. Peers register and heartbeat (the same upsert, so
 * a restarted tracker is full again after one heartbeat interval); clients list. The address
 * recorded is the one seen on the connection, never one a peer claims.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import {
  HEARTBEAT_INTERVAL_MS,
  MAX_TRACKER_PEERS,
  MAX_TRACKER_PEERS_PER_ADDRESS,
  PEER_TTL_MS,
  REPLAY_NONCES_PER_SOURCE,
  replayCapacityFor,
  TRACKER_PRUNE_INTERVAL_MS,
} from '../constants.js';
import { DdmError } from '../errors.js';
import { isForbiddenPort } from '../peer/guard-port.js';
import type { SwarmKey } from '../protocol/auth.js';
import {
  API,
  DeregisterRequest,
  type DeregisterResponse,
  type PeerListResponse,
  RegisterRequest,
  type RegisterResponse,
} from '../protocol/messages.js';
import { type SignedContext, startSignedServer } from '../util/signed-server.js';
import type { ServerTls } from '../util/tls.js';
import { PeerRegistry, type UpsertResult } from './peer-registry.js';

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
  const registry = new PeerRegistry({ ttlMs, ...limits, now: opts.now ?? Date.now });
  const upsert = (ctx: SignedContext) => {
    const info = ctx.json(RegisterRequest);
    assertHttpPort(info.port);
    const result = registry.upsert(info, ctx.address);
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
      routes: {
        [`POST ${API.register}`]: upsert,
        [`POST ${API.heartbeat}`]: upsert,
        [`POST ${API.deregister}`]: (ctx) => {
          const { id } = ctx.json(DeregisterRequest);
          const outcome = registry.remove(id, ctx.address);
          if (outcome === 'other-address') {
            throw new DdmError('PEER_ID_TAKEN', `peer id ${id} is registered from another address`);
          }
          opts.log?.debug({ id, address: ctx.address, outcome }, 'peer deregistered');
          const answer: DeregisterResponse = { removed: outcome === 'removed' };
          ctx.reply(200, answer);
        },
        [`GET ${API.peers}`]: (ctx) => {
          const answer: PeerListResponse = { peers: registry.list() };
          ctx.reply(200, answer);
        },
      },
    },
    signal,
  );
  const pruner = setInterval(() => registry.prune(), Math.min(TRACKER_PRUNE_INTERVAL_MS, ttlMs));
  pruner.unref();
  const close = () => {
    clearInterval(pruner);
    return server.close();
  };
  signal.addEventListener('abort', () => void close(), { once: true });
  return { url: server.url, address: server.address, close };
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
