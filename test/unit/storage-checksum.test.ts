import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hashFile, parseChecksum } from '../../src/storage/checksum.js';

const signal = new AbortController().signal;

describe('parseChecksum', () => {
  it('accepts each algorithm with a digest of the right length', () => {
    for (const [algorithm, length] of [
      ['sha256', 64],
      ['sha512', 128],
      ['sha1', 40],
      ['md5', 32],
    ] as const) {
      const hex = 'ab'.repeat(length / 2);
      assert.deepEqual(parseChecksum(`${algorithm}=${hex}`), { algorithm, hex });
    }
  });

  it('is lenient about case and a hyphen in the name', () => {
    const hex = 'AB'.repeat(32);
    assert.deepEqual(parseChecksum(`SHA-256=${hex}`), { algorithm: 'sha256', hex: hex.toLowerCase() });
  });

  it('rejects bad input with a USAGE error that says what is expected', () => {
    for (const text of [
      'sha256',
      `crc32=${'a'.repeat(8)}`,
      `sha256=${'a'.repeat(63)}`,
      `md5=${'a'.repeat(64)}`,
      `sha1=${'g'.repeat(40)}`,
      '=abc',
      '',
    ]) {
      assert.throws(
        () => parseChecksum(text),
        (error: unknown) => {
          assert.equal((error as { code?: string }).code, 'USAGE', text);
          assert.match((error as Error).message, /ALGO=HEX/);
          return true;
        },
      );
    }
  });
});

describe('hashFile', () => {
  it('matches crypto on the whole file and honours the signal', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ddm-checksum-'));
    try {
      const path = join(dir, 'data');
      const data = randomBytes(3 * 1024 * 1024 + 5);
      await writeFile(path, data);
      assert.equal(await hashFile(path, 'sha256', signal), createHash('sha256').update(data).digest('hex'));
      assert.equal(await hashFile(path, 'md5', signal), createHash('md5').update(data).digest('hex'));
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(hashFile(path, 'sha1', controller.signal), { code: 'ABORTED' });
      await assert.rejects(hashFile(join(dir, 'absent'), 'sha1', signal), { code: 'FS_ERROR' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
