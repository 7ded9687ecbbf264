/**
 * Connection limits on an https node. Connections are counted as TCP sockets, before the
 * handshake; requests arrive on the TLS layer above them. A connection that is serving a request
 * must still count as busy, so that idle ones make room first.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { connect, type TLSSocket } from 'node:tls';
import * as v from 'valibot';
import { deriveKey } from '../../src/protocol/auth.js';
import { loadNodeTrust, type NodeTrust } from '../../src/transport/client/node-trust.js';
import { signedJson } from '../../src/transport/client/signed-http.js';
import { loadServerTls } from '../../src/transport/server/server-tls.js';
import { type SignedServer, startSignedServer } from '../../src/transport/server/signed-server.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls-certs.js';

const key = deriveKey('tls limits secret');
const TEST_TIMEOUT_MS = 10_000;
const Answer = v.object({ done: v.boolean() });

let certs: TestCertificates;
let trust: NodeTrust;
const closers: (() => Promise<void>)[] = [];

function signal(): AbortSignal {
  return AbortSignal.timeout(TEST_TIMEOUT_MS);
}

before(async () => {
  certs = await makeTestCertificates();
  trust = await loadNodeTrust({ caFile: certs.file('ca.crt') }, signal());
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await trust?.close();
  await certs?.remove();
});

/** An https node of at most two connections whose `GET /slow` answers once `release` is called. */
async function startSlowNode(): Promise<{ server: SignedServer; arrived: Promise<void>; release(): void }> {
  const tls = await loadServerTls(
    { certFile: certs.file('leaf.crt'), keyFile: certs.file('leaf.key') },
    signal(),
  );
  let arrive = () => {};
  let release = () => {};
  const arrived = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const server = await startSignedServer(
    {
      host: '127.0.0.1',
      port: 0,
      key,
      maxConnections: 2,
      ...(tls ? { tls } : {}),
      routes: {
        'GET /slow': async (ctx) => {
          arrive();
          await released;
          ctx.reply(200, { done: true });
        },
      },
    },
    signal(),
  );
  closers.push(() => server.close());
  return { server, arrived, release };
}

/** A TLS connection that completes its handshake and then says nothing. */
function idleConnection(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    // Only the handshake matters here, not whom it is with.
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
    socket.on('error', () => {});
    closers.push(async () => {
      socket.destroy();
    });
  });
}

function closed(socket: TLSSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

describe('connection limits under https', () => {
  test('at the cap, an idle TLS connection makes room, not the one serving a request', async () => {
    const node = await startSlowNode();
    assert.match(node.server.url, /^https:/);
    const busy = signedJson({
      baseUrl: node.server.url,
      method: 'GET',
      path: '/slow',
      key,
      schema: Answer,
      signal: signal(),
      role: 'peer',
      dispatcher: trust.dispatcher,
    });
    await node.arrived;
    const idle = await idleConnection(node.server.address.port);
    // The third connection goes over the cap of two: one of the first two must make room.
    const newcomer = await idleConnection(node.server.address.port);
    await Promise.race([
      closed(idle),
      delay(TEST_TIMEOUT_MS / 2).then(() => assert.fail('the idle connection was not closed')),
    ]);
    node.release();
    assert.deepEqual(await busy, { done: true });
    assert.equal(newcomer.destroyed, false);
  });
});
