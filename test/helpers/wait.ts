import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { isLeased } from '../../src/origin/leased-bytes.js';

/** How often `eventually` checks its condition. */
const POLL_MS = 20;

/** `work`, or a failure naming `what` once `ms` have passed. */
export async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until it holds (a check that throws counts as not yet), failing after `ms`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  ms = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (
    !(await Promise.resolve()
      .then(check)
      .catch(() => false))
  ) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await delay(POLL_MS);
  }
}

/** Every byte of a stream, in one buffer. */
export async function drain(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  // Leased chunks are views of slabs the socket reads into again once released: copy them first.
  const leased = isLeased(body) ? body : undefined;
  for await (const chunk of body) {
    chunks.push(leased ? Buffer.from(chunk) : chunk);
    leased?.release(chunk.byteLength);
  }
  return Buffer.concat(chunks);
}
