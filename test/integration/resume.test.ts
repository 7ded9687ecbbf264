/**
 * Nothing is lost: `kill -9` or Ctrl-C at any point, then the same `ddm get` again, gives a
 * byte-identical file and does not fetch again what was saved.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { runCli, sha256, sha256OfFile, startCli, testData, withTempDir } from '../helpers/cli.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';

const MiB = 1024 * 1024;
const POLL_MS = 50;
const WAIT_LIMIT_MS = 30_000;

type Range = [number, number];

async function savedRanges(controlFile: string): Promise<Range[]> {
  try {
    const state = JSON.parse(await readFile(controlFile, 'utf8')) as { done: Range[] };
    return state.done;
  } catch {
    return [];
  }
}

function total(ranges: readonly Range[]): number {
  return ranges.reduce((sum, [start, end]) => sum + end - start, 0);
}

async function waitForSaved(controlFile: string, atLeast: number): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (total(await savedRanges(controlFile)) < atLeast) {
    if (Date.now() > deadline) throw new Error(`control file never recorded ${atLeast} bytes`);
    await delay(POLL_MS);
  }
}

function overlaps(range: { start: number; end: number }, saved: readonly Range[]): boolean {
  return saved.some(([start, end]) => range.start < end && start < range.end);
}

async function finishAndCheck(origin: TestOrigin, output: string, data: Buffer): Promise<void> {
  const saved = await savedRanges(`${output}.ddm`);
  assert.ok(total(saved) > 0, 'something was saved before the kill');
  origin.resetCounters();
  const result = await runCli(['get', origin.url, '-o', output, '--connections', '2', '--quiet']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(await sha256OfFile(output), sha256(data));
  const refetched = origin.rangeLog.filter((entry) => entry.end - entry.start > 1 && overlaps(entry, saved));
  assert.deepEqual(refetched, [], 'no saved byte was fetched again');
  assert.ok(origin.bytesServed <= data.length - total(saved) + 1, `served ${origin.bytesServed} bytes`);
}

describe('resume', () => {
  for (const fraction of [0.05, 0.4, 0.75]) {
    test(`kill -9 at ~${fraction * 100}% then rerun: byte-identical, saved bytes not fetched again`, async () => {
      const data = testData(16 * MiB, 7);
      // About 8 s in all: checkpoints come every second (about 12% of the file here), so one past
      // the kill point is always written well before the download ends, even on a loaded machine.
      const origin = await startTestOrigin({ data, rateBytesPerSec: 1 * MiB });
      try {
        await withTempDir(async (dir) => {
          const output = join(dir, 'big.bin');
          const running = startCli(['get', origin.url, '-o', output, '--connections', '2', '--quiet']);
          await waitForSaved(`${output}.ddm`, Math.floor(data.length * fraction));
          running.child.kill('SIGKILL');
          await running.exited;
          assert.equal(existsSync(output), false, 'the final name never appears early');
          await finishAndCheck(origin, output, data);
        });
      } finally {
        await origin.close();
      }
    });
  }

  test('SIGINT stops cleanly with exit 130, saves progress, and the rerun resumes', async () => {
    const data = testData(8 * MiB, 9);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 2 * MiB });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'file.bin');
        const running = startCli(['get', origin.url, '-o', output, '--connections', '2']);
        await waitForSaved(`${output}.ddm`, 2 * MiB);
        running.child.kill('SIGINT');
        const stopped = await running.exited;
        assert.equal(stopped.code, 130, stopped.stderr);
        assert.match(stopped.stderr, /\[ABORTED\].*run the same command again to resume/);
        await finishAndCheck(origin, output, data);
      });
    } finally {
      await origin.close();
    }
  });
});
