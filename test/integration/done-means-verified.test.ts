/**
 * What the control file calls done is true: peer bytes not yet spot-checked are fetched again on
 * resume, a damaged `.part` is noticed and repaired, finishing is checkpointed so a rerun goes
 * straight to verification, and a checksum mismatch leads to a repair, never to a loop.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli, sha256, sha256OfFile, startCli, testData, withTempDir } from '../helpers/cli.js';
import { startLyingPeer } from '../helpers/lying-peer.js';
import { TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { eventually } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const KiB = 1024;
/** Generous: the machine running the tests may be loaded. */
const WAIT_MS = 30_000;

type Range = [number, number];

interface ControlOnDisk {
  done: Range[];
  peer?: Range[];
  unchecked?: Range[];
}

async function control(output: string): Promise<ControlOnDisk> {
  return JSON.parse(await readFile(`${output}.ddm`, 'utf8')) as ControlOnDisk;
}

function total(ranges: readonly Range[]): number {
  return ranges.reduce((sum, [start, end]) => sum + end - start, 0);
}

async function waitForDone(output: string, atLeast: number): Promise<ControlOnDisk> {
  let state: ControlOnDisk | undefined;
  await eventually(
    async () => {
      state = await control(output);
      return total(state.done) >= atLeast;
    },
    WAIT_MS,
    `control file records ${atLeast} bytes`,
  );
  return state!;
}

/** Range requests of more than the probe's one byte that overlap [start, end). */
function fetchesOf(origin: TestOrigin, start: number, end: number) {
  return origin.rangeLog.filter(
    (entry) => entry.end - entry.start > 1 && entry.start < end && start < entry.end,
  );
}

function notices(stdout: string): string[] {
  return stdout
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { type: string; message?: string })
    .filter((event) => event.type === 'notice')
    .map((event) => event.message ?? '');
}

async function killRun(args: string[], output: string, atLeast: number, env: NodeJS.ProcessEnv = {}) {
  const running = startCli(args, env);
  try {
    return await waitForDone(output, atLeast);
  } finally {
    running.child.kill('SIGKILL');
    await running.exited;
  }
}

describe('done means verified', () => {
  test('peer bytes not yet spot-checked when the client was killed are fetched again on resume, not trusted', async () => {
    const data = testData(8 * MiB, 31);
    const origin = await startTestOrigin({ data });
    // Slow enough that no piece of the liar's is complete (and so spot-checked) before the kill.
    const liar = await startLyingPeer(data, 'shift', TEST_SECRET, { rateBytesPerSec: 128 * KiB });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const first = ['get', origin.url, '-o', output, '--peer', liar.url, '--no-local', '--quiet'];
        const saved = await killRun(first, output, 128 * KiB, { DDM_SECRET: TEST_SECRET });
        assert.ok(liar.fetches > 0, 'the liar delivered bytes');
        origin.resetCounters();
        const rerun = await runCli(['get', origin.url, '-o', output, '--json']);
        assert.equal(rerun.code, 0, rerun.stderr);
        assert.equal(await sha256OfFile(output), sha256(data), 'the liar bytes never reach the final file');
        assert.ok(
          notices(rerun.stdout).some((message) => /not been spot-checked/.test(message)),
          rerun.stdout,
        );
        for (const [start, end] of saved.done) {
          assert.ok(fetchesOf(origin, start, end).length > 0, `unchecked [${start}, ${end}) fetched again`);
        }
      });
    } finally {
      await liar.close();
      await origin.close();
    }
  });

  test('a checksum mismatch after a resume repairs the peer ranges from the origin instead of failing on every rerun', async () => {
    const data = testData(16 * MiB, 32);
    const checksum = `sha256=${sha256(data)}`;
    const origin = await startTestOrigin({ data });
    // Its lies (the last byte of each answer) pass spot checks; only the whole-file hash sees them.
    const liar = await startLyingPeer(data, 'last-byte', TEST_SECRET, { rateBytesPerSec: 1 * MiB });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const args = ['get', origin.url, '-o', output, '--checksum', checksum];
        const first = [...args, '--peer', liar.url, '--no-local', '--quiet'];
        await killRun(first, output, 4 * MiB, { DDM_SECRET: TEST_SECRET });
        const rerun = await runCli([...args, '--json']);
        assert.equal(rerun.code, 0, `the rerun repairs, it does not fail again: ${rerun.stderr}`);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.ok(
          notices(rerun.stdout).some((message) => /comparing the ranges peers delivered/.test(message)),
          rerun.stdout,
        );
      });
    } finally {
      await liar.close();
      await origin.close();
    }
  });

  test('finishing is checkpointed before the final hash: a rerun goes straight to verification without fetching', async () => {
    const data = testData(8 * MiB, 33);
    const origin = await startTestOrigin({ data });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        // A wrong checksum stops the run in its final hash, with everything on disk.
        const wrong = `sha256=${'0'.repeat(64)}`;
        const first = await runCli(['get', origin.url, '-o', output, '--checksum', wrong, '--quiet']);
        assert.equal(first.code, 5, first.stderr);
        assert.equal(
          total((await control(output)).done),
          data.length,
          'all done is recorded before the hash',
        );
        origin.resetCounters();
        const right = await runCli(['get', origin.url, '-o', output, '--checksum', `sha256=${sha256(data)}`]);
        assert.equal(right.code, 0, right.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.deepEqual(fetchesOf(origin, 0, data.length), [], 'nothing was fetched again');
      });
    } finally {
      await origin.close();
    }
  });

  test('after a checksum mismatch without peers the rerun does what the message says: hashes again, fetches nothing', async () => {
    const data = testData(8 * MiB, 36);
    const origin = await startTestOrigin({ data });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const args = ['get', origin.url, '-o', output, '--checksum', `sha256=${'0'.repeat(64)}`, '--quiet'];
        const first = await runCli(args);
        assert.equal(first.code, 5, first.stderr);
        assert.match(first.stderr, /CHECKSUM_MISMATCH.*every byte came from the origin/);
        assert.match(first.stderr, /the same command again only hashes it again/);
        origin.resetCounters();
        const again = await runCli(args);
        assert.equal(again.code, 5, again.stderr);
        assert.match(again.stderr, /CHECKSUM_MISMATCH/);
        assert.deepEqual(fetchesOf(origin, 0, data.length), [], 'the rerun only hashed, as the message said');
      });
    } finally {
      await origin.close();
    }
  });

  test('a .part zeroed inside a done range is noticed on resume and only the damaged piece is fetched again', async () => {
    const data = testData(24 * MiB, 34);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 2 * MiB });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const args = ['get', origin.url, '-o', output, '--connections', '2'];
        const saved = await killRun([...args, '--quiet'], output, 3 * MiB);
        const [start, end] = saved.done[0]!;
        const zeroAt = start + Math.floor((end - start) / 2);
        const zeroed = Math.min(64 * KiB, end - zeroAt);
        const part = await open(`${output}.part`, 'r+');
        await part.write(Buffer.alloc(zeroed), 0, zeroed, zeroAt);
        await part.close();

        origin.options.rateBytesPerSec = undefined;
        origin.resetCounters();
        const rerun = await runCli([...args, '--json']);
        assert.equal(rerun.code, 0, rerun.stderr);
        assert.equal(await sha256OfFile(output), sha256(data), 'the damage does not reach the final file');
        assert.ok(
          notices(rerun.stdout).some((message) => /changed on disk/.test(message)),
          rerun.stdout,
        );
        assert.ok(
          fetchesOf(origin, zeroAt, zeroAt + zeroed).length > 0,
          'the damaged piece was fetched again',
        );
        const refetched = fetchesOf(origin, 0, data.length)
          .map((entry) => Math.min(entry.end, end) - Math.max(entry.start, start))
          .filter((bytes) => bytes > 0)
          .reduce((sum, bytes) => sum + bytes, 0);
        assert.ok(
          refetched <= 4 * MiB,
          `at most one piece of the done range was fetched again, not ${refetched}`,
        );
      });
    } finally {
      await origin.close();
    }
  });

  test('a .part replaced by other bytes of the same size is noticed on resume', async () => {
    const data = testData(24 * MiB, 35);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 2 * MiB });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const args = ['get', origin.url, '-o', output, '--connections', '2'];
        await killRun([...args, '--quiet'], output, 3 * MiB);
        const size = (await stat(`${output}.part`)).size;
        const part = await open(`${output}.part`, 'w');
        await part.write(randomBytes(size));
        await part.close();

        origin.options.rateBytesPerSec = undefined;
        const rerun = await runCli([...args, '--json']);
        assert.equal(rerun.code, 0, rerun.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.ok(
          notices(rerun.stdout).some((message) => /changed on disk/.test(message)),
          rerun.stdout,
        );
      });
    } finally {
      await origin.close();
    }
  });
});
