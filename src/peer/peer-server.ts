/**
 * `ddm peer`: helps swarm clients by fetching byte ranges from origins and streaming them
 * through. It asks consent before helping, never holds more than `slots` fetches at once,
 * refuses non-public destinations unless told otherwise, and keeps itself listed on the trackers.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import {
  CONSENT_PROMPT_TIMEOUT_MS,
  CONSENT_TTL_MS,
  DDM_VERSION,
  DEFAULT_PEER_PORT,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_USER_AGENT,
  MAX_FETCH_RANGE_BYTES,
  MAX_PENDING_CONSENT_PROMPTS,
  MAX_REDIRECTS,
  PEER_CLIENT_STALL_TIMEOUT_MS,
  PROTOCOL_VERSION,
  SERVER_SOCKET_IDLE_TIMEOUT_MS,
} from '../constants.js';
import { DdmError } from '../errors.js';
import { createOriginDispatcher } from '../origin/http-client.js';
import { parseOriginUrl } from '../origin/origin-url.js';
import type { SwarmKey } from '../protocol/auth.js';
import {
  API,
  FetchRequest,
  OfferRequest,
  type OfferResponse,
  type PeerInfoResponse,
  RegisterRequest,
} from '../protocol/messages.js';
import { type Registration, startRegistration } from '../tracker/registration.js';
import type { NodeTrust } from '../transport/client/node-trust.js';
import type { ServerTls } from '../transport/server/server-tls.js';
import { type SignedContext, startSignedServer } from '../transport/server/signed-server.js';
import { RateLimiter } from '../util/rate-limiter.js';
import { type AcceptMode, ConsentDesk } from './consent.js';
import { type ConsentPrompt, createTtyPrompt } from './consent-prompt.js';
import { handleFetch } from './fetch-handler.js';
import { createGuardedConnector } from './guard-connector.js';
import { assertAllowedUrl } from './origin-guard.js';
import { SharedSlots } from './slots.js';

export interface PeerOptions {
  host: string;
  port: number;
  key: SwarmKey;
  id: string;
  name: string;
  slots: number;
  accept: AcceptMode;
  /** Let this peer fetch loopback, private, link-local and other non-public addresses. */
  allowPrivate: boolean;
  trackers: readonly string[];
  /** Serve https with this certificate; trackers then list this peer as https. */
  tls?: ServerTls;
  /** Which https trackers to believe (--tls-fingerprint, --tls-ca). */
  trust?: NodeTrust;
  /** Answers `--accept ask` offers; defaults to a question on the terminal. */
  prompt?: ConsentPrompt;
  log?: Logger;
  userAgent?: string;
  /** Origin connect, response-head and idle-body timeout. */
  timeoutMs?: number;
  heartbeatMs?: number;
  consentTimeoutMs?: number;
  consentTtlMs?: number;
  /** A fetch whose client reads nothing for this long, while bytes wait, loses its slot. */
  clientStallTimeoutMs?: number;
  /** Clock for consent expiry. */
  now?: () => number;
  /** Called when a tracker cannot be reached or refuses us (also logged). */
  onTrackerError?: (tracker: string, error: DdmError) => void;
  /** Bytes per second this peer serves over all its clients (`--max-upload`); 0 or absent: no limit. */
  maxUploadBytesPerSec?: number;
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
  const slots = new SharedSlots(opts.slots);
  const upload = opts.maxUploadBytesPerSec ? new RateLimiter(opts.maxUploadBytesPerSec) : undefined;
  const consentTimeoutMs = opts.consentTimeoutMs ?? CONSENT_PROMPT_TIMEOUT_MS;
  const consent = new ConsentDesk({
    mode: opts.accept,
    prompt: opts.prompt ?? createTtyPrompt(),
    promptTimeoutMs: consentTimeoutMs,
    grantTtlMs: opts.consentTtlMs ?? CONSENT_TTL_MS,
    maxPending: MAX_PENDING_CONSENT_PROMPTS,
    now: opts.now ?? Date.now,
    ...(opts.log ? { log: opts.log } : {}),
  });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // No proxy from the environment: behind a proxy the guard would judge the proxy, not the origin.
  const dispatcher = createOriginDispatcher({
    timeoutMs,
    proxyFromEnv: false,
    // The guarded connector checks literal addresses, ports and every name's answers as the socket
    // opens, so no code path (even one that forgot beforeRequest) can dial a private address.
    ...(opts.allowPrivate ? {} : { connect: createGuardedConnector({ timeoutMs, allowPrivate: false }) }),
  });
  const allowed = (url: URL) => assertAllowedUrl(url, opts.allowPrivate);
  const origin = {
    dispatcher,
    userAgent: opts.userAgent ?? DEFAULT_USER_AGENT,
    timeoutMs,
    maxRedirects: MAX_REDIRECTS,
    beforeRequest: allowed,
  };

  const info = (ctx: SignedContext) => {
    const answer: PeerInfoResponse = {
      id: opts.id,
      name: opts.name,
      version: DDM_VERSION,
      protocol: PROTOCOL_VERSION,
      slots: slots.total,
      freeSlots: slots.free,
      ...(opts.tls ? { tls: true } : {}),
    };
    ctx.reply(200, answer);
  };
  const offer = async (ctx: SignedContext) => {
    const request = ctx.json(OfferRequest);
    // A destination this peer will never fetch is refused before anyone is asked; so is a URL
    // that only looked like one to the schema (`http://[`), as a 400 rather than a crash.
    allowed(parseOriginUrl(request.url));
    const verdict = await consent.decide(request, ctx.address, ctx.signal);
    if (!verdict.accepted)
      throw new DdmError(verdict.code, verdict.message, { retryable: verdict.code === 'PEER_BUSY' });
    const answer: OfferResponse = { accepted: true, slots: slots.total };
    ctx.reply(200, answer);
  };

  let server: Awaited<ReturnType<typeof startSignedServer>>;
  try {
    server = await startSignedServer(
      {
        host: opts.host,
        port: opts.port,
        key: opts.key,
        nodeId: opts.id,
        // A client learns the id from this answer (a --peer URL, a LAN announcement's mere claim).
        anyNodeRoutes: [`GET ${API.info}`],
        ...(opts.log ? { log: opts.log } : {}),
        ...(opts.tls ? { tls: opts.tls } : {}),
        // A route may wait silently for the operator or for the origin's first byte.
        socketIdleTimeoutMs: Math.max(
          SERVER_SOCKET_IDLE_TIMEOUT_MS,
          2 * Math.max(timeoutMs, consentTimeoutMs),
        ),
        routes: {
          [`GET ${API.info}`]: info,
          [`POST ${API.offer}`]: offer,
          [`POST ${API.fetch}`]: (ctx) => {
            assertRangeWithinLimit(ctx.json(FetchRequest));
            return handleFetch(ctx, {
              consent,
              slots: slots.forClient(ctx.address),
              origin,
              clientStallTimeoutMs: opts.clientStallTimeoutMs ?? PEER_CLIENT_STALL_TIMEOUT_MS,
              ...(opts.log ? { log: opts.log } : {}),
              ...(upload ? { throttle: (bytes, fetchSignal) => upload.take(bytes, fetchSignal) } : {}),
            });
          },
        },
      },
      signal,
    );
  } catch (error) {
    await dispatcher.destroy();
    throw error;
  }

  const registration = register(opts, server.address.port, signal);
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await registration?.stop();
      await server.close();
      await dispatcher.destroy();
    })();
    return closing;
  };
  signal.addEventListener('abort', () => void close(), { once: true });
  return { url: server.url, id: opts.id, address: server.address, close };
}

function register(opts: PeerOptions, port: number, signal: AbortSignal): Registration | undefined {
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
      ...(opts.trust ? { client: { dispatcher: opts.trust.dispatcher } } : {}),
      ...(opts.heartbeatMs === undefined ? {} : { intervalMs: opts.heartbeatMs }),
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.onTrackerError ? { onError: opts.onTrackerError } : {}),
    },
    signal,
  );
}

/** A range this large would tie a slot up for hours; no client of ours asks for one. */
function assertRangeWithinLimit(request: FetchRequest): void {
  const length = request.end - request.start;
  if (length <= MAX_FETCH_RANGE_BYTES) return;
  throw new DdmError(
    'PROTOCOL',
    `range of ${length} bytes is larger than the ${MAX_FETCH_RANGE_BYTES} bytes a peer fetches at once`,
    { details: { length, maxRangeBytes: MAX_FETCH_RANGE_BYTES } },
  );
}

/** What the peer will tell trackers must pass their checks; better to say so before listening. */
function checkIdentity(opts: PeerOptions): void {
  const parsed = RegisterRequest.safeParse({
    id: opts.id,
    name: opts.name,
    port: DEFAULT_PEER_PORT,
    slots: opts.slots,
    version: DDM_VERSION,
  });
  if (parsed.success) return;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
  throw new DdmError('USAGE', `invalid peer settings: ${problems}`);
}
