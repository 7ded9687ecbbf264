/**
 * Where `ddm get` writes, decided and checked before the first byte: folders given with -o, the
 * folder a file goes into, long names from the server, and files that are not regular files.
 * Real `ddm get` processes against the test origin; bytes checked with SHA-256.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runCli, sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const MOUNT_TIMEOUT_MS = 5_000;
/** What ddm may use of a name (255 bytes less room for its side files). */
const MAX_OUTPUT_NAME_BYTES = 225;

function errorLine(stderr: string): string {
  return stderr.trim().split('\n').at(-1) ?? '';
}

async function withOrigin(
  data: Buffer,
  fn: (origin: TestOrigin) => Promise<void>,
  extra = {},
): Promise<void> {
  const origin = await startTestOrigin({ data, ...extra });
  try {
    await fn(origin);
  } finally {
    await origin.close();
  }
}

describe('output target', () => {
  test('a .part that is a symlink is refused and its target untouched', async () => {
    const data = testData(2 * MiB, 3);
    await withOrigin(data, async (origin) => {
      await withTempDir(async (dir) => {
        await mkdir(join(dir, 'downloads'));
        const victim = join(dir, 'victim');
        await writeFile(victim, 'precious content');
        const output = join(dir, 'downloads', 'file.bin');
        await symlink('../victim', `${output}.part`);
        for (const extra of [[], ['--overwrite']]) {
          const result = await runCli(['get', origin.url, '-o', output, '--quiet', ...extra]);
          assert.equal(result.code, 4, result.stderr);
          assert.match(errorLine(result.stderr), /FS_ERROR.*symbolic link/);
          assert.equal(await sha256OfFile(victim), sha256(Buffer.from('precious content')));
          assert.ok((await lstat(`${output}.part`)).isSymbolicLink(), 'the link itself is left for the user');
          assert.equal(existsSync(output), false);
        }
      });
    });
  });

  test('a .part with a second hard link is never written', async () => {
    const data = testData(1 * MiB, 4);
    await withOrigin(data, async (origin) => {
      await withTempDir(async (dir) => {
        const other = join(dir, 'other');
        await writeFile(other, 'someone else');
        const output = join(dir, 'file.bin');
        await run('ln', [other, `${output}.part`]);
        const result = await runCli(['get', origin.url, '-o', output, '--overwrite', '--quiet']);
        assert.equal(result.code, 4, result.stderr);
        assert.match(errorLine(result.stderr), /FS_ERROR.*hard links/);
        assert.equal(await sha256OfFile(other), sha256(Buffer.from('someone else')));
      });
    });
  });

  test('-o naming the null device discards the bytes and leaves the device a device, --overwrite or not', async () => {
    const data = testData(3 * MiB, 5);
    await withOrigin(data, async (origin) => {
      await withTempDir(async (dir) => {
        // A null device of our own, so a failure cannot break the machine's /dev/null.
        const device = join(dir, 'null');
        await run('mknod', [device, 'c', '1', '3']);
        for (const extra of [[], ['--overwrite']]) {
          origin.resetCounters();
          const result = await runCli(['get', origin.url, '-o', device, '--quiet', ...extra]);
          assert.equal(result.code, 0, result.stderr);
          assert.ok((await lstat(device)).isCharacterDevice(), 'still a device');
          assert.ok(origin.bytesServed >= data.length, 'every byte was fetched');
          assert.deepEqual(await readdir(dir), ['null'], 'no .part, control or lock file');
        }
        const real = await runCli(['get', origin.url, '-o', '/dev/null', '--overwrite', '--quiet']);
        assert.equal(real.code, 0, real.stderr);
        assert.ok((await lstat('/dev/null')).isCharacterDevice());
      });
    });
  });

  test('--overwrite never turns a named pipe or other special file into a regular file', async () => {
    const data = testData(1 * MiB, 6);
    await withOrigin(data, async (origin) => {
      await withTempDir(async (dir) => {
        const pipe = join(dir, 'pipe');
        await run('mkfifo', [pipe]);
        const result = await runCli(['get', origin.url, '-o', pipe, '--overwrite', '--quiet']);
        assert.equal(result.code, 4, result.stderr);
        assert.match(errorLine(result.stderr), /FS_ERROR.*named pipe, not a regular file/);
        assert.ok((await lstat(pipe)).isFIFO());
        assert.deepEqual(await readdir(dir), ['pipe']);
      });
    });
  });

  test('-o naming a folder saves inside it with the server name, with or without --overwrite and a trailing slash', async () => {
    const data = testData(2 * MiB, 7);
    await withOrigin(
      data,
      async (origin) => {
        await withTempDir(async (dir) => {
          for (const [target, extra] of [
            [dir, ['--overwrite']],
            [`${dir}/`, ['--overwrite']],
          ] as const) {
            const result = await runCli(['get', origin.url, '-o', target, '--quiet', ...extra]);
            assert.equal(result.code, 0, result.stderr);
            assert.equal(await sha256OfFile(join(dir, 'named.bin')), sha256(data));
            assert.deepEqual(await readdir(dir), ['named.bin']);
          }
          const again = await runCli(['get', origin.url, '-o', dir, '--quiet']);
          assert.equal(again.code, 4);
          assert.match(errorLine(again.stderr), /FILE_EXISTS/);
          assert.equal(origin.bytesServed < data.length * 3, true);
        });
      },
      { contentDisposition: 'attachment; filename="named.bin"' },
    );
  });

  test('--dir with -o NAME saves DIR/NAME', async () => {
    const data = testData(1 * MiB, 8);
    await withOrigin(data, async (origin) => {
      await withTempDir(async (dir) => {
        const result = await runCli(['get', origin.url, '--dir', dir, '-o', 'chosen.bin', '--quiet']);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(join(dir, 'chosen.bin')), sha256(data));
      });
    });
  });

  test('a missing folder is named as missing, and --create-dirs creates it', async () => {
    const data = testData(1 * MiB, 9);
    await withOrigin(data, async (origin) => {
      await withTempDir(async (dir) => {
        const output = join(dir, 'nodir', 'deeper', 'x.bin');
        const refused = await runCli(['get', origin.url, '-o', output, '--quiet']);
        assert.equal(refused.code, 4);
        assert.equal(
          errorLine(refused.stderr),
          `ddm: error [FS_ERROR]: folder ${join(dir, 'nodir', 'deeper')} does not exist; create it or pass --create-dirs`,
        );
        assert.deepEqual(await readdir(dir), []);
        const created = await runCli(['get', origin.url, '-o', output, '--create-dirs', '--quiet']);
        assert.equal(created.code, 0, created.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
      });
    });
  });

  test('a read-only folder is named as not writable', async () => {
    const data = testData(1 * MiB, 10);
    await withOrigin(data, async (origin) => {
      await withTempDir(async (dir) => {
        const readOnly = join(dir, 'ro');
        await mkdir(readOnly);
        // Root ignores permission bits; a read-only mount refuses everyone.
        await run('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', readOnly], {
          timeout: MOUNT_TIMEOUT_MS,
        });
        try {
          const result = await runCli(['get', origin.url, '-o', join(readOnly, 'x.bin'), '--quiet']);
          assert.equal(result.code, 4);
          assert.equal(errorLine(result.stderr), `ddm: error [FS_ERROR]: folder ${readOnly} is not writable`);
        } finally {
          await run('umount', [readOnly], { timeout: MOUNT_TIMEOUT_MS });
        }
      });
    });
  });

  test('a server name of 230 to 255 bytes is shortened to fit beside its side files, keeping the extension', async () => {
    const data = testData(1 * MiB, 11);
    for (const bytes of [230, 243, 255]) {
      // Two-byte characters, so a cut in the middle of one would show.
      const stem = 'é'.repeat((bytes - 4) >> 1) + (bytes % 2 === 0 ? '' : 'x');
      const name = `${stem}.iso`;
      assert.equal(Buffer.byteLength(name), bytes);
      await withOrigin(
        data,
        async (origin) => {
          await withTempDir(async (dir) => {
            const result = await runCli(['get', origin.url, '--dir', dir, '--quiet']);
            assert.equal(result.code, 0, result.stderr);
            const [saved, ...others] = await readdir(dir);
            assert.deepEqual(others, []);
            assert.ok(
              Buffer.byteLength(saved!) <= MAX_OUTPUT_NAME_BYTES,
              `${Buffer.byteLength(saved!)} bytes`,
            );
            assert.ok(saved!.endsWith('.iso'));
            assert.ok(!saved!.includes('\ufffd'), 'no character was cut in two');
            assert.equal(await sha256OfFile(join(dir, saved!)), sha256(data));
          });
        },
        { contentDisposition: `attachment; filename*=UTF-8''${encodeURIComponent(name)}` },
      );
    }
  });
});
