import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import xxhash64 from 'hash-wasm/dist/xxhash64.umd.min.js';
import { loadPieceDigests, PieceDigests } from '../../src/storage/piece-digests.js';

const signal = new AbortController().signal;

/** XXH64 in one call on a fresh hasher: not the saved-state path the digests take. */
let hexOf: (bytes: Uint8Array) => string;

before(async () => {
  await loadPieceDigests();
  const reference = await xxhash64.createXXHash64();
  hexOf = (bytes) => reference.init().update(bytes).digest('hex');
  // The published XXH64 (seed 0) of "abc", so the reference is XXH64 indeed.
  assert.equal(hexOf(Buffer.from('abc')), '44bc2cf5ad770999');
});

/** A disk whose reads are counted, holding `bytes`. */
function diskOf(bytes: Buffer) {
  const disk = {
    reads: 0,
    read: async (position: number, length: number) => {
      disk.reads += 1;
      return bytes.subarray(position, position + length);
    },
  };
  return disk;
}

describe('piece digests of written bytes', () => {
  it('digest what was written without reading it back', async () => {
    const bytes = Buffer.from('abcdefghijklmnopqrstuvwxyz');
    const disk = diskOf(bytes);
    const digests = new PieceDigests(10);
    digests.wrote([bytes.subarray(0, 4), bytes.subarray(4, 13)], 0);
    digests.wrote([bytes.subarray(13, 26)], 13);
    await digests.update([{ start: 0, end: 26 }], disk.read, signal, digests.snapshot());
    assert.equal(disk.reads, 0);
    assert.deepEqual(
      digests.record().digests.map((d) => [d.start, d.end, d.hex]),
      [
        [0, 10, hexOf(bytes.subarray(0, 10))],
        [10, 20, hexOf(bytes.subarray(10, 20))],
        [20, 26, hexOf(bytes.subarray(20, 26))],
      ],
    );
  });

  it('leave bytes written after the snapshot out, and go on hashing them for the next checkpoint', async () => {
    const bytes = Buffer.from('0123456789');
    const disk = diskOf(bytes);
    const digests = new PieceDigests(10);
    digests.wrote([bytes.subarray(0, 4)], 0);
    const snapshot = digests.snapshot();
    digests.wrote([bytes.subarray(4, 7)], 4);
    await digests.update([{ start: 0, end: 4 }], disk.read, signal, snapshot);
    assert.deepEqual(digests.record().digests[0]!.hex, hexOf(bytes.subarray(0, 4)));
    await digests.update([{ start: 0, end: 7 }], disk.read, signal, digests.snapshot());
    assert.equal(disk.reads, 0);
    assert.deepEqual(digests.record().digests[0]!.hex, hexOf(bytes.subarray(0, 7)));
  });

  it('read back a span rewritten after its snapshot was taken', async () => {
    const bytes = Buffer.from('0123456789');
    const disk = diskOf(bytes);
    const digests = new PieceDigests(10);
    digests.wrote([Buffer.from('xxxxxxxxxx')], 0);
    const snapshot = digests.snapshot();
    digests.invalidate(2, 5);
    digests.wrote([bytes.subarray(2, 5)], 2);
    await digests.update([{ start: 0, end: 10 }], disk.read, signal, snapshot);
    assert.equal(disk.reads, 1);
    assert.deepEqual(digests.record().digests[0]!.hex, hexOf(bytes));
  });

  it('read back only the bytes past the first running hash when two workers filled one piece', async () => {
    const bytes = Buffer.from('0123456789');
    const disk = diskOf(bytes);
    const digests = new PieceDigests(10);
    digests.wrote([bytes.subarray(6, 10)], 6);
    digests.wrote([bytes.subarray(0, 6)], 0);
    const lengths: number[] = [];
    await digests.update(
      [{ start: 0, end: 10 }],
      (position, length) => {
        lengths.push(length);
        return disk.read(position, length);
      },
      signal,
      digests.snapshot(),
    );
    assert.deepEqual(lengths, [4]);
    assert.deepEqual(digests.record().digests[0]!.hex, hexOf(bytes));
  });
});
