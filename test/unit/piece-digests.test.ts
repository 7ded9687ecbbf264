import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { PIECE_READ_BACK_STEP_BYTES } from '../../src/constants.js';
import { loadPieceDigests, PieceDigests, pieceSpans } from '../../src/storage/piece-digests.js';
import { xxh64Of } from '../../src/storage/xxh64.js';

before(() => loadPieceDigests());

const signal = new AbortController().signal;

function diskOf(bytes: Buffer) {
  let reads = 0;
  return {
    bytes,
    get reads() {
      return reads;
    },
    read: async (position: number, length: number) => {
      reads += 1;
      return bytes.subarray(position, position + length);
    },
  };
}

describe('piece digests', () => {
  it('split done ranges at piece boundaries, so every done byte is covered by one digest', () => {
    assert.deepEqual(
      pieceSpans(
        [
          { start: 5, end: 25 },
          { start: 30, end: 40 },
        ],
        10,
      ),
      [
        { start: 5, end: 10 },
        { start: 10, end: 20 },
        { start: 20, end: 25 },
        { start: 30, end: 40 },
      ],
    );
  });

  it('find a zeroed byte inside a done range, and only the piece that holds it', async () => {
    const disk = diskOf(Buffer.from('abcdefghijklmnopqrstuvwxyz0123456789'));
    const digests = new PieceDigests(10);
    await digests.update([{ start: 0, end: 36 }], disk.read, signal);
    disk.bytes[14] = 0;
    assert.deepEqual(await digests.findDamaged(disk.read, signal), [{ start: 10, end: 20 }]);
    assert.deepEqual(await digests.findDamaged(disk.read, signal), [], 'a damaged digest is dropped');
  });

  it('read a piece back a step at a time, into one buffer, to the digest of its whole bytes', async () => {
    const bytes = randomBytes(PIECE_READ_BACK_STEP_BYTES * 3 + 1234);
    const asked: number[] = [];
    const targets = new Set<ArrayBufferLike>();
    const digests = new PieceDigests(bytes.length);
    await digests.update(
      [{ start: 0, end: bytes.length }],
      async (position, length, into) => {
        asked.push(length);
        assert.ok(into !== undefined && length <= into.byteLength);
        targets.add(into.buffer);
        into.set(bytes.subarray(position, position + length));
        return into.subarray(0, length);
      },
      signal,
    );
    assert.ok(Math.max(...asked) <= PIECE_READ_BACK_STEP_BYTES);
    assert.equal(asked.length, 4);
    assert.equal(targets.size, 1, 'one buffer for every step');
    assert.deepEqual(digests.record().digests, [{ start: 0, end: bytes.length, hex: xxh64Of(bytes) }]);
  });

  it('hash a piece again only when its done span changed', async () => {
    const disk = diskOf(Buffer.alloc(40, 1));
    const digests = new PieceDigests(10);
    await digests.update([{ start: 0, end: 25 }], disk.read, signal);
    assert.equal(disk.reads, 3);
    await digests.update([{ start: 0, end: 28 }], disk.read, signal);
    assert.equal(disk.reads, 4, 'only the growing piece was read back');
  });

  it('drop the digest of a span being rewritten, even while it is being hashed', async () => {
    const disk = diskOf(Buffer.alloc(20, 2));
    const digests = new PieceDigests(10);
    await digests.update([{ start: 0, end: 20 }], disk.read, signal);
    digests.invalidate(12, 13);
    assert.deepEqual(
      digests.record().digests.map((d) => [d.start, d.end]),
      [[0, 10]],
    );
    const racing = new PieceDigests(10);
    await racing.update(
      [{ start: 0, end: 10 }],
      async (position, length) => {
        const bytes = disk.bytes.subarray(position, position + length);
        racing.invalidate(3, 4);
        return bytes;
      },
      signal,
    );
    assert.deepEqual(racing.record().digests, [], 'a hash raced by a write is not kept');
  });
});
