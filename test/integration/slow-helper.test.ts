/**
 * A client replaces helpers that are merely slow: among fast `ddm peer`s, one capped with
 * --max-upload serves far below the others' median. The client's three seats are all taken at
 * first (three peers listed); two more join while it downloads, the client finds them when it
 * looks for someone to replace the slow one, releases it, and the download finishes,
 * byte-identical.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { EXIT } from '../../src/errors.js';
import { deriveKey } from '../../src/protocol/auth.js';
import { TrackerClient } from '../../src/tracker/tracker-client.js';
import { sha256, sha256OfFile, startCli, testData, withTempDir } from '../helpers/cli.js';
import { type Node, startPeer, startTracker, stopAll, TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin } from '../helpers/test-origin.js';
import { eventually, within } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const key = deriveKey(TEST_SECRET);

describe('slow helpers', () => {
  const nodes: Node[] = [];
  after(async () => {
    await stopAll(nodes);
  });

  test('a helper far slower than the others is released, another recruited, and the download finishes', async () => {
    const data = testData(32 * MiB + 3);
    // Paced per response, so the download lasts long enough (~12 s) for the slow one to show.
    const origin = await startTestOrigin({ data, rateBytesPerSec: 256 * 1024 });
    try {
      const tracker = await startTracker(['--heartbeat', '1']);
      nodes.push(tracker);
      const common = ['--tracker', tracker.url, '--allow-private', '--no-announce'];
      const slow = await startPeer('slow-helper', [...common, '--max-upload', '128K']);
      nodes.push(slow);
      nodes.push(...(await Promise.all(['fast-1', 'fast-2'].map((n) => startPeer(n, common)))));
      const listed = async () =>
        (await new TrackerClient(tracker.url, key).list(AbortSignal.timeout(10_000))).length;
      await eventually(async () => (await listed()) === 3, 20_000, 'the first three peers listed');
      await withTempDir(async (dir) => {
        const output = join(dir, 'slow.bin');
        const client = startCli(
          ['get', origin.url, '-o', output, '--no-local', '--tracker', tracker.url, '--max-helpers', '3'],
          { DDM_SECRET: TEST_SECRET },
        );
        await client.waitFor(/peer slow-helper accepted/, 60_000);
        nodes.push(...(await Promise.all(['fast-3', 'fast-4'].map((n) => startPeer(n, common)))));
        const result = await within(client.exited, 120_000, 'download');
        assert.equal(result.code, EXIT.OK, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.match(result.stderr, /peer slow-helper dropped: released for another helper: \d+ KiB\/s/);
        assert.match(result.stderr, /peer fast-[34] accepted/, 'a newcomer took the seat');
        assert.ok(!/peer fast-\d dropped/.test(result.stderr), result.stderr);
      });
    } finally {
      await origin.close();
    }
  });
});
