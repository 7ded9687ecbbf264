/**
 * Property-based checks of the Range and Content-Range parsers: any header text gets an answer
 * (a well-formed range, or "none"), never an exception, and what they accept is consistent.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseContentRange } from '../../src/origin/content-range.js';
import { parseRange } from '../helpers/test-origin.js';

const RUNS = 10_000;

const digits = fc.oneof(
  fc.nat().map(String),
  fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String),
  fc.constantFrom('', '0', '00', '-1', '1e3', '0x10', ' 7', '9007199254740993'),
);

/** Header-like text: mostly near the grammar, sometimes anything at all. */
const contentRangeText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc
    .tuple(
      fc.constantFrom('bytes ', 'BYTES\t', 'bytes', 'bits ', 'bytes  ', ''),
      digits,
      fc.constantFrom('-', '--', '', '/'),
      digits,
      fc.constantFrom('/', '', '/-'),
      fc.oneof(digits, fc.constant('*')),
      fc.constantFrom('', ' ', ',', '\r\n', ', bytes 1-2/3'),
    )
    .map((parts) => parts.join('')),
  fc.tuple(digits, digits).map(([a, b]) => `bytes */${a}${b}`),
);

const rangeText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc
    .tuple(
      fc.constantFrom('bytes=', 'Bytes=', 'bytes =', 'items=', ''),
      digits,
      fc.constantFrom('-', '', '--'),
      digits,
      fc.constantFrom('', ',', ',0-1', ', 5-', '\t'),
    )
    .map((parts) => parts.join('')),
  fc
    .array(fc.tuple(digits, digits), { minLength: 2, maxLength: 50 })
    .map((pairs) => `bytes=${pairs.map(([a, b]) => `${a}-${b}`).join(',')}`),
);

describe('Content-Range parser', () => {
  test(`${RUNS} header values: undefined or a consistent range`, () => {
    fc.assert(
      fc.property(fc.oneof(contentRangeText, fc.constant(undefined)), (text) => {
        const parsed = parseContentRange(text);
        if (parsed === undefined) return;
        if (parsed.kind === 'unsatisfied') {
          assert.ok(Number.isInteger(parsed.size) && parsed.size >= 0);
          return;
        }
        assert.ok(Number.isInteger(parsed.start) && Number.isInteger(parsed.last));
        assert.ok(parsed.start >= 0 && parsed.start <= parsed.last);
        if (parsed.size !== null) assert.ok(parsed.last < parsed.size);
      }),
      { numRuns: RUNS },
    );
  });

  test('every well-formed single range round-trips', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 40 }),
        fc.nat({ max: 2 ** 40 }),
        fc.option(fc.nat({ max: 2 ** 40 })),
        (start, length, extra) => {
          const last = start + length;
          const size = extra === null ? null : last + 1 + extra;
          const text = `bytes ${start}-${last}/${size ?? '*'}`;
          assert.deepEqual(parseContentRange(text), { kind: 'range', start, last, size });
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('Range parser of the test origin', () => {
  test(`${RUNS} header values against random sizes: none, unsatisfiable, or a range within the file`, () => {
    fc.assert(
      fc.property(rangeText, fc.nat({ max: 2 ** 40 }), (text, size) => {
        const parsed = parseRange(text, size);
        if (parsed.kind !== 'ok') return;
        assert.ok(Number.isInteger(parsed.start) && Number.isInteger(parsed.end));
        assert.ok(parsed.start >= 0 && parsed.start < parsed.end && parsed.end <= size);
      }),
      { numRuns: RUNS },
    );
  });

  test('a header with many parts is never taken as one range', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(1_000), fc.nat(1_000)), { minLength: 2, maxLength: 200 }),
        (pairs) => {
          const header = `bytes=${pairs.map(([a, b]) => `${a}-${a + b}`).join(',')}`;
          assert.deepEqual(parseRange(header, 10_000), { kind: 'none' });
        },
      ),
      { numRuns: RUNS },
    );
  });
});
