import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import { isDdmError } from '../../src/errors.js';
import { relayBody } from '../../src/origin/exact-body.js';
import { createOriginDispatcher, type OriginRequestOptions } from '../../src/origin/http-client.js';
import { probe } from '../../src/origin/probe.js';
import { openRangeBody } from '../../src/origin/range-request.js';
import { sha256 } from '../helpers/cli.js';
import { startTestOrigin, type TestOrigin, type TestOriginOptions } from '../helpers/test-origin.js';

const TIMEOUT_MS = 10_000;
const data = randomBytes(3 * 1024 * 1024 + 17);

/** A destination that takes one chunk at a time slowly, so the relay meets backpressure. */
function slowSink(): { sink: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      setImmediate(done);
    },
  });
  return { sink, bytes: () => Buffer.concat(chunks) };
}

describe('relayBody (the helper relays an origin range to its client)', () => {
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
  const requestOptions = (): OriginRequestOptions => ({
    dispatcher,
    headers: {},
    userAgent: 'ddm-test',
    timeoutMs: TIMEOUT_MS,
    maxRedirects: 5,
  });
  const signal = () => AbortSignal.timeout(TIMEOUT_MS);

  async function relay(server: TestOrigin, range: { start: number; end: number }) {
    const probed = await probe(server.url, requestOptions(), signal());
    const opened = await openRangeBody(probed.url, range, probed.validators, requestOptions(), signal(), {
      size: probed.size,
    });
    const { sink, bytes } = slowSink();
    await relayBody(opened.body, sink, opened, signal());
    return bytes();
  }

  it('relay exactly the asked bytes through backpressure, and end the destination', async () => {
    const server = await origin();
    const range = { start: 5, end: data.length - 3 };
    const relayed = await relay(server, range);
    assert.equal(relayed.length, range.end - range.start);
    assert.equal(sha256(relayed), sha256(data.subarray(range.start, range.end)));
  });

  it('relay only the asked bytes of a 206 that runs on to the end of the file', async () => {
    const server = await origin({ overlongRanges: true });
    const range = { start: 1000, end: 200_000 };
    const relayed = await relay(server, range);
    assert.equal(sha256(relayed), sha256(data.subarray(range.start, range.end)));
  });

  it('reject a short body as a retryable BAD_RESPONSE', async () => {
    const server = await origin({ shortBody: { times: 100 } });
    await assert.rejects(
      relay(server, { start: 0, end: data.length }),
      (error: unknown) => isDdmError(error, 'BAD_RESPONSE') && error.retryable,
    );
  });
});
