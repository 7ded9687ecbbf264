/**
 * Property-based checks of request verification: random, malformed and tampered auth headers are
 * refused with a reason, never an exception, and never accepted.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  ANY_NODE,
  AUTH_HEADERS,
  type AuthFailure,
  deriveKey,
  describeAuthFailure,
  RequestVerifier,
  signRequest,
} from '../../src/protocol/auth.js';

const RUNS = 10_000;
const NOW = 1_700_000_000_000;
const key = deriveKey('fuzz auth secret');
const REASONS: readonly AuthFailure[] = [
  'missing',
  'outdated',
  'malformed',
  'expired',
  'replayed',
  'bad-signature',
  'overloaded',
  'source-overloaded',
];

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });

/** A header value as node:http hands it over: a string, a list (repeated header), or absent. */
const headerValue = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  hex(32),
  hex(64),
  fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String),
  fc.constant(String(NOW)),
  fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }),
  fc.constant(undefined),
);

const headers = fc.record(
  {
    [AUTH_HEADERS.time]: headerValue,
    [AUTH_HEADERS.nonce]: headerValue,
    [AUTH_HEADERS.signature]: headerValue,
    [AUTH_HEADERS.target]: fc.oneof(headerValue, fc.constant(ANY_NODE), fc.constant('peer-fuzzed-0001')),
    host: headerValue,
    'content-type': headerValue,
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  fc.constant(undefined),
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc.uint8Array({ maxLength: 100 }),
);

function refusedWithReason(result: ReturnType<RequestVerifier['verify']>): void {
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.ok(REASONS.includes(result.reason));
    assert.equal(typeof describeAuthFailure(result.reason), 'string');
  }
}

describe('request verification under random input', () => {
  test(`${RUNS} random header sets are refused with a reason`, () => {
    const verifier = new RequestVerifier(key);
    fc.assert(
      fc.property(
        fc.string({ maxLength: 10 }),
        fc.string({ unit: 'binary', maxLength: 60 }),
        headers,
        body,
        fc.integer({ min: 0, max: 2 * NOW }),
        (method, path, given, payload, now) => {
          refusedWithReason(verifier.verify(method, path, given, payload, now));
        },
      ),
      { numRuns: RUNS },
    );
  });

  test(`${RUNS} signed requests with one thing changed are refused; unchanged ones pass once`, () => {
    const verifier = new RequestVerifier(key);
    const tamper = fc.constantFrom(
      'method',
      'path',
      'body',
      'time',
      'nonce',
      'signature',
      'target',
      'authority',
      'none',
    );
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'POST'),
        fc.constantFrom('/v1/register', '/v1/fetch', '/v1/peers?x=1'),
        fc.string({ maxLength: 50 }),
        tamper,
        fc.nat(),
        (method, path, payload, change, salt) => {
          const target = { authority: `192.0.2.${1 + (salt % 200)}:7801`, node: 'peer-fuzzed-0001' };
          const signed: Record<string, string> = signRequest(key, method, path, payload, target, NOW);
          let m: string = method;
          let p: string = path;
          let b: string = payload;
          const flip = (text: string) => {
            const at = salt % text.length;
            const replacement = text[at] === '0' ? '1' : '0';
            return text.slice(0, at) + replacement + text.slice(at + 1);
          };
          if (change === 'method') m = method === 'GET' ? 'POST' : 'GET';
          if (change === 'path') p = `${path}/`;
          if (change === 'body') b = `${payload} `;
          if (change === 'time') signed[AUTH_HEADERS.time] = String(NOW + 1 + (salt % 1_000));
          if (change === 'nonce') signed[AUTH_HEADERS.nonce] = flip(signed[AUTH_HEADERS.nonce]!);
          if (change === 'signature') signed[AUTH_HEADERS.signature] = flip(signed[AUTH_HEADERS.signature]!);
          if (change === 'target') signed[AUTH_HEADERS.target] = ANY_NODE;
          if (change === 'authority') signed.host = `${target.authority}0`;
          const result = verifier.verify(m, p, signed, b, NOW);
          if (change === 'none') {
            assert.equal(result.ok, true);
            refusedWithReason(verifier.verify(m, p, signed, b, NOW));
          } else {
            refusedWithReason(result);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
