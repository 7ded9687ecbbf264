/**
 * POST /v1/fetch: one byte range from the origin, streamed through to the client as it
 * arrives. Nothing touches the disk; the client's pace sets the origin's pace (backpressure).
 */
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { DdmError } from '../errors.js';
import type { OriginRequestOptions } from '../origin/http-client.js';
import { openRange } from '../origin/range-request.js';
import { FetchRequest } from '../protocol/messages.js';
import { sendStreamHead } from '../util/signed-http.js';
import type { SignedContext } from '../util/signed-server.js';
import type { ConsentDesk } from './consent.js';
import type { SlotPool } from './slots.js';

export interface FetchDeps {
  consent: ConsentDesk;
  slots: SlotPool;
  /** Everything but the client's forwarded headers. */
  origin: Omit<OriginRequestOptions, 'headers'>;
  log?: Logger;
  /** Waits until `bytes` more may be served (`--max-upload`); absent: no limit. */
  throttle?: (bytes: number, signal: AbortSignal) => Promise<void>;
}

export async function handleFetch(ctx: SignedContext, deps: FetchDeps): Promise<void> {
  const request = ctx.json(FetchRequest);
  if (!deps.consent.allows(request.clientId, ctx.address, request.url)) {
    throw new DdmError('PEER_REFUSED', 'no standing consent for this client and URL: make an offer first');
  }
  const release = deps.slots.tryTake();
  if (release === undefined) {
    throw new DdmError('PEER_BUSY', `all ${deps.slots.total} slots of this peer are busy`, {
      retryable: true,
    });
  }
  try {
    const range = { start: request.start, end: request.end };
    const options: OriginRequestOptions = { ...deps.origin, headers: request.headers ?? {} };
    // Until the origin has answered, a failure is still a clean JSON error for the client.
    const body = await openRange(request.url, range, request.validators, options, ctx.signal);
    sendStreamHead(ctx.res, range.end - range.start, ctx.key, ctx.nonce);
    const throttle = deps.throttle;
    const served = throttle
      ? pipeline(
          body,
          async function* (source: AsyncIterable<Uint8Array>) {
            for await (const chunk of source) {
              await throttle(chunk.byteLength, ctx.signal);
              yield chunk;
            }
          },
          ctx.res,
        )
      : pipeline(body, ctx.res);
    await served.catch((error: unknown) => {
      if (!ctx.signal.aborted)
        deps.log?.warn({ err: error, url: request.url, range }, 'range stream broke off');
      throw error;
    });
  } finally {
    release();
  }
}
