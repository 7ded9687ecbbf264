import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RangeSet } from '../../src/scheduler/range-set.js';
import type { ByteRange } from '../../src/types/byte-range.js';

type Operation = { kind: 'add' | 'subtract'; start: number; end: number };

function build(operations: readonly Operation[]): RangeSet {
  const set = new RangeSet();
  for (const { kind, start, end } of operations) set[kind](start, end);
  return set;
}

describe('RangeSet', () => {
  const cases: { name: string; operations: Operation[]; expected: ByteRange[] }[] = [
    { name: 'starts empty', operations: [], expected: [] },
    { name: 'ignores empty ranges', operations: [{ kind: 'add', start: 5, end: 5 }], expected: [] },
    {
      name: 'keeps disjoint ranges sorted',
      operations: [
        { kind: 'add', start: 20, end: 30 },
        { kind: 'add', start: 0, end: 10 },
      ],
      expected: [
        { start: 0, end: 10 },
        { start: 20, end: 30 },
      ],
    },
    {
      name: 'merges a range that touches on the right',
      operations: [
        { kind: 'add', start: 0, end: 10 },
        { kind: 'add', start: 10, end: 15 },
      ],
      expected: [{ start: 0, end: 15 }],
    },
    {
      name: 'merges a range that touches on the left',
      operations: [
        { kind: 'add', start: 10, end: 15 },
        { kind: 'add', start: 5, end: 10 },
      ],
      expected: [{ start: 5, end: 15 }],
    },
    {
      name: 'bridges several ranges',
      operations: [
        { kind: 'add', start: 0, end: 2 },
        { kind: 'add', start: 4, end: 6 },
        { kind: 'add', start: 8, end: 10 },
        { kind: 'add', start: 1, end: 9 },
      ],
      expected: [{ start: 0, end: 10 }],
    },
    {
      name: 'ignores a range already inside',
      operations: [
        { kind: 'add', start: 0, end: 10 },
        { kind: 'add', start: 3, end: 7 },
      ],
      expected: [{ start: 0, end: 10 }],
    },
    {
      name: 'punches a hole',
      operations: [
        { kind: 'add', start: 0, end: 10 },
        { kind: 'subtract', start: 3, end: 7 },
      ],
      expected: [
        { start: 0, end: 3 },
        { start: 7, end: 10 },
      ],
    },
    {
      name: 'trims the front',
      operations: [
        { kind: 'add', start: 0, end: 10 },
        { kind: 'subtract', start: 0, end: 4 },
      ],
      expected: [{ start: 4, end: 10 }],
    },
    {
      name: 'removes across several ranges',
      operations: [
        { kind: 'add', start: 0, end: 3 },
        { kind: 'add', start: 5, end: 7 },
        { kind: 'add', start: 9, end: 12 },
        { kind: 'subtract', start: 2, end: 10 },
      ],
      expected: [
        { start: 0, end: 2 },
        { start: 10, end: 12 },
      ],
    },
    {
      name: 'subtracting what is not there changes nothing',
      operations: [
        { kind: 'add', start: 5, end: 10 },
        { kind: 'subtract', start: 0, end: 5 },
        { kind: 'subtract', start: 10, end: 20 },
      ],
      expected: [{ start: 5, end: 10 }],
    },
  ];

  for (const { name, operations, expected } of cases) {
    it(name, () => {
      const set = build(operations);
      assert.deepEqual(set.toArray(), expected);
      assert.equal(set.count, expected.length);
      assert.equal(
        set.bytes,
        expected.reduce((sum, range) => sum + range.end - range.start, 0),
      );
      assert.deepEqual(set.first(), expected[0]);
    });
  }

  it('accepts initial ranges in any order', () => {
    const set = new RangeSet([
      { start: 8, end: 9 },
      { start: 0, end: 4 },
      { start: 4, end: 6 },
    ]);
    assert.deepEqual(set.toArray(), [
      { start: 0, end: 6 },
      { start: 8, end: 9 },
    ]);
  });

  it('returns copies', () => {
    const set = new RangeSet([{ start: 0, end: 4 }]);
    set.toArray()[0]!.end = 100;
    set.first()!.end = 100;
    assert.deepEqual(set.toArray(), [{ start: 0, end: 4 }]);
  });

  it('refuses invalid ranges', () => {
    const set = new RangeSet();
    assert.throws(() => set.add(5, 4), RangeError);
    assert.throws(() => set.add(-1, 4), RangeError);
    assert.throws(() => set.subtract(0, 1.5), RangeError);
    assert.throws(() => set.add(0, Number.NaN), RangeError);
  });

  it('appends many adjacent chunks quickly', () => {
    const set = new RangeSet();
    const chunk = 65_536;
    const started = performance.now();
    for (let index = 0; index < 200_000; index++) {
      // Four interleaved writers, each appending to its own growing range.
      const writer = index % 4;
      const step = Math.floor(index / 4);
      const start = writer * 1_000_000_000_000 + step * chunk;
      set.add(start, start + chunk);
    }
    assert.equal(set.count, 4);
    assert.ok(performance.now() - started < 1_000, 'appending 200k chunks took more than a second');
  });

  it('matches a bitmap model under random adds and subtracts', () => {
    const size = 64;
    const operation = fc
      .record({
        kind: fc.constantFrom<'add' | 'subtract'>('add', 'subtract'),
        start: fc.nat(size),
        length: fc.nat(size),
      })
      .map(({ kind, start, length }) => ({ kind, start, end: Math.min(size, start + length) }));
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 30 }), (operations) => {
        const bitmap = new Uint8Array(size);
        for (const { kind, start, end } of operations) bitmap.fill(kind === 'add' ? 1 : 0, start, end);
        const set = build(operations);
        assert.deepEqual(set.toArray(), rangesOf(bitmap));
        assert.equal(
          set.bytes,
          bitmap.reduce((sum, bit) => sum + bit, 0),
        );
      }),
      { numRuns: 10_000 },
    );
  });
});

function rangesOf(bitmap: Uint8Array): ByteRange[] {
  const ranges: ByteRange[] = [];
  for (let offset = 0; offset < bitmap.length; offset++) {
    if (bitmap[offset] === 0) continue;
    const last = ranges.at(-1);
    if (last !== undefined && last.end === offset) last.end = offset + 1;
    else ranges.push({ start: offset, end: offset + 1 });
  }
  return ranges;
}
