/**
 * A helper's relay of a leased range (leased-bytes.ts) to its client: each slab goes to the
 * client's stream as it is, and is released once the stream has handed it to the socket.
 * The stream's backpressure pauses the reading, so memory stays at the range's slabs.
 */
import type { Writable } from 'node:stream';
import { abortError, DdmError } from '../errors.js';
import type { LeasedBytes } from './leased-bytes.js';

/** Writes every byte of `body` to `out` and ends it; rejects when either side fails or `out` closes early. */
export async function relayLeased(
  body: LeasedBytes,
  out: Writable,
  signal: AbortSignal,
  throttle?: (bytes: number, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  for await (const chunk of body) {
    if (throttle !== undefined) await throttle(chunk.byteLength, signal);
    if (out.destroyed) throw clientGone();
    const bytes = chunk.byteLength;
    const more = out.write(chunk, (error) => {
      if (!error) body.release(bytes);
    });
    if (!more) await drained(out, signal);
  }
  await new Promise<void>((resolve, reject) => {
    out.end((error?: Error | null) => (error ? reject(error) : resolve()));
  });
}

function drained(out: Writable, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const settle = (error?: unknown) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onDrain = () => settle();
    const onClose = () => settle(clientGone());
    const onAbort = () => settle(abortError(signal));
    out.on('drain', onDrain);
    out.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    else if (out.destroyed) onClose();
  });
}

function clientGone(): DdmError {
  return new DdmError('PEER_FAILED', 'the client went away before the range was sent');
}
