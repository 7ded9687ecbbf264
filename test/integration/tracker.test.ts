import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { ANY_NODE, AUTH_HEADERS, deriveKey, signRequest } from '../../src/protocol/auth.js';
import { API, type RegisterRequest, RegisterResponse } from '../../src/protocol/messages.js';
import { startRegistration } from '../../src/tracker/registration.js';
import { TrackerClient } from '../../src/tracker/tracker-client.js';
import { startTracker, type Tracker } from '../../src/tracker/tracker-server.js';
import { signedJson } from '../../src/transport/client/signed-http.js';
import { rejectsWith } from '../helpers/assertions.js';
import { eventually } from '../helpers/wait.js';

const key = deriveKey('tracker test secret');
const wrongKey = deriveKey('not the secret');
const TEST_TIMEOUT_MS = 10_000;

function peerInfo(overrides: Partial<RegisterRequest> = {}): RegisterRequest {
  return { id: 'peer-alpha-0001', name: 'alpha', port: 7801, slots: 4, version: '0.1.0', ...overrides };
}

const trackers: Tracker[] = [];
const agents: Agent[] = [];
after(async () => {
  await Promise.all(trackers.map((tracker) => tracker.close()));
  await Promise.all(agents.map((agent) => agent.close()));
});

async function tracker(
  opts: { now?: () => number; port?: number; maxPeers?: number } = {},
): Promise<Tracker> {
  const started = await startTracker(
    { host: '127.0.0.1', port: opts.port ?? 0, key, ...opts },
    AbortSignal.timeout(60_000),
  );
  trackers.push(started);
  return started;
}

function signal(): AbortSignal {
  return AbortSignal.timeout(TEST_TIMEOUT_MS);
}

/** Polls until `check` passes, for at most `ms`; a check that throws (server restarting) counts as not yet. */

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('tracker', () => {
  test('register, list, heartbeat and expiry (injected clock)', async () => {
    let now = 1_000_000;
    const t = await tracker({ now: () => now });
    const client = new TrackerClient(t.url, key);
    const answer = await client.register(peerInfo(), signal());
    assert.equal(answer.address, '127.0.0.1');
    assert.ok(answer.ttlMs > answer.heartbeatMs);

    assert.deepEqual(await client.list(signal()), [{ ...peerInfo(), address: '127.0.0.1', lastSeen: now }]);

    now += answer.ttlMs - 1;
    await client.heartbeat(peerInfo({ slots: 8 }), signal());
    const [record] = await client.list(signal());
    assert.equal(record?.lastSeen, now);
    assert.equal(record?.slots, 8);

    now += answer.ttlMs;
    assert.equal((await client.list(signal())).length, 1, 'exactly at the TTL the peer is still live');
    now += 1;
    assert.deepEqual(await client.list(signal()), []);
  });

  test('deregister removes the peer; an unknown id is not an error', async () => {
    const t = await tracker();
    const client = new TrackerClient(t.url, key);
    await client.register(peerInfo(), signal());
    assert.deepEqual(await client.deregister(peerInfo().id, signal()), { removed: true });
    assert.deepEqual(await client.list(signal()), []);
    assert.deepEqual(await client.deregister(peerInfo().id, signal()), { removed: false });
  });

  test('a peer restarted under a new id on the same address and port replaces its old entry', async () => {
    const t = await tracker();
    const client = new TrackerClient(t.url, key);
    await client.register(peerInfo(), signal());
    await client.register(peerInfo({ id: 'peer-alpha-0002' }), signal());
    await client.register(peerInfo({ id: 'peer-beta-0001', port: 7802 }), signal());
    const ids = (await client.list(signal())).map((record) => record.id).sort();
    assert.deepEqual(ids, ['peer-alpha-0002', 'peer-beta-0001']);
  });

  test('records the address seen on the connection; a claimed address is refused', async () => {
    const t = await tracker();
    const error = await rejectsWith(
      signedJson({
        baseUrl: t.url,
        method: 'POST',
        path: API.register,
        body: { ...peerInfo(), address: '10.9.8.7' },
        key,
        schema: RegisterResponse,
        signal: signal(),
      }),
      'PROTOCOL',
      /address/,
    );
    assert.equal(error.details.nodeStatus, 400);
    const client = new TrackerClient(t.url, key);
    assert.deepEqual(await client.list(signal()), []);
    await client.register(peerInfo(), signal());
    assert.equal((await client.list(signal()))[0]?.address, '127.0.0.1');
  });

  test('an id held from another address cannot be taken over or deregistered', async () => {
    const t = await tracker();
    const owner = new TrackerClient(t.url, key);
    await owner.register(peerInfo(), signal());

    // Linux routes all of 127.0.0.0/8 to loopback, so 127.0.0.2 is "another machine" here.
    const elsewhere = new Agent({ localAddress: '127.0.0.2' });
    agents.push(elsewhere);
    const intruder = new TrackerClient(t.url, key, { dispatcher: elsewhere });
    await rejectsWith(intruder.register(peerInfo({ port: 9999 }), signal()), 'PEER_ID_TAKEN');
    await rejectsWith(intruder.heartbeat(peerInfo({ port: 9999 }), signal()), 'PEER_ID_TAKEN');
    await rejectsWith(intruder.deregister(peerInfo().id, signal()), 'PEER_ID_TAKEN');

    const records = await owner.list(signal());
    assert.deepEqual(
      records.map((record) => [record.id, record.address, record.port]),
      [[peerInfo().id, '127.0.0.1', 7801]],
    );
    // The other machine registers fine under its own id, at its own address.
    const own = await intruder.register(peerInfo({ id: 'peer-gamma-0001' }), signal());
    assert.equal(own.address, '127.0.0.2');
  });

  test('a wrong secret is refused with AUTH_FAILED and changes nothing', async () => {
    const t = await tracker();
    const stranger = new TrackerClient(t.url, wrongKey);
    await rejectsWith(stranger.register(peerInfo(), signal()), 'AUTH_FAILED', /wrong swarm secret/);
    await rejectsWith(stranger.list(signal()), 'AUTH_FAILED');

    const member = new TrackerClient(t.url, key);
    assert.deepEqual(await member.list(signal()), []);
    await member.register(peerInfo(), signal());
    await rejectsWith(stranger.deregister(peerInfo().id, signal()), 'AUTH_FAILED');
    assert.equal((await member.list(signal())).length, 1);
  });

  test('every endpoint needs a signature; refusals are unsigned JSON without the secret', async () => {
    const t = await tracker();
    for (const [method, path] of [
      ['GET', API.peers],
      ['POST', API.register],
      ['POST', API.heartbeat],
      ['POST', API.deregister],
    ] as const) {
      const response = await request(`${t.url}${path}`, {
        method,
        ...(method === 'POST' ? { body: JSON.stringify(peerInfo()) } : {}),
        signal: signal(),
      });
      const body = (await response.body.json()) as { error: { code: string; message: string } };
      assert.equal(response.statusCode, 401, path);
      assert.equal(body.error.code, 'AUTH_FAILED');
      assert.match(body.error.message, /not signed/);
      assert.equal(response.headers[AUTH_HEADERS.signature], undefined);
    }
  });

  test('a captured request cannot be replayed', async () => {
    const t = await tracker();
    const payload = JSON.stringify(peerInfo());
    const headers = {
      ...signRequest(key, 'POST', API.register, payload, { authority: new URL(t.url).host, node: ANY_NODE }),
      'content-type': 'application/json',
    };
    const first = await request(`${t.url}${API.register}`, {
      method: 'POST',
      headers,
      body: payload,
      signal: signal(),
    });
    assert.equal(first.statusCode, 200);
    await first.body.dump();
    await new TrackerClient(t.url, key).deregister(peerInfo().id, signal());

    const replay = await request(`${t.url}${API.register}`, {
      method: 'POST',
      headers,
      body: payload,
      signal: signal(),
    });
    const body = (await replay.body.json()) as { error: { code: string; message: string } };
    assert.equal(replay.statusCode, 401);
    assert.deepEqual(body.error, { code: 'AUTH_FAILED', message: 'request was replayed' });
    assert.deepEqual(await new TrackerClient(t.url, key).list(signal()), []);
  });

  test('malformed JSON, oversize bodies and unknown endpoints get clear errors', async () => {
    const t = await tracker();
    const send = async (path: string, payload: string) => {
      const target = { authority: new URL(t.url).host, node: ANY_NODE };
      const headers = {
        ...signRequest(key, 'POST', path, payload, target),
        'content-type': 'application/json',
      };
      const response = await request(`${t.url}${path}`, {
        method: 'POST',
        headers,
        body: payload,
        signal: signal(),
      });
      return {
        status: response.statusCode,
        body: (await response.body.json()) as { error: { code: string } },
      };
    };
    const malformed = await send(API.register, '{"id":');
    assert.equal(malformed.status, 400);
    assert.deepEqual(malformed.body.error, {
      code: 'PROTOCOL',
      message: 'request body is not valid JSON',
      details: { retryable: false },
    });
    const huge = JSON.stringify({ ...peerInfo(), name: 'x'.repeat(100_000) });
    const tooLarge = await send(API.register, huge);
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.body.error.code, 'PROTOCOL');
    const unknown = await send('/v1/nothing', '{}');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'PROTOCOL');
    await rejectsWith(
      signedJson({
        baseUrl: t.url,
        method: 'GET',
        path: API.register,
        key,
        schema: RegisterResponse,
        signal: signal(),
      }),
      'PROTOCOL',
      /not allowed/,
    );
  });

  test('a full tracker refuses new peers but keeps refreshing known ones', async () => {
    const t = await tracker({ maxPeers: 2 });
    const client = new TrackerClient(t.url, key);
    await client.register(peerInfo({ id: 'peer-0000001', port: 7811 }), signal());
    await client.register(peerInfo({ id: 'peer-0000002', port: 7812 }), signal());
    const error = await rejectsWith(
      client.register(peerInfo({ id: 'peer-0000003', port: 7813 }), signal()),
      'TRACKER_FULL',
    );
    assert.equal(error.details.nodeStatus, 503);
    assert.equal(error.retryable, true);
    await client.heartbeat(peerInfo({ id: 'peer-0000002', port: 7812 }), signal());
  });

  test('a client refuses an answer from a tracker with another secret', async () => {
    const t = await startTracker({ host: '127.0.0.1', port: 0, key: wrongKey }, signal());
    trackers.push(t);
    // The impostor cannot check our signature, so it cannot sign its answer either.
    await rejectsWith(new TrackerClient(t.url, key).list(signal()), 'AUTH_FAILED');
  });

  test('an unreachable tracker is a retryable NETWORK error', async () => {
    const port = await unusedPort();
    const error = await rejectsWith(
      new TrackerClient(`http://127.0.0.1:${port}`, key).list(signal()),
      'NETWORK',
    );
    assert.equal(error.retryable, true);
  });
});

describe('registration', () => {
  test('heartbeats fill a restarted tracker on the same port within one interval', async () => {
    const first = await tracker();
    const port = first.address.port;
    const errors: string[] = [];
    const registration = startRegistration(
      {
        trackers: [first.url],
        key,
        info: peerInfo(),
        intervalMs: 100,
        onError: (_tracker, error) => errors.push(error.code),
      },
      signal(),
    );
    try {
      const client = new TrackerClient(first.url, key);
      await eventually(async () => (await client.list(signal())).length === 1);
      await first.close();
      const second = await tracker({ port });
      const restartedAt = Date.now();
      await eventually(async () => (await new TrackerClient(second.url, key).list(signal())).length === 1);
      assert.ok(Date.now() - restartedAt < 1_000, 'refilled within a few heartbeats');
    } finally {
      await registration.stop();
    }
  });

  test('keeps beating when a tracker is down, and deregisters from all on stop', async () => {
    const up = await tracker();
    const down = `http://127.0.0.1:${await unusedPort()}`;
    const failures = new Map<string, number>();
    const registration = startRegistration(
      {
        trackers: [down, up.url],
        key,
        info: peerInfo(),
        intervalMs: 50,
        onError: (where, error) => {
          assert.equal(error.code, 'NETWORK');
          failures.set(where, (failures.get(where) ?? 0) + 1);
        },
      },
      signal(),
    );
    const client = new TrackerClient(up.url, key);
    await eventually(
      async () => (failures.get(down) ?? 0) >= 2 && (await client.list(signal())).length === 1,
    );
    const stoppedAt = Date.now();
    await registration.stop();
    assert.ok(Date.now() - stoppedAt < 3_000, 'stop is bounded');
    assert.deepEqual(await client.list(signal()), []);
    assert.deepEqual([...failures.keys()], [down]);
  });
});
