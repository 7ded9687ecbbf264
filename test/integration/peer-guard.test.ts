import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import { after, describe, test } from 'node:test';
import { assertAllowedUrl, isPublicAddress, publicOnlyLookup } from '../../src/peer/origin-guard.js';
import { type Peer, startPeer } from '../../src/peer/peer-server.js';
import { deriveKey } from '../../src/protocol/auth.js';
import { PeerClient } from '../../src/transport/client/peer-client.js';
import { rejectsWith } from '../helpers/assertions.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';

const key = deriveKey('peer guard test secret');
const data = randomBytes(64 * 1024);

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
});

function signal(): AbortSignal {
  return AbortSignal.timeout(10_000);
}

async function peer(allowPrivate: boolean): Promise<Peer> {
  const started = await startPeer(
    {
      host: '127.0.0.1',
      port: 0,
      key,
      id: 'peer-guard-00001',
      name: 'guard',
      slots: 2,
      accept: 'auto',
      allowPrivate,
      trackers: [],
      timeoutMs: 5_000,
    },
    AbortSignal.timeout(60_000),
  );
  cleanups.push(() => started.close());
  return started;
}

async function origin(): Promise<TestOrigin> {
  const started = await startTestOrigin({ data });
  cleanups.push(() => started.close());
  return started;
}

function lookup(host: string, all: boolean): Promise<{ address: string | LookupAddress[]; family?: number }> {
  return new Promise((resolve, reject) => {
    publicOnlyLookup(host, { all }, (error, address, family) => {
      if (error) reject(error);
      else resolve({ address, ...(family === undefined ? {} : { family }) });
    });
  });
}

describe('address classes', () => {
  const publicAddresses = [
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
  ];
  const nonPublic = [
    '127.0.0.1',
    '127.1.2.3',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '255.255.255.255',
    '224.0.0.1',
    '240.0.0.1',
    '192.0.2.1',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '::127.0.0.1',
    '64:ff9b::a00:1',
    'not-an-address',
  ];
  for (const address of publicAddresses)
    test(`${address} is public`, () => assert.equal(isPublicAddress(address), true));
  for (const address of nonPublic)
    test(`${address} is not public`, () => assert.equal(isPublicAddress(address), false));
});

describe('URL checks on every hop', () => {
  test('only http and https', () => {
    assert.throws(() => assertAllowedUrl(new URL('ftp://example.org/file'), true), {
      code: 'FORBIDDEN_DESTINATION',
    });
    assert.throws(() => assertAllowedUrl(new URL('file:///etc/passwd'), true), {
      code: 'FORBIDDEN_DESTINATION',
    });
  });

  test('private IP literals, in any spelling, unless allowed', () => {
    for (const url of [
      'http://127.0.0.1/',
      'http://[::1]:8080/',
      'http://2130706433/',
      'http://0x7f.1/',
      'http://[::ffff:192.168.0.1]/',
    ]) {
      assert.throws(() => assertAllowedUrl(new URL(url), false), { code: 'FORBIDDEN_DESTINATION' }, url);
      assertAllowedUrl(new URL(url), true);
    }
  });

  test('public literals and names pass (names are judged when dialled)', () => {
    assertAllowedUrl(new URL('https://8.8.8.8/file'), false);
    assertAllowedUrl(new URL('https://downloads.example.org/file'), false);
  });
});

describe('connect-time lookup', () => {
  test('a name resolving to a private address is refused', async () => {
    const error = await rejectsWith(lookup('localhost', true), 'FORBIDDEN_DESTINATION', /--allow-private/);
    assert.equal(error.details.host, 'localhost');
    await rejectsWith(lookup('localhost', false), 'FORBIDDEN_DESTINATION');
  });

  test('public results come back in the shape asked for', async () => {
    // A literal resolves locally, without any DNS traffic.
    assert.deepEqual(await lookup('8.8.8.8', false), { address: '8.8.8.8', family: 4 });
    assert.deepEqual(await lookup('8.8.8.8', true), { address: [{ address: '8.8.8.8', family: 4 }] });
  });
});

describe('peer guard', () => {
  test('without --allow-private a 127.0.0.1 origin is refused and sees no connection', async () => {
    const o = await origin();
    const p = await peer(false);
    const client = new PeerClient(p.url, key);
    const offer = {
      clientId: 'client-guard-001',
      clientName: 'c',
      url: o.url,
      fileName: 'file',
      size: data.length,
    };
    const error = await rejectsWith(
      client.offer(offer, signal()),
      'FORBIDDEN_DESTINATION',
      /refusing to fetch 127\.0\.0\.1/,
    );
    assert.equal(error.details.nodeStatus, 403);
    assert.equal(o.connections, 0);
  });

  test('without --allow-private a name for loopback is refused at connect time', async () => {
    const o = await origin();
    const p = await peer(false);
    const client = new PeerClient(p.url, key);
    const url = `http://localhost:${o.port}/file`;
    await client.offer(
      { clientId: 'client-guard-001', clientName: 'c', url, fileName: 'file', size: null },
      signal(),
    );
    const fetch = { clientId: 'client-guard-001', url, start: 0, end: 100, validators: {} };
    const error = await rejectsWith(
      client.fetch(fetch, signal()),
      'FORBIDDEN_DESTINATION',
      /refusing to fetch localhost/,
    );
    assert.equal(error.details.nodeStatus, 403);
    assert.equal(o.connections, 0);
  });

  test('with --allow-private the same name is fetched', async () => {
    const o = await origin();
    const p = await peer(true);
    const client = new PeerClient(p.url, key);
    const url = `http://localhost:${o.port}/file`;
    await client.offer(
      { clientId: 'client-guard-001', clientName: 'c', url, fileName: 'file', size: null },
      signal(),
    );
    const chunks: Uint8Array[] = [];
    for await (const chunk of await client.fetch(
      { clientId: 'client-guard-001', url, start: 0, end: 100, validators: {} },
      signal(),
    )) {
      chunks.push(chunk);
    }
    assert.deepEqual(Buffer.concat(chunks), data.subarray(0, 100));
  });
});
