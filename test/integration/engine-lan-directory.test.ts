/**
 * The engine's directory fed by the LAN for as long as the engine runs, without multicast: the
 * browse is replaced by a list of announcements that changes while a download runs, and real
 * peers on 127.0.0.1 answer. A peer announced after the download began joins it and delivers; a
 * peer whose announcement goes away is dropped without a failure; engine.swarm() lists them.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { LanAnnouncement } from '../../src/discovery/browser.js';
import { createEngine } from '../../src/engine/engine.js';
import { createOriginDispatcher } from '../../src/origin/http-client.js';
import { type Peer, startPeer } from '../../src/peer/peer-server.js';
import { deriveKey } from '../../src/protocol/auth.js';
import { sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin } from '../helpers/test-origin.js';
import { eventually, within } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const TIMING = { pollMs: 200, goneAfterMs: 1_500 };

function lanPeer(id: string, controller: AbortController): Promise<Peer> {
  return startPeer(
    {
      host: '127.0.0.1',
      port: 0,
      key: deriveKey(TEST_SECRET),
      id,
      name: id,
      slots: 2,
      accept: 'auto',
      allowPrivate: true,
      trackers: [],
    },
    controller.signal,
  );
}

function announced(peer: Peer): LanAnnouncement {
  return {
    instance: `ddm-${peer.id}._ddm._tcp.local`,
    id: peer.id,
    name: peer.id,
    slots: 2,
    protocol: 1,
    port: peer.address.port,
    addresses: ['127.0.0.1'],
  };
}

describe('engine directory on the LAN', () => {
  test('a peer announced on mDNS after a download started joins it and delivers bytes; swarm() lists it', async () => {
    const data = testData(6 * MiB + 7, 51);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 256 * 1024 });
    const dispatcher = createOriginDispatcher({ timeoutMs: 30_000, proxyFromEnv: false });
    const controller = new AbortController();
    const lan: LanAnnouncement[] = [];
    try {
      await withTempDir(async (dir) => {
        const engine = createEngine({
          dispatcher,
          dir,
          lanBrowse: async () => [...lan],
          directoryTiming: TIMING,
        });
        try {
          const output = join(dir, 'lan-late.bin');
          const handle = engine.add({
            url: origin.url,
            output,
            connections: 1,
            secret: TEST_SECRET,
            discover: true,
            discoverTimeout: 0.1,
          });
          await eventually(() => handle.status().completedBytes > 0, 60_000, 'download under way');
          assert.deepEqual(
            handle.status().sources.map((s) => s.kind),
            ['local'],
            'nobody on the LAN at the start',
          );
          const late = await lanPeer('lan-late-peer-001', controller);
          lan.push(announced(late));
          await eventually(
            () => handle.status().sources.some((s) => s.id === `peer:${late.id}` && s.bytes > 0),
            60_000,
            'the late LAN peer delivers bytes',
          );
          const known = engine.swarm().find((peer) => peer.id === late.id);
          assert.ok(known, 'swarm() knows the peer');
          assert.deepEqual(known.foundBy, ['lan']);
          assert.equal(known.slots, 2);
          assert.equal(known.trust, 'trusted');
          assert.equal(typeof known.version, 'string');
          await within(handle.finished(), 90_000, 'download');
          assert.equal(await sha256OfFile(output), sha256(data));
        } finally {
          await engine.close();
        }
      });
    } finally {
      controller.abort();
      await dispatcher.close();
      await origin.close();
    }
  });

  test('a peer that goes away from the LAN is dropped without a failure, and the download still finishes', async () => {
    const data = testData(6 * MiB + 3, 52);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 256 * 1024 });
    const dispatcher = createOriginDispatcher({ timeoutMs: 30_000, proxyFromEnv: false });
    const controller = new AbortController();
    try {
      const leaving = await lanPeer('lan-leaving-peer-1', controller);
      const lan: LanAnnouncement[] = [announced(leaving)];
      await withTempDir(async (dir) => {
        const engine = createEngine({
          dispatcher,
          dir,
          lanBrowse: async () => [...lan],
          directoryTiming: TIMING,
        });
        try {
          const output = join(dir, 'lan-leaving.bin');
          const handle = engine.add({
            url: origin.url,
            output,
            connections: 1,
            secret: TEST_SECRET,
            discover: true,
            discoverTimeout: 0.1,
          });
          const source = () => handle.status().sources.find((s) => s.id === `peer:${leaving.id}`);
          await eventually(() => (source()?.bytes ?? 0) > 0, 60_000, 'the peer delivers');
          lan.length = 0; // its announcement is gone (a goodbye, or no more answers)
          await eventually(() => source()?.state === 'dropped', 30_000, 'the peer is dropped');
          assert.equal(source()?.failures, 0, 'leaving is not a failure');
          assert.equal(source()?.reason, 'left the swarm');
          await within(handle.finished(), 90_000, 'download');
          assert.equal(await sha256OfFile(output), sha256(data));
          assert.ok(!engine.swarm().some((peer) => peer.id === leaving.id), 'swarm() forgot it');
        } finally {
          await engine.close();
        }
      });
    } finally {
      controller.abort();
      await dispatcher.close();
      await origin.close();
    }
  });
});
