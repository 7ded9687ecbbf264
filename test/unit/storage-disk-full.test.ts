import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { loadControl } from '../../src/storage/control-file.js';
import { controlPath, DownloadStore, partPath } from '../../src/storage/download-store.js';
import { PartFile } from '../../src/storage/part-file.js';

const run = promisify(execFile);
const signal = new AbortController().signal;
const MOUNT_TIMEOUT_MS = 5_000;
const KiB = 1024;
const MiB = 1024 * KiB;

/** Mounts a 1 MiB tmpfs at `dir`; false when this process may not (not root, no CAP_SYS_ADMIN). */
async function mountTinyTmpfs(dir: string): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { timeout: MOUNT_TIMEOUT_MS });
    return true;
  } catch {
    return false;
  }
}

/** A write to /dev/full always fails with ENOSPC: the mapping to DISK_FULL without a real full disk. */
async function expectDiskFullOnDevFull(): Promise<void> {
  const file = await PartFile.openSink('/dev/full', signal);
  try {
    await assert.rejects(file.write(randomBytes(4 * KiB), 0), { name: 'DdmError', code: 'DISK_FULL' });
  } finally {
    await file.close();
  }
}

describe('disk full', () => {
  it('maps ENOSPC from /dev/full to DISK_FULL', async () => {
    await expectDiskFullOnDevFull();
  });

  it('fails with DISK_FULL and keeps the last checkpoint intact on a full file system', async (context) => {
    const dir = await mkdtemp(join(tmpdir(), 'ddm-full-'));
    const mounted = await mountTinyTmpfs(dir);
    let store: DownloadStore | undefined;
    try {
      if (!mounted) {
        context.diagnostic('cannot mount a tmpfs here (needs root); checking the /dev/full mapping instead');
        await expectDiskFullOnDevFull();
        return;
      }
      const output = join(dir, 'big.bin');
      const size = 2 * MiB;
      const data = randomBytes(size);
      const checkpointed = 256 * KiB;
      ({ store } = await DownloadStore.open(
        {
          outputPath: output,
          url: 'https://example.com/big.bin',
          finalUrl: 'https://example.com/big.bin',
          size,
          validators: { etag: '"full"' },
          overwrite: false,
          resumable: true,
        },
        signal,
      ));
      await store.write(data.subarray(0, checkpointed), 0);
      await store.checkpoint([{ start: 0, end: checkpointed }], signal);
      await assert.rejects(store.write(data.subarray(checkpointed), checkpointed), { code: 'DISK_FULL' });
      // No room for the new control file either: the old one must survive whole.
      await assert.rejects(store.checkpoint([{ start: 0, end: size }], signal), { code: 'DISK_FULL' });
      assert.deepEqual((await loadControl(controlPath(output), signal))?.done, [
        { start: 0, end: checkpointed },
      ]);
      assert.deepEqual((await readdir(dir)).sort(), ['big.bin.ddm', 'big.bin.part']);
      assert.deepEqual(
        Buffer.from(await readFile(partPath(output))).subarray(0, checkpointed),
        data.subarray(0, checkpointed),
      );
      await store.close();
      store = undefined;
    } finally {
      await store?.close().catch(() => {});
      if (mounted) await run('umount', [dir], { timeout: MOUNT_TIMEOUT_MS });
      await rm(dir, { recursive: true, force: true });
    }
  });
});
