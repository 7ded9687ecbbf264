/**
 * Property-based checks of the control file parser: random text, every truncation of a valid
 * file, and valid files with one byte changed are each a CONTROL_CORRUPT or CONTROL_FOREIGN
 * DdmError (or, for an edit that keeps the meaning, the same state), never another exception.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DdmError } from '../../src/errors.js';
import { type ControlState, parseControl, serializeControl } from '../../src/storage/control-file.js';
import type { ByteRange } from '../../src/types/byte-range.js';

const RUNS = 10_000;
const PATH = '/downloads/file.iso.ddm';

/** The parse result, or the code of the DdmError it threw; any other exception fails the test. */
function outcome(text: string): ControlState | 'CONTROL_CORRUPT' | 'CONTROL_FOREIGN' {
  try {
    return parseControl(text, PATH);
  } catch (error) {
    if (error instanceof DdmError && (error.code === 'CONTROL_CORRUPT' || error.code === 'CONTROL_FOREIGN')) {
      return error.code;
    }
    throw error;
  }
}

const isoDate = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
  .map((date) => date.toISOString());

/** Sorted, disjoint, non-empty ranges within `size` (when known). */
function doneRanges(size: number | null): fc.Arbitrary<ByteRange[]> {
  const limit = size ?? 2 ** 40;
  return fc.uniqueArray(fc.nat({ max: limit }), { maxLength: 12 }).map((cuts) => {
    const sorted = [...cuts].sort((a, b) => a - b);
    const ranges: ByteRange[] = [];
    for (let at = 0; at + 1 < sorted.length; at += 2) {
      ranges.push({ start: sorted[at]!, end: sorted[at + 1]! });
    }
    return ranges;
  });
}

const text = fc.string({ unit: 'binary', maxLength: 40 });

const state: fc.Arbitrary<ControlState> = fc.option(fc.nat({ max: 2 ** 45 })).chain((size) =>
  fc.record({
    url: fc.oneof(
      fc.webUrl(),
      text.filter((t) => t.length > 0),
    ),
    finalUrl: fc.webUrl(),
    size: fc.constant(size),
    validators: fc.record({ etag: text, lastModified: text }, { requiredKeys: [] }),
    done: doneRanges(size),
    createdAt: isoDate,
    updatedAt: isoDate,
  }),
);

describe('control file parser under damage', () => {
  test(`${RUNS} random texts: a state or a CONTROL_* error`, () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
          fc
            .dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }))
            .map((record) => JSON.stringify({ format: 'ddm-control', version: 1, ...record })),
        ),
        (input) => {
          const result = outcome(input);
          assert.ok(typeof result === 'string', 'random text is never a valid control file');
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('every truncation of valid files is CONTROL_CORRUPT', () => {
    let truncations = 0;
    fc.assert(
      fc.property(state, (valid) => {
        const full = serializeControl(valid);
        assert.deepEqual(outcome(full), parseControl(full, PATH));
        for (let length = 0; length < full.length; length += 1) {
          assert.equal(
            outcome(full.slice(0, length)),
            'CONTROL_CORRUPT',
            `cut at ${length} of ${full.length}`,
          );
          truncations += 1;
        }
      }),
      { numRuns: 60 },
    );
    assert.ok(truncations >= RUNS, `${truncations} truncations`);
  });

  test(`${RUNS} valid files with one character changed: refused, or the very same state`, () => {
    fc.assert(
      fc.property(
        state,
        fc.nat(),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
        (valid, position, replacement) => {
          const full = serializeControl(valid);
          const at = position % full.length;
          const damaged = full.slice(0, at) + replacement + full.slice(at + 1);
          const result = outcome(damaged);
          if (typeof result === 'string') return;
          // Only an edit JSON cannot see (an escape spelled another way, say) may pass.
          assert.deepEqual(result, outcome(full));
        },
      ),
      { numRuns: RUNS },
    );
  });
});
