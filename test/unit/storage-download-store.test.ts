import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isDdmError } from '../../src/errors.js';
import { loadControl } from '../../src/storage/control-file.js';
import {
  controlPath,
  DownloadStore,
  type DownloadStoreOptions,
  parseChecksum,
  partPath,
} from '../../src/storage/download-store.js';
import { PartFile } from '../../src/storage/part-file.js';
import type { Validators } from '../../src/types/validators.js';
import { sha256 } from '../helpers/cli.js';

const signal = new AbortController().signal;
const URL_A = 'https://example.com/data.bin';
const ETAG_A = '"v1"';
const SIZE = 1024 * 1024 + 123;
let dir: string;
let counter = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ddm-store-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function freshOutput(): string {
  counter += 1;
  return join(dir, `file-${counter}.bin`);
}

function options(outputPath: string, overrides: Partial<DownloadStoreOptions> = {}): DownloadStoreOptions {
  return {
    outputPath,
    url: URL_A,
    finalUrl: URL_A,
    size: SIZE,
    validators: { etag: ETAG_A } satisfies Validators,
    overwrite: false,
    resumable: true,
    ...overrides,
  };
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Opens, writes the first `doneBytes` of `data`, checkpoints them and closes: an interrupted run. */
async function interruptedRun(outputPath: string, data: Buffer, doneBytes: number): Promise<void> {
  const { store } = await DownloadStore.open(options(outputPath), signal);
  await store.write(data.subarray(0, doneBytes), 0);
  await store.checkpoint([{ start: 0, end: doneBytes }], signal);
  await store.close();
}

describe('DownloadStore.open', () => {
  it('starts a new download: preallocated .part and a control file', async () => {
    const output = freshOutput();
    const { store, resumed, restartReason } = await DownloadStore.open(options(output), signal);
    assert.deepEqual(resumed, []);
    assert.equal(restartReason, undefined);
    assert.equal((await stat(partPath(output))).size, SIZE);
    assert.deepEqual((await loadControl(controlPath(output), signal))?.done, []);
    assert.equal(await fileExists(output), false);
    await store.close();
  });

  it('refuses an existing output file and changes nothing on disk', async () => {
    const output = freshOutput();
    const original = randomBytes(1000);
    await writeFile(output, original);
    await assert.rejects(DownloadStore.open(options(output), signal), (error: unknown) => {
      assert.ok(isDdmError(error, 'FILE_EXISTS'));
      assert.ok(error.message.includes(output));
      assert.match(error.message, /--overwrite/);
      return true;
    });
    assert.deepEqual(await readFile(output), original);
    assert.equal(await fileExists(partPath(output)), false);
    assert.equal(await fileExists(controlPath(output)), false);
  });

  it('resumes with the recorded ranges and keeps their bytes', async () => {
    const output = freshOutput();
    const data = randomBytes(SIZE);
    await interruptedRun(output, data, 300_000);
    const { store, resumed, restartReason } = await DownloadStore.open(options(output), signal);
    assert.deepEqual(resumed, [{ start: 0, end: 300_000 }]);
    assert.equal(restartReason, undefined);
    await store.write(data.subarray(300_000), 300_000);
    await store.finalize({}, signal);
    assert.equal(sha256(await readFile(output)), sha256(data));
    assert.equal(await fileExists(partPath(output)), false);
    assert.equal(await fileExists(controlPath(output)), false);
  });

  it('resumes on an unchanged Last-Modified when there is no ETag', async () => {
    const output = freshOutput();
    const validators = { lastModified: 'Wed, 21 Oct 2015 07:28:00 GMT' };
    const first = await DownloadStore.open(options(output, { validators }), signal);
    await first.store.checkpoint([{ start: 0, end: 10 }], signal);
    await first.store.close();
    const same = await DownloadStore.open(options(output, { validators }), signal);
    assert.deepEqual(same.resumed, [{ start: 0, end: 10 }]);
    await same.store.close();
    const changed = await DownloadStore.open(
      options(output, { validators: { lastModified: 'Thu, 22 Oct 2015 07:28:00 GMT' } }),
      signal,
    );
    assert.equal(changed.restartReason, 'validators-changed');
    await changed.store.close();
  });

  it('starts over when the ETag changed, with zeroed .part and a fresh control file', async () => {
    const output = freshOutput();
    await interruptedRun(output, randomBytes(SIZE), 500_000);
    const { store, resumed, restartReason } = await DownloadStore.open(
      options(output, { validators: { etag: '"v2"' } }),
      signal,
    );
    assert.equal(restartReason, 'validators-changed');
    assert.deepEqual(resumed, []);
    const control = await loadControl(controlPath(output), signal);
    assert.deepEqual(control?.done, []);
    assert.equal(control?.validators.etag, '"v2"');
    const part = await readFile(partPath(output));
    assert.equal(part.length, SIZE);
    assert.ok(part.every((byte) => byte === 0));
    await store.close();
  });

  it('starts over when the size changed', async () => {
    const output = freshOutput();
    await interruptedRun(output, randomBytes(SIZE), 1000);
    const { store, restartReason } = await DownloadStore.open(options(output, { size: SIZE + 1 }), signal);
    assert.equal(restartReason, 'size-changed');
    assert.equal((await stat(partPath(output))).size, SIZE + 1);
    await store.close();
  });

  it('starts over when the origin gives no validators or no ranges', async () => {
    const output = freshOutput();
    await interruptedRun(output, randomBytes(SIZE), 1000);
    const noValidators = await DownloadStore.open(options(output, { validators: {} }), signal);
    assert.equal(noValidators.restartReason, 'not-resumable');
    await noValidators.store.close();
    await interruptedRun(output, randomBytes(SIZE), 1000);
    const noRanges = await DownloadStore.open(options(output, { resumable: false }), signal);
    assert.equal(noRanges.restartReason, 'not-resumable');
    assert.deepEqual(noRanges.resumed, []);
    await noRanges.store.close();
  });

  it('refuses a control file for another URL of another file unless overwriting', async () => {
    const output = freshOutput();
    await interruptedRun(output, randomBytes(SIZE), 1000);
    const otherUrl = 'https://example.com/other.bin';
    const partBefore = await readFile(partPath(output));
    const controlBefore = await readFile(controlPath(output), 'utf8');
    for (const other of [
      { url: otherUrl, validators: { etag: '"another"' } },
      { url: otherUrl, size: SIZE + 1 },
      { url: otherUrl, validators: {} },
    ]) {
      await assert.rejects(DownloadStore.open(options(output, other), signal), {
        code: 'CONTROL_FOREIGN',
      });
    }
    assert.deepEqual(await readFile(partPath(output)), partBefore);
    assert.equal(await readFile(controlPath(output), 'utf8'), controlBefore);
    const { store, restartReason } = await DownloadStore.open(
      options(output, { url: otherUrl, validators: { etag: '"another"' }, overwrite: true }),
      signal,
    );
    assert.equal(restartReason, 'overwrite');
    assert.equal((await loadControl(controlPath(output), signal))?.url, otherUrl);
    await store.close();
  });

  it('refuses a damaged control file, leaving it as it is, unless overwriting', async () => {
    const output = freshOutput();
    await interruptedRun(output, randomBytes(SIZE), 1000);
    const text = await readFile(controlPath(output), 'utf8');
    await writeFile(controlPath(output), text.slice(0, -5));
    await assert.rejects(DownloadStore.open(options(output), signal), { code: 'CONTROL_CORRUPT' });
    assert.equal(await readFile(controlPath(output), 'utf8'), text.slice(0, -5));
    const { store, restartReason } = await DownloadStore.open(options(output, { overwrite: true }), signal);
    assert.equal(restartReason, 'overwrite');
    assert.deepEqual((await loadControl(controlPath(output), signal))?.done, []);
    await store.close();
  });

  it('resumes from another URL of the same file (a refreshed link) and records the new URL', async () => {
    const output = freshOutput();
    await interruptedRun(output, randomBytes(SIZE), 1000);
    const before = await loadControl(controlPath(output), signal);
    const freshUrl = 'https://example.com/file.bin?expires=2&sig=new';
    const { store, resumed, restartReason } = await DownloadStore.open(
      options(output, { url: freshUrl, finalUrl: freshUrl }),
      signal,
    );
    assert.equal(restartReason, undefined);
    assert.deepEqual(resumed, before?.done);
    await store.checkpoint(resumed, signal);
    assert.equal((await loadControl(controlPath(output), signal))?.url, freshUrl);
    await store.close();
  });

  it('refuses a foreign control file', async () => {
    const output = freshOutput();
    await writeFile(controlPath(output), '{"hello":"world"}');
    await assert.rejects(DownloadStore.open(options(output), signal), { code: 'CONTROL_FOREIGN' });
  });

  it('starts over from a .part without control file, or a control file without .part', async () => {
    const output = freshOutput();
    await writeFile(partPath(output), randomBytes(SIZE));
    const orphan = await DownloadStore.open(options(output), signal);
    assert.equal(orphan.restartReason, 'part-unusable');
    assert.ok((await readFile(partPath(output))).every((byte) => byte === 0));
    await orphan.store.checkpoint([{ start: 0, end: 100 }], signal);
    await orphan.store.close();
    await rm(partPath(output));
    const missing = await DownloadStore.open(options(output), signal);
    assert.equal(missing.restartReason, 'part-unusable');
    assert.deepEqual(missing.resumed, []);
    await missing.store.close();
  });

  it('writes a control file that a later run can read even for an unknown size', async () => {
    const output = freshOutput();
    const { store } = await DownloadStore.open(
      options(output, { size: null, resumable: false, validators: {} }),
      signal,
    );
    const data = randomBytes(5000);
    await store.write(data, 0);
    await store.checkpoint([{ start: 0, end: 5000 }], signal);
    await store.finalize({}, signal);
    assert.deepEqual(await readFile(output), data);
  });
});

describe('DownloadStore.checkpoint', () => {
  it('runs one at a time and ends with the latest ranges', async () => {
    const output = freshOutput();
    const { store } = await DownloadStore.open(options(output), signal);
    const data = randomBytes(SIZE);
    const pieceBytes = 64 * 1024;
    const checkpoints: Promise<void>[] = [];
    for (let end = pieceBytes; end < SIZE; end += pieceBytes) {
      await store.write(data.subarray(end - pieceBytes, end), end - pieceBytes);
      checkpoints.push(store.checkpoint([{ start: 0, end }], signal));
    }
    await Promise.all(checkpoints);
    const lastEnd = Math.floor((SIZE - 1) / pieceBytes) * pieceBytes;
    assert.deepEqual((await loadControl(controlPath(output), signal))?.done, [{ start: 0, end: lastEnd }]);
    await store.close();
    const resumed = await DownloadStore.open(options(output), signal);
    assert.deepEqual(resumed.resumed, [{ start: 0, end: lastEnd }]);
    assert.deepEqual(
      Buffer.from(await readFile(partPath(output))).subarray(0, lastEnd),
      data.subarray(0, lastEnd),
    );
    await resumed.store.close();
  });

  it('folds requests made while one runs into a single further run', async () => {
    const output = freshOutput();
    const { store } = await DownloadStore.open(options(output), signal);
    const originalDatasync = PartFile.prototype.datasync;
    let running = 0;
    let mostAtOnce = 0;
    let runs = 0;
    let firstStarted: () => void = () => {};
    const firstRunning = new Promise<void>((resolve) => {
      firstStarted = resolve;
    });
    PartFile.prototype.datasync = async function (this: PartFile) {
      runs += 1;
      firstStarted();
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      try {
        await originalDatasync.call(this);
      } finally {
        running -= 1;
      }
    };
    try {
      const first = store.checkpoint([{ start: 0, end: 100 }], signal);
      await firstRunning;
      const later = Array.from({ length: 9 }, (_, index) =>
        store.checkpoint([{ start: 0, end: (index + 2) * 100 }], signal),
      );
      await Promise.all([first, ...later]);
      assert.equal(mostAtOnce, 1);
      assert.equal(runs, 2);
      assert.deepEqual((await loadControl(controlPath(output), signal))?.done, [{ start: 0, end: 1000 }]);
    } finally {
      PartFile.prototype.datasync = originalDatasync;
      await store.close();
    }
  });

  it('merges the ranges it is given', async () => {
    const output = freshOutput();
    const { store } = await DownloadStore.open(options(output), signal);
    await store.checkpoint(
      [
        { start: 100, end: 200 },
        { start: 0, end: 100 },
        { start: 500, end: 600 },
      ],
      signal,
    );
    assert.deepEqual((await loadControl(controlPath(output), signal))?.done, [
      { start: 0, end: 200 },
      { start: 500, end: 600 },
    ]);
    await store.close();
  });

  it('refuses writes outside the file', async () => {
    const output = freshOutput();
    const { store } = await DownloadStore.open(options(output), signal);
    await assert.rejects(store.write(new Uint8Array(10), SIZE - 5), RangeError);
    await store.close();
  });
});

describe('DownloadStore.finalize', () => {
  async function completeStore(output: string, data: Buffer, overwrite = false): Promise<DownloadStore> {
    const { store } = await DownloadStore.open(options(output, { overwrite }), signal);
    await store.write(data, 0);
    await store.checkpoint([{ start: 0, end: data.length }], signal);
    return store;
  }

  it('accepts a matching checksum', async () => {
    const output = freshOutput();
    const data = randomBytes(SIZE);
    const store = await completeStore(output, data);
    await store.finalize({ checksum: parseChecksum(`sha256=${sha256(data)}`) }, signal);
    assert.equal(sha256(await readFile(output)), sha256(data));
    assert.equal(await fileExists(controlPath(output)), false);
  });

  it('keeps .part and control file on a checksum mismatch', async () => {
    const output = freshOutput();
    const data = randomBytes(SIZE);
    const store = await completeStore(output, data);
    const wrong = '0'.repeat(128);
    await assert.rejects(
      store.finalize({ checksum: { algorithm: 'sha512', hex: wrong } }, signal),
      (error: unknown) => {
        assert.ok(isDdmError(error, 'CHECKSUM_MISMATCH'));
        assert.equal(error.details.expected, wrong);
        assert.equal(error.details.actual, createHash('sha512').update(data).digest('hex'));
        return true;
      },
    );
    assert.equal(await fileExists(output), false);
    assert.equal(sha256(await readFile(partPath(output))), sha256(data));
    assert.deepEqual((await loadControl(controlPath(output), signal))?.done, [{ start: 0, end: SIZE }]);
    await store.close();
  });

  it('never clobbers a file that appeared just before it', async () => {
    const output = freshOutput();
    const data = randomBytes(SIZE);
    const store = await completeStore(output, data);
    const intruder = randomBytes(777);
    await writeFile(output, intruder);
    await assert.rejects(store.finalize({}, signal), { code: 'FILE_EXISTS' });
    assert.deepEqual(await readFile(output), intruder);
    assert.equal(sha256(await readFile(partPath(output))), sha256(data));
    assert.ok(await fileExists(controlPath(output)));
  });

  it('replaces an existing file with overwrite', async () => {
    const output = freshOutput();
    await writeFile(output, 'old content');
    const data = randomBytes(SIZE);
    const store = await completeStore(output, data, true);
    await store.finalize({}, signal);
    assert.equal(sha256(await readFile(output)), sha256(data));
    assert.equal(await fileExists(partPath(output)), false);
  });

  it('does not verify with an aborted signal and keeps everything', async () => {
    const output = freshOutput();
    const data = randomBytes(SIZE);
    const store = await completeStore(output, data);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      store.finalize(
        { checksum: parseChecksum(`md5=${createHash('md5').update(data).digest('hex')}`) },
        controller.signal,
      ),
      { code: 'ABORTED' },
    );
    assert.equal(await fileExists(output), false);
    assert.ok(await fileExists(partPath(output)));
    assert.ok(await fileExists(controlPath(output)));
    await store.close();
  });

  it('rejects use after finalize', async () => {
    const output = freshOutput();
    const store = await completeStore(output, randomBytes(SIZE));
    await store.finalize({}, signal);
    await assert.rejects(store.write(new Uint8Array(1), 0), { code: 'FS_ERROR' });
    await assert.rejects(store.checkpoint([], signal), { code: 'FS_ERROR' });
    await store.close();
  });
});

describe('a restart', () => {
  it('never leaves old ranges describing new bytes', async () => {
    const output = freshOutput();
    await interruptedRun(output, randomBytes(SIZE), 500_000);
    const { store } = await DownloadStore.open(options(output, { validators: { etag: '"v3"' } }), signal);
    await store.close();
    // The origin is back at the old version, but the .part was zeroed in between.
    const again = await DownloadStore.open(options(output), signal);
    assert.equal(again.restartReason, 'validators-changed');
    assert.deepEqual(again.resumed, []);
    await again.store.close();
  });
});
