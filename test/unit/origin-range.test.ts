import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import { isDdmError } from '../../src/errors.js';
import { createOriginDispatcher, type OriginRequestOptions } from '../../src/origin/http-client.js';
import { isLeased } from '../../src/origin/leased-bytes.js';
import { plainDialer } from '../../src/origin/origin-dialer.js';
import { OriginSockets } from '../../src/origin/origin-sockets.js';
import { probe } from '../../src/origin/probe.js';
import {
  openRange as openRangeFrom,
  openWhole,
  type RangeExpectation,
} from '../../src/origin/range-request.js';
import type { Validators } from '../../src/types/validators.js';
import { sha256 } from '../helpers/cli.js';
import { startTestOrigin, type TestOrigin, type TestOriginOptions } from '../helpers/test-origin.js';

const TIMEOUT_MS = 5_000;
const data = randomBytes(1024 * 1024 + 17);

/** The body's bytes; a leased body's chunks are copied, then released as a writer would. */
async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) {
    if (isLeased(body)) {
      chunks.push(Buffer.from(chunk));
      body.release(chunk.byteLength);
    } else chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Every range test runs twice: through undici, and over ddm's own sockets into leased slabs
 * (origin-sockets.ts), which must give the same bytes and the same errors.
 */
for (const leased of [false, true]) {
  describe(leased ? 'openRange over own sockets (leased slabs)' : 'openRange and openWhole (undici)', () => {
    rangeTests(leased);
  });
}

function rangeTests(leased: boolean): void {
  let dispatcher: Dispatcher;
  let sockets: OriginSockets;
  const origins: TestOrigin[] = [];

  before(() => {
    dispatcher = createOriginDispatcher({ timeoutMs: TIMEOUT_MS, proxyFromEnv: false });
    sockets = new OriginSockets(plainDialer);
  });
  after(async () => {
    sockets.close();
    await Promise.all(origins.map((origin) => origin.close()));
    await dispatcher.close();
  });

  const openRange = (
    url: string,
    range: { start: number; end: number },
    validators: Validators,
    opts: OriginRequestOptions,
    signal: AbortSignal,
    expect: RangeExpectation,
  ) => openRangeFrom(url, range, validators, opts, signal, { ...expect, lease: leased });

  async function origin(options: Partial<TestOriginOptions> = {}): Promise<TestOrigin> {
    const started = await startTestOrigin({ data, ...options });
    origins.push(started);
    return started;
  }

  const requestOptions: () => OriginRequestOptions = () => ({
    dispatcher,
    headers: {},
    userAgent: 'ddm-test',
    timeoutMs: TIMEOUT_MS,
    maxRedirects: 5,
    ...(leased ? { sockets } : {}),
  });
  const signal = () => AbortSignal.timeout(TIMEOUT_MS);

  async function probed(server: TestOrigin): Promise<{ url: string; validators: Validators; size: number }> {
    const result = await probe(server.url, requestOptions(), signal());
    assert.notEqual(result.size, null);
    return { url: result.url, validators: result.validators, size: result.size! };
  }

  it('yields exactly the asked bytes, at the start, middle and end', async () => {
    const server = await origin();
    const { url, validators, size } = await probed(server);
    for (const range of [
      { start: 0, end: 1 },
      { start: 0, end: 65_536 },
      { start: 12_345, end: 678_901 },
      { start: size - 10, end: size },
    ]) {
      const body = await openRange(url, range, validators, requestOptions(), signal(), { size });
      assert.equal(isLeased(body), leased, 'the range went the way this suite tests');
      const bytes = await collect(body);
      assert.equal(bytes.length, range.end - range.start);
      assert.equal(sha256(bytes), sha256(data.subarray(range.start, range.end)));
    }
    assert.deepEqual(
      server.rangeLog.map(({ start, end }) => [start, end]),
      [
        [0, 1],
        [0, 1],
        [0, 65_536],
        [12_345, 678_901],
        [size - 10, size],
      ],
    );
  });

  it('reuses one keep-alive connection for the probe and consecutive ranges', async () => {
    const server = await origin();
    const { url, validators, size } = await probed(server);
    for (let start = 0; start < 4 * 100_000; start += 100_000) {
      const body = await openRange(
        url,
        { start, end: start + 100_000 },
        validators,
        requestOptions(),
        signal(),
        { size },
      );
      await collect(body);
    }
    assert.equal(server.fileRequests, 5);
    // The probe goes through undici; the ranges then share one connection of their own.
    assert.equal(server.connections, leased ? 2 : 1);
  });

  it('sends If-Range: a changed ETag gives ORIGIN_CHANGED, not spliced bytes', async () => {
    const server = await origin({ changeEtagAfterRequests: 1 });
    const { url, validators, size } = await probed(server);
    await assert.rejects(
      openRange(url, { start: 100, end: 200 }, validators, requestOptions(), signal(), { size }),
      (error) => {
        assert.ok(isDdmError(error, 'ORIGIN_CHANGED'));
        assert.equal(error.retryable, false);
        return true;
      },
    );
    assert.deepEqual(server.rangeLog.at(-1), { start: 100, end: 200, status: 200 });
  });

  it('uses Last-Modified for If-Range when there is no strong ETag', async () => {
    const server = await origin({ etag: 'W/"weak"', changeEtagAfterRequests: 2 });
    const { url, validators, size } = await probed(server);
    assert.equal(validators.etag, undefined);
    const bytes = await collect(
      await openRange(url, { start: 5, end: 50 }, validators, requestOptions(), signal(), { size }),
    );
    assert.equal(sha256(bytes), sha256(data.subarray(5, 50)));
    await assert.rejects(
      openRange(url, { start: 5, end: 50 }, validators, requestOptions(), signal(), { size }),
      (error) => isDdmError(error, 'ORIGIN_CHANGED'),
    );
  });

  it('refuses a 206 whose ETag differs from ours even without If-Range support', async () => {
    const server = await origin({ changeEtagAfterRequests: 1 });
    const { url, validators, size } = await probed(server);
    // Pretend the probe saw a different tag: the origin then answers 206 with its own ETag.
    const stale = { etag: '"stale"' };
    server.options.changeEtagAfterRequests = undefined;
    await assert.rejects(
      openRange(url, { start: 0, end: 10 }, stale, requestOptions(), signal(), { size }),
      (error) => isDdmError(error, 'ORIGIN_CHANGED'),
    );
    assert.ok(validators.etag);
  });

  it('a 200 to a ranged request without validators is a non-retryable BAD_RESPONSE', async () => {
    const server = await origin({ etag: null, lastModified: null });
    const { url, validators, size } = await probed(server);
    server.options.ranges = false;
    await assert.rejects(
      openRange(url, { start: 10, end: 20 }, validators, requestOptions(), signal(), { size }),
      (error) => {
        assert.ok(isDdmError(error, 'BAD_RESPONSE'));
        assert.equal(error.retryable, false);
        assert.match(error.message, /ignored the Range header/);
        return true;
      },
    );
  });

  it('a wrong Content-Range is a retryable BAD_RESPONSE', async () => {
    const server = await origin();
    const { url, validators, size } = await probed(server);
    server.options.wrongContentRange = { times: 1 };
    await assert.rejects(
      openRange(url, { start: 10, end: 20 }, validators, requestOptions(), signal(), { size }),
      (error) => {
        assert.ok(isDdmError(error, 'BAD_RESPONSE'));
        assert.equal(error.retryable, true);
        assert.match(error.message, /Content-Range "bytes 11-20\//);
        return true;
      },
    );
  });

  it('a Content-Range naming another total size is a retryable BAD_RESPONSE', async () => {
    const server = await origin();
    const { url, validators, size } = await probed(server);
    await assert.rejects(
      openRange(url, { start: 0, end: 10 }, validators, requestOptions(), signal(), { size: size + 1 }),
      (error) => isDdmError(error, 'BAD_RESPONSE') && error.retryable,
    );
  });

  it('a short body is a retryable BAD_RESPONSE after the bytes that did arrive', async () => {
    const server = await origin();
    const { url, validators, size } = await probed(server);
    server.options.shortBody = { times: 1 };
    const body = await openRange(url, { start: 0, end: 200_000 }, validators, requestOptions(), signal(), {
      size,
    });
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of body) received += chunk.byteLength;
      })(),
      (error) => {
        assert.ok(isDdmError(error, 'BAD_RESPONSE'));
        assert.equal(error.retryable, true);
        assert.match(error.message, /short body/);
        return true;
      },
    );
    assert.equal(received, 100_000);
  });

  it('a dropped connection mid-body is retryable', async () => {
    const server = await origin({ dropAfterBytes: 50_000, dropTimes: 1 });
    const body = await openRange(server.url, { start: 0, end: 200_000 }, {}, requestOptions(), signal(), {});
    await assert.rejects(collect(body), (error) => isDdmError(error) && error.retryable);
  });

  it('maps 416, 412, 404, 503 and 500 to typed errors', async () => {
    const server = await origin();
    const { url, validators, size } = await probed(server);
    const open = (range = { start: 0, end: 10 }, v = validators) =>
      openRange(url, range, v, requestOptions(), signal(), {});
    await assert.rejects(
      open({ start: size + 5, end: size + 10 }),
      (error) => isDdmError(error, 'BAD_RESPONSE') && !error.retryable,
    );

    server.options.status503 = { times: 1, retryAfterSec: 2 };
    await assert.rejects(open(), (error) => {
      assert.ok(isDdmError(error, 'HTTP_STATUS'));
      assert.equal(error.retryable, true);
      assert.equal(error.details.retryAfterMs, 2_000);
      return true;
    });
    server.options.status429 = { times: 1 };
    await assert.rejects(
      open(),
      (error) => isDdmError(error, 'HTTP_STATUS') && error.retryable && error.details.status === 429,
    );

    server.options.status = 500;
    await assert.rejects(open(), (error) => isDdmError(error, 'HTTP_STATUS') && error.retryable);
    server.options.status = 404;
    await assert.rejects(open(), (error) => {
      assert.ok(isDdmError(error, 'HTTP_STATUS'));
      assert.equal(error.retryable, false);
      assert.match(error.message, /^origin answered 404 Not Found for http:\/\/127\.0\.0\.1:\d+\/file$/);
      return true;
    });
    server.options.status = 412;
    await assert.rejects(open(), (error) => isDdmError(error, 'ORIGIN_CHANGED'));
  });

  it('follows redirects like probe does', async () => {
    const server = await origin({ redirects: 2 });
    const bytes = await collect(
      await openRange(server.url, { start: 3, end: 30 }, {}, requestOptions(), signal(), {}),
    );
    assert.equal(sha256(bytes), sha256(data.subarray(3, 30)));
  });

  it('stops promptly when aborted mid-body', async () => {
    const server = await origin({ rateBytesPerSec: 256 * 1024 });
    const controller = new AbortController();
    const body = await openRange(
      server.url,
      { start: 0, end: data.length },
      {},
      requestOptions(),
      controller.signal,
      {},
    );
    let received = 0;
    const started = performance.now();
    let abortedAt = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of body) {
          received += chunk.byteLength;
          if (received >= 32 * 1024 && abortedAt === 0) {
            abortedAt = performance.now();
            controller.abort();
          }
        }
      })(),
      (error) => isDdmError(error, 'ABORTED'),
    );
    assert.ok(performance.now() - abortedAt < 500, 'the body ended within 500 ms of the abort');
    assert.ok(performance.now() - started < 3_000);
    assert.ok(received < data.length / 2);
  });

  it('lets a consumer stop early by breaking out of the loop', async () => {
    const server = await origin({ rateBytesPerSec: 1024 * 1024 });
    const body = await openRange(
      server.url,
      { start: 0, end: data.length },
      {},
      requestOptions(),
      signal(),
      {},
    );
    for await (const chunk of body) {
      assert.ok(chunk.byteLength > 0);
      break;
    }
    const servedAfterBreak = server.bytesServed;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(server.bytesServed - servedAfterBreak <= 32 * 1024, 'the origin stopped sending');
  });

  it('takes only its part of a 206 that runs past the range (busybox httpd)', async () => {
    const server = await origin();
    const { url, validators, size } = await probed(server);
    server.options.overlongRanges = true;
    const body = await openRange(url, { start: 1000, end: 3000 }, validators, requestOptions(), signal(), {
      size,
    });
    assert.equal(sha256(await collect(body)), sha256(data.subarray(1000, 3000)));
  });

  it("refuses a content-coded 206 with ENCODED_RESPONSE: its offsets are not the file's", async () => {
    const server = await origin({ forceGzip: true });
    await assert.rejects(
      openRange(server.url, { start: 0, end: 100 }, {}, requestOptions(), signal(), {}),
      (error) => isDdmError(error, 'ENCODED_RESPONSE') && !error.retryable,
    );
  });

  it('rejects an invalid range before any request', async () => {
    const server = await origin();
    for (const range of [
      { start: 10, end: 10 },
      { start: -1, end: 5 },
      { start: 0.5, end: 5 },
    ]) {
      await assert.rejects(openRange(server.url, range, {}, requestOptions(), signal(), {}), (error) =>
        isDdmError(error, 'USAGE'),
      );
    }
    assert.equal(server.requests, 0);
  });

  // Whole bodies always go through undici: their tests run once.
  if (!leased)
    describe('openWhole', () => {
      it('streams the whole file with its size', async () => {
        const server = await origin({ ranges: false });
        const { body, size } = await openWhole(server.url, {}, requestOptions(), signal());
        assert.equal(size, data.length);
        assert.equal(sha256(await collect(body)), sha256(data));
      });

      it('streams a chunked file of unknown size', async () => {
        const server = await origin({ chunked: true });
        const { body, size } = await openWhole(server.url, {}, requestOptions(), signal());
        assert.equal(size, null);
        assert.equal(sha256(await collect(body)), sha256(data));
      });

      it('a body shorter than Content-Length is a retryable BAD_RESPONSE', async () => {
        const server = await origin({ shortBody: { times: 1 } });
        const { body } = await openWhole(server.url, {}, requestOptions(), signal());
        await assert.rejects(collect(body), (error) => isDdmError(error, 'BAD_RESPONSE') && error.retryable);
      });

      it('decodes a forced gzip with decodeContent, and reports no size', async () => {
        const server = await origin({ forceGzip: true });
        const whole = await openWhole(server.url, {}, { ...requestOptions(), decodeContent: true }, signal());
        assert.deepEqual([whole.size, whole.decodedFrom], [null, ['gzip']]);
        assert.equal(sha256(await collect(whole.body)), sha256(data));
      });

      it('a new version is ORIGIN_CHANGED', async () => {
        const server = await origin({ changeEtagAfterRequests: 1 });
        const { validators } = await probe(server.url, requestOptions(), signal());
        await assert.rejects(openWhole(server.url, validators, requestOptions(), signal()), (error) =>
          isDdmError(error, 'ORIGIN_CHANGED'),
        );
      });
    });
}
