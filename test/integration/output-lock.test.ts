/**
 * One run per output: a second `ddm get` of the same output, `--overwrite` or not, is refused
 * while the first runs, and the first still ends with the right file. A crash's leftovers (a
 * dead run's lock, control-file temp files, a half-finished publish) never block or harm a rerun.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { serializeControl } from '../../src/storage/control-file.js';
import { runCli, sha256, sha256OfFile, startCli, testData, withTempDir } from '../helpers/cli.js';
import { startTestOrigin } from '../helpers/test-origin.js';
import { eventually } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const WAIT_LIMIT_MS = 30_000;

function errorLine(stderr: string): string {
  return stderr.trim().split('\n').at(-1) ?? '';
}

/** The PID of a process that has already exited: a dead owner. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('close', resolve));
  return child.pid!;
}

async function lockedRun(extra: readonly string[]): Promise<void> {
  const data = testData(6 * MiB, 21);
  // Paced per response: about 6 s for the first run, time enough for the second to meet its lock under load.
  const origin = await startTestOrigin({ data, rateBytesPerSec: 512 * 1024 });
  try {
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const first = startCli(['get', origin.url, '-o', output, '--connections', '2', '--quiet']);
      await eventually(() => existsSync(`${output}.part`), WAIT_LIMIT_MS, 'the first run started');
      const second = await runCli(['get', origin.url, '-o', output, '--quiet', ...extra]);
      assert.equal(second.code, 4, second.stderr);
      assert.equal(
        errorLine(second.stderr),
        `ddm: error [OUTPUT_LOCKED]: another ddm (PID ${first.child.pid}) is downloading to ${output}; wait for it to finish or stop it`,
      );
      const done = await first.exited;
      assert.equal(done.code, 0, done.stderr);
      assert.equal(await sha256OfFile(output), sha256(data));
      assert.deepEqual(await readdir(dir), ['out.bin'], 'no stray .part, control or lock file');
    });
  } finally {
    await origin.close();
  }
}

describe('output lock', () => {
  // The --overwrite race gave a wrong file in 3 runs of 4 before the lock: repeated, so it would show.
  for (const [extra, repeats] of [
    [[], 1],
    [['--overwrite'], 3],
  ] as const) {
    test(`a second run of the same output${extra.length > 0 ? ' with --overwrite' : ''} is refused with the first run's PID, and the first run's file is right (${repeats} of ${repeats})`, async () => {
      for (let attempt = 0; attempt < repeats; attempt++) await lockedRun(extra);
    });
  }

  test('a lock left by a run killed with SIGKILL does not block the rerun, which resumes', async () => {
    const data = testData(8 * MiB, 22);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 3 * MiB });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const first = startCli(['get', origin.url, '-o', output, '--connections', '2', '--quiet']);
        await eventually(
          async () => (await stat(`${output}.ddm`)).size > 0 && origin.bytesServed > MiB,
          WAIT_LIMIT_MS,
          'progress was saved',
        );
        first.child.kill('SIGKILL');
        await first.exited;
        assert.ok(existsSync(`${output}.ddm-lock`), 'the killed run left its lock');
        origin.options.rateBytesPerSec = undefined;
        const rerun = await runCli(['get', origin.url, '-o', output, '--connections', '2', '--quiet']);
        assert.equal(rerun.code, 0, rerun.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.deepEqual(await readdir(dir), ['out.bin']);
      });
    } finally {
      await origin.close();
    }
  });

  test("control-file temp files a crash left are removed on the next run, a live run's are kept", async () => {
    const data = testData(1 * MiB, 23);
    const origin = await startTestOrigin({ data });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const dead = `.out.bin.ddm.${await deadPid()}.0123456789ab.tmp`;
        const live = `.out.bin.ddm.${process.pid}.ba9876543210.tmp`;
        const othersFile = `.other.bin.ddm.${await deadPid()}.0123456789ab.tmp`;
        for (const name of [dead, live, othersFile]) await writeFile(join(dir, name), '{');
        const result = await runCli(['get', origin.url, '-o', output, '--quiet']);
        assert.equal(result.code, 0, result.stderr);
        assert.deepEqual((await readdir(dir)).sort(), [live, othersFile, 'out.bin'].sort());
      });
    } finally {
      await origin.close();
    }
  });

  test('a crash between link and unlink of the finished file is completed on the rerun, and the finished file is never written again', async () => {
    const data = testData(4 * MiB, 24);
    const origin = await startTestOrigin({ data });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const first = await runCli(['get', origin.url, '-o', output, '--quiet']);
        assert.equal(first.code, 0, first.stderr);
        const finished = sha256(data);
        // The state a crash right after link() leaves: two names of one inode, the control file beside.
        const plantCrashState = async () => {
          await link(output, `${output}.part`);
          const now = new Date().toISOString();
          await writeFile(
            `${output}.ddm`,
            serializeControl({
              url: origin.url,
              finalUrl: origin.url,
              size: data.length,
              validators: { etag: origin.currentEtag()! },
              done: [{ start: 0, end: data.length }],
              createdAt: now,
              updatedAt: now,
            }),
          );
        };
        await plantCrashState();
        const plain = await runCli(['get', origin.url, '-o', output]);
        assert.equal(plain.code, 4);
        assert.match(plain.stderr, /was complete: finished saving it from the interrupted run/);
        assert.match(errorLine(plain.stderr), /FILE_EXISTS/);
        assert.deepEqual(await readdir(dir), ['out.bin']);
        assert.equal(await sha256OfFile(output), finished);

        await plantCrashState();
        origin.options.rateBytesPerSec = 1 * MiB;
        origin.resetCounters();
        const overwrite = startCli(['get', origin.url, '-o', output, '--overwrite', '--quiet']);
        await eventually(() => origin.bytesServed > 256 * 1024, WAIT_LIMIT_MS, 'the --overwrite run fetches');
        overwrite.child.kill('SIGKILL');
        await overwrite.exited;
        assert.equal(await sha256OfFile(output), finished, 'the finished file was not touched');
        assert.equal((await stat(output)).nlink, 1);
      });
    } finally {
      await origin.close();
    }
  });
});
