/** Every ddm error code has an aria2 exit-status number, so tellStatus's errorCode is never made up. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DownloadStatus } from '../../src/engine/types.js';
import { CODES, type ErrorCode } from '../../src/errors.js';
import { ARIA2_ERROR_CODES, aria2ErrorCode } from '../../src/rpc/aria2-error-codes.js';
import { window } from '../../src/rpc/aria2-methods.js';
import { bitfield } from '../../src/rpc/aria2-status.js';

describe('aria2 error codes', () => {
  test("every ddm ErrorCode maps to one of aria2's exit statuses (1..32)", () => {
    for (const code of Object.keys(CODES) as ErrorCode[]) {
      const number = aria2ErrorCode(code);
      assert.ok(Number.isInteger(number) && number >= 1 && number <= 32, `${code} → ${number}`);
    }
    assert.deepEqual(Object.keys(ARIA2_ERROR_CODES).sort(), Object.keys(CODES).sort());
  });
});

describe('aria2 shapes', () => {
  const MiB = 1024 * 1024;
  const status = (pieces: { start: number; end: number }[], totalBytes: number): DownloadStatus =>
    ({
      state: 'active',
      totalBytes,
      pieces: pieces.map((p) => ({ ...p, source: 'local' })),
    }) as DownloadStatus;

  test('bitfield: highest bit is the first piece; only whole pieces count; spare bits zero', () => {
    // 10 pieces: 0 and 1 whole (across two adjacent ranges), 2 half, 9 (the short last one) whole.
    const s = status(
      [
        { start: 0, end: MiB + 10 },
        { start: MiB + 10, end: 2 * MiB + MiB / 2 },
        { start: 9 * MiB, end: 9 * MiB + 100 },
      ],
      9 * MiB + 100,
    );
    assert.equal(bitfield(s, 10), 'c040');
  });

  test("tellWaiting's window: offsets from the front, and from the back counting down", () => {
    const queue = ['A', 'B', 'C'];
    assert.deepEqual(window(queue, 0, 1), ['A']);
    assert.deepEqual(window(queue, 1, 2), ['B', 'C']);
    assert.deepEqual(window(queue, -1, 2), ['C', 'B']);
    assert.deepEqual(window(queue, -5, 2), []);
    assert.deepEqual(window(queue, 0, 0), []);
  });
});
