/**
 * The SSRF guard of a helper's own origin sockets (peer/guard-dialer.ts): every loopback spelling
 * is refused before a connection is made, deny-listed ports too, and `--allow-private` dials.
 * Only loopback is ever named, so a guard that failed would reach the canary, not the network.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { isDdmError } from '../../src/errors.js';
import { createGuardedDialer } from '../../src/peer/guard-dialer.js';
import { createPublicOnlyLookup, type Resolver } from '../../src/peer/origin-guard.js';

/** Every `.example` name resolves to loopback here. */
const loopbackDns: Resolver = async (hostname) => {
  if (hostname.endsWith('.example')) return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};

const onread = { buffer: Buffer.alloc(1024), callback: () => true };

describe('guarded origin dialer', () => {
  let connections = 0;
  const server = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  let port = 0;
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const signal = () => AbortSignal.timeout(5_000);

  test('refuses every spelling of loopback, before dialling', async () => {
    const dial = createGuardedDialer({ allowPrivate: false, lookup: createPublicOnlyLookup(loopbackDns) });
    for (const spelling of ['127.0.0.1', '2130706433', '127.1', 'localhost', 'intranet.example']) {
      const hostname = new URL(`http://${spelling}:${port}/`).hostname;
      await assert.rejects(
        dial({ hostname, port }, onread, 5_000, signal()),
        (error) => isDdmError(error, 'FORBIDDEN_DESTINATION'),
        spelling,
      );
    }
    assert.equal(connections, 0, 'nothing reached the canary');
  });

  test('refuses a deny-listed port even with --allow-private, and dials otherwise', async () => {
    const dial = createGuardedDialer({ allowPrivate: true });
    await assert.rejects(dial({ hostname: '127.0.0.1', port: 6379 }, onread, 5_000, signal()), (error) =>
      isDdmError(error, 'FORBIDDEN_DESTINATION'),
    );
    const socket = await dial({ hostname: '127.0.0.1', port }, onread, 5_000, signal());
    const reached = socket.remotePort;
    socket.destroy();
    assert.equal(reached, port);
  });
});
