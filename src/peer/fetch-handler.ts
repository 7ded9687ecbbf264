/**
 * POST /v1/fetch: one byte range from the origin, streamed through to the client as it
 * arrives. Nothing touches the disk; the client's pace sets the origin's pace (backpressure).
 */
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { DdmError } from '../errors.js';
import { relayBody } from '../origin/exact-body.js';
import type { OriginRequestOptions } from '../origin/http-client.js';
import type { LeasedBytes } from '../origin/leased-bytes.js';
import { relayLeased } from '../origin/leased-relay.js';
import { type OpenedRange, openLeasedRange, openRangeBody, rangeBytes } from '../origin/range-request.js';
import { FetchRequest } from '../protocol/messages.js';
import { sendStreamHead } from '../transport/server/signed-answers.js';
import type { SignedContext } from '../transport/server/signed-server.js';
import type { ConsentDesk } from './consent.js';
import type { SlotPool } from './slots.js';

export interface FetchDeps {
  consent: ConsentDesk;
  slots: SlotPool;
  /** Everything but the client's forwarded headers. */
  origin: Omit<OriginRequestOptions, 'headers'>;
  /** A client that reads nothing for this long, while bytes wait for it, loses the slot. */
  clientStallTimeoutMs: number;
  log?: Logger;
  /** Waits until `bytes` more may be served (`--max-upload`); absent: no limit. */
  throttle?: (bytes: number, signal: AbortSignal) => Promise<void>;
}

export async function handleFetch(ctx: SignedContext, deps: FetchDeps): Promise<void> {
  const request = ctx.json(FetchRequest);
  // Held for the whole stream: a consent in use is never evicted, however many offers come.
  const consent = deps.consent.hold(request.clientId, ctx.address, request.url);
  if (consent === undefined) {
    throw new DdmError('PEER_REFUSED', 'no standing consent for this client and URL: make an offer first');
  }
  const release = deps.slots.tryTake();
  if (release === undefined) {
    consent();
    throw new DdmError('PEER_BUSY', `all ${deps.slots.total} slots of this peer are busy`, {
      retryable: true,
    });
  }
  let leased: LeasedBytes | undefined;
  try {
    const range = { start: request.start, end: request.end };
    const options: OriginRequestOptions = { ...deps.origin, headers: request.headers ?? {} };
    // Until the origin has answered, a failure is still a clean JSON error for the client.
    leased = await openLeasedRange(request.url, range, request.validators, options, ctx.signal);
    const opened = leased
      ? undefined
      : await openRangeBody(request.url, range, request.validators, options, ctx.signal);
    sendStreamHead(ctx.res, range.end - range.start, ctx.key, ctx.nonce);
    const throttle = deps.throttle;
    const watch = watchClientReads(ctx.res, deps.clientStallTimeoutMs);
    try {
      await serve(ctx, leased, opened, throttle).catch((error: unknown) => {
        // A range cut short must show as a broken stream to the client, never as a quiet pause.
        ctx.res.destroy();
        if (!ctx.signal.aborted)
          deps.log?.warn({ err: error, url: request.url, range }, 'range stream broke off');
        throw error;
      });
    } finally {
      watch.stop();
    }
  } finally {
    // A range not read to its end (the stream never started, or broke off) closes its connection.
    await leased?.[Symbol.asyncIterator]().return?.();
    release();
    consent();
  }
}

/**
 * The origin's bytes to the client: leased slabs as they are (own sockets), else undici's chunks
 * straight to the client's socket, or through the upload limit when there is one.
 */
function serve(
  ctx: SignedContext,
  leased: LeasedBytes | undefined,
  opened: OpenedRange | undefined,
  throttle: FetchDeps['throttle'],
): Promise<void> {
  if (leased !== undefined) return relayLeased(leased, ctx.res, ctx.signal, throttle);
  const range = opened!;
  if (throttle === undefined) return relayBody(range.body, ctx.res, range, ctx.signal);
  return pipeline(
    rangeBytes(range, ctx.signal),
    async function* (source: AsyncIterable<Uint8Array>) {
      for await (const chunk of source) {
        await throttle(chunk.byteLength, ctx.signal);
        yield chunk;
      }
    },
    ctx.res,
  );
}

/** How often a stream checks that its client still reads, as a share of the stall timeout. */
const STALL_CHECKS_PER_TIMEOUT = 4;

/**
 * Cuts the answer when its client has taken no byte for `stallMs` while bytes wait for it
 * (backpressure, not a slow origin: the origin has its own timeouts). Cutting it ends the
 * pipeline, which frees the slot and closes the origin request.
 */
function watchClientReads(res: ServerResponse, stallMs: number): { stop(): void } {
  const socket = res.socket;
  let written = socket?.bytesWritten ?? 0;
  let lastProgress = Date.now();
  const timer = setInterval(
    () => {
      const now = Date.now();
      const current = socket?.bytesWritten ?? 0;
      if (current !== written || !res.writableNeedDrain) {
        written = current;
        lastProgress = now;
        return;
      }
      if (now - lastProgress >= stallMs) {
        res.destroy(new DdmError('TIMEOUT', `client read nothing for ${stallMs} ms; slot taken back`));
      }
    },
    Math.max(1, Math.floor(stallMs / STALL_CHECKS_PER_TIMEOUT)),
  );
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
