import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import { MAX_RETRY_AFTER_MS, RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS } from '../../src/constants.js';
import { DdmError, isDdmError } from '../../src/errors.js';
import { createOriginDispatcher, type OriginRequestOptions } from '../../src/origin/http-client.js';
import { probe } from '../../src/origin/probe.js';
import { parseRetryAfter, type RetryInfo, retryDelayMs, withRetries } from '../../src/origin/retry.js';
import { startTestOrigin } from '../helpers/test-origin.js';

const transient = (message = 'flaky') => new DdmError('NETWORK', message, { retryable: true });

describe('withRetries', () => {
  it('retries retryable errors and returns the first success', async () => {
    const retries: RetryInfo[] = [];
    let calls = 0;
    const result = await withRetries(
      async (tryNumber) => {
        calls += 1;
        assert.equal(tryNumber, calls);
        if (tryNumber < 3) throw transient();
        return 'done';
      },
      {
        maxTries: 5,
        signal: AbortSignal.timeout(5_000),
        baseDelayMs: 10,
        maxDelayMs: 40,
        onRetry: (info) => retries.push(info),
      },
    );
    assert.equal(result, 'done');
    assert.deepEqual(
      retries.map((info) => info.tryNumber),
      [2, 3],
    );
    assert.ok(
      retries.every((info) => info.delayMs >= 0 && info.delayMs <= 40 && info.error.code === 'NETWORK'),
    );
  });

  it('does not retry a non-retryable DdmError or a foreign error', async () => {
    for (const error of [new DdmError('HTTP_STATUS', 'origin answered 404'), new TypeError('bug')]) {
      let calls = 0;
      await assert.rejects(
        withRetries(
          async () => {
            calls += 1;
            throw error;
          },
          { maxTries: 5, signal: AbortSignal.timeout(5_000), baseDelayMs: 1 },
        ),
        (thrown) => thrown === error,
      );
      assert.equal(calls, 1);
    }
  });

  it('after maxTries rethrows the last error with its code and the number of tries', async () => {
    let calls = 0;
    await assert.rejects(
      withRetries(
        async () => {
          calls += 1;
          throw new DdmError('TIMEOUT', `timed out (${calls})`, { retryable: true, details: { url: 'u' } });
        },
        { maxTries: 3, signal: AbortSignal.timeout(5_000), baseDelayMs: 1, maxDelayMs: 2 },
      ),
      (error) => {
        assert.ok(isDdmError(error, 'TIMEOUT'));
        assert.equal(error.message, 'timed out (3) (after 3 tries)');
        assert.deepEqual(error.details, { url: 'u', tries: 3 });
        return true;
      },
    );
    assert.equal(calls, 3);
  });

  it('refuses a Retry-After beyond the limit', async () => {
    const tooLong = new DdmError('HTTP_STATUS', 'busy', {
      retryable: true,
      details: { retryAfterMs: MAX_RETRY_AFTER_MS + 1 },
    });
    await assert.rejects(
      withRetries(
        async () => {
          throw tooLong;
        },
        { maxTries: 3, signal: AbortSignal.timeout(5_000) },
      ),
      (error) => isDdmError(error, 'RETRY_AFTER_TOO_LONG') && error.cause === tooLong,
    );
  });

  it('stops waiting as soon as the signal aborts', async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(
      withRetries(
        async () => {
          throw new DdmError('HTTP_STATUS', 'busy', { retryable: true, details: { retryAfterMs: 10_000 } });
        },
        { maxTries: 3, signal: controller.signal },
      ),
      (error) => isDdmError(error, 'ABORTED'),
    );
    assert.ok(performance.now() - started < 1_000);
  });

  describe('against an origin answering 503 with Retry-After: 1', () => {
    let dispatcher: Dispatcher;
    before(() => {
      dispatcher = createOriginDispatcher({ timeoutMs: 5_000, proxyFromEnv: false });
    });
    after(() => dispatcher.close());

    it('waits about as long as asked, then succeeds', async () => {
      const origin = await startTestOrigin({
        data: Buffer.from('hello'),
        status503: { times: 1, retryAfterSec: 1 },
      });
      try {
        const options: OriginRequestOptions = {
          dispatcher,
          headers: {},
          userAgent: 'ddm-test',
          timeoutMs: 5_000,
          maxRedirects: 5,
        };
        const signal = AbortSignal.timeout(5_000);
        const delays: number[] = [];
        const started = performance.now();
        const result = await withRetries(() => probe(origin.url, options, signal), {
          maxTries: 3,
          signal,
          onRetry: ({ delayMs }) => delays.push(delayMs),
        });
        const elapsed = performance.now() - started;
        assert.equal(result.size, 5);
        assert.deepEqual(delays, [1_000]);
        assert.ok(elapsed >= 900 && elapsed < 3_000, `took ${elapsed} ms`);
        assert.equal(origin.fileRequests, 2);
      } finally {
        await origin.close();
      }
    });
  });
});

describe('retryDelayMs', () => {
  it('grows exponentially with full jitter, capped', () => {
    const error = transient();
    assert.equal(
      retryDelayMs(error, 1, {}, () => 1),
      RETRY_BASE_DELAY_MS,
    );
    assert.equal(
      retryDelayMs(error, 3, {}, () => 1),
      RETRY_BASE_DELAY_MS * 4,
    );
    assert.equal(
      retryDelayMs(error, 40, {}, () => 1),
      RETRY_MAX_DELAY_MS,
    );
    assert.equal(
      retryDelayMs(error, 3, {}, () => 0),
      0,
    );
    assert.equal(
      retryDelayMs(error, 2, { baseDelayMs: 100, maxDelayMs: 150 }, () => 0.5),
      75,
    );
  });

  it('uses Retry-After when the error carries one', () => {
    const error = new DdmError('HTTP_STATUS', 'busy', { retryable: true, details: { retryAfterMs: 1_234 } });
    assert.equal(
      retryDelayMs(error, 1, {}, () => 0),
      1_234,
    );
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');

  it('reads delay-seconds', () => {
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter(' 120 ', now), 120_000);
  });

  it('reads the three HTTP date formats', () => {
    assert.equal(parseRetryAfter('Wed, 01 May 2024 12:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Wednesday, 01-May-24 12:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Wed May  1 12:00:05 2024', now), 5_000);
  });

  it('clamps a date in the past to zero', () => {
    assert.equal(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', now), 0);
  });

  it('ignores absent or unreadable values', () => {
    for (const value of [undefined, '', 'soon', '1.5', '-3', '10s', '0x10']) {
      assert.equal(parseRetryAfter(value, now), undefined, String(value));
    }
  });
});
