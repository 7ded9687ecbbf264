/** A response body that yields exactly the bytes announced, and fails loudly otherwise. */
import type { Writable } from 'node:stream';
import { setImmediate as nextLoopTurn } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { abortError, DdmError, isDdmError } from '../errors.js';
import { streamChunks } from '../util/stream-chunks.js';
import { describeUrl } from './origin-url.js';
import { fromTransportError } from './transport-errors.js';

/** The body of an origin's response, as undici hands it over. */
export type ResponseBody = Dispatcher.ResponseData['body'];

/** Ways undici reports a peer that closed before the body was complete. */
const EARLY_CLOSE_CODES = new Set(['UND_ERR_SOCKET', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH']);

/**
 * Yields the body, `expected` bytes in all when known. A chunk that would go past `expected`
 * is never yielded; an early end is a retryable BAD_RESPONSE. Reading to the natural end
 * (rather than stopping at `expected`) lets undici reuse the socket.
 */
export async function* exactBody(
  body: ResponseBody,
  expected: number | null,
  url: URL,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array, void, undefined> {
  let received = 0;
  try {
    for await (const chunk of streamChunks(body)) {
      if (expected !== null && received + chunk.byteLength > expected) {
        throw new DdmError(
          'BAD_RESPONSE',
          `origin sent more than the ${expected} bytes announced by ${describeUrl(url)}`,
          { details: { url: describeUrl(url), expected }, retryable: true },
        );
      }
      received += chunk.byteLength;
      yield chunk;
    }
    await socketReusable();
  } catch (error) {
    throw bodyError(error, received, expected, url, signal);
  } finally {
    // Stops the transfer when the consumer left early; a no-op once the body ended.
    body.destroy();
  }
  if (expected !== null && received < expected) throw shortBody(received, expected, url);
}

/**
 * Yields the first `wanted` bytes of a body that runs longer (a 206 that starts where asked
 * but goes on to the end, as busybox httpd sends), then closes it: the rest was not asked for
 * and may belong to another worker. An early end is a retryable BAD_RESPONSE.
 */
export async function* leadingBytes(
  body: ResponseBody,
  wanted: number,
  url: URL,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array, void, undefined> {
  let received = 0;
  try {
    for await (const chunk of streamChunks(body)) {
      const part = received + chunk.byteLength > wanted ? chunk.subarray(0, wanted - received) : chunk;
      received += part.byteLength;
      if (part.byteLength > 0) yield part;
      if (received >= wanted) return;
    }
  } catch (error) {
    throw bodyError(error, received, wanted, url, signal);
  } finally {
    // Cuts the socket off: undici cannot reuse a connection whose body was not read to its end.
    body.destroy();
  }
  if (received < wanted) throw shortBody(received, wanted, url);
}

/**
 * Writes exactly `wanted` bytes of `body` to `out` and ends it, with the checks of `exactBody`
 * (or of `leadingBytes` when the body `runsLonger`). Chunks go on as the socket delivered them,
 * from the body's events: no async iterator, no promise per chunk, no re-chunking. `out`'s
 * backpressure pauses the body. Rejects (the body destroyed, `out` left to the caller) when
 * either side fails or `out` closes early.
 */
export function relayBody(
  body: ResponseBody,
  out: Writable,
  range: { wanted: number; runsLonger: boolean; url: URL },
  signal: AbortSignal,
): Promise<void> {
  const { wanted, runsLonger, url } = range;
  return new Promise<void>((resolve, reject) => {
    let received = 0;
    let settled = false;
    const detachBody = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onBodyError);
      body.off('close', onBodyClose);
      // Destroying may emit an error nobody would hear otherwise.
      body.on('error', ignore);
    };
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      detachBody();
      out.off('drain', onDrain);
      out.off('close', onOutClose);
      out.off('error', onOutError);
      if (error === undefined) resolve();
      else {
        body.destroy();
        reject(error);
      }
    };
    const endOut = () => {
      out.off('close', onOutClose);
      out.end((error?: Error | null) => settle(error ?? undefined));
    };
    const onData = (chunk: Buffer) => {
      let part: Buffer = chunk;
      if (received + chunk.byteLength > wanted) {
        if (!runsLonger) {
          settle(
            new DdmError(
              'BAD_RESPONSE',
              `origin sent more than the ${wanted} bytes announced by ${describeUrl(url)}`,
              { details: { url: describeUrl(url), expected: wanted }, retryable: true },
            ),
          );
          return;
        }
        part = chunk.subarray(0, wanted - received);
      }
      received += part.byteLength;
      const more = out.write(part);
      if (runsLonger && received >= wanted) {
        // The rest was not asked for: cut the origin off (its socket cannot be reused anyway).
        detachBody();
        body.destroy();
        endOut();
        return;
      }
      if (!more) body.pause();
    };
    const onDrain = () => body.resume();
    const onEnd = () => {
      if (received < wanted) {
        settle(shortBody(received, wanted, url));
        return;
      }
      // As in exactBody: report the end one loop turn later, so the socket is free for reuse.
      socketReusable().then(endOut, endOut);
    };
    const onBodyError = (error: unknown) => settle(bodyError(error, received, wanted, url, signal));
    const onBodyClose = () => {
      if (received < wanted) settle(bodyError(signal.reason, received, wanted, url, signal));
    };
    const onOutError = (error: unknown) => settle(error);
    const onOutClose = () =>
      settle(new DdmError('PEER_FAILED', 'the client went away before the range was sent'));
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onBodyError);
    body.on('close', onBodyClose);
    out.on('drain', onDrain);
    out.on('close', onOutClose);
    out.on('error', onOutError);
    if (signal.aborted) settle(abortError(signal));
  });
}

function ignore(): void {}

function bodyError(
  error: unknown,
  received: number,
  expected: number | null,
  url: URL,
  signal: AbortSignal,
): DdmError {
  if (signal.aborted) return abortError(signal);
  if (isDdmError(error)) return error;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (expected !== null && typeof code === 'string' && EARLY_CLOSE_CODES.has(code)) {
    return shortBody(received, expected, url, error);
  }
  return fromTransportError(error, url, signal);
}

function shortBody(received: number, expected: number, url: URL, cause?: unknown): DdmError {
  return new DdmError(
    'BAD_RESPONSE',
    `short body from ${describeUrl(url)}: got ${received} of ${expected} bytes`,
    { cause, details: { url: describeUrl(url), received, expected }, retryable: true },
  );
}

/**
 * undici frees a keep-alive socket one event-loop turn after the response ends (with
 * pipelining 1). Waiting that turn before reporting the end lets the caller's next request
 * reuse the socket instead of opening a new connection.
 */
export function socketReusable(): Promise<void> {
  return nextLoopTurn();
}
