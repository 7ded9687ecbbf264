/**
 * Iterates a Readable chunk by chunk as the socket delivered them. Node's own async iterator
 * calls `read()`, which concatenates everything buffered into a new Buffer: one more copy of
 * every byte on the hot path. Here chunks are handed on as they are, with pause/resume for
 * backpressure.
 */
import type { Readable } from 'node:stream';

/** Chunks queued before the stream is paused (undici delivers up to 64 KiB each). */
const MAX_QUEUED_CHUNKS = 32;

export async function* streamChunks(stream: Readable): AsyncGenerator<Buffer, void, undefined> {
  const queue: Buffer[] = [];
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const onData = (chunk: Buffer) => {
    queue.push(chunk);
    if (queue.length >= MAX_QUEUED_CHUNKS) stream.pause();
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  const onError = (error: unknown) => {
    failure ??= error;
    ended = true;
    notify();
  };
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.on('close', onEnd);
  stream.on('error', onError);
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        if (stream.isPaused() && queue.length < MAX_QUEUED_CHUNKS / 2) stream.resume();
        yield chunk;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('close', onEnd);
    stream.off('error', onError);
    // The caller usually destroys the stream next, which may emit an error nobody would hear.
    stream.on('error', ignore);
  }
}

function ignore(): void {}
