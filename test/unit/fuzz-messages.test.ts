/**
 * Property-based checks of the wire schemas: whatever JSON (or JavaScript value) arrives, each
 * schema answers with success or a list of issues, never an exception, and what it accepts keeps
 * the invariants the routes rely on.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type GenericSchema, safeParse } from 'valibot';
import { MAX_PEER_SLOTS } from '../../src/constants.js';
import {
  DeregisterRequest,
  DeregisterResponse,
  ErrorBody,
  FetchRequest,
  OfferRequest,
  OfferResponse,
  PeerInfoResponse,
  PeerListResponse,
  PeerRecord,
  RegisterRequest,
  RegisterResponse,
} from '../../src/protocol/messages.js';

const RUNS = 10_000;

const VALID: Record<string, unknown> = {
  ErrorBody: { error: { code: 'PEER_BUSY', message: 'busy', details: { retryable: true } } },
  RegisterRequest: { id: 'peer-0000001', name: 'alpha', port: 7801, slots: 4, version: '0.1.0' },
  RegisterResponse: { address: '10.0.0.1', ttlMs: 32_000, heartbeatMs: 10_000 },
  DeregisterRequest: { id: 'peer-0000001' },
  DeregisterResponse: { removed: true },
  PeerRecord: {
    id: 'peer-0000001',
    name: 'alpha',
    address: '10.0.0.1',
    port: 7801,
    slots: 4,
    version: '0.1.0',
    lastSeen: 1_700_000_000_000,
  },
  PeerListResponse: {
    peers: [
      {
        id: 'peer-0000001',
        name: 'alpha',
        address: '10.0.0.1',
        port: 7801,
        slots: 4,
        version: '0.1.0',
        lastSeen: 1_700_000_000_000,
      },
    ],
  },
  PeerInfoResponse: { id: 'peer-0000001', name: 'a', version: '0.1.0', protocol: 1, slots: 4, freeSlots: 2 },
  OfferRequest: {
    clientId: 'client-000001',
    clientName: 'laptop',
    url: 'https://example.com/file.iso',
    fileName: 'file.iso',
    size: 1_000,
  },
  OfferResponse: { accepted: true, slots: 4 },
  FetchRequest: {
    clientId: 'client-000001',
    url: 'https://example.com/file.iso',
    start: 0,
    end: 100,
    validators: { etag: '"abc"' },
    headers: { authorization: 'Bearer x' },
  },
};

const SCHEMAS: Record<string, GenericSchema> = {
  ErrorBody,
  RegisterRequest,
  RegisterResponse,
  DeregisterRequest,
  DeregisterResponse,
  PeerRecord,
  PeerListResponse,
  PeerInfoResponse,
  OfferRequest,
  OfferResponse,
  FetchRequest,
};

/** Values that stress number and string handling in particular. */
const awkward = fc.oneof(
  fc.constantFrom(
    -1,
    -0,
    0.5,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    Number.MAX_VALUE,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '',
    '\u0000',
    '\u001b[31m',
    '\ud800',
    '__proto__',
    'constructor',
    null,
  ),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.double(),
  fc.integer(),
  fc.bigInt(),
);

/** A valid message with one field replaced, removed, or added, or nested one level deeper. */
function nearValid(valid: unknown): fc.Arbitrary<unknown> {
  if (typeof valid !== 'object' || valid === null) return fc.anything();
  const keys = Object.keys(valid);
  return fc.oneof(
    fc
      .record({ key: fc.constantFrom(...keys), value: fc.oneof(awkward, fc.jsonValue({ maxDepth: 2 })) })
      .map(({ key, value }) => ({ ...valid, [key]: value })),
    fc.constantFrom(...keys).map((key) => {
      const copy: Record<string, unknown> = { ...valid };
      delete copy[key];
      return copy;
    }),
    fc.record({ key: fc.string({ maxLength: 12 }), value: awkward }).map(({ key, value }) => ({
      ...valid,
      [key]: value,
    })),
    fc
      .constantFrom(...keys)
      .chain((key) =>
        nearValid((valid as Record<string, unknown>)[key]).map((inner) => ({ ...valid, [key]: inner })),
      ),
  );
}

function anyInput(name: string): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.anything({ maxDepth: 2, withBigInt: true, withMap: true, withSet: true, withNullPrototype: true }),
    nearValid(VALID[name]),
    nearValid(VALID[name]),
  );
}

/** What the routes count on once a message passed its schema. */
function checkInvariants(name: string, data: unknown): void {
  const value = data as Record<string, unknown>;
  const safe = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  switch (name) {
    case 'FetchRequest':
      assert.ok(safe(value.start) && safe(value.end) && (value.end as number) > (value.start as number));
      assert.match(value.url as string, /^https?:\/\//i);
      break;
    case 'RegisterRequest':
    case 'PeerRecord':
      assert.match(value.id as string, /^[A-Za-z0-9_-]{8,64}$/);
      assert.ok(
        Number.isInteger(value.port) && (value.port as number) >= 1 && (value.port as number) <= 65_535,
      );
      assert.ok((value.slots as number) >= 1 && (value.slots as number) <= MAX_PEER_SLOTS);
      assert.doesNotMatch(value.name as string, /[\u0000-\u001f\u007f-\u009f]/);
      break;
    case 'OfferRequest':
      assert.doesNotMatch(value.fileName as string, /[\u0000-\u001f\u007f-\u009f]/);
      assert.doesNotMatch(value.clientName as string, /[\u0000-\u001f\u007f-\u009f]/);
      assert.ok(value.size === null || safe(value.size));
      break;
  }
}

/** JSON text for a value, or '' for the values JSON cannot hold (BigInt). */
function jsonTextOf(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}

describe('wire schemas never throw on any input', () => {
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    test(`${name}: ${RUNS} inputs, parsed or refused with issues`, () => {
      assert.equal(safeParse(schema, VALID[name]).success, true, `${name}'s sample is valid`);
      let accepted = 0;
      fc.assert(
        fc.property(anyInput(name), (input) => {
          const result = safeParse(schema, input);
          if (result.success) {
            accepted += 1;
            checkInvariants(name, result.output);
          } else {
            assert.ok(result.issues.length > 0);
          }
        }),
        { numRuns: RUNS },
      );
      // Near-valid inputs make sure the refinements, not just the type checks, were exercised.
      assert.ok(accepted > 0, `${name} accepted none of ${RUNS} inputs`);
    });
  }

  test(`JSON text as a node receives it: ${RUNS} strings, parsed or refused`, () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
          nearValid(VALID.FetchRequest).map(jsonTextOf),
        ),
        (text) => {
          let value: unknown;
          try {
            value = JSON.parse(text);
          } catch (error) {
            assert.ok(error instanceof SyntaxError);
            return;
          }
          for (const schema of Object.values(SCHEMAS)) safeParse(schema, value);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
