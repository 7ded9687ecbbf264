/**
 * A peer under exhaustion attempts: a thousand idle or crawling connections, oversized heads,
 * many-part and 1 TiB ranges, origins that never stop sending, and one client hogging the slots.
 * Each meets a limit with a clear answer while a legitimate client keeps downloading.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import * as v from 'valibot';
import {
  BYTES,
  MAX_FETCH_RANGE_BYTES,
  SERVER_HEADERS_TIMEOUT_MS,
  SERVER_MAX_CONNECTIONS,
  SERVER_MAX_CONNECTIONS_PER_ADDRESS,
  SERVER_MAX_HEADER_BYTES,
  SERVER_REQUEST_TIMEOUT_MS,
} from '../../src/constants.js';
import { isDdmError } from '../../src/errors.js';
import { type Peer, type PeerOptions, startPeer } from '../../src/peer/peer-server.js';
import { SharedSlots } from '../../src/peer/slots.js';
import { deriveKey, signRequest } from '../../src/protocol/auth.js';
import { API, ErrorBody, type FetchRequest, type OfferRequest } from '../../src/protocol/messages.js';
import { PeerClient } from '../../src/transport/client/peer-client.js';
import { rejectsWith } from '../helpers/assertions.js';
import { sha256 } from '../helpers/cli.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { drain, eventually, within } from '../helpers/wait.js';

const key = deriveKey('exhaustion peer secret');
const CLIENT_ID = 'client-exhaust-01';
const data = randomBytes(BYTES.MiB + 4_321);

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
});

async function peer(overrides: Partial<PeerOptions> = {}): Promise<Peer> {
  const started = await startPeer(
    {
      host: '127.0.0.1',
      port: 0,
      key,
      id: 'peer-exhaust-0001',
      name: 'exhausted',
      slots: 4,
      accept: 'auto',
      allowPrivate: true,
      trackers: [],
      timeoutMs: 5_000,
      ...overrides,
    },
    AbortSignal.timeout(120_000),
  );
  cleanups.push(() => started.close());
  return started;
}

async function origin(options: Partial<Parameters<typeof startTestOrigin>[0]> = {}): Promise<TestOrigin> {
  const started = await startTestOrigin({ data, ...options });
  cleanups.push(() => started.close());
  return started;
}

/** A client whose connections come from `localAddress` (any 127/8 address reaches loopback). */
function clientFrom(p: Peer, localAddress: string): PeerClient {
  const agent = new Agent({ localAddress });
  cleanups.push(() => agent.close());
  return new PeerClient(p.url, key, { dispatcher: agent });
}

function signal(ms = 10_000): AbortSignal {
  return AbortSignal.timeout(ms);
}

function offerFor(url: string, clientId = CLIENT_ID): OfferRequest {
  return { clientId, clientName: 'tester', url, fileName: 'file', size: data.length };
}

function fetchFor(url: string, start: number, end: number, extra: Partial<FetchRequest> = {}): FetchRequest {
  return { clientId: CLIENT_ID, url, start, end, validators: {}, ...extra };
}

/** A signed request with extra headers, answered as status and parsed JSON. */
async function rawSigned(
  p: Peer,
  method: 'GET' | 'POST',
  path: string,
  body: string | undefined,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown }> {
  const response = await request(`${p.url}${path}`, {
    method,
    headers: {
      ...headers,
      ...signRequest(key, method, path, body, { authority: new URL(p.url).host, node: p.id }),
      'content-type': 'application/json',
    },
    ...(body === undefined ? {} : { body }),
    signal: signal(),
  });
  return { status: response.statusCode, json: await response.body.json() };
}

/**
 * Opens `count` connections from `localAddress` that never complete a request head: every other
 * one sends nothing, the rest crawl through a header one byte per `crawlMs`.
 */
function slowloris(port: number, localAddress: string, count: number, crawlMs = 500) {
  const sockets: Socket[] = [];
  const open = new Set<Socket>();
  const settled: Promise<void>[] = [];
  for (let n = 0; n < count; n += 1) {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    sockets.push(socket);
    open.add(socket);
    socket.on('error', () => {});
    settled.push(
      new Promise((resolve) => {
        socket.once('connect', () => resolve());
        socket.once('close', () => resolve());
      }),
    );
    socket.once('close', () => open.delete(socket));
    if (n % 2 === 1) {
      const head = `POST ${API.fetch} HTTP/1.1\r\nHost: peer\r\nX-Padding: ${'a'.repeat(200)}`;
      let at = 0;
      const timer = setInterval(() => {
        if (socket.destroyed || at >= head.length) return;
        socket.write(head[at++]!);
      }, crawlMs);
      timer.unref();
      socket.once('close', () => clearInterval(timer));
    }
  }
  const destroyAll = async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(settled);
  };
  cleanups.push(destroyAll);
  return { open, connected: Promise.all(settled), destroyAll };
}

/** A shed attacker connection comes back after this (the attacker shares our CPU in a test). */
const RECONNECT_DELAY_MS = 1_000;

/**
 * Keeps `perAddress` connections open from each of `addresses`, each with a complete POST head
 * and a body that crawls in at one byte per `crawlMs`; a connection the peer closes is reopened.
 */
function slowBodies(port: number, addresses: readonly string[], perAddress: number, crawlMs: number) {
  const open = new Set<Socket>();
  let opened = 0;
  let stopped = false;
  const head = `POST ${API.fetch} HTTP/1.1\r\nHost: peer\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`;
  const launch = (localAddress: string) => {
    if (stopped) return;
    opened += 1;
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    open.add(socket);
    socket.on('error', () => {});
    socket.once('connect', () => socket.write(head));
    const timer = setInterval(() => {
      if (!socket.destroyed) socket.write('{');
    }, crawlMs);
    timer.unref();
    socket.once('close', () => {
      clearInterval(timer);
      open.delete(socket);
      // Like an attacker would: every connection shed comes back.
      setTimeout(() => launch(localAddress), RECONNECT_DELAY_MS).unref();
    });
  };
  for (const address of addresses) for (let n = 0; n < perAddress; n += 1) launch(address);
  const stop = async () => {
    stopped = true;
    const closing = [...open].map((socket) => new Promise((resolve) => socket.once('close', resolve)));
    for (const socket of open) socket.destroy();
    await Promise.all(closing);
  };
  cleanups.push(stop);
  return { open, opened: () => opened, stop };
}

describe('peer under exhaustion', () => {
  test('640 slow-body POSTs from 6 addresses cannot take members’ capacity: every member request is served', async () => {
    const o = await origin();
    const p = await peer();
    const addresses = Array.from({ length: 6 }, (_, n) => `127.0.0.${n + 2}`);
    const attack = slowBodies(p.address.port, addresses, Math.ceil(640 / addresses.length), 2_000);
    await eventually(() => attack.opened() >= 640, 15_000, 'the attackers connect');
    const outcomes: string[] = [];
    // Each round on a fresh connection, as a client new to this peer would come.
    // Served, not fast: the attacker shares this machine's CPU, so each answer gets 10 s.
    const patient = (localAddress: string) => {
      const agent = new Agent({ localAddress });
      cleanups.push(() => agent.close());
      return new PeerClient(p.url, key, { dispatcher: agent, timeoutMs: 10_000, streamTimeoutMs: 10_000 });
    };
    for (let round = 0; round < 20; round += 1) {
      const member = patient('127.0.0.1');
      outcomes.push(
        await member.info(signal(15_000)).then(
          (info) => (info.id === 'peer-exhaust-0001' ? 'ok' : 'wrong peer'),
          (error: unknown) => String(error),
        ),
      );
    }
    const member = patient('127.0.0.1');
    await member.offer(offerFor(o.url), signal(15_000));
    const piece = await member.fetch(fetchFor(o.url, 0, 200_000), signal(15_000)).then(drain);
    assert.equal(sha256(piece), sha256(data.subarray(0, 200_000)));
    console.log(`# slow-body attack: ${attack.opened()} connections opened in all, 20/20 info answered`);
    assert.deepEqual(
      outcomes.filter((outcome) => outcome !== 'ok'),
      [],
      'every info answered',
    );
    await attack.stop();
  });

  test('a request body that trickles in is cut off within seconds (the request deadline)', async () => {
    const p = await peer();
    const attack = slowBodies(p.address.port, ['127.0.0.9'], 1, 200);
    const [socket] = [...attack.open];
    assert.ok(socket);
    const started = Date.now();
    await within(
      new Promise((resolve) => socket.once('close', resolve)),
      // The deadline plus the server's once-a-second check, with room for a loaded machine.
      Math.min(SERVER_REQUEST_TIMEOUT_MS + 3_000, 9_000),
      'the trickling request is closed',
    );
    assert.ok(Date.now() - started >= SERVER_HEADERS_TIMEOUT_MS - 1_000, 'not before its deadline');
    await attack.stop();
  });

  test('1,000 slowloris connections are shed, memory stays bounded, a real client still downloads', async () => {
    const o = await origin();
    const p = await peer();
    const legit = new PeerClient(p.url, key);
    // Warm up, so the baseline includes what a first request allocates.
    await legit.info(signal());
    const baselineRss = process.memoryUsage().rss;

    // Ten attacking addresses, each under the per-address cap, together twice the global cap.
    const attacks = Array.from({ length: 10 }, (_, n) => slowloris(p.address.port, `127.0.0.${n + 2}`, 100));
    await within(Promise.all(attacks.map((attack) => attack.connected)), 15_000, 'the attackers connect');
    const held = () => attacks.reduce((sum, attack) => sum + attack.open.size, 0);
    await eventually(
      () => held() <= SERVER_MAX_CONNECTIONS,
      5_000,
      'the peer sheds connections beyond its cap',
    );

    const started = performance.now();
    const info = await within(legit.info(signal()), 5_000, 'info under attack');
    assert.equal(info.freeSlots, 4);
    await within(legit.offer(offerFor(o.url), signal()), 5_000, 'offer under attack');
    const piece = await within(
      legit.fetch(fetchFor(o.url, 1_000, 301_000), signal()).then(drain),
      5_000,
      'fetch under attack',
    );
    assert.equal(sha256(piece), sha256(data.subarray(1_000, 301_000)));
    const legitMs = performance.now() - started;

    const growthMb = (process.memoryUsage().rss - baselineRss) / BYTES.MiB;
    console.log(
      `# 1000 slowloris connections: ${held()} still held, legit info+offer+fetch in ${Math.round(legitMs)} ms, rss +${growthMb.toFixed(1)} MiB`,
    );
    assert.ok(held() <= SERVER_MAX_CONNECTIONS, `${held()} attacking connections held`);
    assert.ok(growthMb < 100, `rss grew by ${growthMb.toFixed(1)} MiB`);
    await Promise.all(attacks.map((attack) => attack.destroyAll()));
  });

  test('one address cannot hold more than its share of connections, nor lock itself out', async () => {
    const p = await peer();
    const attack = slowloris(p.address.port, '127.0.0.1', 300);
    await within(attack.connected, 10_000, 'the attacker connects');
    await eventually(
      () => attack.open.size <= SERVER_MAX_CONNECTIONS_PER_ADDRESS,
      5_000,
      'the peer sheds connections beyond the per-address cap',
    );
    // A request from the same address still gets in: the oldest idle connection makes room.
    const info = await within(new PeerClient(p.url, key).info(signal()), 5_000, 'info from the same address');
    assert.equal(info.id, 'peer-exhaust-0001');
    assert.ok(attack.open.size <= SERVER_MAX_CONNECTIONS_PER_ADDRESS);
    await attack.destroyAll();
  });

  test('malformed and oversized request heads get a JSON 4xx with a code, and the peer goes on', async () => {
    const p = await peer();
    const rawAnswer = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ port: p.address.port, host: '127.0.0.1' });
        let answer = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          answer += chunk;
        });
        socket.on('error', reject);
        socket.on('close', () => resolve(answer));
        socket.end(text);
      });
    const parse = (answer: string) => {
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      return { status: Number(head.split(' ')[1]), error: v.parse(ErrorBody, JSON.parse(body)).error };
    };

    const huge = parse(
      await rawAnswer(
        `GET /v1/info HTTP/1.1\r\nHost: p\r\nX-Big: ${'b'.repeat(SERVER_MAX_HEADER_BYTES)}\r\n\r\n`,
      ),
    );
    assert.equal(huge.status, 431);
    assert.equal(huge.error.code, 'PROTOCOL');
    assert.match(huge.error.message, /request head larger than 16384 bytes/);

    const garbage = parse(await rawAnswer('\u0001\u0002 nonsense\r\n\r\n'));
    assert.equal(garbage.status, 400);
    assert.equal(garbage.error.code, 'PROTOCOL');

    const badLength = parse(
      await rawAnswer('POST /v1/offer HTTP/1.1\r\nHost: p\r\nContent-Length: -5\r\n\r\n'),
    );
    assert.equal(badLength.status, 400);

    const body = 'x'.repeat(100_000);
    const tooLarge = await rawSigned(p, 'POST', API.offer, body);
    assert.equal(tooLarge.status, 413);
    assert.equal(v.parse(ErrorBody, tooLarge.json).error.code, 'PROTOCOL');

    assert.equal((await new PeerClient(p.url, key).info(signal())).freeSlots, 4);
  });

  test('a Range header with hundreds of parts changes nothing: the origin sees one range', async () => {
    const o = await origin();
    const p = await peer();
    const parts = (count: number) =>
      `bytes=${Array.from({ length: count }, (_, n) => `${n * 2}-${n * 2}`).join(',')}`;
    // Sent to the peer itself, a Range header is not part of the protocol and is ignored.
    const info = await rawSigned(p, 'GET', API.info, undefined, { range: parts(1_200) });
    assert.equal(info.status, 200);

    // Forwarded to the origin, it is replaced by the peer's own single range.
    const client = new PeerClient(p.url, key);
    await client.offer(offerFor(o.url), signal());
    const forwarded = { Range: parts(800), 'If-Range': '"x"' };
    const piece = await drain(
      await client.fetch(fetchFor(o.url, 5_000, 9_000, { headers: forwarded }), signal()),
    );
    assert.equal(sha256(piece), sha256(data.subarray(5_000, 9_000)));
    assert.deepEqual(o.rangeLog, [{ start: 5_000, end: 9_000, status: 206 }]);
    assert.equal(o.requestLog.at(-1)?.headers.range, 'bytes=5000-8999');

    // One too long for a header value is refused outright.
    const error = await rejectsWith(
      client.fetch(fetchFor(o.url, 0, 10, { headers: { Range: parts(5_000) } }), signal()),
      'PROTOCOL',
      /headers\.Range: Too big/,
    );
    assert.equal(error.details.nodeStatus, 400);
    assert.equal(o.fileRequests, 1);
  });

  test('a 1 TiB range is refused with a clear 400 before the origin is asked; the peer keeps serving', async () => {
    const o = await origin();
    const p = await peer();
    const client = new PeerClient(p.url, key);
    await client.offer(offerFor(o.url), signal());
    const tebibyte = 1024 * BYTES.GiB;
    const error = await rejectsWith(
      client.fetch(fetchFor(o.url, 0, tebibyte), signal()),
      'PROTOCOL',
      /range of 1099511627776 bytes is larger than the 1073741824 bytes a peer fetches at once/,
    );
    assert.equal(error.details.nodeStatus, 400);
    assert.equal(error.details.maxRangeBytes, MAX_FETCH_RANGE_BYTES);
    assert.equal(o.connections, 0);

    const justOver = await rejectsWith(
      client.fetch(fetchFor(o.url, 7, 7 + MAX_FETCH_RANGE_BYTES + 1), signal()),
      'PROTOCOL',
    );
    assert.equal(justOver.details.nodeStatus, 400);
    // The largest JSON offset there is, too.
    await rejectsWith(client.fetch(fetchFor(o.url, 0, Number.MAX_SAFE_INTEGER), signal()), 'PROTOCOL');

    const piece = await drain(await client.fetch(fetchFor(o.url, 0, 1_000), signal()));
    assert.equal(sha256(piece), sha256(data.subarray(0, 1_000)));
  });

  test('an origin that sends more than its Content-Length: the client gets exactly the range', async () => {
    const liar = await endlessOrigin('overlong');
    const p = await peer();
    const client = new PeerClient(p.url, key);
    await client.offer(offerFor(liar.url), signal());
    const piece = await drain(await client.fetch(fetchFor(liar.url, 100, 200_100), signal()));
    assert.equal(sha256(piece), sha256(liar.bytes(100, 200_100)));
    await within(liar.closed, 5_000, 'the peer hangs up on the origin');
    assert.equal((await client.info(signal())).freeSlots, 4);
  });

  for (const kind of ['chunked', 'whole'] as const) {
    test(`an origin that never stops sending (${kind}): the peer stops, bounded, and keeps serving`, async () => {
      const endless = await endlessOrigin(kind);
      const p = await peer();
      const client = new PeerClient(p.url, key);
      await client.offer(offerFor(endless.url), signal());
      const wanted = 2 * BYTES.MiB;
      const outcome = client.fetch(fetchFor(endless.url, 0, wanted), signal()).then(drain);
      if (kind === 'whole') {
        const error = await within(rejectsWith(outcome, 'BAD_RESPONSE'), 10_000, 'the fetch ends');
        assert.match(error.message, /ignored the Range header/);
      } else {
        // Either the client gets exactly the range (when the overflow starts on a chunk boundary)
        // or a short stream it refetches elsewhere; never a byte more.
        const result = await within(
          outcome.then(
            (piece) => ({ piece }),
            (error: unknown) => ({ error }),
          ),
          10_000,
          'the fetch ends',
        );
        if ('piece' in result) assert.equal(sha256(result.piece), sha256(endless.bytes(0, wanted)));
        else assert.ok(isDdmError(result.error, 'PEER_FAILED'), String(result.error));
      }
      await within(endless.closed, 5_000, 'the peer hangs up on the origin');
      console.log(`# endless ${kind} origin: ${endless.written()} bytes written before the peer hung up`);
      // What the origin managed to write is the range plus socket buffers, not an endless stream.
      assert.ok(endless.written() < wanted + 32 * BYTES.MiB, `${endless.written()} bytes written`);
      await eventually(async () => (await client.info(signal())).freeSlots === 4, 5_000, 'the slot is freed');
    });
  }

  test('a client holding every slot yields to a waiting one, down to an equal share', async () => {
    const o = await origin({ rateBytesPerSec: 64 * 1024 });
    const p = await peer({ slots: 2 });
    const a = clientFrom(p, '127.0.0.1');
    const b = clientFrom(p, '127.0.0.2');
    await a.offer(offerFor(o.url), signal());
    await b.offer(offerFor(o.url, 'client-exhaust-02'), signal());
    const bFetch = () => b.fetch({ ...fetchFor(o.url, 0, 100), clientId: 'client-exhaust-02' }, signal());

    const first = new AbortController();
    const second = new AbortController();
    const aBodies = [
      await a.fetch(fetchFor(o.url, 0, data.length), first.signal),
      await a.fetch(fetchFor(o.url, 0, data.length), second.signal),
    ];
    // Alone, a client may take every slot; the next one is busy for anyone.
    await rejectsWith(a.fetch(fetchFor(o.url, 0, 10), signal()), 'PEER_BUSY');
    await rejectsWith(bFetch(), 'PEER_BUSY');

    // B is now waiting: the slot A frees is not A's to take again.
    first.abort();
    await rejectsWith(drain(aBodies[0]!), 'ABORTED');
    await eventually(async () => (await a.info(signal())).freeSlots === 1, 5_000, 'the slot is freed');
    await rejectsWith(a.fetch(fetchFor(o.url, 0, 10), signal()), 'PEER_BUSY');
    const piece = await drain(await bFetch());
    assert.deepEqual(piece, data.subarray(0, 100));
    second.abort();
    await rejectsWith(drain(aBodies[1]!), 'ABORTED');
  });
});

describe('slot sharing (pure)', () => {
  test('alone a client takes every slot; while another waits, nobody goes beyond an equal share', () => {
    let now = 0;
    const slots = new SharedSlots(4, { waiterMemoryMs: 2_000, now: () => now });
    const a = Array.from({ length: 4 }, () => slots.tryTake('a'));
    assert.ok(a.every((release) => release !== undefined));
    assert.equal(slots.tryTake('b'), undefined);
    assert.equal(slots.shareFor('a'), 2);
    a[0]!();
    assert.equal(slots.tryTake('a'), undefined, 'a holds 3 of an equal share of 2');
    const b1 = slots.tryTake('b');
    assert.ok(b1);
    a[1]!();
    a[1]!(); // a second call frees nothing more
    assert.equal(slots.free, 1);
    assert.equal(slots.tryTake('a'), undefined, 'a still holds its share of 2');
    assert.ok(slots.tryTake('b'));
    assert.equal(slots.held('a'), 2);
    assert.equal(slots.held('b'), 2);
    // Once b is gone and forgotten, a may have everything again.
    b1();
    now += 2_001;
    assert.equal(slots.shareFor('a'), 2, 'b still holds a slot');
  });

  test('a refused client is forgotten after the waiting memory', () => {
    let now = 0;
    const slots = new SharedSlots(2, { waiterMemoryMs: 1_000, now: () => now });
    const a = [slots.tryTake('a'), slots.tryTake('a')];
    assert.equal(slots.tryTake('b'), undefined);
    a[0]!();
    assert.equal(slots.tryTake('a'), undefined);
    now += 1_001;
    assert.equal(slots.shareFor('a'), 2);
    assert.ok(slots.tryTake('a'));
    assert.equal(slots.free, 0);
  });

  test('a view for one client reports the shared pool', () => {
    const slots = new SharedSlots(3);
    const view = slots.forClient('10.0.0.1');
    assert.equal(view.total, 3);
    const release = view.tryTake();
    assert.ok(release);
    assert.equal(view.free, 2);
    assert.equal(slots.held('10.0.0.1'), 1);
    release();
    assert.equal(view.free, 3);
  });
});

type EndlessKind = 'overlong' | 'chunked' | 'whole';

/**
 * An origin that will not stop: `overlong` announces the range's length and sends 8 MiB more,
 * `chunked` answers 206 with the right Content-Range and then chunks for ever, `whole` ignores
 * Range and streams a 200 for ever. Counts what it wrote; `closed` resolves when the peer hangs up.
 */
async function endlessOrigin(kind: EndlessKind) {
  const pattern = randomBytes(64 * 1024);
  const byteAt = (offset: number) => pattern[offset % pattern.length]!;
  const bytes = (start: number, end: number) =>
    Buffer.from(Array.from({ length: end - start }, (_, n) => byteAt(start + n)));
  let written = 0;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  const responses = new Set<ServerResponse>();
  const pump = (res: ServerResponse, from: number, limit: number) => {
    let at = from;
    const step = () => {
      while (!res.destroyed && at < limit) {
        const offset = at % pattern.length;
        const chunk = pattern.subarray(offset);
        at += chunk.length;
        written += chunk.length;
        if (!res.socket?.write(chunk)) {
          res.socket?.once('drain', step);
          return;
        }
      }
    };
    step();
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    responses.add(res);
    res.socket?.once('close', markClosed);
    const match = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const start = Number(match?.[1] ?? 0);
    const last = Number(match?.[2] ?? 0);
    const length = last - start + 1;
    const socket = res.socket!;
    if (kind === 'whole') {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n');
      pump(res, 0, Number.POSITIVE_INFINITY);
      return;
    }
    const head = [
      'HTTP/1.1 206 Partial Content',
      `Content-Range: bytes ${start}-${last}/*`,
      kind === 'overlong' ? `Content-Length: ${length}` : 'Transfer-Encoding: chunked',
    ];
    socket.write(`${head.join('\r\n')}\r\n\r\n`);
    if (kind === 'overlong') {
      socket.write(bytes(start, start + length));
      pump(res, start + length, start + length + 8 * BYTES.MiB);
      return;
    }
    // Chunked for ever, each chunk framed: the body itself never ends.
    let at = start;
    const step = () => {
      while (!socket.destroyed) {
        const chunk = pattern.subarray(at % pattern.length);
        at += chunk.length;
        written += chunk.length;
        if (
          !socket.write(`${chunk.length.toString(16)}\r\n`) ||
          !socket.write(chunk) ||
          !socket.write('\r\n')
        ) {
          socket.once('drain', step);
          return;
        }
      }
    };
    step();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const res of responses) res.socket?.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/endless`, closed, written: () => written, bytes };
}
