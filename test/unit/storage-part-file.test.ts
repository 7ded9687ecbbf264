import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PartFile } from '../../src/storage/part-file.js';
import { sha256 } from '../helpers/cli.js';

const signal = new AbortController().signal;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ddm-part-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('PartFile', () => {
  it('writes consecutive chunks with one vectored write, at any position', async () => {
    const path = join(dir, 'vectored.part');
    const data = randomBytes(3 * 70_000 + 5);
    const file = await PartFile.open(path, data.length, signal);
    const chunks = [data.subarray(0, 70_000), data.subarray(70_000, 140_000), data.subarray(140_000)];
    await file.writeChunks(chunks.slice(1), 70_000);
    await file.writeChunks(chunks.slice(0, 1), 0);
    await file.close();
    assert.equal(sha256(await readFile(path)), sha256(data));
  });

  it('runs writes one at a time, in the order asked, and a failed one does not stop the next', async () => {
    const path = join(dir, 'queued.part');
    const data = randomBytes(8 * 1024 * 1024 + 10);
    const file = await PartFile.open(path, data.length, signal);
    const finished: string[] = [];
    const big = file.writeChunks([data.subarray(0, 8 * 1024 * 1024)], 0).then(() => finished.push('big'));
    const small = file
      .writeChunks([data.subarray(8 * 1024 * 1024)], 8 * 1024 * 1024)
      .then(() => finished.push('small'));
    // A chunk that is not a buffer fails inside the write; the queue goes on after it.
    const broken = file.writeChunks([{} as Uint8Array, {} as Uint8Array], 0);
    const after = file.writeChunks([data.subarray(0, 10)], 0).then(() => finished.push('after'));
    await Promise.all([big, small, after, assert.rejects(broken)]);
    assert.deepEqual(finished, ['big', 'small', 'after']);
    await file.close();
    assert.equal(sha256(await readFile(path)), sha256(data));
  });

  it('preallocates a new file to exactly the size', async () => {
    const path = join(dir, 'prealloc.part');
    const file = await PartFile.open(path, 5_000_000, signal);
    await file.close();
    assert.equal((await stat(path)).size, 5_000_000);
  });

  it('leaves a file of unknown size empty', async () => {
    const path = join(dir, 'unknown.part');
    const file = await PartFile.open(path, null, signal);
    await file.close();
    assert.equal((await stat(path)).size, 0);
  });

  it('keeps existing content when opened again', async () => {
    const path = join(dir, 'keep.part');
    const data = randomBytes(4096);
    await writeFile(path, data);
    const file = await PartFile.open(path, data.length, signal);
    assert.deepEqual(Buffer.from(await file.read(0, data.length)), data);
    await file.close();
  });

  it('writes pieces out of order into the right bytes', async () => {
    const path = join(dir, 'order.part');
    const source = randomBytes(3 * 1024 * 1024 + 17);
    const pieceBytes = 256 * 1024 + 3;
    const offsets: number[] = [];
    for (let offset = 0; offset < source.length; offset += pieceBytes) offsets.push(offset);
    offsets.reverse();
    [offsets[0], offsets[3]] = [offsets[3]!, offsets[0]!];
    const file = await PartFile.open(path, source.length, signal);
    await Promise.all(
      offsets.map((offset) => file.write(source.subarray(offset, offset + pieceBytes), offset)),
    );
    await file.datasync();
    await file.close();
    assert.equal(sha256(await readFile(path)), sha256(source));
  });

  it('reset discards content and reads back as zeros', async () => {
    const path = join(dir, 'reset.part');
    const file = await PartFile.open(path, 1024, signal);
    await file.write(new Uint8Array(1024).fill(7), 0);
    await file.reset(1024);
    assert.equal(await file.length(), 1024);
    assert.deepEqual(await file.read(0, 1024), new Uint8Array(1024));
    await file.close();
  });

  it('refuses to start when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(PartFile.open(join(dir, 'aborted.part'), 10, controller.signal), {
      code: 'ABORTED',
    });
  });

  it('maps a directory in the way to FS_ERROR', async () => {
    await assert.rejects(PartFile.open(dir, 10, signal), { name: 'DdmError', code: 'FS_ERROR' });
  });
});
