/**
 * A full disk ends `ddm get` with one `DISK_FULL` line and exit 4, every time: before the first
 * byte when the free space cannot hold the file, and mid-download when another program fills
 * the disk. Real `ddm get` processes writing to a small tmpfs (the tests run as root).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runCli, sha256, sha256OfFile, startCli, testData } from '../helpers/cli.js';
import { startTestOrigin } from '../helpers/test-origin.js';
import { eventually, within } from '../helpers/wait.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const MOUNT_TIMEOUT_MS = 5_000;
const EXIT_LIMIT_MS = 30_000;
const FILL_RUNS = 5;

/** Writes until the file system refuses: what another program filling the disk does. */
function fillDisk(path: string): void {
  const chunk = Buffer.alloc(64 * 1024, 1);
  const fd = openSync(path, 'w');
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
}

function assertOneDiskFullLine(stderr: string): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, no stack trace:\n${stderr}`);
  assert.match(lines[0]!, /^ddm: error \[DISK_FULL\]: /);
}

describe('disk full', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ddm-disk-full-'));
    await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir], { timeout: MOUNT_TIMEOUT_MS });
  });

  after(async () => {
    // Lazy, so a ddm left running by a failed test cannot keep the mount (and the test) alive.
    await run('umount', ['-l', dir], { timeout: MOUNT_TIMEOUT_MS }).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  test('a file larger than the free space fails with DISK_FULL before the first byte, leaving nothing', async () => {
    const data = testData(12 * MiB, 31);
    const origin = await startTestOrigin({ data });
    try {
      const result = await runCli(['get', origin.url, '-o', join(dir, 'big.bin'), '--quiet']);
      assert.equal(result.code, 4, result.stderr);
      assertOneDiskFullLine(result.stderr);
      assert.match(result.stderr, /not enough space in .*: the download needs .* more, .* is free/);
      assert.ok(origin.bytesServed <= 1, `only the probe's byte was fetched, not ${origin.bytesServed}`);
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await origin.close();
    }
  });

  test(`a disk filled by another program mid-download ends with one DISK_FULL line and exit 4, ${FILL_RUNS} times of ${FILL_RUNS}, and the rerun completes`, async () => {
    const data = testData(6 * MiB, 32);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 6 * MiB });
    const output = join(dir, 'f.bin');
    const filler = join(dir, 'filler');
    try {
      for (let attempt = 0; attempt < FILL_RUNS; attempt++) {
        origin.resetCounters();
        const running = startCli(['get', origin.url, '-o', output, '--overwrite', '--quiet']);
        try {
          await eventually(() => origin.bytesServed > MiB, EXIT_LIMIT_MS, 'the download is under way');
          fillDisk(filler);
          const result = await within(running.exited, EXIT_LIMIT_MS, 'ddm ends on the full disk');
          assert.equal(result.code, 4, `run ${attempt + 1}: ${result.stderr}`);
          assertOneDiskFullLine(result.stderr);
        } finally {
          running.child.kill('SIGKILL');
          await rm(filler, { force: true });
        }
      }
      delete origin.options.rateBytesPerSec;
      const rerun = await runCli(['get', origin.url, '-o', output, '--quiet']);
      assert.equal(rerun.code, 0, rerun.stderr);
      assert.equal(await sha256OfFile(output), sha256(data));
    } finally {
      await origin.close();
      await rm(output, { force: true });
    }
  });
});
