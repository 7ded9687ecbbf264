/**
 * Bytes from peers are not trusted blindly: a peer that flips bits, truncates, pads or serves
 * another range is caught, dropped, and its ranges are fetched again; the file is never wrong.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PeerRangeSource } from '../../src/client/peer-source.js';
import { DdmError } from '../../src/errors.js';
import { deriveKey } from '../../src/protocol/auth.js';
import { runCli, sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { type Lie, startLyingPeer } from '../helpers/lying-peer.js';
import { startPeer, stopAll, TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin } from '../helpers/test-origin.js';
import { drain } from '../helpers/wait.js';

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

  for (const lie of ['truncate', 'pad', 'short', 'early'] as const) {
    test(`a peer whose answers break the length (${lie}) is dropped after its failures`, async () => {
      const events = await downloadWithLiar(lie, false);
      assertDropped(events, lie);
    });
  }
});

/** Counts what escaped as an uncaught exception or an unhandled rejection while `work` ran. */
async function escapes(work: () => Promise<void>): Promise<unknown[]> {
  const escaped: unknown[] = [];
  const onEscape = (error: unknown) => escaped.push(error);
  process.on('uncaughtException', onEscape).on('unhandledRejection', onEscape);
  try {
    await work();
    // An error emitted on a discarded body comes a few ticks after the call that discarded it.
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    process.off('uncaughtException', onEscape).off('unhandledRejection', onEscape);
  }
  return escaped;
}

const PEER_FAULT_CODES = new Set(['PEER_FAILED', 'PROTOCOL', 'NETWORK']);

describe('misbehaving peers fail as themselves', () => {
  const misbehaviours = {
    short: 'announces fewer bytes than the range',
    early: 'closes cleanly in the middle of the range',
    headless: 'hangs up before its head',
    truncate: 'resets in the middle of the range',
    pad: 'announces more bytes than the range',
  } as const;
  for (const [lie, what] of Object.entries(misbehaviours) as [keyof typeof misbehaviours, string][]) {
    test(`a peer that ${what}: 200 ranges, each a failure of that peer, nothing uncaught`, async () => {
      const data = testData(256 * 1024, 8);
      const liar = await startLyingPeer(data, lie, TEST_SECRET);
      try {
        const source = new PeerRangeSource(
          { id: `liar-${lie}-0000`, name: `liar-${lie}`, url: liar.url },
          { clientId: 'client-lies-0001', url: 'http://127.0.0.1:9/file', validators: {}, headers: {} },
          deriveKey(TEST_SECRET),
          10_000,
        );
        const failures: string[] = [];
        const escaped = await escapes(async () => {
          for (let i = 0; i < 200; i += 1) {
            // Small ranges arrive whole with the head, large ones in many chunks: both paths.
            const start = (i * 997) % (128 * 1024);
            const end = start + (i % 2 === 0 ? 1 + (i % 100) : 64 * 1024 + i);
            const signal = AbortSignal.timeout(10_000);
            const outcome = await source
              .open({ start, end }, signal)
              .then(drain)
              .catch((error: unknown) => error);
            if (!(outcome instanceof DdmError) || !PEER_FAULT_CODES.has(outcome.code)) {
              failures.push(`range ${start}-${end}: ${outcome instanceof Error ? outcome.message : 'bytes'}`);
            }
          }
        });
        assert.deepEqual(escaped, [], 'nothing escapes as uncaught');
        assert.deepEqual(failures, [], 'every range ends as a DdmError of the peer');
      } finally {
        await liar.close();
      }
    });
  }
});
