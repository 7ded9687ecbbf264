/**
 * `ddm peer`: helps swarm clients by fetching byte ranges from origins and streaming them
 * through. It asks consent before helping, never holds more than `slots` fetches at once,
 * refuses non-public destinations unless told otherwise, and keeps itself listed on the trackers.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { safeParse } from 'valibot';
import { DDM_VERSION, DEFAULT_PEER_PORT } from '../constants.js';
import { DdmError } from '../errors.js';
import type { SwarmKey } from '../protocol/auth.js';
import { RegisterRequest } from '../protocol/messages.js';
import { type Registration, startRegistration } from '../tracker/registration.js';
import type { NodeTrust } from '../transport/client/node-trust.js';
import type { ServerTls } from '../transport/server/server-tls.js';
import { startSignedServer } from '../transport/server/signed-server.js';
import { describeIssues } from '../util/schema-issues.js';
import { createPeerService, type PeerServiceOptions } from './peer-service.js';

/** A peer on its own listener: the service's options, plus where it listens and whom it registers with. */
export interface PeerOptions extends Omit<PeerServiceOptions, 'tls' | 'observer'> {
  host: string;
  port: number;
  trackers: readonly string[];
  /** Serve https with this certificate; trackers then list this peer as https. */
  tls?: ServerTls;
  /** Which https trackers to believe (--tls-fingerprint, --tls-ca). */
  trust?: NodeTrust;
  heartbeatMs?: number;
  /** Called when a tracker cannot be reached or refuses us (also logged). */
  onTrackerError?: (tracker: string, error: DdmError) => void;
}

export interface Peer {
  url: string;
  id: string;
  address: AddressInfo;
  /** Deregisters from the trackers, stops serving (cutting fetches in flight), closes origin sockets. */
  close(): Promise<void>;
}

export async function startPeer(opts: PeerOptions, signal: AbortSignal): Promise<Peer> {
  checkIdentity(opts);
  const service = createPeerService({ ...opts, tls: opts.tls !== undefined });
  let server: Awaited<ReturnType<typeof startSignedServer>>;
  try {
    server = await startSignedServer(
      { ...service.handler, host: opts.host, port: opts.port, ...(opts.tls ? { tls: opts.tls } : {}) },
      signal,
    );
  } catch (error) {
    await service.close();
    throw error;
  }

  const registration = registerPeer(opts, server.address.port, signal);
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await registration?.stop();
      await server.close();
      await service.close();
    })();
    return closing;
  };
  signal.addEventListener('abort', () => void close(), { once: true });
  return { url: server.url, id: opts.id, address: server.address, close };
}

/** What a peer tells the trackers about itself. */
export interface PeerRegistrationOptions {
  trackers: readonly string[];
  key: SwarmKey;
  id: string;
  name: string;
  slots: number;
  /** Serves https. */
  tls?: unknown;
  trust?: NodeTrust;
  /** For the trackers when there is no `trust` (carries the TLS trust). */
  dispatcher?: Dispatcher;
  heartbeatMs?: number;
  log?: Logger;
  onTrackerError?: (tracker: string, error: DdmError) => void;
}

/** Keeps the peer listed on its trackers while `signal` lasts; undefined without trackers. */
export function registerPeer(
  opts: PeerRegistrationOptions,
  port: number,
  signal: AbortSignal,
): Registration | undefined {
  if (opts.trackers.length === 0) return undefined;
  return startRegistration(
    {
      trackers: opts.trackers,
      key: opts.key,
      info: {
        id: opts.id,
        name: opts.name,
        port,
        slots: opts.slots,
        version: DDM_VERSION,
        ...(opts.tls ? { tls: true } : {}),
      },
      ...(opts.trust || opts.dispatcher
        ? { client: { dispatcher: opts.trust?.dispatcher ?? opts.dispatcher } }
        : {}),
      ...(opts.heartbeatMs === undefined ? {} : { intervalMs: opts.heartbeatMs }),
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.onTrackerError ? { onError: opts.onTrackerError } : {}),
    },
    signal,
  );
}

/** What the peer will tell trackers must pass their checks; better to say so before listening. */
export function checkIdentity(opts: { id: string; name: string; slots: number }): void {
  const parsed = safeParse(RegisterRequest, {
    id: opts.id,
    name: opts.name,
    port: DEFAULT_PEER_PORT,
    slots: opts.slots,
    version: DDM_VERSION,
  });
  if (parsed.success) return;
  const problems = describeIssues(parsed.issues);
  throw new DdmError('USAGE', `invalid peer settings: ${problems}`);
}
