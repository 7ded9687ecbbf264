/**
 * A peer's /v1/fetch over ddm's own sockets (signed-socket-stream.ts): what peer-fetch's shared
 * tests cannot show with a well-behaved peer. A raw TCP server on 127.0.0.1 answers by hand,
 * signing (or not) over the request's nonce: wrong lengths, chunked streams, stalls, cut bodies,
 * refusals, and keep-alive reuse.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { isDdmError } from '../../src/errors.js';
import { isLeased } from '../../src/origin/leased-bytes.js';
import { plainDialer } from '../../src/origin/origin-dialer.js';
import { OriginSockets } from '../../src/origin/origin-sockets.js';
import { AUTH_HEADERS, bodyDigest, deriveKey, STREAM_BODY, signResponse } from '../../src/protocol/auth.js';
import { signedSocketStream } from '../../src/transport/client/signed-socket-stream.js';
import { sha256 } from '../helpers/cli.js';
import { drain } from '../helpers/wait.js';

const key = deriveKey('signed socket stream test secret');
const data = randomBytes(700_000);
const TIMEOUT_MS = 5_000;

interface PeerRequest {
  head: string;
  headers: Map<string, string[]>;
  body: string;
  nonce: string;
}

interface RawPeer {
  url: string;
  connections: number;
  requests: PeerRequest[];
  close(): Promise<void>;
}

/** Parses each request (head and Content-Length body) and lets `answer` write what it likes. */
async function rawPeer(answer: (socket: Socket, request: PeerRequest) => void): Promise<RawPeer> {
  const sockets = new Set<Socket>();
  const requests: PeerRequest[] = [];
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = pending.subarray(0, end).toString('latin1');
        const headers = new Map<string, string[]>();
        for (const line of head.split('\r\n').slice(1)) {
          const colon = line.indexOf(':');
          const name = line.slice(0, colon).trim().toLowerCase();
          headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
        }
        const length = Number(headers.get('content-length')?.[0] ?? 0);
        if (pending.byteLength < end + 4 + length) return;
        const body = pending.subarray(end + 4, end + 4 + length).toString('utf8');
        pending = pending.subarray(end + 4 + length);
        const request = { head, headers, body, nonce: headers.get(AUTH_HEADERS.nonce)?.[0] ?? '' };
        requests.push(request);
        answer(socket, request);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const peer: RawPeer = {
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return peer;
}

const peers: RawPeer[] = [];
after(async () => {
  await Promise.all(peers.map((peer) => peer.close()));
});

async function peerAnswering(answer: (socket: Socket, request: PeerRequest) => void): Promise<RawPeer> {
  const peer = await rawPeer(answer);
  peers.push(peer);
  return peer;
}

/** The head of a signed byte stream for `request`, with `length` announced (or chunked). */
function streamHead(request: PeerRequest, length: number | 'chunked', signedWith = key): string {
  const signature = signResponse(signedWith, 200, request.nonce, STREAM_BODY);
  const framing = length === 'chunked' ? 'transfer-encoding: chunked' : `content-length: ${length}`;
  return `HTTP/1.1 200 OK\r\n${AUTH_HEADERS.signature}: ${signature}\r\n${framing}\r\n\r\n`;
}

function rangeOf(request: PeerRequest): { start: number; end: number } {
  const { start, end } = JSON.parse(request.body) as { start: number; end: number };
  return { start, end };
}

function fetchFrom(peer: RawPeer, sockets: OriginSockets, start: number, end: number, signal?: AbortSignal) {
  return signedSocketStream(sockets, {
    baseUrl: peer.url,
    path: '/v1/fetch',
    body: { clientId: 'client-socket-0001', url: 'http://origin.test/file', start, end, validators: {} },
    expectedBytes: end - start,
    key,
    signal: signal ?? AbortSignal.timeout(TIMEOUT_MS),
    timeoutMs: 1_000,
    role: 'peer',
    node: 'peer-socket-0001',
  });
}

function sockets(): OriginSockets {
  return new OriginSockets(plainDialer);
}

/** Answers every fetch with the signed bytes it asks for, on a kept-alive connection. */
function honest(socket: Socket, request: PeerRequest): void {
  const { start, end } = rangeOf(request);
  socket.write(streamHead(request, end - start));
  socket.write(data.subarray(start, end));
}

describe('a peer fetch over own sockets', () => {
  it('streams the exact bytes as leased slabs, on one kept-alive connection, with one signed Host', async () => {
    const peer = await peerAnswering(honest);
    const pool = sockets();
    const first = await fetchFrom(peer, pool, 1_000, 600_000);
    assert.ok(isLeased(first));
    assert.equal(sha256(await drain(first)), sha256(data.subarray(1_000, 600_000)));
    const second = await drain(await fetchFrom(peer, pool, 0, data.length));
    assert.equal(sha256(second), sha256(data));
    assert.equal(peer.connections, 1);
    const request = peer.requests[0]!;
    assert.match(request.head, /^POST \/v1\/fetch HTTP\/1\.1\r\n/);
    assert.deepEqual(request.headers.get('host'), [new URL(peer.url).host]);
    assert.equal(request.headers.get('content-type')?.[0], 'application/json');
    assert.equal(rangeOf(request).start, 1_000);
    pool.close();
  });

  it('refuses an answer not signed over our nonce as AUTH_FAILED', async () => {
    const peer = await peerAnswering((socket, request) => {
      socket.write(streamHead(request, 100, deriveKey('another swarm')));
      socket.write(data.subarray(0, 100));
    });
    await assert.rejects(fetchFrom(peer, sockets(), 0, 100), (error) => isDdmError(error, 'AUTH_FAILED'));
  });

  it('refuses a stream that announces another length, or none', async () => {
    const wrong = await peerAnswering((socket, request) => socket.write(streamHead(request, 99)));
    await assert.rejects(
      fetchFrom(wrong, sockets(), 0, 100),
      (error) => isDdmError(error, 'PROTOCOL') && /announced 99 bytes instead of 100/.test(error.message),
    );
    const chunked = await peerAnswering((socket, request) => socket.write(streamHead(request, 'chunked')));
    await assert.rejects(
      fetchFrom(chunked, sockets(), 0, 100),
      (error) => isDdmError(error, 'PROTOCOL') && /announced no bytes/.test(error.message),
    );
  });

  it('refuses a stream framed both by a length and by chunks', async () => {
    const peer = await peerAnswering((socket, request) => {
      const head = streamHead(request, 100).replace('\r\n\r\n', '\r\ntransfer-encoding: chunked\r\n\r\n');
      socket.write(head);
    });
    await assert.rejects(fetchFrom(peer, sockets(), 0, 100), (error) => isDdmError(error, 'PROTOCOL'));
  });

  it('a body that stops coming is a retryable TIMEOUT that says how far it got', async () => {
    const peer = await peerAnswering((socket, request) => {
      socket.write(streamHead(request, 1_000));
      socket.write(data.subarray(0, 300));
    });
    const body = await fetchFrom(peer, sockets(), 0, 1_000);
    await assert.rejects(
      drain(body),
      (error) =>
        isDdmError(error, 'TIMEOUT') &&
        error.retryable &&
        /stalled after 300 of 1000 bytes/.test(error.message),
    );
  });

  it('a body cut short is a retryable PEER_FAILED after the bytes that came', async () => {
    const peer = await peerAnswering((socket, request) => {
      socket.write(streamHead(request, 1_000));
      socket.end(data.subarray(0, 400));
    });
    const body = await fetchFrom(peer, sockets(), 0, 1_000);
    await assert.rejects(
      drain(body),
      (error) =>
        isDdmError(error, 'PEER_FAILED') &&
        error.retryable &&
        /broke off after 400 of 1000 bytes/.test(error.message),
    );
  });

  it("a signed refusal keeps the peer's code and words; an unframed one is PROTOCOL", async () => {
    const busy = await peerAnswering((socket, request) => {
      const text = JSON.stringify({ error: { code: 'PEER_BUSY', message: 'all 2 slots are busy' } });
      const signature = signResponse(key, 503, request.nonce, bodyDigest(text));
      socket.write(
        `HTTP/1.1 503 Service Unavailable\r\n${AUTH_HEADERS.signature}: ${signature}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
      );
    });
    await assert.rejects(
      fetchFrom(busy, sockets(), 0, 100),
      (error) => isDdmError(error, 'PEER_BUSY') && /all 2 slots are busy/.test(error.message),
    );
    const unframed = await peerAnswering((socket) => {
      socket.write(
        'HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      );
    });
    await assert.rejects(
      fetchFrom(unframed, sockets(), 0, 100),
      (error) => isDdmError(error, 'PROTOCOL') && /not length-framed/.test(error.message),
    );
  });

  it('a peer nobody listens at is a retryable NETWORK error naming it', async () => {
    const gone = await peerAnswering(honest);
    await gone.close();
    await assert.rejects(
      fetchFrom(gone, sockets(), 0, 100),
      (error) =>
        isDdmError(error, 'NETWORK') && error.retryable && error.message.includes(`peer at ${gone.url}`),
    );
  });

  it('stops when aborted while waiting for the head', async () => {
    const silent = await peerAnswering(() => {});
    const controller = new AbortController();
    const fetching = fetchFrom(silent, sockets(), 0, 100, controller.signal);
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(fetching, (error) => isDdmError(error, 'ABORTED'));
  });
});
