/**
 * `ddm peer --max-upload RATE` caps what a peer serves: a download only through that peer
 * takes as long as the cap says, and the file is byte-identical.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createEngine } from '../../src/engine/engine.js';
import { createOriginDispatcher } from '../../src/origin/http-client.js';
import { sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { type Node, startPeer, stopAll, TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin } from '../helpers/test-origin.js';
import { within } from '../helpers/wait.js';

const MiB = 1024 * 1024;

describe('peer upload limit', () => {
  test('--max-upload 1M: 4 MiB through the peer alone take at least 3.5 s', async () => {
    const data = testData(4 * MiB);
    const origin = await startTestOrigin({ data });
    const nodes: Node[] = [];
    const dispatcher = createOriginDispatcher({ timeoutMs: 30_000, proxyFromEnv: false });
    try {
      const peer = await startPeer('capped', ['--allow-private', '--no-announce', '--max-upload', '1M']);
      nodes.push(peer);
      await withTempDir(async (dir) => {
        const engine = createEngine({ dispatcher, dir });
        try {
          const output = join(dir, 'capped.bin');
          const started = performance.now();
          const handle = engine.add({
            url: origin.url,
            output,
            local: false,
            peer: [peer.url],
            secret: TEST_SECRET,
            discover: false,
          });
          await within(handle.finished(), 60_000, 'download through the capped peer');
          const seconds = (performance.now() - started) / 1000;
          // 4 MiB at 1 MiB/s, less one burst; an uncapped loopback peer takes well under a second.
          assert.ok(seconds >= 3.5, `took ${seconds.toFixed(2)} s`);
          assert.equal(await sha256OfFile(output), sha256(data));
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
