import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { PROTOCOL_VERSION } from '../../src/constants.js';
import { type Peer, type PeerOptions, startPeer } from '../../src/peer/peer-server.js';
import { deriveKey } from '../../src/protocol/auth.js';
import type { FetchRequest, OfferRequest } from '../../src/protocol/messages.js';
import { PeerClient } from '../../src/transport/client/peer-client.js';
import { rejectsWith } from '../helpers/assertions.js';
import { sha256 } from '../helpers/cli.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { drain, within } from '../helpers/wait.js';

const key = deriveKey('peer fetch test secret');
const CLIENT_ID = 'client-fetch-0001';
const data = randomBytes(1024 * 1024 + 333);

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
      id: 'peer-fetch-0001',
      name: 'fetcher',
      slots: 2,
      accept: 'auto',
      allowPrivate: true,
      trackers: [],
      timeoutMs: 5_000,
      ...overrides,
    },
    AbortSignal.timeout(60_000),
  );
  cleanups.push(() => started.close());
  return started;
}

async function origin(options: Partial<Parameters<typeof startTestOrigin>[0]> = {}): Promise<TestOrigin> {
  const started = await startTestOrigin({ data, ...options });
  cleanups.push(() => started.close());
  return started;
}

function signal(): AbortSignal {
  return AbortSignal.timeout(10_000);
}

function offerFor(url: string): OfferRequest {
  return { clientId: CLIENT_ID, clientName: 'tester', url, fileName: 'file', size: data.length };
}

function fetchFor(
  url: string,
  start: number,
  end: number,
  validators: FetchRequest['validators'] = {},
): FetchRequest {
  return { clientId: CLIENT_ID, url, start, end, validators };
}

// Every fetch test runs on both of the client's paths: undici's streams (https peers, callers
// that keep chunks) and ddm's own sockets with leased slabs (what a download reads plain-http
// peers through).
for (const reading of [undefined, { lease: true }] as const) {
  const fetchOf = (client: PeerClient, request: FetchRequest, signal: AbortSignal) =>
    client.fetch(request, signal, reading);

  describe(`peer fetch (${reading ? 'own sockets, leased slabs' : 'undici streams'})`, () => {
    test('info describes the peer, signed', async () => {
      const p = await peer({ slots: 3 });
      const info = await new PeerClient(p.url, key).info(signal());
      assert.deepEqual(info, {
        id: 'peer-fetch-0001',
        name: 'fetcher',
        version: '0.1.0',
        protocol: PROTOCOL_VERSION,
        slots: 3,
        freeSlots: 3,
      });
    });

    test('settings the trackers would refuse are refused before listening', async () => {
      await rejectsWith(peer({ slots: 0 }), 'USAGE', /slots/);
      await rejectsWith(peer({ id: 'bad id!' }), 'USAGE', /id/);
    });

    test('streams the exact bytes of a range, and of the whole file', async () => {
      const o = await origin();
      const p = await peer();
      const client = new PeerClient(p.url, key);
      assert.deepEqual(await client.offer(offerFor(o.url), signal()), { accepted: true, slots: 2 });

      const start = 12_345;
      const end = 876_543;
      const validators = { etag: o.currentEtag()! };
      const piece = await drain(await fetchOf(client, fetchFor(o.url, start, end, validators), signal()));
      assert.equal(sha256(piece), sha256(data.subarray(start, end)));

      const whole = await drain(await fetchOf(client, fetchFor(o.url, 0, data.length), signal()));
      assert.equal(sha256(whole), sha256(data));
      assert.deepEqual(
        o.rangeLog.map((entry) => [entry.start, entry.end, entry.status]),
        [
          [start, end, 206],
          [0, data.length, 206],
        ],
      );
    });

    test('a fetch without a standing consent is refused and the origin sees nothing', async () => {
      const o = await origin();
      const p = await peer();
      const client = new PeerClient(p.url, key);
      await rejectsWith(fetchOf(client, fetchFor(o.url, 0, 100), signal()), 'PEER_REFUSED', /offer first/);
      // Consent covers one URL, not the whole origin.
      await client.offer(offerFor(`${o.url}/other`), signal());
      await rejectsWith(fetchOf(client, fetchFor(o.url, 0, 100), signal()), 'PEER_REFUSED');
      assert.equal(o.connections, 0);
    });

    test('a wrong secret is refused at once and the origin sees nothing', async () => {
      const o = await origin();
      const p = await peer();
      const stranger = new PeerClient(p.url, deriveKey('wrong'));
      await rejectsWith(stranger.info(signal()), 'AUTH_FAILED', /wrong swarm secret/);
      await rejectsWith(stranger.offer(offerFor(o.url), signal()), 'AUTH_FAILED', /wrong swarm secret/);
      await new PeerClient(p.url, key).offer(offerFor(o.url), signal());
      await rejectsWith(
        fetchOf(stranger, fetchFor(o.url, 0, 100), signal()),
        'AUTH_FAILED',
        /wrong swarm secret/,
      );
      assert.equal(o.connections, 0);
    });

    test('answers busy when every slot is taken, and frees slots when streams end', async () => {
      const o = await origin({ rateBytesPerSec: 256 * 1024 });
      const p = await peer({ slots: 1 });
      const client = new PeerClient(p.url, key);
      await client.offer(offerFor(o.url), signal());

      const slow = new AbortController();
      const first = await fetchOf(client, fetchFor(o.url, 0, data.length), slow.signal);
      const busy = await rejectsWith(fetchOf(client, fetchFor(o.url, 0, 10), signal()), 'PEER_BUSY');
      assert.equal(busy.retryable, true);
      assert.equal((await client.info(signal())).freeSlots, 0);

      slow.abort();
      await rejectsWith(drain(first), 'ABORTED');
      const deadline = Date.now() + 5_000;
      while ((await client.info(signal())).freeSlots === 0) {
        assert.ok(Date.now() < deadline, 'the slot comes back after the client left');
        await delay(20);
      }
      const small = await drain(await fetchOf(client, fetchFor(o.url, 100, 200), signal()));
      assert.deepEqual(small, data.subarray(100, 200));
    });

    test('a client that stops reading loses its slot after the stall timeout', async () => {
      // Far more than the socket buffers on both sides hold, so the peer is left waiting on us.
      const big = await startTestOrigin({ data: Buffer.alloc(64 * 1024 * 1024, 3) });
      cleanups.push(() => big.close());
      const p = await peer({ slots: 1, clientStallTimeoutMs: 300 });
      const client = new PeerClient(p.url, key);
      await client.offer(offerFor(big.url), signal());
      const holder = new AbortController();
      cleanups.push(async () => holder.abort());
      // Opened, never read.
      await fetchOf(client, fetchFor(big.url, 0, 64 * 1024 * 1024), holder.signal);
      await rejectsWith(fetchOf(client, fetchFor(big.url, 0, 10), signal()), 'PEER_BUSY');
      const started = Date.now();
      const deadline = started + 10_000;
      let small: Buffer | undefined;
      while (small === undefined) {
        assert.ok(Date.now() < deadline, 'the slot of the client that does not read comes back');
        small = await fetchOf(client, fetchFor(big.url, 100, 200), signal())
          .then(drain)
          .catch(() => undefined);
        if (small === undefined) await delay(50);
      }
      assert.deepEqual(small, Buffer.alloc(100, 3));
    });

    test('a client that disconnects aborts the origin request at once', async () => {
      const slowOrigin = await neverEndingOrigin();
      const p = await peer();
      const client = new PeerClient(p.url, key);
      await client.offer(offerFor(slowOrigin.url), signal());
      const leaving = new AbortController();
      const body = await fetchOf(client, fetchFor(slowOrigin.url, 0, data.length), leaving.signal);
      for await (const chunk of body) {
        assert.ok(chunk.byteLength > 0);
        break;
      }
      leaving.abort();
      await within(slowOrigin.closed, 3_000, 'the origin request is aborted');
    });

    test('an origin error before the first byte is a JSON error with the origin status', async () => {
      const o = await origin({ status: 404 });
      const p = await peer();
      const client = new PeerClient(p.url, key);
      await client.offer(offerFor(o.url), signal());
      const error = await rejectsWith(
        fetchOf(client, fetchFor(o.url, 0, 100), signal()),
        'HTTP_STATUS',
        /404/,
      );
      assert.equal(error.details.status, 404);
      assert.equal(error.details.nodeStatus, 502);
      assert.equal(error.retryable, false);
    });

    test('a changed file on the origin is ORIGIN_CHANGED (412), never other bytes', async () => {
      const o = await origin();
      const p = await peer();
      const client = new PeerClient(p.url, key);
      await client.offer(offerFor(o.url), signal());
      const error = await rejectsWith(
        fetchOf(client, fetchFor(o.url, 0, 100, { etag: '"some-older-version"' }), signal()),
        'ORIGIN_CHANGED',
      );
      assert.equal(error.details.nodeStatus, 412);
    });

    test('an origin that breaks off mid-stream leaves the client a short body and a PEER_FAILED', async () => {
      const o = await origin({ dropAfterBytes: 100_000 });
      const p = await peer();
      const client = new PeerClient(p.url, key);
      await client.offer(offerFor(o.url), signal());
      const body = await fetchOf(client, fetchFor(o.url, 0, data.length), signal());
      const error = await rejectsWith(drain(body), 'PEER_FAILED', /broke off/);
      assert.equal(error.retryable, true);
    });

    test('close cuts streams in flight', async () => {
      const o = await origin({ rateBytesPerSec: 128 * 1024 });
      const p = await peer();
      const client = new PeerClient(p.url, key);
      await client.offer(offerFor(o.url), signal());
      const body = await fetchOf(client, fetchFor(o.url, 0, data.length), signal());
      const closing = p.close();
      await rejectsWith(drain(body), 'PEER_FAILED');
      await closing;
      await rejectsWith(client.info(signal()), 'NETWORK');
    });
  });
}

/** An origin that answers any range with its headers and one chunk, then never finishes. */
async function neverEndingOrigin(): Promise<{ url: string; closed: Promise<void> }> {
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  const responses = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const match = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const start = Number(match?.[1] ?? 0);
    const last = Number(match?.[2] ?? data.length - 1);
    res.writeHead(206, {
      'content-length': last - start + 1,
      'content-range': `bytes ${start}-${last}/${data.length}`,
    });
    res.write(data.subarray(start, start + 16 * 1024));
    responses.add(res);
    res.on('close', markClosed);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const res of responses) res.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/big`, closed };
}
