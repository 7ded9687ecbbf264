/**
 * The spot checker's detection probability, measured against the formula in docs/SECURITY.md:
 * k = max(1, round(L·r/s)) slices of s bytes from a delivered range of L bytes catch a
 * corruption spanning c bytes with probability about min(1, k(c + s - 1)/(L - s + 1)).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { firstDifference, PeerVerifier } from '../../src/client/peer-verifier.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Runs `trials` deliveries of one corrupted range each and returns the share that was caught. */
async function detectionRate(options: {
  length: number;
  corrupt: number;
  rate: number;
  slice: number;
  trials: number;
}) {
  const origin = Buffer.alloc(options.length, 7);
  let caught = 0;
  for (let trial = 0; trial < options.trials; trial++) {
    const local = Buffer.from(origin);
    const at = Math.floor(Math.random() * (options.length - options.corrupt + 1));
    local.fill(8, at, at + options.corrupt);
    const controller = new AbortController();
    let mismatch = false;
    const verifier = new PeerVerifier(
      {
        readLocal: async (position, length) => local.subarray(position, position + length),
        readOrigin: async (range) => origin.subarray(range.start, range.end),
        onMismatch: () => {
          mismatch = true;
        },
        sampleRate: options.rate,
        sliceBytes: options.slice,
      },
      controller.signal,
    );
    verifier.record('peer:x', 0, options.length);
    verifier.check('peer:x', 0, options.length);
    await verifier.idle();
    if (mismatch) caught += 1;
  }
  return caught / options.trials;
}

function expected(options: { length: number; corrupt: number; rate: number; slice: number }): number {
  const k = Math.max(1, Math.round((options.length * options.rate) / options.slice));
  const perSlice = Math.min(1, (options.corrupt + options.slice - 1) / (options.length - options.slice + 1));
  return 1 - (1 - perSlice) ** k;
}

describe('PeerVerifier', () => {
  test('a range that is wholly different is always caught', async () => {
    const rate = await detectionRate({
      length: 1 * MiB,
      corrupt: 1 * MiB,
      rate: 0.01,
      slice: 16 * KiB,
      trials: 200,
    });
    assert.equal(rate, 1);
  });

  for (const rate of [0.01, 0.1]) {
    test(`one flipped byte per MiB at a ${rate * 100}% sampling rate is caught as often as predicted`, async () => {
      const options = { length: 1 * MiB, corrupt: 1, rate, slice: 16 * KiB, trials: 4000 };
      const measured = await detectionRate(options);
      const predicted = expected(options);
      const sigma = Math.sqrt((predicted * (1 - predicted)) / options.trials);
      assert.ok(
        Math.abs(measured - predicted) < 5 * sigma + 0.002,
        `measured ${measured.toFixed(4)}, predicted ${predicted.toFixed(4)}`,
      );
    });
  }

  test('a check that cannot be made is reported, not counted as a lie', async () => {
    const controller = new AbortController();
    const unverified: string[] = [];
    const verifier = new PeerVerifier(
      {
        readLocal: async () => Buffer.alloc(16),
        readOrigin: async () => {
          throw new Error('origin unreachable');
        },
        onMismatch: () => assert.fail('no mismatch expected'),
        onUnverified: (source) => unverified.push(source),
      },
      controller.signal,
    );
    verifier.record('peer:y', 0, 16);
    verifier.check('peer:y', 0, 16);
    await verifier.idle();
    assert.deepEqual(unverified, ['peer:y']);
  });

  test('firstDifference finds the first differing byte, and length differences', () => {
    assert.equal(firstDifference(Buffer.from('abc'), Buffer.from('abc')), -1);
    assert.equal(firstDifference(Buffer.from('abc'), Buffer.from('abd')), 2);
    assert.equal(firstDifference(Buffer.from('ab'), Buffer.from('abc')), 2);
  });
});
