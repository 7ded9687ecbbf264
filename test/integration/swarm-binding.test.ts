/**
 * Signed requests are bound to the node they are addressed to, and clients dial only what proved
 * itself: a recording of LAN traffic makes no other node work for the recorder (issue 9.15), and
 * a member cannot aim clients at a service of its choosing through the tracker (issue 9.11).
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { discoverSwarm, findPeers, type SwarmOptions } from '../../src/client/swarm.js';
import { DEFAULT_PEER_PORT, FORBIDDEN_PORTS, PROTOCOL_VERSION } from '../../src/constants.js';
import { type Peer, startPeer } from '../../src/peer/peer-server.js';
import { deriveKey } from '../../src/protocol/auth.js';
import { API, type PeerListResponse } from '../../src/protocol/messages.js';
import { TrackerClient } from '../../src/tracker/tracker-client.js';
import { startTracker } from '../../src/tracker/tracker-server.js';
import { PeerClient } from '../../src/transport/client/peer-client.js';
import { startSignedServer } from '../../src/transport/server/signed-server.js';
import type { FileFacts } from '../../src/types/file-facts.js';
import { rejectsWith } from '../helpers/assertions.js';
import { startTestOrigin } from '../helpers/test-origin.js';
import { drain } from '../helpers/wait.js';

const SECRET = 'binding-test-secret-0123456789';
const key = deriveKey(SECRET);
const CLIENT_ID = 'client-bind-0001';
const data = Buffer.alloc(64 * 1024, 7);

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
});

function signal(): AbortSignal {
  return AbortSignal.timeout(15_000);
}

async function peer(id: string, host = '127.0.0.1'): Promise<Peer> {
  const started = await startPeer(
    {
      host,
      port: 0,
      key,
      id,
      name: id,
      slots: 2,
      accept: 'auto',
      allowPrivate: true,
      trackers: [],
      timeoutMs: 5_000,
    },
    signal(),
  );
  cleanups.push(() => started.close());
  return started;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A TCP relay that records every byte a client sends through it, as a machine on the LAN could.
 * Nothing is changed on the way.
 */
async function startRecorder(target: AddressInfo): Promise<{ url: string; sent: () => Buffer }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect({ host: target.address, port: target.port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await close(server);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent: () => Buffer.concat(chunks),
  };
}

/** Splits recorded client bytes into requests (every request of ours has a Content-Length or none). */
function splitRequests(bytes: Buffer): Buffer[] {
  const requests: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const headEnd = bytes.indexOf('\r\n\r\n', at);
    if (headEnd === -1) break;
    const head = bytes.subarray(at, headEnd).toString('latin1');
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    const end = headEnd + 4 + length;
    requests.push(bytes.subarray(at, end));
    at = end;
  }
  return requests;
}

/** Sends recorded bytes unchanged to another node and returns the status it answers. */
function replay(to: AddressInfo, bytes: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: to.address, port: to.port });
    const received: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer to the replay within 10 s'));
    }, 10_000);
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      const text = Buffer.concat(received).toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      if (status) {
        clearTimeout(timer);
        socket.destroy();
        resolve(Number(status[1]));
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.end(bytes);
  });
}

function requestLine(bytes: Buffer): string {
  return bytes.toString('latin1').split('\r\n')[0] ?? '';
}

describe('signatures bound to their target', () => {
  test('an offer and a fetch recorded on their way to one peer make another peer do nothing', async () => {
    const origin = await startTestOrigin({ data });
    cleanups.push(() => origin.close());
    const victim = await peer('peer-victim-0001');
    const other = await peer('peer-other-00002');
    const recorder = await startRecorder(victim.address);
    const client = new PeerClient(recorder.url, key);
    await client.offer(
      { clientId: CLIENT_ID, clientName: 'c', url: origin.url, fileName: 'f', size: data.length },
      signal(),
    );
    const bytes = await drain(
      await client.fetch(
        { clientId: CLIENT_ID, url: origin.url, start: 0, end: 1000, validators: {} },
        signal(),
      ),
    );
    assert.equal(bytes.length, 1000);
    const recorded = splitRequests(recorder.sent());
    const wanted = recorded.filter((r) => /^POST \/v1\/(offer|fetch) /.test(requestLine(r)));
    assert.equal(wanted.length, 2, recorded.map(requestLine).join(', '));
    const originRequests = origin.requests;
    for (const request of wanted) {
      const status = await replay(other.address, request);
      assert.ok(status >= 400, `${requestLine(request)} replayed to another peer answered ${status}`);
    }
    assert.equal(origin.requests, originRequests, 'the other peer fetched nothing for the recorder');
  });

  test('a registration recorded on its way to one tracker does not list anyone on another', async () => {
    const first = await startTracker({ host: '127.0.0.1', port: 0, key }, signal());
    const second = await startTracker({ host: '127.0.0.2', port: 0, key }, signal());
    cleanups.push(
      () => first.close(),
      () => second.close(),
    );
    const recorder = await startRecorder(first.address);
    const info = { id: 'peer-listed-0001', name: 'listed', port: 7805, slots: 2, version: '0.1.0' };
    await new TrackerClient(recorder.url, key).register(info, signal());
    const [registration] = splitRequests(recorder.sent());
    assert.match(requestLine(registration!), /^POST \/v1\/register /);
    const status = await replay(second.address, registration!);
    assert.ok(status >= 400, `the replayed registration was answered ${status}`);
    assert.deepEqual(await new TrackerClient(second.url, key).list(signal()), []);
  });

  test('a request naming another node, or no node where an id is needed, is refused as misdirected', async () => {
    const p = await peer('peer-named-00001');
    const wrongId = new PeerClient(p.url, key, { peerId: 'peer-someone-else' });
    await rejectsWith(
      wrongId.offer(
        { clientId: CLIENT_ID, clientName: 'c', url: 'http://127.0.0.1:9/f', fileName: 'f', size: 1 },
        signal(),
      ),
      'PROTOCOL',
      /addressed to node peer-someone-else/,
    );
    const info = await new PeerClient(p.url, key).info(signal());
    assert.equal(info.protocol, PROTOCOL_VERSION);
  });
});

/** A swarm member acting as tracker: lists whatever records it is given. */
async function memberTracker(records: PeerListResponse['peers']): Promise<string> {
  const controller = new AbortController();
  const server = await startSignedServer(
    {
      host: '127.0.0.1',
      port: 0,
      key,
      routes: { [`GET ${API.peers}`]: (ctx) => ctx.reply(200, { peers: records }) },
    },
    controller.signal,
  );
  cleanups.push(() => server.close());
  return server.url;
}

function record(port: number, id = 'peer-aimed-00001'): PeerListResponse['peers'][number] {
  return { id, name: 'aimed', address: '127.0.0.1', port, slots: 4, version: '0.1.0', lastSeen: Date.now() };
}

function swarmOptions(trackers: string[], events: string[]): SwarmOptions {
  return {
    trackers,
    peers: [],
    secret: SECRET,
    clientName: 'client',
    onEvent: (event) => {
      if (event.type === 'peer') events.push(`${event.status}: ${event.message ?? ''}`);
    },
  };
}

/** Listens on the first port of the deny list that this machine lets us take. */
async function listenOnForbiddenPort(seen: string[]): Promise<{ port: number; server: Server }> {
  for (const port of FORBIDDEN_PORTS.filter((candidate) => candidate > 1024)) {
    const server = createServer((socket) => {
      seen.push('connection');
      socket.destroy();
    });
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen({ host: '127.0.0.1', port }, () => resolve(true));
    });
    if (listening) return { port, server };
  }
  throw new Error('no port of the deny list is free on 127.0.0.1');
}

describe('peers listed by a tracker', () => {
  test('a listed peer on a port peers refuse for origins is never dialled', async () => {
    const seen: string[] = [];
    const { port, server } = await listenOnForbiddenPort(seen);
    cleanups.push(() => close(server));
    const events: string[] = [];
    const tracker = await memberTracker([record(port)]);
    assert.deepEqual(await findPeers(swarmOptions([tracker], events), key, signal()), []);
    assert.deepEqual(seen, [], `the service on port ${port} saw a connection`);
    assert.match(events.join('\n'), new RegExp(`port ${port} is not for HTTP`));
  });

  test('a listed peer hears a signed /v1/info and nothing else until it answers as that member', async () => {
    const heard: string[] = [];
    const service = createHttpServer((req: IncomingMessage, res) => {
      heard.push(`${req.method} ${req.url}`);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":true,"slots":4}');
    });
    await new Promise<void>((resolve) => service.listen({ host: '127.0.0.1', port: 0 }, resolve));
    cleanups.push(() => close(service));
    const tracker = await memberTracker([record((service.address() as AddressInfo).port)]);
    const events: string[] = [];
    const swarm = await discoverSwarm(swarmOptions([tracker], events), signal());
    const file: FileFacts = {
      url: 'http://127.0.0.1:9/file',
      finalUrl: 'http://127.0.0.1:9/file',
      fileName: 'file',
      size: 10,
      validators: {},
      headers: {},
    };
    const added: unknown[] = [];
    await swarm.recruit(file, (plan) => added.push(plan), signal());
    assert.deepEqual(added, []);
    assert.deepEqual(heard, [`GET ${API.info}`]);
  });

  test('a listed peer that answers under another id is not used', async () => {
    const real = await peer('peer-real-000001');
    const tracker = await memberTracker([record(real.address.port, 'peer-claimed-0001')]);
    const events: string[] = [];
    assert.deepEqual(await findPeers(swarmOptions([tracker], events), key, signal()), []);
    assert.match(events.join('\n'), /addressed to node peer-claimed-0001/);
  });

  test('a tracker refuses to list a peer on a port peers refuse for origins', async () => {
    const t = await startTracker({ host: '127.0.0.1', port: 0, key }, signal());
    cleanups.push(() => t.close());
    const client = new TrackerClient(t.url, key);
    const info = { id: 'peer-smtp-000001', name: 'smtp', port: 25, slots: 2, version: '0.1.0' };
    await rejectsWith(client.register(info, signal()), 'FORBIDDEN_DESTINATION', /port 25 is not for HTTP/);
    await client.register({ ...info, port: DEFAULT_PEER_PORT }, signal());
    assert.equal((await client.list(signal())).length, 1);
  });
});
