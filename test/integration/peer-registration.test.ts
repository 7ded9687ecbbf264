import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pino from 'pino';
import type { DdmError } from '../../src/errors.js';
import { startPeer } from '../../src/peer/peer-server.js';
import { deriveKey } from '../../src/protocol/auth.js';
import { startRegistration } from '../../src/tracker/registration.js';
import { TrackerClient } from '../../src/tracker/tracker-client.js';
import { startTracker, type Tracker } from '../../src/tracker/tracker-server.js';
import { eventually } from '../helpers/wait.js';

const key = deriveKey('peer registration test secret');
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
});

function signal(): AbortSignal {
  return AbortSignal.timeout(10_000);
}

async function tracker(secret = key): Promise<Tracker> {
  const started = await startTracker(
    { host: '127.0.0.1', port: 0, key: secret },
    AbortSignal.timeout(60_000),
  );
  cleanups.push(() => started.close());
  return started;
}

test('a peer lists itself on every tracker at its bound port, and leaves on close', async () => {
  const trackers = [await tracker(), await tracker()];
  const errors: DdmError[] = [];
  const peer = await startPeer(
    {
      host: '127.0.0.1',
      port: 0,
      key,
      id: 'peer-listed-0001',
      name: 'listed',
      slots: 3,
      accept: 'auto',
      allowPrivate: false,
      trackers: trackers.map((t) => t.url),
      heartbeatMs: 100,
      onTrackerError: (_tracker, error) => errors.push(error),
    },
    AbortSignal.timeout(60_000),
  );
  const port = peer.address.port;
  for (const t of trackers) {
    const client = new TrackerClient(t.url, key);
    await eventually(async () => (await client.list(signal())).length === 1);
    const [record] = await client.list(signal());
    assert.deepEqual(
      {
        id: record?.id,
        name: record?.name,
        address: record?.address,
        port: record?.port,
        slots: record?.slots,
      },
      { id: 'peer-listed-0001', name: 'listed', address: '127.0.0.1', port, slots: 3 },
    );
  }
  await peer.close();
  for (const t of trackers) assert.deepEqual(await new TrackerClient(t.url, key).list(signal()), []);
  assert.deepEqual(errors, []);
});

test('a tracker with another secret is reported, and the peer still serves', async () => {
  const foreign = await tracker(deriveKey('someone else'));
  const errors: DdmError[] = [];
  const controller = new AbortController();
  const peer = await startPeer(
    {
      host: '127.0.0.1',
      port: 0,
      key,
      id: 'peer-listed-0002',
      name: 'listed',
      slots: 1,
      accept: 'auto',
      allowPrivate: false,
      trackers: [foreign.url],
      heartbeatMs: 50,
      onTrackerError: (_tracker, error) => errors.push(error),
    },
    controller.signal,
  );
  cleanups.push(() => peer.close());
  await eventually(async () => errors.length >= 2);
  assert.equal(errors[0]?.code, 'AUTH_FAILED');
  // Aborting the signal given at start stops the peer too.
  controller.abort();
  await peer.close();
});

test('a tracker that refuses the secret is said so once, plainly, and asked less and less often', async () => {
  const foreign = await tracker(deriveKey('someone else'));
  const lines: { level: number; msg: string }[] = [];
  const log = pino(
    { level: 'debug', base: undefined },
    { write: (line: string) => lines.push(JSON.parse(line)) },
  );
  const refusals: number[] = [];
  const intervalMs = 50;
  const registration = startRegistration(
    {
      trackers: [foreign.url],
      key,
      info: { id: 'peer-refused-0001', name: 'refused', port: 9, slots: 1, version: '0.1.0' },
      intervalMs,
      log,
      onError: (_tracker, error) => {
        assert.equal(error.code, 'AUTH_FAILED');
        refusals.push(Date.now());
      },
    },
    signal(),
  );
  try {
    await eventually(() => refusals.length >= 3, 20_000, 'three refusals');
    // Every 50 ms, three tries take 100 ms; backing off (100, 200 ms...) they take 300 ms or more.
    const gaps = refusals.slice(1).map((at, i) => at - refusals[i]!);
    assert.ok(gaps[0]! >= 2 * intervalMs - 10, `first wait ${gaps[0]} ms`);
    assert.ok(gaps[1]! >= 4 * intervalMs - 10, `second wait ${gaps[1]} ms`);
    const errors = lines.filter((line) => line.level >= 50);
    assert.equal(errors.length, 1, JSON.stringify(lines));
    assert.match(errors[0]!.msg, new RegExp(`^tracker ${foreign.url} refuses this peer's secret`));
  } finally {
    await registration.stop();
  }
});

test('a peer keeps the pace its tracker asks for from the first answer on, so it never drops off the list', async () => {
  const heartbeatMs = 200;
  const started = await startTracker(
    { host: '127.0.0.1', port: 0, key, heartbeatMs },
    AbortSignal.timeout(60_000),
  );
  cleanups.push(() => started.close());
  const beats: number[] = [];
  const controller = new AbortController();
  const registration = startRegistration(
    {
      trackers: [started.url],
      key,
      info: { id: 'peer-paced-0001', name: 'paced', port: 7801, slots: 1, version: '0.1.0' },
      onBeat: () => beats.push(Date.now()),
    },
    controller.signal,
  );
  try {
    // Without a fixed interval the peer starts at the default 10 s; the tracker's first answer
    // asks for 200 ms, and the very next beat must already follow it (the tracker forgets a peer
    // after three missed beats plus 2 s, far sooner than 10 s).
    await eventually(() => beats.length >= 4, 5_000, 'four beats at the pace the tracker asked');
    assert.ok(
      beats[3]! - beats[0]! < 3_000,
      `beats came ${beats.map((t) => t - beats[0]!).join(', ')} ms in`,
    );
  } finally {
    controller.abort();
    await registration.stop();
  }
});
