/**
 * The tracker's peer list at scale: `?limit=` answers a random sample (signed like the rest, the
 * query covered by the signature), and the list is serialised once per change, not per caller.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { TRACKER_LIST_MAX_AGE_MS, TRACKER_LIST_REFRESH_MS } from '../../src/constants.js';
import { bodyDigest, deriveKey } from '../../src/protocol/auth.js';
import { PeerRegistry } from '../../src/tracker/peer-registry.js';
import { TrackerClient } from '../../src/tracker/tracker-client.js';
import { startTracker, type Tracker } from '../../src/tracker/tracker-server.js';
import { rejectsWith } from '../helpers/assertions.js';

const key = deriveKey('tracker list test secret');
const lifetime = new AbortController();
after(() => lifetime.abort());

function info(n: number) {
  return {
    id: `listed-${String(n).padStart(4, '0')}`,
    name: `p${n}`,
    port: 20_000 + n,
    slots: 4,
    version: '0.1.0',
  };
}

/** A registry for 100 peers, on a clock the test moves. */
function testRegistry(now: () => number): PeerRegistry {
  return new PeerRegistry({ ttlMs: 60_000, maxPeers: 100, maxPeersPerSource: 100, now });
}

/** The whole list as one JSON.stringify of each live record would write it. */
function wholeListJson(registry: PeerRegistry): string {
  return `{"peers":[${registry
    .list()
    .map((record) => JSON.stringify(record))
    .join(',')}]}`;
}

describe('GET /v1/peers at scale', () => {
  let tracker: Tracker;
  const client = () => new TrackerClient(tracker.url, key);

  test('?limit= answers that many distinct live peers, picked at random', async () => {
    tracker = await startTracker(
      { host: '127.0.0.1', port: 0, key, maxPeersPerAddress: 500 },
      lifetime.signal,
    );
    const signal = AbortSignal.timeout(30_000);
    // In batches: more connections at once from one address than the server allows would be cut.
    for (let start = 0; start < 200; start += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, n) => client().register(info(start + n), signal)));
    }
    const all = new Set((await client().list(signal)).map((peer) => peer.id));
    assert.equal(all.size, 200);
    const seen = new Set<string>();
    for (let round = 0; round < 5; round += 1) {
      const sample = await client().list(signal, 10);
      assert.equal(sample.length, 10);
      assert.equal(new Set(sample.map((peer) => peer.id)).size, 10, 'each peer at most once');
      for (const peer of sample) {
        assert.ok(all.has(peer.id));
        seen.add(peer.id);
      }
    }
    assert.ok(seen.size > 10, 'different samples for different callers');
    assert.equal((await client().list(signal, 150)).length, 150);
    assert.equal((await client().list(signal, 1_000)).length, 200);
  });

  test('a limit that is not a whole number from 1 to 10,000 is a PROTOCOL error', async () => {
    for (const limit of [0, 10_001, -1, 1.5]) {
      await rejectsWith(client().list(AbortSignal.timeout(10_000), limit), 'PROTOCOL', /limit must be/);
    }
  });

  test('the list is serialised once per change: heartbeats reuse it, a join or a leave makes a new one', () => {
    let now = 1_000_000;
    const registry = testRegistry(() => now);
    registry.upsert(info(1), '127.0.0.1');
    const first = registry.listing();
    assert.equal(first.body(), first.body(), 'the whole list is one cached body');
    now += 10;
    registry.upsert(info(1), '127.0.0.1');
    assert.equal(registry.listing(), first, 'a heartbeat alone does not re-serialise');
    now += TRACKER_LIST_REFRESH_MS;
    assert.equal(registry.listing(), first, 'an aged list is still answered while its refresh is made');
    assert.ok(registry.refreshPending, 'and its refresh is wanted');
    let steps = 0;
    while (registry.refreshStep(1) && steps < 10) steps += 1;
    const refreshed = registry.listing();
    assert.notEqual(refreshed, first, 'lastSeen is refreshed within TRACKER_LIST_REFRESH_MS');
    assert.equal(registry.refreshPending, false);
    assert.match(
      refreshed.body().bytes.toString(),
      new RegExp(`"lastSeen":${now - TRACKER_LIST_REFRESH_MS}`),
    );
    registry.upsert(info(2), '127.0.0.1');
    const joined = registry.listing();
    assert.notEqual(joined, refreshed, 'a new peer is listed at once');
    assert.equal(joined.size, 2);
    registry.remove(info(2).id, '127.0.0.1');
    const left = registry.listing();
    assert.equal(left.size, 1, 'a leaving peer is gone at once');
    now += TRACKER_LIST_MAX_AGE_MS;
    registry.upsert(info(1), '127.0.0.1');
    const aged = registry.listing();
    assert.notEqual(aged, left, 'a list nobody asked for in TRACKER_LIST_MAX_AGE_MS is remade at once');
    assert.match(aged.body().bytes.toString(), new RegExp(`"lastSeen":${now}`));
  });

  test('listed records are exactly their JSON after heartbeats and changes (a record is encoded up to lastSeen once)', () => {
    let now = 1_000_000;
    const registry = testRegistry(() => now);
    const expectListed = (what: string) => {
      registry.listing();
      for (let steps = 0; registry.refreshStep(2) && steps < 10; steps += 1);
      const body = registry.listing().body().bytes.toString();
      assert.equal(body, wholeListJson(registry), what);
      const sampled = registry.sample(1).bytes.toString();
      const { id } = (JSON.parse(sampled) as { peers: { id: string }[] }).peers[0]!;
      const record = registry.list().find((listed) => listed.id === id);
      assert.equal(
        sampled,
        `{"peers":[${JSON.stringify(record)}]}`,
        `${what}: a sample lists a record as it is`,
      );
    };
    registry.upsert(info(1), '127.0.0.1');
    registry.upsert({ ...info(2), name: 'naïve "quoted" \\ peer', tls: true }, '127.0.0.2');
    registry.upsert(info(3), '127.0.0.3');
    expectListed('after registration');
    now += TRACKER_LIST_REFRESH_MS;
    registry.upsert(info(1), '127.0.0.1');
    registry.upsert({ ...info(2), name: 'naïve "quoted" \\ peer', tls: true }, '127.0.0.2');
    expectListed('after heartbeats');
    now += 5;
    registry.upsert({ ...info(2), slots: 2 }, '127.0.0.2');
    registry.upsert({ ...info(3), tls: true }, '127.0.0.3');
    expectListed('after a change of slots, of name and of tls');
  });

  test('a refresh made in steps lists every peer exactly, signed as one body, and gives way to a change', () => {
    let now = 1_000_000;
    const registry = testRegistry(() => now);
    for (let n = 0; n < 7; n += 1) registry.upsert(info(n), '127.0.0.1');
    const first = registry.listing();
    now += TRACKER_LIST_REFRESH_MS;
    for (let n = 0; n < 7; n += 1) registry.upsert(info(n), '127.0.0.1');
    registry.listing();
    let steps = 0;
    while (registry.refreshStep(3) && steps < 10) steps += 1;
    assert.equal(steps, 2, 'seven records in parts of three: two steps with more to do, then the last');
    const refreshed = registry.listing();
    assert.notEqual(refreshed, first);
    const body = refreshed.body();
    assert.equal(
      body.bytes.toString(),
      wholeListJson(registry),
      'the parts make the same bytes as one encoding',
    );
    assert.equal(body.digest, bodyDigest(body.bytes), 'and the digest its signature covers');
    assert.equal(refreshed.size, 7);

    now += TRACKER_LIST_REFRESH_MS;
    registry.upsert(info(0), '127.0.0.1');
    registry.listing();
    assert.ok(registry.refreshStep(3), 'a refresh under way');
    registry.upsert(info(99), '127.0.0.1');
    assert.equal(registry.refreshStep(3), false, 'a join drops it');
    const joined = registry.listing();
    assert.equal(joined.size, 8, 'and the next listing has the newcomer at once');
    assert.equal(registry.listing(), joined);
  });

  test('a sample is drawn from the live peers alone, each at most once, after joins, leaves and expiry', () => {
    let now = 1_000_000;
    const registry = testRegistry(() => now);
    for (let n = 0; n < 40; n += 1) registry.upsert(info(n), '127.0.0.1');
    for (let n = 0; n < 40; n += 3) registry.remove(info(n).id, '127.0.0.1');
    now += 30_000;
    // These beat again; the rest expire below.
    for (let n = 1; n < 40; n += 3) registry.upsert(info(n), '127.0.0.1');
    for (let n = 40; n < 50; n += 1) registry.upsert(info(n), '127.0.0.1');
    now += 40_000;
    const live = new Set(
      [...Array.from({ length: 14 }, (_, i) => info(1 + 3 * i).id)].filter((id) => id < info(40).id),
    );
    for (let n = 40; n < 50; n += 1) live.add(info(n).id);
    const seen = new Set<string>();
    for (let round = 0; round < 200; round += 1) {
      const peers = (JSON.parse(registry.sample(5).bytes.toString()) as { peers: { id: string }[] }).peers;
      assert.equal(peers.length, 5);
      assert.equal(new Set(peers.map((peer) => peer.id)).size, 5, 'each peer at most once');
      for (const peer of peers) {
        assert.ok(live.has(peer.id), `${peer.id} is live`);
        seen.add(peer.id);
      }
    }
    assert.equal(seen.size, live.size, 'every live peer can be drawn');
  });
});
