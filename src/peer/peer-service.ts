/**
 * What a peer serves (info, offer, fetch) with its consent desk, slots and upload limit, apart
 * from where it listens: `ddm peer` puts it on a server of its own, `ddm daemon --helper` on the
 * daemon's port. Slots, accept mode and upload limit can change while it serves.
 */
import type { Logger } from 'pino';
import {
  CONSENT_PROMPT_TIMEOUT_MS,
  CONSENT_TTL_MS,
  DDM_VERSION,
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
import { OriginSockets } from '../origin/origin-sockets.js';
import { parseOriginUrl } from '../origin/origin-url.js';
import type { SwarmKey } from '../protocol/auth.js';
import {
  API,
  FetchRequest,
  OfferRequest,
  type OfferResponse,
  type PeerInfoResponse,
} from '../protocol/messages.js';
import type { SignedContext, SignedHandlerOptions } from '../transport/server/signed-server.js';
import { RateLimiter } from '../util/rate-limiter.js';
import { type AcceptMode, ConsentDesk } from './consent.js';
import { type ConsentPrompt, createTtyPrompt } from './consent-prompt.js';
import { handleFetch } from './fetch-handler.js';
import { createGuardedConnector } from './guard-connector.js';
import { createGuardedDialer } from './guard-dialer.js';
import { assertAllowedUrl } from './origin-guard.js';
import { SharedSlots } from './slots.js';

export interface PeerServiceOptions {
  key: SwarmKey;
  id: string;
  name: string;
  slots: number;
  accept: AcceptMode;
  /** Let this peer fetch loopback, private, link-local and other non-public addresses. */
  allowPrivate: boolean;
  /** The peer serves https (its info says so). */
  tls?: boolean;
  /** Answers `--accept ask` offers; defaults to a question on the terminal. */
  prompt?: ConsentPrompt;
  log?: Logger;
  userAgent?: string;
  /** Origin connect, response-head and idle-body timeout. */
  timeoutMs?: number;
  consentTimeoutMs?: number;
  consentTtlMs?: number;
  /** A fetch whose client reads nothing for this long, while bytes wait, loses its slot. */
  clientStallTimeoutMs?: number;
  /** Clock for consent expiry. */
  now?: () => number;
  /** Bytes per second this peer serves over all its clients (`--max-upload`); 0 or absent: no limit. */
  maxUploadBytesPerSec?: number;
  /** Hears of every accepted offer and every fetch served (the daemon's helper role shows them). */
  observer?: ServingObserver;
}

/** One fetch being served, as an observer tracks it. */
export interface ServedFetch {
  /** `bytes` more went to the client. */
  sent(bytes: number): void;
  end(): void;
}

export interface ServingObserver {
  accepted(offer: OfferRequest, address: string): void;
  fetchStarted(request: FetchRequest, address: string): ServedFetch;
}

export interface PeerService {
  /** The signed routes, for startSignedServer or createSignedHandler. */
  readonly handler: SignedHandlerOptions;
  readonly slots: SharedSlots;
  setSlots(slots: number): void;
  setAccept(mode: AcceptMode): void;
  setMaxUpload(bytesPerSec: number): void;
  /** Closes the origin sockets. */
  close(): Promise<void>;
}

export function createPeerService(opts: PeerServiceOptions): PeerService {
  const slots = new SharedSlots(opts.slots);
  const upload = new RateLimiter(opts.maxUploadBytesPerSec ?? 0);
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
  // Plain-http ranges are relayed from ddm's own sockets, behind the same guard as the dispatcher.
  const sockets = new OriginSockets(createGuardedDialer({ allowPrivate: opts.allowPrivate }));
  const origin = {
    dispatcher,
    sockets,
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
    opts.observer?.accepted(request, ctx.address);
    const answer: OfferResponse = { accepted: true, slots: slots.total };
    ctx.reply(200, answer);
  };
  const fetch = async (ctx: SignedContext) => {
    const request = ctx.json(FetchRequest);
    assertRangeWithinLimit(request);
    const served = opts.observer?.fetchStarted(request, ctx.address);
    // The throttle sees every chunk: the place to count bytes too (only when someone counts).
    const throttle =
      upload.bytesPerSecond > 0 || served
        ? async (bytes: number, fetchSignal: AbortSignal) => {
            await upload.take(bytes, fetchSignal);
            served?.sent(bytes);
          }
        : undefined;
    try {
      await handleFetch(ctx, {
        consent,
        slots: slots.forClient(ctx.address),
        origin,
        clientStallTimeoutMs: opts.clientStallTimeoutMs ?? PEER_CLIENT_STALL_TIMEOUT_MS,
        ...(opts.log ? { log: opts.log } : {}),
        ...(throttle ? { throttle } : {}),
      });
    } finally {
      served?.end();
    }
  };

  return {
    handler: {
      key: opts.key,
      nodeId: opts.id,
      // A client learns the id from this answer (a --peer URL, a LAN announcement's mere claim).
      anyNodeRoutes: [`GET ${API.info}`],
      ...(opts.log ? { log: opts.log } : {}),
      // A route may wait silently for the operator or for the origin's first byte.
      socketIdleTimeoutMs: Math.max(SERVER_SOCKET_IDLE_TIMEOUT_MS, 2 * Math.max(timeoutMs, consentTimeoutMs)),
      routes: {
        [`GET ${API.info}`]: info,
        [`POST ${API.offer}`]: offer,
        [`POST ${API.fetch}`]: fetch,
      },
    },
    slots,
    setSlots: (count) => slots.resize(count),
    setAccept: (mode) => consent.setMode(mode),
    setMaxUpload: (rate) => upload.setRate(rate),
    close: () => {
      sockets.close();
      return dispatcher.destroy();
    },
  };
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
