/**
 * A tracker flooded with registrations: the flood meets the per-address cap (and, from many
 * addresses, the global one) with a clear TRACKER_FULL, while the tracker keeps listing and
 * keeps taking peers from elsewhere.
 *
 * The registry takes the full 100,000 registrations; over HTTP the count is FLOOD_HTTP_REGISTRATIONS
 * (override with DDM_TEST_FLOOD_REGISTRATIONS=100000 for the full figure: about 30 s on 2 busy cores).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Agent, Pool } from 'undici';
import { parse } from 'valibot';
import { MAX_TRACKER_PEERS, MAX_TRACKER_PEERS_PER_ADDRESS } from '../../src/constants.js';
import { DdmError } from '../../src/errors.js';
import { ANY_NODE, deriveKey, signRequest } from '../../src/protocol/auth.js';
import { API, ErrorBody, type RegisterRequest } from '../../src/protocol/messages.js';
import { PeerRegistry, sourceOf } from '../../src/tracker/peer-registry.js';
import { TrackerClient } from '../../src/tracker/tracker-client.js';
import { startTracker, type Tracker } from '../../src/tracker/tracker-server.js';

const key = deriveKey('exhaustion tracker secret');
const REGISTRY_FLOOD = 100_000;
const FLOOD_HTTP_REGISTRATIONS = Number(process.env.DDM_TEST_FLOOD_REGISTRATIONS ?? 5_000);
const FLOOD_CONNECTIONS = 16;
const FLOOD_IN_FLIGHT = 64;
const TTL_MS = 60_000;

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
});

/**
 * Peer `n` of a flood. The first ones listen on ports of their own; the rest cycle over other
 * ports, since a new id on the address and port of a listed peer replaces it (a restart).
 */
function info(n: number, overrides: Partial<RegisterRequest> = {}): RegisterRequest {
  return {
    id: `flood-${String(n).padStart(8, '0')}`,
    name: `flood ${n}`,
    port: n < 1_000 ? 1 + n : 1_000 + (n % 60_000),
    slots: 4,
    version: '0.1.0',
    ...overrides,
  };
}

function registry(now: () => number = () => 1_000_000): PeerRegistry {
  return new PeerRegistry({
    ttlMs: TTL_MS,
    maxPeers: MAX_TRACKER_PEERS,
    maxPeersPerSource: MAX_TRACKER_PEERS_PER_ADDRESS,
    now,
  });
}

function tally(results: readonly { ok: boolean; reason?: string }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const result of results) {
    const name = result.ok ? 'ok' : (result.reason ?? '?');
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

function signal(ms = 10_000): AbortSignal {
  return AbortSignal.timeout(ms);
}

async function tracker(): Promise<Tracker> {
  const started = await startTracker({ host: '127.0.0.1', port: 0, key, ttlMs: TTL_MS }, signal(120_000));
  cleanups.push(() => started.close());
  return started;
}

/** A client whose connections come from `localAddress` (any 127/8 address reaches loopback). */
function clientFrom(t: Tracker, localAddress: string): TrackerClient {
  const agent = new Agent({ localAddress });
  cleanups.push(() => agent.close());
  return new TrackerClient(t.url, key, { dispatcher: agent });
}

describe('tracker registry under a flood', () => {
  test('100,000 registrations from one address: 64 listed, every other one refused, in linear time', () => {
    const peers = registry();
    const started = performance.now();
    const results = Array.from({ length: REGISTRY_FLOOD }, (_, n) => peers.upsert(info(n), '10.0.0.66'));
    const elapsedMs = performance.now() - started;
    assert.deepEqual(tally(results), {
      ok: MAX_TRACKER_PEERS_PER_ADDRESS,
      'source-full': REGISTRY_FLOOD - MAX_TRACKER_PEERS_PER_ADDRESS,
    });
    assert.ok(elapsedMs < 5_000, `${REGISTRY_FLOOD} upserts took ${elapsedMs} ms`);
    // Everyone else still gets in, and the flooder's own peers keep refreshing.
    assert.equal(peers.upsert(info(0, { id: 'legit-peer-0001' }), '10.0.0.7').ok, true);
    assert.equal(peers.upsert(info(5), '10.0.0.66').ok, true);
    assert.equal(peers.list().length, MAX_TRACKER_PEERS_PER_ADDRESS + 1);
  });

  test('100,000 registrations from thousands of addresses meet the global cap, in linear time', () => {
    const peers = registry();
    const started = performance.now();
    const results = Array.from({ length: REGISTRY_FLOOD }, (_, n) =>
      peers.upsert(info(n), `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`),
    );
    const elapsedMs = performance.now() - started;
    assert.deepEqual(tally(results), { ok: MAX_TRACKER_PEERS, full: REGISTRY_FLOOD - MAX_TRACKER_PEERS });
    assert.ok(elapsedMs < 5_000, `${REGISTRY_FLOOD} upserts took ${elapsedMs} ms`);
    assert.equal(peers.size, MAX_TRACKER_PEERS);
    // Known peers keep refreshing when the tracker is full.
    assert.equal(peers.upsert(info(17), '10.0.0.17').ok, true);
  });

  test('expired entries make room again, for the address and for the tracker', () => {
    let now = 1_000_000;
    const peers = registry(() => now);
    for (let n = 0; n < MAX_TRACKER_PEERS_PER_ADDRESS; n += 1) peers.upsert(info(n), '10.0.0.66');
    assert.deepEqual(peers.upsert(info(999), '10.0.0.66'), {
      ok: false,
      reason: 'source-full',
      source: '10.0.0.66',
    });
    now += TTL_MS / 2;
    peers.upsert(info(3), '10.0.0.66'); // refreshed: outlives the others
    now += TTL_MS / 2 + 1;
    assert.equal(peers.upsert(info(999), '10.0.0.66').ok, true);
    assert.deepEqual(
      peers.list().map((record) => record.id),
      [info(3).id, info(999).id],
    );
    assert.equal(peers.prune(), 0);
  });

  test('an IPv6 source is its /64: one host cannot dodge the cap by changing addresses', () => {
    assert.equal(sourceOf('2001:db8:1:2:aaaa::1'), sourceOf('2001:db8:1:2:ffff::9'));
    assert.notEqual(sourceOf('2001:db8:1:2::1'), sourceOf('2001:db8:1:3::1'));
    assert.equal(sourceOf('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(sourceOf('192.0.2.1'), '192.0.2.1');
    const peers = registry();
    const results = Array.from({ length: 1_000 }, (_, n) =>
      peers.upsert(info(n), `2001:db8:1:2:${(n + 1).toString(16)}::1`),
    );
    assert.deepEqual(tally(results), {
      ok: MAX_TRACKER_PEERS_PER_ADDRESS,
      'source-full': 1_000 - MAX_TRACKER_PEERS_PER_ADDRESS,
    });
    assert.equal(peers.upsert(info(5_000), '2001:db8:1:3::1').ok, true);
  });
});

describe('tracker server under a flood', () => {
  test(`${FLOOD_HTTP_REGISTRATIONS} signed registrations over keep-alive: capped with TRACKER_FULL, still serving`, async () => {
    const t = await tracker();
    const pool = new Pool(t.url, { connections: FLOOD_CONNECTIONS, pipelining: 1 });
    cleanups.push(() => pool.close());
    const statuses: Record<number, number> = {};
    const codes: Record<string, number> = {};
    let next = 0;
    const register = async (n: number) => {
      // Ports a client would dial: the tracker refuses the ones peers refuse for origins.
      const body = JSON.stringify(info(n, { port: 30_000 + n }));
      const target = { authority: new URL(t.url).host, node: ANY_NODE };
      const headers = {
        ...signRequest(key, 'POST', API.register, body, target),
        'content-type': 'application/json',
      };
      const response = await pool.request({
        path: API.register,
        method: 'POST',
        headers,
        body,
        signal: signal(),
      });
      statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
      const answer: unknown = await response.body.json();
      if (response.statusCode !== 200) {
        const code = parse(ErrorBody, answer).error.code;
        codes[code] = (codes[code] ?? 0) + 1;
      }
    };
    const flooder = async () => {
      while (next < FLOOD_HTTP_REGISTRATIONS) await register(next++);
    };

    // Lists from another connection while the flood runs: each answered, and quickly.
    const lister = clientFrom(t, '127.0.0.1');
    let flooding = true;
    const listLatenciesMs: number[] = [];
    const listing = (async () => {
      while (flooding) {
        const started = performance.now();
        await lister.list(signal());
        listLatenciesMs.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    const started = performance.now();
    await Promise.all(Array.from({ length: FLOOD_IN_FLIGHT }, flooder));
    const elapsedMs = performance.now() - started;
    flooding = false;
    await listing;

    const refused = FLOOD_HTTP_REGISTRATIONS - MAX_TRACKER_PEERS_PER_ADDRESS;
    assert.deepEqual(statuses, { 200: MAX_TRACKER_PEERS_PER_ADDRESS, 503: refused });
    assert.deepEqual(codes, { TRACKER_FULL: refused });
    assert.ok(listLatenciesMs.length > 0, 'the tracker was listed during the flood');
    assert.ok(Math.max(...listLatenciesMs) < 2_000, `list latencies: ${listLatenciesMs.join(', ')} ms`);
    const rate = Math.round(FLOOD_HTTP_REGISTRATIONS / (elapsedMs / 1000));
    console.log(`# ${FLOOD_HTTP_REGISTRATIONS} registrations in ${Math.round(elapsedMs)} ms (${rate}/s)`);

    // The refusal a peer sees is one clear line.
    const flooderClient = clientFrom(t, '127.0.0.1');
    const refusal = await flooderClient.register(info(FLOOD_HTTP_REGISTRATIONS + 1), signal()).then(
      () => assert.fail('a registration beyond the cap was accepted'),
      (error: unknown) => error,
    );
    assert.ok(refusal instanceof DdmError);
    assert.equal(refusal.code, 'TRACKER_FULL');
    assert.match(refusal.message, /too many peers registered from 127\.0\.0\.1 \(at most 64 per address\)/);
    assert.equal(refusal.details.nodeStatus, 503);

    // A peer on another machine still registers, and everyone sees it.
    const other = clientFrom(t, '127.0.0.2');
    const answer = await other.register(
      info(0, { id: 'legit-peer-0001', name: 'legit', port: 7801 }),
      signal(),
    );
    assert.equal(answer.address, '127.0.0.2');
    const listed = await lister.list(signal());
    assert.equal(listed.length, MAX_TRACKER_PEERS_PER_ADDRESS + 1);
    assert.ok(listed.some((record) => record.id === 'legit-peer-0001' && record.address === '127.0.0.2'));
  });
});
