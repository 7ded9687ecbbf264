/**
 * A peer that speaks another swarm protocol version is refused by every way of talking to a
 * peer: PeerClient's info, offer and fetch, a `--peer` URL, a tracker's record, and a LAN
 * announcement. Before, only the LAN check read the version, so an older peer named with --peer
 * or listed by a tracker was offered downloads in a protocol it reads differently.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { findPeers, type SwarmOptions } from '../../src/client/swarm.js';
import { PROTOCOL_VERSION } from '../../src/constants.js';
import { authenticateAnnouncement } from '../../src/discovery/authenticate.js';
import { deriveKey } from '../../src/protocol/auth.js';
import { API, type OfferResponse, type PeerInfoResponse } from '../../src/protocol/messages.js';
import { TrackerClient } from '../../src/tracker/tracker-client.js';
import { startTracker } from '../../src/tracker/tracker-server.js';
import { PeerClient } from '../../src/transport/client/peer-client.js';
import { sendStreamHead } from '../../src/transport/server/signed-answers.js';
import { startSignedServer } from '../../src/transport/server/signed-server.js';
import { rejectsWith } from '../helpers/assertions.js';

const SECRET = 'protocol-version-test-secret-01';
const key = deriveKey(SECRET);
const OLD_ID = 'peer-old-proto-01';
const OLD_PROTOCOL = PROTOCOL_VERSION - 1;
const CLIENT_ID = 'client-proto-0001';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
});

function signal(): AbortSignal {
  return AbortSignal.timeout(15_000);
}

interface OldPeer {
  url: string;
  port: number;
  /** Offers and fetches that reached it: a refused peer must see none. */
  served: () => number;
}

/** A member of the swarm (right secret, properly signed) whose info names an older protocol. */
async function startOldPeer(): Promise<OldPeer> {
  let served = 0;
  const controller = new AbortController();
  const server = await startSignedServer(
    {
      host: '127.0.0.1',
      port: 0,
      key,
      nodeId: OLD_ID,
      anyNodeRoutes: [`GET ${API.info}`],
      routes: {
        [`GET ${API.info}`]: (ctx) => {
          const info: PeerInfoResponse = {
            id: OLD_ID,
            name: 'old',
            version: '0.0.1',
            protocol: OLD_PROTOCOL,
            slots: 2,
            freeSlots: 2,
          };
          ctx.reply(200, info);
        },
        [`POST ${API.offer}`]: (ctx) => {
          served += 1;
          const answer: OfferResponse = { accepted: true, slots: 2 };
          ctx.reply(200, answer);
        },
        [`POST ${API.fetch}`]: (ctx) => {
          served += 1;
          sendStreamHead(ctx.res, 10, ctx.key, ctx.nonce);
          ctx.res.end(Buffer.alloc(10));
        },
      },
    },
    controller.signal,
  );
  cleanups.push(async () => {
    await server.close();
    controller.abort();
  });
  return { url: server.url, port: server.address.port, served: () => served };
}

const mismatch = /speaks swarm protocol \d+, this ddm \d+/;

const offer = {
  clientId: CLIENT_ID,
  clientName: 'c',
  url: 'http://127.0.0.1:9/f',
  fileName: 'f',
  size: 10,
};

function swarmOptions(overrides: Partial<SwarmOptions>, events: unknown[]): SwarmOptions {
  return {
    trackers: [],
    peers: [],
    secret: SECRET,
    clientName: 'c',
    onEvent: (event) => events.push(event),
    ...overrides,
  };
}

describe('a peer speaking an older protocol version', () => {
  test('is refused by PeerClient.info with PROTOCOL, naming both versions', async () => {
    const old = await startOldPeer();
    const error = await rejectsWith(new PeerClient(old.url, key).info(signal()), 'PROTOCOL', mismatch);
    assert.equal(error.details.peerProtocol, OLD_PROTOCOL);
    assert.equal(error.details.protocol, PROTOCOL_VERSION);
  });

  test('is sent no offer and no fetch: both fail with PROTOCOL before reaching it', async () => {
    const old = await startOldPeer();
    await rejectsWith(new PeerClient(old.url, key).offer(offer, signal()), 'PROTOCOL', mismatch);
    const fetch = { clientId: CLIENT_ID, url: 'http://127.0.0.1:9/f', start: 0, end: 10, validators: {} };
    await rejectsWith(new PeerClient(old.url, key).fetch(fetch, signal()), 'PROTOCOL', mismatch);
    const bound = new PeerClient(old.url, key, { peerId: OLD_ID });
    await rejectsWith(bound.offer(offer, signal()), 'PROTOCOL', mismatch);
    assert.equal(old.served(), 0, 'an offer or fetch reached the old peer');
  });

  test('named with --peer, is reported failed and not used; the look goes on', async () => {
    const old = await startOldPeer();
    const events: unknown[] = [];
    const found = await findPeers(swarmOptions({ peers: [old.url] }, events), key, signal());
    assert.deepEqual(found, []);
    const failed = events.find(
      (event) =>
        (event as { type: string; status?: string }).type === 'peer' &&
        (event as { status?: string }).status === 'failed',
    ) as { message: string } | undefined;
    assert.ok(failed, JSON.stringify(events));
    assert.match(failed.message, mismatch);
  });

  test('listed by a tracker, is reported failed and not used', async () => {
    const old = await startOldPeer();
    const tracker = await startTracker({ host: '127.0.0.1', port: 0, key }, signal());
    cleanups.push(() => tracker.close());
    await new TrackerClient(tracker.url, key).register(
      { id: OLD_ID, name: 'old', port: old.port, slots: 2, version: '0.0.1' },
      signal(),
    );
    const events: unknown[] = [];
    const found = await findPeers(swarmOptions({ trackers: [tracker.url] }, events), key, signal());
    assert.deepEqual(found, []);
    assert.match(JSON.stringify(events), mismatch);
  });

  test('announced on the LAN, is rejected', async () => {
    const old = await startOldPeer();
    const verdict = await authenticateAnnouncement(
      {
        instance: 'old',
        id: OLD_ID,
        name: 'old',
        slots: 2,
        // The TXT record is not signed: it may claim our version, the signed info decides.
        protocol: PROTOCOL_VERSION,
        port: old.port,
        addresses: ['127.0.0.1'],
      },
      { key },
      signal(),
    );
    assert.equal(verdict.kind, 'rejected');
    assert.match(verdict.kind === 'rejected' ? verdict.message : '', mismatch);
    assert.equal(old.served(), 0);
  });
});
