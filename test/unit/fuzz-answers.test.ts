/**
 * The other half of "malformed input never crashes": what a client reads from trackers and
 * peers. A real signed server on 127.0.0.1 answers the client's swarm setup (a tracker's peer
 * list, a `--peer`'s info) with random statuses and bodies, signed with the swarm key; a raw TCP
 * server answers random bytes. The client either finds peers or fails with a typed error, and only
 * the errors that must stop the setup (a wrong secret, an impostor) ever escape it.
 *
 * Nothing is dialled but the two servers and loopback: the setup lists peers and asks each listed
 * one for its signed info (on 127.0.0.1 or ::1, or an address that cannot be dialled).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { discoverSwarm } from '../../src/client/swarm.js';
import { PROTOCOL_VERSION } from '../../src/constants.js';
import { stopsSwarmSetup } from '../../src/error-policy.js';
import { isDdmError } from '../../src/errors.js';
import { deriveKey } from '../../src/protocol/auth.js';
import { TrackerClient } from '../../src/tracker/tracker-client.js';
import { type SignedServer, startSignedServer } from '../../src/transport/server/signed-server.js';

const SIGNED_RUNS = 1_000;
const RAW_RUNS = 300;
const SECRET = 'fuzz answers secret 0123456789';
const key = deriveKey(SECRET);
const lifetime = new AbortController();

interface Answer {
  status: number;
  body: unknown;
}

let next: { peers: Answer; info: Answer } = {
  peers: { status: 200, body: { peers: [] } },
  info: { status: 200, body: {} },
};
let node: SignedServer;
let raw: Server;
let rawUrl: string;
let rawAnswer = Buffer.alloc(0);

before(async () => {
  node = await startSignedServer(
    {
      host: '127.0.0.1',
      port: 0,
      key,
      routes: {
        'GET /v1/peers': (ctx) => ctx.reply(next.peers.status, next.peers.body),
        'GET /v1/info': (ctx) => ctx.reply(next.info.status, next.info.body),
      },
    },
    lifetime.signal,
  );
  raw = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.end(rawAnswer));
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  const address = raw.address();
  assert.ok(address !== null && typeof address === 'object', 'raw server address');
  rawUrl = `http://127.0.0.1:${address.port}`;
});

after(async () => {
  lifetime.abort();
  await node.close();
  await new Promise((resolve) => raw.close(resolve));
});

const anyValue = fc.oneof(fc.jsonValue(), fc.anything());
const id = fc.oneof(fc.constant('peer-abcdefgh'), fc.string({ maxLength: 70 }));
// Listed peers are now asked for a signed /v1/info before use, so every address the generator
// makes is loopback or cannot be dialled at all (a space is never part of a host): the test
// reaches nothing beyond this machine, and asks no resolver.
const address = fc.oneof(
  fc.constantFrom('127.0.0.1', '::1', '', '[', 'a b', '127.0.0.1:80', 'x/y?z#', '%zz', '[::1]'),
  fc.string({ maxLength: 40 }).map((text) => `not a host ${text}`),
);
const record = fc.record(
  {
    id,
    name: fc.oneof(fc.constant('p'), fc.string({ maxLength: 70 })),
    address,
    port: fc.oneof(fc.integer({ min: -1, max: 70_000 }), anyValue),
    slots: fc.oneof(fc.integer({ min: -1, max: 70 }), anyValue),
    version: fc.oneof(fc.constant('0.1.0'), anyValue),
    tls: fc.oneof(fc.boolean(), anyValue),
    lastSeen: fc.oneof(fc.integer(), anyValue),
    extra: anyValue,
  },
  { requiredKeys: ['id', 'name', 'address', 'port', 'slots', 'version', 'lastSeen'] },
);
const info = fc.record(
  {
    id,
    name: fc.oneof(fc.constant('p'), fc.string({ maxLength: 70 })),
    version: fc.oneof(fc.constant('0.1.0'), anyValue),
    protocol: fc.oneof(fc.constant(PROTOCOL_VERSION), anyValue),
    slots: fc.oneof(fc.integer({ min: -1, max: 70 }), anyValue),
    freeSlots: fc.oneof(fc.integer({ min: -1, max: 70 }), anyValue),
    tls: fc.oneof(fc.boolean(), anyValue),
  },
  { requiredKeys: ['id', 'name', 'version', 'protocol', 'slots', 'freeSlots'] },
);
const errorBody = fc.record({
  error: fc.record(
    {
      code: fc.oneof(
        fc.constantFrom('AUTH_FAILED', 'PEER_BUSY', 'INTERNAL', 'TLS_FAILED', 'ABORTED'),
        fc.string(),
      ),
      message: fc.oneof(fc.string({ maxLength: 2_000 }), anyValue),
      details: anyValue,
    },
    { requiredKeys: ['code', 'message'] },
  ),
});
const status = fc.constantFrom(200, 200, 200, 202, 400, 401, 403, 409, 412, 500, 502, 503);
const answer = (body: fc.Arbitrary<unknown>): fc.Arbitrary<Answer> =>
  fc.record({ status, body: fc.oneof(body, errorBody, anyValue) });

async function setUp(trackers: string[], peers: string[]): Promise<{ candidates: number } | unknown> {
  try {
    return await discoverSwarm(
      { trackers, peers, secret: SECRET, clientName: 'fuzzer', onEvent: () => {} },
      AbortSignal.timeout(20_000),
    );
  } catch (error) {
    return error;
  }
}

const outcomes = { found: 0, none: 0, stopped: 0 };

function assertHandled(outcome: unknown): void {
  if (outcome instanceof Error) {
    outcomes.stopped += 1;
    assert.ok(isDdmError(outcome), `not a typed error: ${outcome.stack}`);
    assert.ok(stopsSwarmSetup(outcome), `${outcome.code} escaped the swarm setup: ${outcome.message}`);
    return;
  }
  const { candidates } = outcome as { candidates: number };
  assert.ok(Number.isInteger(candidates) && candidates >= 0, `candidates ${candidates}`);
  if (candidates > 0) outcomes.found += 1;
  else outcomes.none += 1;
}

const WELL_FORMED_INFO = {
  id: 'peer-abcdefgh',
  name: 'p',
  version: '0.1.0',
  protocol: PROTOCOL_VERSION,
  slots: 4,
  freeSlots: 4,
};

describe('answers from trackers and peers under random content', () => {
  test(`${SIGNED_RUNS} signed peer lists and peer infos: peers found, or a typed error that must stop`, async () => {
    const peerList = fc.record({ peers: fc.array(record, { maxLength: 5 }) });
    await fc.assert(
      fc.asyncProperty(answer(peerList), answer(info), async (peers, peerInfo) => {
        next = { peers, info: peerInfo };
        assertHandled(await setUp([node.url], [node.url]));
      }),
      {
        numRuns: SIGNED_RUNS,
        // A well-formed answer is rare among random ones (every field of the info must be valid
        // at once): this one is always tried, so "peers found" is reached whatever the seed.
        examples: [
          [
            { status: 200, body: { peers: [] } },
            { status: 200, body: WELL_FORMED_INFO },
          ],
        ],
      },
    );
    // The generator must reach every way out, not only the schema's refusals.
    assert.ok(outcomes.found > 0 && outcomes.none > 0 && outcomes.stopped > 0, JSON.stringify(outcomes));
  });

  test(`${RAW_RUNS} raw byte answers: a typed error for the tracker client, never a crash`, async () => {
    const head = fc.constantFrom(
      '',
      'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n',
      'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n',
      'HTTP/1.1 401 Unauthorized\r\ncontent-length: 60\r\n\r\n{"error":{"code":"AUTH_FAILED","message":"wrong swarm secret"}}',
    );
    await fc.assert(
      fc.asyncProperty(head, fc.uint8Array({ maxLength: 400 }), async (start, bytes) => {
        rawAnswer = Buffer.concat([Buffer.from(start), Buffer.from(bytes)]);
        const client = new TrackerClient(rawUrl, key);
        const outcome = await client.list(AbortSignal.timeout(20_000)).catch((error: unknown) => error);
        assert.ok(isDdmError(outcome), `not a typed error: ${String(outcome)}`);
        assertHandled(await setUp([rawUrl], []));
      }),
      { numRuns: RAW_RUNS },
    );
  });
});
