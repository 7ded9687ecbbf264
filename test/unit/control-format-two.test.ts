import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PIECE_DIGEST_BYTES } from '../../src/constants.js';
import { controlPath, DownloadStore, partPath } from '../../src/storage/download-store.js';
import { sha256 } from '../helpers/cli.js';

// Control files of format 2 (SHA-256 piece digests, before XXH64) must still resume, with their
// digests checked: written here the way format 2 wrote them, independently of src/.
const signal = new AbortController().signal;
const URL = 'https://example.com/two.bin';
const SIZE = 2 * PIECE_DIGEST_BYTES + 12_345;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ddm-format-two-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sha256Digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 32);
}

/** A format-2 `.ddm` and its `.part`: `done` recorded, a SHA-256 digest per piece span of it. */
async function formatTwoRun(output: string, data: Buffer, done: [number, number][]): Promise<void> {
  const part = Buffer.alloc(SIZE);
  for (const [start, end] of done) data.copy(part, start, start, end);
  await writeFile(partPath(output), part);
  const digests: [number, number, string][] = [];
  for (const [start, end] of done) {
    for (let from = start; from < end; ) {
      const to = Math.min(end, (Math.floor(from / PIECE_DIGEST_BYTES) + 1) * PIECE_DIGEST_BYTES);
      digests.push([from, to, sha256Digest(data.subarray(from, to))]);
      from = to;
    }
  }
  const body = {
    format: 'ddm-control',
    version: 2,
    url: URL,
    finalUrl: URL,
    size: SIZE,
    validators: { etag: '"two"' },
    done,
    peer: [],
    unchecked: [],
    pieces: { bytes: PIECE_DIGEST_BYTES, algorithm: 'sha256', digests },
    createdAt: '2026-01-02T03:04:05.000Z',
    updatedAt: '2026-01-02T03:04:05.000Z',
  };
  const integrity = `sha256:${createHash('sha256').update(JSON.stringify(body)).digest('hex')}`;
  await writeFile(controlPath(output), JSON.stringify({ ...body, integrity }));
}

function open(output: string) {
  const options = {
    outputPath: output,
    url: URL,
    finalUrl: URL,
    size: SIZE,
    validators: { etag: '"two"' },
    overwrite: false,
    resumable: true,
  };
  return DownloadStore.open(options, signal);
}

describe('a format-2 control file (SHA-256 piece digests)', () => {
  it('resumes, checks its digests, and is rewritten as format 3 with XXH64 digests', async () => {
    const output = join(dir, 'good.bin');
    const data = randomBytes(SIZE);
    const doneEnd = PIECE_DIGEST_BYTES + 1_000_000;
    await formatTwoRun(output, data, [[0, doneEnd]]);
    const first = await open(output);
    assert.deepEqual(first.resumed, [{ start: 0, end: doneEnd }]);
    assert.deepEqual(first.damaged, []);
    await first.store.write(data.subarray(doneEnd, doneEnd + 500_000), doneEnd);
    await first.store.checkpoint([{ start: 0, end: doneEnd + 500_000 }], signal);
    await first.store.close();

    const rewritten = JSON.parse(await readFile(controlPath(output), 'utf8'));
    assert.equal(rewritten.version, 3);
    assert.equal(rewritten.pieces.algorithm, 'xxh64');
    assert.deepEqual(
      rewritten.pieces.digests.map(([start, end]: [number, number]) => [start, end]),
      [
        [0, PIECE_DIGEST_BYTES],
        [PIECE_DIGEST_BYTES, doneEnd + 500_000],
      ],
    );
    for (const [, , hex] of rewritten.pieces.digests) assert.match(hex, /^[0-9a-f]{16}$/);

    // Damage in the second piece is found through the XXH64 digests now.
    const part = await readFile(partPath(output));
    part[PIECE_DIGEST_BYTES + 10] = (part[PIECE_DIGEST_BYTES + 10]! + 1) % 256;
    await writeFile(partPath(output), part);
    const second = await open(output);
    assert.deepEqual(second.damaged, [{ start: PIECE_DIGEST_BYTES, end: doneEnd + 500_000 }]);
    assert.deepEqual(second.resumed, [{ start: 0, end: PIECE_DIGEST_BYTES }]);
    await second.store.write(data.subarray(PIECE_DIGEST_BYTES), PIECE_DIGEST_BYTES);
    await second.store.finalize({}, signal);
    assert.equal(sha256(await readFile(output)), sha256(data));
  });

  it('finds damage through its SHA-256 digests, costing only the damaged piece', async () => {
    const output = join(dir, 'damaged.bin');
    const data = randomBytes(SIZE);
    await formatTwoRun(output, data, [[0, SIZE - 5]]);
    const part = await readFile(partPath(output));
    part[2 * PIECE_DIGEST_BYTES + 7] = (part[2 * PIECE_DIGEST_BYTES + 7]! + 1) % 256;
    await writeFile(partPath(output), part);
    const { store, resumed, damaged } = await open(output);
    assert.deepEqual(damaged, [{ start: 2 * PIECE_DIGEST_BYTES, end: SIZE - 5 }]);
    assert.deepEqual(resumed, [{ start: 0, end: 2 * PIECE_DIGEST_BYTES }]);
    await store.write(data.subarray(2 * PIECE_DIGEST_BYTES), 2 * PIECE_DIGEST_BYTES);
    await store.finalize({}, signal);
    assert.equal(sha256(await readFile(output)), sha256(data));
  });
});
