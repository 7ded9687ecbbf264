/**
 * `download()`: one download as one promise, on an engine of its own. It lives with the engine
 * (not beside `runDownload()` in client/download.ts) because it is built on the engine, which is
 * built on the client: the other way round would make the two import each other.
 */
import type { DownloadOptions, DownloadResult } from '../client/download.js';
import { addPrepared, createEngine } from './engine.js';

/**
 * For callers that want neither a queue nor a handle. Aborting `signal` stops it after a
 * checkpoint, so a later call resumes it.
 */
export async function download(options: DownloadOptions, signal: AbortSignal): Promise<DownloadResult> {
  const engine = createEngine({
    signal,
    maxActive: 1,
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  try {
    return await addPrepared(engine, options).finished();
  } finally {
    await engine.close();
  }
}
