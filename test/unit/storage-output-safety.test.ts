import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { link, lstat, mkdir, readdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { STALE_TEMP_FILE_AGE_MS } from '../../src/constants.js';
import { loadControl } from '../../src/storage/control-file.js';
import { lockPath, OutputLock } from '../../src/storage/output-lock.js';
import { resolveOutputTarget } from '../../src/storage/output-target.js';
import { PartFile } from '../../src/storage/part-file.js';
import { finishInterruptedPublish } from '../../src/storage/publish-recovery.js';
import { removeStaleTempFiles } from '../../src/storage/stale-temp-files.js';
import { rejectsWith } from '../helpers/assertions.js';
import { withTempDir } from '../helpers/cli.js';

const signal = new AbortController().signal;

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('close', resolve));
  return child.pid!;
}

describe('output lock', () => {
  it('a second lock of the same output is refused with the holder PID until the first is released', async () => {
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const first = await OutputLock.acquire(output, signal);
      const refused = await rejectsWith(OutputLock.acquire(output, signal), 'OUTPUT_LOCKED');
      assert.match(refused.message, new RegExp(`PID ${process.pid}\\b`));
      assert.equal(refused.exitCode, 4);
      await first.release();
      assert.deepEqual(await readdir(dir), []);
      const second = await OutputLock.acquire(output, signal);
      await second.release();
    });
  });

  it("a dead process's lock is taken over, and releasing never removes another run's lock", async () => {
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      await writeFile(
        lockPath(output),
        JSON.stringify({ pid: await deadPid(), host: (await import('node:os')).hostname(), startTime: '' }),
      );
      const lock = await OutputLock.acquire(output, signal);
      assert.match(await readFile(lockPath(output), 'utf8'), new RegExp(`"pid":${process.pid}\\b`));
      await writeFile(lockPath(output), '{"pid":1,"host":"elsewhere","startTime":""}');
      await lock.release();
      assert.equal(await readFile(lockPath(output), 'utf8'), '{"pid":1,"host":"elsewhere","startTime":""}');
      await rejectsWith(OutputLock.acquire(output, signal), 'OUTPUT_LOCKED', /PID 1 on elsewhere/);
    });
  });
});

describe('own side files', () => {
  it('a .part that is a symlink or has a second hard link is refused before any byte is written', async () => {
    await withTempDir(async (dir) => {
      const victim = join(dir, 'victim');
      await writeFile(victim, 'keep me');
      await symlink(victim, join(dir, 'a.part'));
      await rejectsWith(PartFile.open(join(dir, 'a.part'), 100, signal), 'FS_ERROR', /symbolic link/);
      await link(victim, join(dir, 'b.part'));
      await rejectsWith(PartFile.open(join(dir, 'b.part'), 100, signal), 'FS_ERROR', /hard links/);
      assert.equal(await readFile(victim, 'utf8'), 'keep me');
    });
  });

  it('a control file that is a symlink is not read through', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'secret'), '{}');
      await symlink(join(dir, 'secret'), join(dir, 'x.ddm'));
      await rejectsWith(loadControl(join(dir, 'x.ddm'), signal), 'FS_ERROR', /symbolic link/);
    });
  });
});

describe('output target', () => {
  it('a folder with -o gets the server name inside, a relative -o goes under --dir', async () => {
    await withTempDir(async (dir) => {
      const named = await resolveOutputTarget({ output: dir, fileName: 'f.iso', createDirs: false }, signal);
      assert.deepEqual(named, { path: join(dir, 'f.iso'), discard: false });
      const under = await resolveOutputTarget(
        { output: 'x', dir, fileName: 'f.iso', createDirs: false },
        signal,
      );
      assert.equal(under.path, join(dir, 'x'));
      const created = await resolveOutputTarget(
        { output: `${dir}/new/`, fileName: 'f.iso', createDirs: true },
        signal,
      );
      assert.equal(created.path, join(dir, 'new', 'f.iso'));
      assert.ok((await lstat(join(dir, 'new'))).isDirectory());
    });
  });

  it('the null device is a discard target, a path through a file is not a folder', async () => {
    const target = await resolveOutputTarget(
      { output: '/dev/null', fileName: 'f', createDirs: false },
      signal,
    );
    assert.deepEqual(target, { path: '/dev/null', discard: true });
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'file'), '');
      await rejectsWith(
        resolveOutputTarget({ output: join(dir, 'file', 'x'), fileName: 'f', createDirs: true }, signal),
        'FS_ERROR',
        /file is not a folder$/,
      );
      await rejectsWith(
        resolveOutputTarget(
          { output: join(dir, 'file', 'sub', 'x'), fileName: 'f', createDirs: true },
          signal,
        ),
        'FS_ERROR',
        /cannot create folder .*part of its path is a file/,
      );
    });
  });
});

describe('crash leftovers', () => {
  it('removes only the temp files of this control file whose writer is dead or that are old', async () => {
    await withTempDir(async (dir) => {
      const control = join(dir, 'out.bin.ddm');
      const dead = `.out.bin.ddm.${await deadPid()}.0123456789ab.tmp`;
      const liveOld = `.out.bin.ddm.${process.ppid}.0123456789ab.tmp`;
      const liveNew = `.out.bin.ddm.${process.ppid}.ba9876543210.tmp`;
      const foreign = '.out.bin.ddm.1.notours.tmp';
      for (const name of [dead, liveOld, liveNew, foreign]) await writeFile(join(dir, name), '');
      const old = (Date.now() - STALE_TEMP_FILE_AGE_MS - 60_000) / 1000;
      await utimes(join(dir, liveOld), old, old);
      const removed = await removeStaleTempFiles(control);
      assert.deepEqual(removed.sort(), [join(dir, dead), join(dir, liveOld)].sort());
      assert.deepEqual((await readdir(dir)).sort(), [foreign, liveNew].sort());
    });
  });

  it('a finished file sharing its inode with the .part is published: .part and control file go, the file stays', async () => {
    await withTempDir(async (dir) => {
      const output = join(dir, 'f.bin');
      await writeFile(output, 'complete');
      await link(output, `${output}.part`);
      await writeFile(`${output}.ddm`, '{}');
      assert.equal(await finishInterruptedPublish(output), true);
      assert.deepEqual(await readdir(dir), ['f.bin']);
      assert.equal((await lstat(output)).nlink, 1);
      await mkdir(join(dir, 'sub'));
      await writeFile(join(dir, 'sub', 'g'), 'a');
      await writeFile(join(dir, 'sub', 'g.part'), 'a');
      assert.equal(
        await finishInterruptedPublish(join(dir, 'sub', 'g')),
        false,
        'separate files are left alone',
      );
    });
  });
});
