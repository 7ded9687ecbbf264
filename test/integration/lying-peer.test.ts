/**
 * Bytes from peers are not trusted blindly: a peer that flips bits, truncates, pads or serves
 * another range is caught, dropped, and its ranges are fetched again; the file is never wrong.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli, sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { type Lie, startLyingPeer } from '../helpers/lying-peer.js';
import { startPeer, stopAll, TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin } from '../helpers/test-origin.js';

const MiB = 1024 * 1024;

interface Event {
  type: string;
  label?: string;
  status?: string;
  message?: string;
}

async function downloadWithLiar(lie: Lie, withChecksum: boolean): Promise<Event[]> {
  const data = testData(10 * MiB, 21);
  // Paced so that both peers get work before the download is over.
  const origin = await startTestOrigin({ data, rateBytesPerSec: 2 * MiB });
  const liar = await startLyingPeer(data, lie, TEST_SECRET);
  const honest = await startPeer('honest', ['--allow-private']);
  try {
    return await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const args = [
        'get',
        origin.url,
        '-o',
        output,
        '--peer',
        liar.url,
        '--peer',
        honest.url,
        '--no-local',
        '--json',
      ];
      if (withChecksum) args.push('--checksum', `sha256=${sha256(data)}`);
      const result = await runCli(args, { DDM_SECRET: TEST_SECRET });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await sha256OfFile(output), sha256(data), 'the final file is never wrong');
      assert.ok(liar.fetches > 0, 'the liar was given work');
      return result.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Event);
    });
  } finally {
    await stopAll([honest]);
    await liar.close();
    await origin.close();
  }
}

function assertDropped(events: readonly Event[], lie: Lie): void {
  const dropped = events.find(
    (e) => e.type === 'peer' && e.label === `liar-${lie}` && e.status === 'dropped',
  );
  assert.ok(
    dropped,
    `liar-${lie} was not dropped: ${JSON.stringify(events.filter((e) => e.type === 'peer'))}`,
  );
}

describe('lying peers', () => {
  test('a peer serving another range is caught by spot checks without a checksum', async () => {
    const events = await downloadWithLiar('shift', false);
    assertDropped(events, 'shift');
    const caught = events.find((e) => e.label === 'liar-shift' && e.status === 'dropped');
    assert.match(caught?.message ?? '', /differ from the origin/);
  });

  test('a peer flipping bits is caught by --checksum, its ranges repaired from the origin', async () => {
    const events = await downloadWithLiar('flip', true);
    assertDropped(events, 'flip');
  });

  for (const lie of ['truncate', 'pad'] as const) {
    test(`a peer that ${lie}s its answers is dropped after its failures`, async () => {
      const events = await downloadWithLiar(lie, false);
      assertDropped(events, lie);
    });
  }
});
