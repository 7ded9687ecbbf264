/**
 * End-to-end swarm: real tracker, peer and client processes on 127.0.0.1, bytes checked with SHA-256.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { runCli, sha256, sha256OfFile, startCli, testData, withTempDir } from '../helpers/cli.js';
import { type Node, startPeer, startTracker, stopAll, TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin } from '../helpers/test-origin.js';

const MiB = 1024 * 1024;
const env = { DDM_SECRET: TEST_SECRET };

interface DoneEvent {
  type: 'done';
  sources: { source: string; label: string; kind: string; bytes: number; dropped: boolean }[];
}

function events(stdout: string): { type: string; [key: string]: unknown }[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { type: string });
}

function doneEvent(stdout: string): DoneEvent {
  const done = events(stdout).find((e) => e.type === 'done');
  assert.ok(done, `no done event in ${stdout}`);
  return done as unknown as DoneEvent;
}

async function peersListed(trackerUrl: string): Promise<string[]> {
  const result = await runCli(['peers', '--tracker', trackerUrl, '--json'], env);
  assert.equal(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout) as { peers: { name: string }[] }).peers.map((p) => p.name).sort();
}

async function waitForPeers(trackerUrl: string, expected: string[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    seen = await peersListed(trackerUrl);
    if (JSON.stringify(seen) === JSON.stringify([...expected].sort())) return;
    await delay(200);
  }
  assert.fail(`tracker lists ${JSON.stringify(seen)}, expected ${JSON.stringify(expected)}`);
}

async function swarmOf(count: number, peerArgs: (index: number) => string[] = () => ['--allow-private']) {
  const tracker = await startTracker(['--heartbeat', '1']);
  const peers: Node[] = [];
  for (let i = 0; i < count; i++)
    peers.push(await startPeer(`p${i}`, ['--tracker', tracker.url, ...peerArgs(i)]));
  await waitForPeers(
    tracker.url,
    peers.map((_, i) => `p${i}`),
  );
  return { tracker, peers };
}

describe('swarm', () => {
  test('a tracker, three peers and a client with --no-local give a byte-identical file; every peer helps', async () => {
    const data = testData(12 * MiB, 3);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 8 * MiB });
    const { tracker, peers } = await swarmOf(3);
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const result = await runCli(
          ['get', origin.url, '-o', output, '--tracker', tracker.url, '--no-local', '--json'],
          env,
        );
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        const done = doneEvent(result.stdout);
        const byPeer = done.sources.filter((s) => s.kind === 'peer');
        assert.equal(byPeer.length, 3);
        assert.equal(
          byPeer.reduce((sum, s) => sum + s.bytes, 0),
          data.length,
        );
        for (const peer of byPeer) assert.ok(peer.bytes > 0, `${peer.label} fetched nothing`);
      });
    } finally {
      await stopAll([tracker, ...peers]);
      await origin.close();
    }
  });

  test('a peer killed with kill -9 mid-download: the download completes, byte-identical', async () => {
    const data = testData(16 * MiB, 4);
    const origin = await startTestOrigin({ data, rateBytesPerSec: MiB / 4 });
    const { tracker, peers } = await swarmOf(3);
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const client = startCli(
          ['get', origin.url, '-o', output, '--tracker', tracker.url, '--no-local', '--json'],
          env,
        );
        await client.waitFor(/"type":"progress","doneBytes":[1-9]\d{6,}/, 30_000);
        peers[0]!.cli.child.kill('SIGKILL');
        const result = await client.exited;
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
      });
    } finally {
      await stopAll([tracker, ...peers]);
      await origin.close();
    }
  });

  test('a peer frozen with SIGSTOP: the download completes in bounded time', async () => {
    const data = testData(12 * MiB, 5);
    const origin = await startTestOrigin({ data, rateBytesPerSec: MiB / 4 });
    const { tracker, peers } = await swarmOf(2);
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const started = Date.now();
        const client = startCli(['get', origin.url, '-o', output, '--tracker', tracker.url, '--json'], env);
        await client.waitFor(/"type":"progress","doneBytes":[1-9]\d{5,}/, 30_000);
        peers[0]!.cli.child.kill('SIGSTOP');
        const result = await client.exited;
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.ok(Date.now() - started < 50_000, 'finished in bounded time');
      });
    } finally {
      await stopAll([tracker, ...peers]);
      await origin.close();
    }
  });

  test('a peer with --accept never is not used; a client with a wrong secret gets a clear error and the origin serves nothing', async () => {
    const data = testData(4 * MiB, 6);
    const origin = await startTestOrigin({ data });
    const { tracker, peers } = await swarmOf(2, (i) => [
      '--allow-private',
      '--accept',
      i === 0 ? 'never' : 'auto',
    ]);
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const result = await runCli(
          ['get', origin.url, '-o', output, '--tracker', tracker.url, '--no-local', '--json'],
          env,
        );
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        const all = events(result.stdout);
        assert.ok(all.some((e) => e.type === 'peer' && e.label === 'p0' && e.status === 'refused'));
        const used = doneEvent(result.stdout).sources.map((s) => s.label);
        assert.deepEqual(used, ['p1']);

        origin.resetCounters();
        const wrong = await runCli(
          ['get', origin.url, '-o', join(dir, 'wrong.bin'), '--tracker', tracker.url],
          {
            DDM_SECRET: 'another-secret-0123456789',
          },
        );
        assert.equal(wrong.code, 7, wrong.stderr);
        assert.match(wrong.stderr.trim(), /^ddm: error \[AUTH_FAILED\]: .*secret/m);
        assert.doesNotMatch(wrong.stderr, /another-secret|test-secret/);
        assert.equal(origin.requests, 0, 'the origin served nothing');
      });
    } finally {
      await stopAll([tracker, ...peers]);
      await origin.close();
    }
  });

  test('a tracker restarted mid-download: the download is unaffected and the peers reappear; SIGTERM removes a peer', async () => {
    const data = testData(12 * MiB, 8);
    const origin = await startTestOrigin({ data, rateBytesPerSec: MiB / 4 });
    let { tracker, peers } = await swarmOf(2);
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const client = startCli(
          ['get', origin.url, '-o', output, '--tracker', tracker.url, '--no-local', '--json'],
          env,
        );
        await client.waitFor(/"type":"progress","doneBytes":[1-9]\d{5,}/, 30_000);
        const port = new URL(tracker.url).port;
        await tracker.stop('SIGKILL');
        tracker = await startTracker(['--heartbeat', '1', '--listen', `127.0.0.1:${port}`]);
        const result = await client.exited;
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        await waitForPeers(tracker.url, ['p0', 'p1'], 10_000);

        await peers[0]!.stop('SIGTERM');
        assert.equal(peers[0]!.cli.child.exitCode, 0);
        assert.deepEqual(await peersListed(tracker.url), ['p1']);
      });
    } finally {
      await stopAll([tracker, ...peers]);
      await origin.close();
    }
  });

  test('a peer without --allow-private refuses a 127.0.0.1 origin; the origin sees only the client probe', async () => {
    const data = testData(2 * MiB, 10);
    const origin = await startTestOrigin({ data });
    const { tracker, peers } = await swarmOf(1, () => []);
    try {
      await withTempDir(async (dir) => {
        const result = await runCli(
          ['get', origin.url, '-o', join(dir, 'out.bin'), '--tracker', tracker.url, '--no-local', '--json'],
          env,
        );
        assert.equal(result.code, 7, result.stderr);
        assert.match(result.stderr, /\[NO_WORKERS\]/);
        assert.match(result.stdout, /private address/);
        assert.equal(origin.requests, 1, 'only the client probe reached the origin');
      });
    } finally {
      await stopAll([tracker, ...peers]);
      await origin.close();
    }
  });
});
