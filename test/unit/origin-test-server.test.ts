/** The test origin is used by every other test, so its switches are checked here. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { parseRange, startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';

const data = randomBytes(100_000);

describe('test origin', () => {
  let origin: TestOrigin;
  let dispatcher: Agent;

  before(async () => {
    origin = await startTestOrigin({ data });
    dispatcher = new Agent();
  });
  after(async () => {
    await origin.close();
    await dispatcher.close();
  });

  async function get(headers: Record<string, string> = {}, path = '/file', method: 'GET' | 'HEAD' = 'GET') {
    const response = await request(`${origin.baseUrl}${path}`, {
      dispatcher,
      headers,
      method,
      signal: AbortSignal.timeout(5_000),
    });
    const body = Buffer.from(await response.body.arrayBuffer());
    return { status: response.statusCode, headers: response.headers, body };
  }

  it('parses single ranges and ignores the rest', () => {
    assert.deepEqual(parseRange('bytes=0-9', 100), { kind: 'ok', start: 0, end: 10 });
    assert.deepEqual(parseRange('bytes=90-', 100), { kind: 'ok', start: 90, end: 100 });
    assert.deepEqual(parseRange('bytes=95-200', 100), { kind: 'ok', start: 95, end: 100 });
    assert.deepEqual(parseRange('bytes=-10', 100), { kind: 'ok', start: 90, end: 100 });
    assert.deepEqual(parseRange('bytes=-500', 100), { kind: 'ok', start: 0, end: 100 });
    assert.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' });
    for (const header of ['bytes=0-1,5-6', 'bytes=5-1', 'items=0-1', 'bytes=-', 'bytes=a-b']) {
      assert.deepEqual(parseRange(header, 100), { kind: 'none' }, header);
    }
  });

  it('serves ranges, suffix ranges, 416 and multi-range as 200', async () => {
    origin.resetCounters();
    const partial = await get({ range: 'bytes=10-19' });
    assert.equal(partial.status, 206);
    assert.equal(partial.headers['content-range'], `bytes 10-19/${data.length}`);
    assert.deepEqual(partial.body, data.subarray(10, 20));
    const suffix = await get({ range: 'bytes=-5' });
    assert.deepEqual(suffix.body, data.subarray(-5));
    const beyond = await get({ range: `bytes=${data.length}-` });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers['content-range'], `bytes */${data.length}`);
    const multi = await get({ range: 'bytes=0-1,4-5' });
    assert.equal(multi.status, 200);
    assert.equal(multi.body.length, data.length);
    assert.equal(origin.rangeRequests, 4);
    assert.deepEqual(
      origin.rangeLog.map((entry) => entry.status),
      [206, 206],
    );
  });

  it('honours If-Range and If-Match', async () => {
    const etag = origin.currentEtag()!;
    assert.equal((await get({ range: 'bytes=0-0', 'if-range': etag })).status, 206);
    assert.equal((await get({ range: 'bytes=0-0', 'if-range': '"other"' })).status, 200);
    assert.equal(
      (await get({ range: 'bytes=0-0', 'if-range': 'Wed, 21 Oct 2015 07:28:00 GMT' })).status,
      206,
    );
    assert.equal(
      (await get({ range: 'bytes=0-0', 'if-range': 'Thu, 01 Jan 1970 00:00:00 GMT' })).status,
      200,
    );
    assert.equal((await get({ 'if-match': etag })).status, 200);
    assert.equal((await get({ 'if-match': '"other"' })).status, 412);
  });

  it('changes version after N file requests', async () => {
    origin.resetCounters();
    origin.options.changeEtagAfterRequests = 1;
    try {
      const first = await get();
      const second = await get();
      assert.deepEqual(first.body, data);
      assert.notEqual(first.headers.etag, second.headers.etag);
      assert.notEqual(first.headers['last-modified'], second.headers['last-modified']);
      assert.equal(second.body.length, data.length);
      assert.notDeepEqual(second.body, data);
      assert.deepEqual(second.body, origin.currentData());
    } finally {
      origin.options.changeEtagAfterRequests = undefined;
    }
  });

  it('answers HEAD with headers only, and 404 elsewhere', async () => {
    const head = await get({}, '/file', 'HEAD');
    assert.equal(head.headers['content-length'], String(data.length));
    assert.equal(head.body.length, 0);
    assert.equal((await get({}, '/nothing')).status, 404);
  });

  it('paces the body at rateBytesPerSec', async () => {
    origin.options.rateBytesPerSec = 400_000;
    try {
      const started = performance.now();
      const { body } = await get();
      const elapsed = performance.now() - started;
      assert.equal(body.length, data.length);
      // 100 kB at 400 kB/s: about 250 ms, the first chunk leaving at once.
      assert.ok(elapsed >= 150 && elapsed < 2_000, `took ${elapsed} ms`);
    } finally {
      origin.options.rateBytesPerSec = undefined;
    }
  });

  it('answers busy statuses the given number of times', async () => {
    origin.options.status429 = { times: 2, retryAfterSec: 3 };
    const first = await get();
    assert.equal(first.status, 429);
    assert.equal(first.headers['retry-after'], '3');
    assert.equal((await get()).status, 429);
    assert.equal((await get()).status, 200);
  });

  it('close() ends open connections', async () => {
    const server = await startTestOrigin({ data, rateBytesPerSec: 10_000 });
    const response = await request(server.url, { dispatcher, signal: AbortSignal.timeout(5_000) });
    const reading = response.body.arrayBuffer();
    await server.close();
    await assert.rejects(reading);
    assert.equal(server.connections, 1);
  });
});
