import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import { isDdmError } from '../../src/errors.js';
import { createOriginDispatcher, type OriginRequestOptions } from '../../src/origin/http-client.js';
import { probe } from '../../src/origin/probe.js';
import { wholeFromResponse } from '../../src/origin/whole-request.js';
import { sha256 } from '../helpers/cli.js';
import { startTestOrigin, type TestOrigin, type TestOriginOptions } from '../helpers/test-origin.js';
import { drain } from '../helpers/wait.js';

const TIMEOUT_MS = 5_000;
const data = randomBytes(300_000);

describe('probe', () => {
  let dispatcher: Dispatcher;
  const origins: TestOrigin[] = [];

  before(() => {
    dispatcher = createOriginDispatcher({ timeoutMs: TIMEOUT_MS, proxyFromEnv: false });
  });
  after(async () => {
    await Promise.all(origins.map((origin) => origin.close()));
    await dispatcher.close();
  });

  async function origin(options: Partial<TestOriginOptions> = {}): Promise<TestOrigin> {
    const started = await startTestOrigin({ data, ...options });
    origins.push(started);
    return started;
  }

  function requestOptions(overrides: Partial<OriginRequestOptions> = {}): OriginRequestOptions {
    return {
      dispatcher,
      headers: {},
      userAgent: 'ddm-test',
      timeoutMs: TIMEOUT_MS,
      maxRedirects: 5,
      ...overrides,
    };
  }

  const signal = () => AbortSignal.timeout(TIMEOUT_MS);

  it('learns size, range support, strong validators, name and type from one small GET', async () => {
    const server = await origin({ etag: '"v1"', lastModified: 'Wed, 21 Oct 2015 07:28:00 GMT' });
    const result = await probe(`${server.url}/report%20final.bin`, requestOptions(), signal());
    assert.deepEqual(result, {
      url: `${server.url}/report%20final.bin`,
      size: data.length,
      rangeSupported: true,
      validators: { etag: '"v1"', lastModified: 'Wed, 21 Oct 2015 07:28:00 GMT' },
      fileName: 'report final.bin',
      contentType: 'application/octet-stream',
    });
    assert.deepEqual(server.rangeLog, [{ start: 0, end: 1, status: 206 }]);
    assert.ok(server.bytesServed <= 1);
  });

  it('drops a weak ETag and keeps Last-Modified', async () => {
    const server = await origin({ etag: 'W/"weak"' });
    const result = await probe(server.url, requestOptions(), signal());
    assert.deepEqual(result.validators, { lastModified: 'Wed, 21 Oct 2015 07:28:00 GMT' });
  });

  it('reports no validators when the origin sends none', async () => {
    const server = await origin({ etag: null, lastModified: null });
    const result = await probe(server.url, requestOptions(), signal());
    assert.deepEqual(result.validators, {});
  });

  it('prefers the Content-Disposition name, sanitised', async () => {
    const server = await origin({
      contentDisposition: `attachment; filename="fallback.txt"; filename*=UTF-8''%E2%82%AC%20rates%2F..%2Fx.txt`,
    });
    const result = await probe(server.url, requestOptions(), signal());
    assert.equal(result.fileName, '€ rates_.._x.txt');
  });

  it('follows redirects, absolute and relative, and reports the final URL', async () => {
    const server = await origin({ redirects: 3 });
    const result = await probe(`${server.url}/movie.mkv`, requestOptions(), signal());
    assert.equal(result.url, `${server.baseUrl}/final/movie.mkv`);
    assert.equal(result.fileName, 'movie.mkv');
    assert.equal(result.size, data.length);
    assert.equal(server.requests, 4);
  });

  it('calls beforeRequest for every hop and stops when it throws', async () => {
    const server = await origin({ redirects: 2 });
    const seen: string[] = [];
    const guard = (url: URL) => {
      seen.push(url.pathname);
      if (url.pathname.startsWith('/final/')) throw new Error('refused by the guard');
    };
    await assert.rejects(
      probe(server.url, requestOptions({ beforeRequest: guard }), signal()),
      /refused by the guard/,
    );
    assert.deepEqual(seen, ['/file', '/r/1/file', '/final/file']);
    assert.equal(server.fileRequests, 0);
  });

  it('refuses more redirects than maxRedirects', async () => {
    const server = await origin({ redirects: 4 });
    await assert.rejects(probe(server.url, requestOptions({ maxRedirects: 3 }), signal()), (error) => {
      assert.ok(isDdmError(error, 'TOO_MANY_REDIRECTS'));
      assert.match(error.message, /more than 3 redirects/);
      return true;
    });
    assert.equal(server.requests, 4);
  });

  it('detects a redirect loop early', async () => {
    const server = await origin({ redirectLoop: true });
    await assert.rejects(probe(server.url, requestOptions({ maxRedirects: 10 }), signal()), (error) => {
      assert.ok(isDdmError(error, 'TOO_MANY_REDIRECTS'));
      assert.match(error.message, /redirect loop/);
      return true;
    });
    assert.ok(server.requests <= 3);
  });

  it('reports an unknown size and no ranges for a chunked response', async () => {
    const server = await origin({ chunked: true });
    const result = await probe(server.url, requestOptions(), signal());
    assert.equal(result.size, null);
    assert.equal(result.rangeSupported, false);
  });

  it('reports no range support, with the size, when the origin ignores Range', async () => {
    const server = await origin({ ranges: false });
    const result = await probe(server.url, requestOptions(), signal());
    assert.equal(result.size, data.length);
    assert.equal(result.rangeSupported, false);
  });

  it('handles an empty file (416 to bytes=0-0)', async () => {
    const server = await startTestOrigin({ data: Buffer.alloc(0) });
    origins.push(server);
    const result = await probe(server.url, requestOptions(), signal());
    assert.equal(result.size, 0);
    assert.equal(result.rangeSupported, true);
  });

  it('accepts a 206 to bytes=0-0 that runs to the end of the file (busybox httpd)', async () => {
    const server = await origin({ overlongRanges: true });
    const result = await probe(server.url, requestOptions(), signal());
    assert.equal(result.size, data.length);
    assert.equal(result.rangeSupported, true);
    assert.equal(result.response, undefined);
  });

  it('takes a 416 without Content-Range as an empty file (npm http-server)', async () => {
    const server = await origin({ data: Buffer.alloc(0), bare416: true });
    const result = await probe(server.url, requestOptions(), signal());
    assert.equal(result.size, 0);
  });

  it('hands over the unread 200 of an origin without ranges, so the file is asked for once', async () => {
    const server = await origin({ ranges: false });
    const result = await probe(server.url, requestOptions(), signal());
    assert.ok(result.response, 'the probe keeps its 200 open');
    const whole = await wholeFromResponse(result.response, result.validators, {}, signal());
    assert.equal(sha256(await drain(whole.body)), sha256(data));
    assert.equal(server.fileRequests, 1);
  });

  it('refuses a forced Content-Encoding with ENCODED_RESPONSE naming --compressed', async () => {
    const server = await origin({ forceGzip: true });
    await assert.rejects(
      probe(server.url, requestOptions(), signal()),
      (error) => isDdmError(error, 'ENCODED_RESPONSE') && /gzip.*--compressed/.test(error.message),
    );
  });

  it('with decodeContent, reports a forced Content-Encoding as no ranges and no size', async () => {
    const server = await origin({ forceGzip: true });
    const result = await probe(server.url, requestOptions({ decodeContent: true }), signal());
    assert.deepEqual(
      { size: result.size, rangeSupported: result.rangeSupported, encodings: result.encodings },
      { size: null, rangeSupported: false, encodings: ['gzip'] },
    );
  });

  it('turns 404 into a non-retryable HTTP_STATUS naming the status', async () => {
    const server = await origin({ status: 404 });
    await assert.rejects(probe(`${server.url}?token=secret`, requestOptions(), signal()), (error) => {
      assert.ok(isDdmError(error, 'HTTP_STATUS'));
      assert.equal(error.retryable, false);
      assert.equal(error.details.status, 404);
      assert.match(error.message, /origin answered 404 Not Found for http:\/\/127\.0\.0\.1:\d+\/file\?…/);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
  });

  it('turns 503 with Retry-After into a retryable HTTP_STATUS with the delay', async () => {
    const server = await origin({ status503: { times: 1, retryAfterSec: 7 } });
    await assert.rejects(probe(server.url, requestOptions(), signal()), (error) => {
      assert.ok(isDdmError(error, 'HTTP_STATUS'));
      assert.equal(error.retryable, true);
      assert.deepEqual([error.details.status, error.details.retryAfterMs], [503, 7_000]);
      return true;
    });
  });

  it('refuses URLs that are not http or https', async () => {
    for (const url of ['ftp://127.0.0.1/file', 'file:///etc/passwd', 'not a url', 'javascript:alert(1)']) {
      await assert.rejects(probe(url, requestOptions(), signal()), (error) => {
        assert.ok(isDdmError(error, 'URL_INVALID'), url);
        assert.match(error.message, /only http and https|not a valid URL/);
        return true;
      });
    }
  });

  it('reports a refused connection as a retryable NETWORK error', async () => {
    const server = await origin();
    const url = server.url;
    await server.close();
    await assert.rejects(probe(url, requestOptions(), signal()), (error) => {
      assert.ok(isDdmError(error, 'NETWORK'));
      assert.equal(error.retryable, true);
      return true;
    });
  });
});
