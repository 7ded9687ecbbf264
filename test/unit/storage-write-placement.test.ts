import assert from 'node:assert/strict';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MAIN_THREAD_WRITE_MAX_MS } from '../../src/constants.js';
import { isLocalFileSystem, WritePlacement } from '../../src/storage/write-placement.js';

describe('write placement', () => {
  it('takes local disk and memory file systems for local, network and FUSE ones not', () => {
    for (const local of [0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x794c7630]) {
      assert.equal(isLocalFileSystem(local), true, local.toString(16));
    }
    // NFS, SMB2, CIFS, FUSE, 9p, Ceph: a write there can wait on a server.
    for (const remote of [0x6969, 0xfe534d42, 0xff534d42, 0x65735546, 0x01021997, 0x00c36400]) {
      assert.equal(isLocalFileSystem(remote), false, remote.toString(16));
    }
  });

  it("places a file's writes by its file system", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ddm-placement-'));
    try {
      const placement = await WritePlacement.forFile(dir);
      const local = isLocalFileSystem(Number((await statfs(dir)).type));
      assert.equal(placement.mainThread, process.platform === 'linux' && local);
      // A path that cannot be looked at is not guessed to be local.
      assert.equal((await WritePlacement.forFile(join(dir, 'missing', 'x.part'))).mainThread, false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('moves to the thread pool for good after one slow write', () => {
    const placement = WritePlacement.onMainThread();
    placement.wrote(0.2);
    placement.wrote(MAIN_THREAD_WRITE_MAX_MS);
    assert.equal(placement.mainThread, true);
    placement.wrote(MAIN_THREAD_WRITE_MAX_MS + 1);
    assert.equal(placement.mainThread, false);
    placement.wrote(0.1);
    assert.equal(placement.mainThread, false);
    assert.equal(WritePlacement.onThreadPool().mainThread, false);
  });
});
