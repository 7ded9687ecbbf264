/**
 * Several trackers on one real Redis (`ddm tracker --store redis://...`): a peer registered
 * through one is listed by the other; one tracker killed mid-download and the download finishes
 * byte-identical; a Redis that cannot be reached is a clear STORE_UNAVAILABLE at start and a 503
 * with that code at run time, and the tracker serves again once Redis is back.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { EXIT, isDdmError } from '../../src/errors.js';
import { ANY_NODE, deriveKey, signRequest } from '../../src/protocol/auth.js';
import type { RegisterRequest } from '../../src/protocol/messages.js';
import { API } from '../../src/protocol/messages.js';
import { TrackerClient } from '../../src/tracker/tracker-client.js';
import { startTracker as startTrackerHere } from '../../src/tracker/tracker-server.js';
import { runCli, sha256, sha256OfFile, startCli, testData, withTempDir } from '../helpers/cli.js';
import { freePort } from '../helpers/real-servers.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { type Node, startPeer, startTracker, stopAll, TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin } from '../helpers/test-origin.js';
import { eventually, within } from '../helpers/wait.js';

const key = deriveKey(TEST_SECRET);
const MiB = 1024 * 1024;

function peerInfo(id: string, port: number): RegisterRequest {
  return { id, name: id, port, slots: 2, version: '0.1.0' };
}

async function listedIds(trackerUrl: string): Promise<string[]> {
  const peers = await new TrackerClient(trackerUrl, key).list(AbortSignal.timeout(10_000));
  return peers.map((peer) => peer.id).sort();
}

describe('trackers sharing one Redis store', () => {
  let redis: RedisServer;
  const nodes: Node[] = [];

  before(async () => {
    redis = await startRedis();
  });

  after(async () => {
    await stopAll(nodes);
    await redis.close();
  });

  test('a peer registered through one tracker is listed by the other', async () => {
    const [a, b] = await Promise.all([
      startTracker(['--store', redis.url, '--heartbeat', '1']),
      startTracker(['--store', redis.url, '--heartbeat', '1']),
    ]);
    nodes.push(a!, b!);
    const signal = AbortSignal.timeout(10_000);
    await new TrackerClient(a!.url, key).register(peerInfo('shared-peer-1', 40_001), signal);
    await eventually(async () => (await listedIds(b!.url)).includes('shared-peer-1'), 10_000, 'B lists it');
    const sample = await new TrackerClient(b!.url, key).list(signal, 1);
    assert.equal(sample.length, 1);
    assert.equal((await new TrackerClient(b!.url, key).deregister('shared-peer-1', signal)).removed, true);
    await eventually(
      async () => !(await listedIds(a!.url)).includes('shared-peer-1'),
      10_000,
      'A forgets it',
    );
  });

  test('one tracker killed mid-download: the download finishes, byte-identical, through peers', async () => {
    const data = testData(12 * MiB + 5);
    // Paced per response: two peers' eight slots take ~4 s, so the kill lands mid-download (at
    // 2 MiB/s each the file was often done before the first progress line with bytes).
    const origin = await startTestOrigin({ data, rateBytesPerSec: 384 * 1024 });
    try {
      const [a, b] = await Promise.all([
        startTracker(['--store', redis.url, '--heartbeat', '1']),
        startTracker(['--store', redis.url, '--heartbeat', '1']),
      ]);
      nodes.push(a!, b!);
      const trackers = ['--tracker', a!.url, '--tracker', b!.url];
      const peers = await Promise.all(
        ['store-peer-a', 'store-peer-b'].map((name) =>
          startPeer(name, [...trackers, '--allow-private', '--no-announce']),
        ),
      );
      nodes.push(...peers);
      await eventually(async () => (await listedIds(b!.url)).length === 2, 20_000, 'both peers listed');
      await withTempDir(async (dir) => {
        const output = join(dir, 'shared.bin');
        const client = startCli(
          ['get', origin.url, '-o', output, '--no-local', ...trackers, '--json', '--no-discover'],
          { DDM_SECRET: TEST_SECRET },
        );
        await client.waitFor(/"type":"progress".*"doneBytes":[1-9]/, 60_000);
        await a!.stop('SIGKILL');
        const result = await within(client.exited, 120_000, 'download');
        assert.equal(result.code, EXIT.OK, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        const done = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
          type: string;
          sources: { kind: string; bytes: number }[];
        };
        assert.equal(done.type, 'done');
        assert.ok(done.sources.filter((source) => source.kind === 'peer' && source.bytes > 0).length >= 1);
      });
      // The surviving tracker still lists the swarm, kept fresh by the peers' heartbeats.
      assert.equal((await listedIds(b!.url)).length, 2);
    } finally {
      await origin.close();
    }
  });

  test('a Redis that cannot be reached at start is a clear error with its code', async () => {
    const closed = await freePort();
    const result = await runCli(
      ['tracker', '--listen', '127.0.0.1:0', '--store', `redis://127.0.0.1:${closed}`],
      {
        DDM_SECRET: TEST_SECRET,
      },
    );
    assert.equal(result.code, EXIT.NETWORK, result.stderr);
    assert.match(
      result.stderr,
      /^ddm: error \[STORE_UNAVAILABLE\]: tracker store redis:\/\/127\.0\.0\.1:\d+ unavailable/m,
    );
    assert.doesNotMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace');
  });

  test('a bad --store is a usage error', async () => {
    const result = await runCli(['tracker', '--listen', '127.0.0.1:0', '--store', 'mysql://x'], {
      DDM_SECRET: TEST_SECRET,
    });
    assert.equal(result.code, EXIT.USAGE, result.stderr);
    assert.match(result.stderr, /--store must be "memory" or redis:\/\/HOST:PORT/);
  });

  test('Redis going away: requests are answered 503 STORE_UNAVAILABLE, and served again when it is back', async () => {
    const own = await startRedis();
    const lifetime = new AbortController();
    try {
      const tracker = await startTrackerHere(
        { host: '127.0.0.1', port: 0, key, store: own.url, heartbeatMs: 1_000, ttlMs: 5_000 },
        lifetime.signal,
      );
      const client = new TrackerClient(tracker.url, key);
      await client.register(peerInfo('redis-gone-1', 40_010), AbortSignal.timeout(10_000));
      await own.kill();
      const failure = await client
        .heartbeat(peerInfo('redis-gone-1', 40_010), AbortSignal.timeout(10_000))
        .then(
          () => assert.fail('heartbeat succeeded without Redis'),
          (error: unknown) => error,
        );
      assert.ok(isDdmError(failure, 'STORE_UNAVAILABLE'), String(failure));
      assert.equal(failure.details.nodeStatus, 503);
      assert.equal(failure.retryable, true);
      await own.restart();
      await eventually(
        async () =>
          client.register(peerInfo('redis-gone-1', 40_010), AbortSignal.timeout(5_000)).then(
            () => true,
            () => false,
          ),
        20_000,
        'registered again once Redis is back',
      );
      assert.deepEqual(await listedIds(tracker.url), ['redis-gone-1']);
      await tracker.close();
    } finally {
      lifetime.abort();
      await own.close();
    }
  });

  test('a signed request taken by one tracker and replayed to its sibling is refused there', async () => {
    const lifetime = new AbortController();
    try {
      const options = { host: '127.0.0.1', port: 0, key, store: redis.url, heartbeatMs: 1_000, ttlMs: 5_000 };
      const [a, b] = await Promise.all([
        startTrackerHere(options, lifetime.signal),
        startTrackerHere(options, lifetime.signal),
      ]);
      const body = JSON.stringify(peerInfo('replayed-peer-1', 40_020));
      // Recorded on its way to A: both listen on 127.0.0.1, so the signed Host passes at B too.
      const headers = {
        ...signRequest(key, 'POST', API.register, body, { authority: new URL(a.url).host, node: ANY_NODE }),
        'content-type': 'application/json',
      };
      const send = async (url: string) => {
        const response = await request(`${url}${API.register}`, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(10_000),
        });
        return { status: response.statusCode, text: await response.body.text() };
      };
      assert.equal((await send(a.url)).status, 200, 'the original is taken');
      const replay = await send(b.url);
      assert.equal(replay.status, 401, replay.text);
      assert.match(replay.text, /"code":"AUTH_FAILED".*replayed/);
      assert.equal((await send(a.url)).status, 401, 'and at the tracker that took it');
      // A request of its own is still welcome at B.
      await new TrackerClient(b.url, key).heartbeat(
        peerInfo('replayed-peer-1', 40_020),
        AbortSignal.timeout(10_000),
      );
      await Promise.all([a.close(), b.close()]);
    } finally {
      lifetime.abort();
    }
  });
});
