import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RateLimiter } from '../../src/util/rate-limiter.js';
import { within } from '../helpers/wait.js';

const KiB = 1024;

/** Takes `chunk`-byte pieces from `limiter` by `takers` at once for `ms`; returns bytes per second. */
async function measure(limiter: RateLimiter, ms: number, chunk: number, takers: number): Promise<number> {
  const signal = AbortSignal.timeout(ms * 3);
  const started = performance.now();
  let bytes = 0;
  await Promise.all(
    Array.from({ length: takers }, async () => {
      while (performance.now() - started < ms) {
        await limiter.take(chunk, signal);
        bytes += chunk;
      }
    }),
  );
  return (bytes * 1000) / (performance.now() - started);
}

describe('rate limiter', () => {
  test('holds the rate within 10% over 3 s, with several takers and chunks larger than the burst', async () => {
    const target = 512 * KiB;
    const measured = await measure(new RateLimiter(target), 3_000, 64 * KiB, 4);
    assert.ok(Math.abs(measured - target) / target < 0.1, `measured ${measured} B/s for ${target}`);
  });

  test('0 means no limit, and a changed rate applies to takers already waiting', async () => {
    const limiter = new RateLimiter(0);
    await within(limiter.take(1e12, AbortSignal.timeout(1_000)), 1_000, 'unlimited take');
    limiter.setRate(1);
    const waiting = limiter.take(1_000_000, AbortSignal.timeout(10_000));
    limiter.setRate(0);
    await within(waiting, 1_000, 'take after the limit was lifted');
  });

  test('an aborted wait rejects', async () => {
    const limiter = new RateLimiter(1);
    const controller = new AbortController();
    const waiting = limiter.take(1_000_000, controller.signal);
    controller.abort();
    await assert.rejects(waiting);
  });
});
