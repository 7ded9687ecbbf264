/**
 * The engine's peer directory: a peer that registers with the tracker after a download began is
 * offered the download, joins it and delivers bytes; the file stays byte-identical.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createEngine } from '../../src/engine/engine.js';
import { createOriginDispatcher } from '../../src/origin/http-client.js';
import { sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { type Node, startPeer, startTracker, stopAll, TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin } from '../helpers/test-origin.js';
import { eventually, within } from '../helpers/wait.js';

const MiB = 1024 * 1024;

describe('peer directory', () => {
  test('a peer started after a download began ends up delivering bytes to it', async () => {
    const data = testData(8 * MiB + 3);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 256 * 1024 });
    const nodes: Node[] = [];
    const dispatcher = createOriginDispatcher({ timeoutMs: 30_000, proxyFromEnv: false });
    try {
      const tracker = await startTracker(['--heartbeat', '1']);
      nodes.push(tracker);
      await withTempDir(async (dir) => {
        const engine = createEngine({ dispatcher, dir });
        try {
          const output = join(dir, 'late.bin');
          const handle = engine.add({
            url: origin.url,
            output,
            connections: 1,
            tracker: [tracker.url],
            secret: TEST_SECRET,
            discover: false,
          });
          await eventually(() => handle.status().completedBytes > 0, 60_000, 'download under way');
          assert.deepEqual(
            handle.status().sources.map((s) => s.kind),
            ['local'],
            'no peer at the start',
          );
          nodes.push(await startPeer('late', ['--tracker', tracker.url, '--allow-private', '--no-announce']));
          await eventually(
            () => handle.status().sources.some((s) => s.kind === 'peer' && s.bytes > 0),
            60_000,
            'the late peer delivers bytes',
          );
          await within(handle.finished(), 90_000, 'download');
          assert.equal(await sha256OfFile(output), sha256(data));
          const pieces = handle.status().pieces;
          assert.ok(
            pieces.some((piece) => piece.source.startsWith('peer:')),
            'the piece map names the peer',
          );
        } finally {
          await engine.close();
        }
      });
    } finally {
      await stopAll(nodes);
      await dispatcher.close();
      await origin.close();
    }
  });
});
