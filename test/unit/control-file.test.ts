import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONTROL_FORMAT_VERSION } from '../../src/constants.js';
import { isDdmError } from '../../src/errors.js';
import { type ControlState, loadControl, parseControl, saveControl } from '../../src/storage/control-file.js';

const signal = new AbortController().signal;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ddm-control-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sampleState(): ControlState {
  return {
    url: 'https://example.com/files/big.iso?x=1',
    finalUrl: 'https://cdn.example.com/big.iso',
    size: 10_000_000,
    validators: { etag: '"abc-123"', lastModified: 'Wed, 21 Oct 2015 07:28:00 GMT' },
    done: [
      { start: 0, end: 1_000_000 },
      { start: 4_000_000, end: 5_500_000 },
      { start: 9_000_000, end: 10_000_000 },
    ],
    createdAt: '2025-01-02T03:04:05.000Z',
    updatedAt: '2025-01-02T03:05:00.000Z',
  };
}

/** Writes a control file whose integrity field is right for `body`, to reach the schema checks. */
function withIntegrity(body: Record<string, unknown>): string {
  const integrity = `sha256:${createHash('sha256').update(JSON.stringify(body)).digest('hex')}`;
  return JSON.stringify({ ...body, integrity });
}

function errorCode(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return isDdmError(error) ? error.code : `not a DdmError: ${String(error)}`;
  }
  return undefined;
}

describe('control file', () => {
  it('round-trips a state', async () => {
    const path = join(dir, 'round.ddm');
    await saveControl(path, sampleState(), signal);
    assert.deepEqual(await loadControl(path, signal), sampleState());
  });

  it('round-trips an unknown size and no validators', async () => {
    const path = join(dir, 'unknown.ddm');
    const state: ControlState = { ...sampleState(), size: null, validators: {}, done: [] };
    await saveControl(path, state, signal);
    assert.deepEqual(await loadControl(path, signal), state);
  });

  it('returns null when there is no control file', async () => {
    assert.equal(await loadControl(join(dir, 'absent.ddm'), signal), null);
  });

  it('stores done ranges merged and leaves no temp file behind', async () => {
    const path = join(dir, 'merge.ddm');
    const done = [
      { start: 50, end: 60 },
      { start: 0, end: 10 },
      { start: 10, end: 20 },
      { start: 55, end: 70 },
    ];
    await saveControl(path, { ...sampleState(), done }, signal);
    const loaded = await loadControl(path, signal);
    assert.deepEqual(loaded?.done, [
      { start: 0, end: 20 },
      { start: 50, end: 70 },
    ]);
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name.includes('merge')),
      ['merge.ddm'],
    );
  });

  it('replaces an existing control file', async () => {
    const path = join(dir, 'replace.ddm');
    await saveControl(path, sampleState(), signal);
    const next = { ...sampleState(), done: [{ start: 0, end: 10_000_000 }] };
    await saveControl(path, next, signal);
    assert.deepEqual(await loadControl(path, signal), next);
  });

  it('refuses to write ranges past the size', async () => {
    const state = { ...sampleState(), done: [{ start: 0, end: 10_000_001 }] };
    await assert.rejects(saveControl(join(dir, 'bad.ddm'), state, signal), TypeError);
  });

  it('detects truncation at every byte offset', async () => {
    const path = join(dir, 'truncate.ddm');
    await saveControl(path, sampleState(), signal);
    const text = await readFile(path, 'utf8');
    assert.ok(text.length > 200);
    for (let length = 0; length < text.length; length++) {
      assert.equal(
        errorCode(() => parseControl(text.slice(0, length), path)),
        'CONTROL_CORRUPT',
        `length ${length}`,
      );
    }
    // And through the file system, at a few offsets.
    for (const length of [0, 1, Math.floor(text.length / 2), text.length - 1]) {
      await writeFile(path, text.slice(0, length));
      await assert.rejects(loadControl(path, signal), { code: 'CONTROL_CORRUPT' });
    }
  });

  it('detects a flipped byte anywhere', async () => {
    const path = join(dir, 'flip.ddm');
    await saveControl(path, sampleState(), signal);
    const bytes = await readFile(path);
    for (let offset = 0; offset < bytes.length; offset++) {
      const edited = Buffer.from(bytes);
      edited[offset]! ^= 0x01;
      assert.equal(
        errorCode(() => parseControl(edited.toString('utf8'), path)),
        'CONTROL_CORRUPT',
        `offset ${offset}`,
      );
    }
  });

  it('detects an edited value even when the JSON stays valid', async () => {
    const path = join(dir, 'edit.ddm');
    await saveControl(path, sampleState(), signal);
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.replace('1000000', '2000000'));
    await assert.rejects(loadControl(path, signal), (error: unknown) => {
      assert.ok(isDdmError(error, 'CONTROL_CORRUPT'));
      assert.match(error.message, /edit\.ddm/);
      assert.match(error.message, /--overwrite/);
      return true;
    });
  });

  it('calls a JSON file that is not ours foreign', async () => {
    const path = join(dir, 'foreign.ddm');
    for (const text of ['{"name":"package","version":"1.0.0"}', '[1,2,3]', '"text"', 'null', '42']) {
      await writeFile(path, text);
      await assert.rejects(loadControl(path, signal), { code: 'CONTROL_FOREIGN' }, text);
    }
  });

  it('calls a control file from a newer format foreign', async () => {
    const path = join(dir, 'newer.ddm');
    await writeFile(
      path,
      JSON.stringify({ format: 'ddm-control', version: CONTROL_FORMAT_VERSION + 1, parts: [] }),
    );
    await assert.rejects(loadControl(path, signal), (error: unknown) => {
      assert.ok(isDdmError(error, 'CONTROL_FOREIGN'));
      assert.match(error.message, /newer/);
      return true;
    });
  });

  it('rejects invalid content that carries a correct integrity field', () => {
    const base = {
      format: 'ddm-control',
      version: CONTROL_FORMAT_VERSION,
      url: 'https://example.com/a',
      finalUrl: 'https://example.com/a',
      size: 100,
      validators: {},
      done: [] as number[][],
      peer: [] as number[][],
      unchecked: [] as number[][],
      pieces: null,
      createdAt: '2025-01-02T03:04:05.000Z',
      updatedAt: '2025-01-02T03:04:05.000Z',
    };
    assert.equal(
      errorCode(() => parseControl(withIntegrity(base), 'ok.ddm')),
      undefined,
    );
    const invalid: Record<string, unknown>[] = [
      { ...base, done: [[0, 101]] },
      { ...base, done: [[10, 5]] },
      { ...base, done: [[10, 10]] },
      {
        ...base,
        done: [
          [20, 30],
          [0, 10],
        ],
      },
      {
        ...base,
        done: [
          [0, 20],
          [10, 30],
        ],
      },
      { ...base, done: [[-1, 10]] },
      { ...base, done: [[0.5, 10]] },
      { ...base, size: -1 },
      { ...base, url: '' },
      { ...base, createdAt: 'yesterday' },
      { ...base, validators: { etag: 5 } },
      { ...base, version: 0 },
    ];
    for (const body of invalid) {
      assert.equal(
        errorCode(() => parseControl(withIntegrity(body), 'bad.ddm')),
        'CONTROL_CORRUPT',
        JSON.stringify(body),
      );
    }
  });

  it('round-trips peer ranges, unchecked ranges and piece digests', async () => {
    const path = join(dir, 'pieces.ddm');
    const state: ControlState = {
      ...sampleState(),
      peer: [{ start: 4_000_000, end: 5_000_000 }],
      unchecked: [{ start: 4_500_000, end: 5_000_000 }],
      pieces: {
        bytes: 4_194_304,
        algorithm: 'xxh64',
        digests: [
          { start: 0, end: 1_000_000, hex: 'a'.repeat(16) },
          { start: 4_000_000, end: 4_194_304, hex: 'b'.repeat(16) },
          { start: 4_194_304, end: 5_500_000, hex: 'c'.repeat(16) },
        ],
      },
    };
    await saveControl(path, state, signal);
    assert.deepEqual(await loadControl(path, signal), state);
  });

  it('reads a version-1 file: done ranges resume, and all count as peer bytes for the audit', () => {
    const body = {
      format: 'ddm-control',
      version: 1,
      url: 'https://example.com/a',
      finalUrl: 'https://example.com/a',
      size: 100,
      validators: { etag: '"v1"' },
      done: [
        [0, 10],
        [50, 100],
      ],
      createdAt: '2025-01-02T03:04:05.000Z',
      updatedAt: '2025-01-02T03:04:05.000Z',
    };
    const state = parseControl(withIntegrity(body), 'old.ddm');
    const ranges = [
      { start: 0, end: 10 },
      { start: 50, end: 100 },
    ];
    assert.deepEqual(state.done, ranges);
    assert.deepEqual(state.peer, ranges, 'version 1 did not say which bytes came from peers');
    assert.equal(state.unchecked, undefined);
    assert.equal(state.pieces, undefined);
    assert.equal(
      errorCode(() => parseControl(withIntegrity({ ...body, done: [[0, 101]] }), 'old.ddm')),
      'CONTROL_CORRUPT',
    );
  });

  it('refuses peer, unchecked and digest ranges that do not fit inside what they belong to', () => {
    const base = {
      format: 'ddm-control',
      version: CONTROL_FORMAT_VERSION,
      url: 'https://example.com/a',
      finalUrl: 'https://example.com/a',
      size: 100,
      validators: {},
      done: [[0, 60]],
      peer: [[10, 20]],
      unchecked: [[10, 15]],
      pieces: { bytes: 50, algorithm: 'xxh64', digests: [[0, 50, 'd'.repeat(16)]] },
      createdAt: '2025-01-02T03:04:05.000Z',
      updatedAt: '2025-01-02T03:04:05.000Z',
    };
    assert.equal(
      errorCode(() => parseControl(withIntegrity(base), 'ok.ddm')),
      undefined,
    );
    const versionTwo = {
      ...base,
      version: 2,
      pieces: { bytes: 50, algorithm: 'sha256', digests: [[0, 50, 'd'.repeat(32)]] },
    };
    assert.equal(
      errorCode(() => parseControl(withIntegrity(versionTwo), 'two.ddm')),
      undefined,
    );
    const pieces = (digests: unknown[]) => ({ ...base.pieces, digests });
    const invalid: Record<string, unknown>[] = [
      { ...base, peer: [[50, 70]] },
      { ...base, unchecked: [[5, 15]] },
      { ...base, pieces: pieces([[40, 60, 'd'.repeat(16)]]) },
      { ...base, pieces: pieces([[50, 70, 'd'.repeat(16)]]) },
      { ...base, pieces: pieces([[0, 50, 'not hex']]) },
      { ...base, pieces: pieces([[0, 50, 'd'.repeat(32)]]) },
      { ...base, pieces: { ...base.pieces, algorithm: 'crc32' } },
      // Each version has its own hash: SHA-256 only in version 2, XXH64 only from version 3.
      { ...base, pieces: versionTwo.pieces },
      { ...versionTwo, pieces: base.pieces },
    ];
    for (const body of invalid) {
      assert.equal(
        errorCode(() => parseControl(withIntegrity(body), 'bad.ddm')),
        'CONTROL_CORRUPT',
        JSON.stringify(body),
      );
    }
  });

  it('stops when the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(saveControl(join(dir, 'abort.ddm'), sampleState(), controller.signal), {
      code: 'ABORTED',
    });
    await assert.rejects(loadControl(join(dir, 'round.ddm'), controller.signal), { code: 'ABORTED' });
  });
});
