/**
 * ddm's own origin connections (origin-sockets.ts, origin-connection.ts): what origin-range's
 * shared tests cannot show with a well-behaved server. Raw TCP servers on 127.0.0.1 answer by
 * hand: stalls, stale keep-alive sockets, broken heads, chunked 206s, interim answers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { ORIGIN_SLAB_BYTES, ORIGIN_SLABS_PER_RANGE } from '../../src/constants.js';
import { isDdmError } from '../../src/errors.js';
import { createOriginDispatcher, type OriginRequestOptions } from '../../src/origin/http-client.js';
import { isLeased, type LeasedBytes } from '../../src/origin/leased-bytes.js';
import { plainDialer } from '../../src/origin/origin-dialer.js';
import { OriginSockets } from '../../src/origin/origin-sockets.js';
import { openRange } from '../../src/origin/range-request.js';
import { parseResponseHead } from '../../src/origin/response-head.js';
import { SlabPool, SlabRing } from '../../src/origin/slab-ring.js';
import { sha256 } from '../helpers/cli.js';
import { within } from '../helpers/wait.js';

const TIMEOUT_MS = 5_000;
const data = randomBytes(3 * 1024 * 1024 + 5);

interface RawOrigin {
  url: string;
  connections: number;
  close(): Promise<void>;
}

/** Answers each request head on a connection with `answer(socket, request, connectionIndex, requestIndex)`. */
async function rawOrigin(
  answer: (socket: Socket, request: string, connection: number, request_: number) => void,
): Promise<RawOrigin> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    const connection = connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    let requests = 0;
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const request = pending.slice(0, end);
        pending = pending.slice(end + 4);
        answer(socket, request, connection, requests++);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const origin: RawOrigin = {
    url: `http://127.0.0.1:${port}/file`,
    get connections() {
      return connections;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return origin;
}

/** The asked range of `data` as a 206 with its length (and `extra` headers). */
function answerRange(socket: Socket, request: string, extra = ''): void {
  const [, first, last] = /range: bytes=(\d+)-(\d+)/i.exec(request) ?? [];
  const start = Number(first);
  const end = Number(last) + 1;
  socket.write(
    `HTTP/1.1 206 Partial Content\r\ncontent-length: ${end - start}\r\n` +
      `content-range: bytes ${start}-${end - 1}/${data.length}\r\n${extra}\r\n`,
  );
  socket.write(data.subarray(start, end));
}

async function drainReleasing(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) {
    chunks.push(Buffer.from(chunk));
    if (isLeased(body)) body.release(chunk.byteLength);
  }
  return Buffer.concat(chunks);
}

describe('own origin sockets', () => {
  const dispatcher = createOriginDispatcher({ timeoutMs: TIMEOUT_MS, proxyFromEnv: false });
  const sockets = new OriginSockets(plainDialer);
  const origins: RawOrigin[] = [];
  after(async () => {
    sockets.close();
    await Promise.all(origins.map((origin) => origin.close()));
    await dispatcher.close();
  });
  const options = (timeoutMs = TIMEOUT_MS): OriginRequestOptions => ({
    dispatcher,
    headers: {},
    userAgent: 'ddm-test',
    timeoutMs,
    maxRedirects: 5,
    sockets,
  });
  const started = async (answer: Parameters<typeof rawOrigin>[0]) => {
    const origin = await rawOrigin(answer);
    origins.push(origin);
    return origin;
  };
  const open = (url: string, start: number, end: number, timeoutMs = TIMEOUT_MS, signal?: AbortSignal) =>
    openRange(url, { start, end }, {}, options(timeoutMs), signal ?? AbortSignal.timeout(TIMEOUT_MS), {
      lease: true,
    });

  it('holds at most its slabs until they are released, then reads on', async () => {
    const origin = await started((socket, request) => answerRange(socket, request));
    const body = (await open(origin.url, 0, data.length)) as LeasedBytes;
    assert.ok(isLeased(body));
    const iterator = body[Symbol.asyncIterator]();
    const held: Buffer[] = [];
    // Without releases the socket pauses once the range holds its slabs (one more is its next target).
    for (;;) {
      const next = await Promise.race([
        iterator.next(),
        new Promise<'stalled'>((resolve) => setTimeout(() => resolve('stalled'), 400)),
      ]);
      if (next === 'stalled') break;
      assert.ok(!next.done);
      held.push(Buffer.from(next.value));
      assert.ok(
        held.length <= ORIGIN_SLABS_PER_RANGE + 1,
        `at most ${ORIGIN_SLABS_PER_RANGE + 1} slabs handed`,
      );
    }
    const heldBytes = held.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    assert.ok(
      heldBytes >= ORIGIN_SLAB_BYTES && heldBytes <= (ORIGIN_SLABS_PER_RANGE + 1) * ORIGIN_SLAB_BYTES,
    );
    // The pending next() resolves once slabs come back.
    const pending = iterator.next();
    body.release(heldBytes);
    const rest: Buffer[] = [];
    for (let next = await within(pending, TIMEOUT_MS, 'reading on after release'); !next.done; ) {
      rest.push(Buffer.from(next.value));
      body.release(next.value.byteLength);
      next = await within(iterator.next(), TIMEOUT_MS, 'the next slab');
    }
    assert.equal(sha256(Buffer.concat([...held, ...rest])), sha256(data));
  });

  it('sends the request again on a new connection when the origin closed the idle one', async () => {
    const origin = await started((socket, request, connection, index) => {
      // The first connection answers once, then closes as the second request arrives.
      if (connection === 0 && index === 1) socket.destroy();
      else answerRange(socket, request);
    });
    assert.equal(
      sha256(await drainReleasing(await open(origin.url, 0, 1000))),
      sha256(data.subarray(0, 1000)),
    );
    const again = await drainReleasing(await open(origin.url, 1000, 5000));
    assert.equal(sha256(again), sha256(data.subarray(1000, 5000)));
    assert.equal(origin.connections, 2);
  });

  it('a fresh connection that closes before answering is a retryable NETWORK error', async () => {
    const origin = await started((socket) => socket.destroy());
    await assert.rejects(open(origin.url, 0, 10), (error) => isDdmError(error, 'NETWORK') && error.retryable);
  });

  it('times out waiting for a head, and for the next body bytes after some came', async () => {
    const silent = await started(() => {});
    const began = performance.now();
    await assert.rejects(
      open(silent.url, 0, 10, 300),
      (error) => isDdmError(error, 'TIMEOUT') && error.retryable,
    );
    assert.ok(performance.now() - began < 2_000);

    const stalling = await started((socket) => {
      socket.write(
        `HTTP/1.1 206 Partial Content\r\ncontent-length: 1000\r\ncontent-range: bytes 0-999/${data.length}\r\n\r\n`,
      );
      socket.write(data.subarray(0, 100));
    });
    const body = await open(stalling.url, 0, 1000, 300);
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of body) received += chunk.byteLength;
      })(),
      (error) => isDdmError(error, 'TIMEOUT') && error.retryable,
    );
    assert.equal(received, 100, 'the bytes that came are handed on before the error');
  });

  it('a body cut short is a retryable BAD_RESPONSE after the bytes that came', async () => {
    const origin = await started((socket) => {
      socket.write(
        `HTTP/1.1 206 Partial Content\r\ncontent-length: 5000\r\ncontent-range: bytes 0-4999/${data.length}\r\n\r\n`,
      );
      socket.end(data.subarray(0, 1234));
    });
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of await open(origin.url, 0, 5000)) received += chunk.byteLength;
      })(),
      (error) => isDdmError(error, 'BAD_RESPONSE') && error.retryable && /short body/.test(error.message),
    );
    assert.equal(received, 1234);
  });

  it('refuses a malformed head and one larger than its buffer', async () => {
    const garbage = await started((socket) => socket.write('HTTP/1.1 2x6 What\r\n\r\n'));
    await assert.rejects(
      open(garbage.url, 0, 10),
      (error) => isDdmError(error, 'BAD_RESPONSE') && /malformed/.test(error.message),
    );
    const huge = await started((socket) =>
      socket.write(`HTTP/1.1 206 OK\r\nx-filler: ${'a'.repeat(40_000)}\r\n\r\n`),
    );
    await assert.rejects(
      open(huge.url, 0, 10),
      (error) => isDdmError(error, 'BAD_RESPONSE') && /larger/.test(error.message),
    );
  });

  it('reads past an interim 100 Continue to the real answer', async () => {
    const origin = await started((socket, request) => {
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      answerRange(socket, request);
    });
    assert.equal(
      sha256(await drainReleasing(await open(origin.url, 7, 70_000))),
      sha256(data.subarray(7, 70_000)),
    );
  });

  it('hands a chunked 206 to undici, which reads it', async () => {
    const origin = await started((socket, request) => {
      const [, first, last] = /range: bytes=(\d+)-(\d+)/i.exec(request) ?? [];
      const part = data.subarray(Number(first), Number(last) + 1);
      socket.write(
        `HTTP/1.1 206 Partial Content\r\ntransfer-encoding: chunked\r\ncontent-range: bytes ${first}-${last}/${data.length}\r\n\r\n`,
      );
      socket.write(`${part.length.toString(16)}\r\n`);
      socket.write(part);
      socket.write('\r\n0\r\n\r\n');
    });
    const body = await open(origin.url, 100, 9000);
    assert.equal(isLeased(body), false);
    assert.equal(sha256(await drainReleasing(body)), sha256(data.subarray(100, 9000)));
  });

  it('drops a connection that sends bytes nobody asked for while idle', async () => {
    const origin = await started((socket, request) => {
      answerRange(socket, request);
      setTimeout(() => socket.write('HTTP/1.1 200 OK\r\n\r\n'), 50);
    });
    await drainReleasing(await open(origin.url, 0, 100));
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(
      sha256(await drainReleasing(await open(origin.url, 100, 200))),
      sha256(data.subarray(100, 200)),
    );
    assert.equal(origin.connections, 2);
  });

  it('stops when aborted while waiting for the head', async () => {
    const silent = await started(() => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(open(silent.url, 0, 10, TIMEOUT_MS, controller.signal), (error) =>
      isDdmError(error, 'ABORTED'),
    );
  });
});

describe('parseResponseHead', () => {
  const head = (text: string) => parseResponseHead(Buffer.from(text, 'latin1'), 'http://origin/');

  it('reads status, version and headers, repeated ones as arrays', () => {
    const parsed = head(
      'HTTP/1.0 206 Partial Content\r\nETag: "a"\r\nSet-Cookie: x=1\r\nset-cookie: y=2\r\n\r\n',
    );
    assert.equal(parsed.statusCode, 206);
    assert.equal(parsed.minorVersion, 0);
    assert.deepEqual(parsed.headers, { etag: '"a"', 'set-cookie': ['x=1', 'y=2'] });
    assert.equal(head('HTTP/1.1 204\r\n\r\n').statusCode, 204);
  });

  it('refuses folded headers, control characters and two different lengths', () => {
    for (const text of [
      'HTTP/1.1 206 OK\r\nx-a: 1\r\n  folded\r\n\r\n',
      'HTTP/1.1 206 OK\r\nx-a: 1\x01\r\n\r\n',
      'HTTP/1.1 206 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n',
      'HTTP/2 206\r\n\r\n',
      'HTTP/1.1 206 OK\r\nno colon here\r\n\r\n',
    ]) {
      assert.throws(
        () => head(text),
        (error) => isDdmError(error, 'BAD_RESPONSE'),
        JSON.stringify(text),
      );
    }
    assert.equal(head('HTTP/1.1 206 OK\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\n').statusCode, 206);
  });
});

describe('SlabRing', () => {
  it('hands on whole slabs unless asked for a part, and recycles released ones', () => {
    const pool = new SlabPool(8, 4);
    const ring = new SlabRing(pool);
    const first = ring.space(100);
    assert.equal(first.byteLength, 8);
    first.fill(1, 0, 5);
    ring.filled(5);
    assert.equal(ring.take(false), undefined, 'a part-filled slab waits');
    assert.deepEqual([...ring.take(true)!], [1, 1, 1, 1, 1]);
    const rest = ring.space(100);
    assert.equal(rest.byteLength, 3, 'the same slab, after its filled part');
    rest.fill(2);
    ring.filled(3);
    ring.put(Buffer.from([3, 3, 3, 3]));
    assert.deepEqual([...ring.take(false)!], [2, 2, 2]);
    assert.equal(ring.held, 2);
    ring.release(8);
    assert.equal(ring.held, 1, 'the first slab went back to the pool');
    assert.equal(ring.take(false), undefined);
    ring.seal();
    assert.deepEqual([...ring.take(true)!], [3, 3, 3, 3]);
    ring.release(4);
    assert.equal(ring.held, 0, 'a sealed, released part-filled slab goes back too');
    assert.equal(pool.take().byteLength, 8);
  });
});
