/**
 * What undici actually dials for each spelling of a host, and the guard at the socket:
 * `createGuardedConnector` refuses before dialling, and checks the peer address of what it did
 * dial. Only loopback is ever dialled; other ranges go through a recording connector that
 * never opens a socket.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, createServer, isIP, type LookupFunction } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Agent, type buildConnector } from 'undici';
import { DdmError } from '../../src/errors.js';
import { dialRefusal } from '../../src/peer/guard-connector.js';
import { literalAddress } from '../../src/peer/guard-host.js';
import {
  assertAllowedUrl,
  createGuardedConnector,
  createPublicOnlyLookup,
  nonPublicRange,
  type Resolver,
} from '../../src/peer/origin-guard.js';

interface Canary {
  port: number;
  readonly connections: number;
  readonly bytes: number;
  close(): Promise<void>;
}

async function startCanary(host: string): Promise<Canary> {
  let connections = 0;
  let bytes = 0;
  const server = createServer((socket) => {
    connections += 1;
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    socket.on('error', () => {});
    setTimeout(() => socket.destroy(), 50);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections;
    },
    get bytes() {
      return bytes;
    },
    // Sockets close themselves after 50 ms, so close() never waits long.
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Every name in these tests resolves to loopback: nothing can leave the machine. */
const loopbackDns: Resolver = async (hostname) => {
  if (hostname.endsWith('.example')) return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};

async function send(agent: Agent, url: string): Promise<unknown> {
  const parsed = new URL(url);
  try {
    const response = await agent.request({
      origin: parsed.origin,
      path: parsed.pathname,
      method: 'GET',
      signal: AbortSignal.timeout(5_000),
    });
    await response.body.dump();
    return response.statusCode;
  } catch (error) {
    return error;
  }
}

function assertForbidden(outcome: unknown, what: string): DdmError {
  assert.ok(outcome instanceof DdmError, `${what}: ${String(outcome)}`);
  assert.equal(outcome.code, 'FORBIDDEN_DESTINATION', `${what}: ${outcome.message}`);
  return outcome;
}

/** Spellings whose host is (or names) a non-public address; none of them is ever dialled here. */
const SPELLINGS = [
  'http://2130706433/',
  'http://0x7f.1/',
  'http://0177.0.0.1/',
  'http://127.1/',
  'http://127.0.0.1./',
  'http://%31%32%37.0.0.1/',
  'http://１２７.０.０.１/',
  'http://0/',
  'http://10.1/',
  'http://0xa9fea9fe/',
  'https://192.168.0.1/',
  'http://[::1]/',
  'http://[0:0:0:0:0:0:0:1]/',
  'http://[::]/',
  'http://[::ffff:127.0.0.1]/',
  'http://[::ffff:a9fe:a9fe]/',
  'http://[::127.0.0.1]/',
  'http://[64:ff9b::10.0.0.1]/',
  'http://[64:ff9b:1::a00:1]/',
  'http://[2002:c0a8:101::]/',
  'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/',
  'https://[fe80::1]/',
  'http://[fd00::1]:8080/',
  'http://[ff02::1]/',
  'http://localhost/',
  'http://localhost./',
  'http://ｌｏｃａｌｈｏｓｔ/',
  'http://api.localhost/',
  'http://127.0.0.1../',
  'http://intranet.example/',
];

describe('what undici dials for each spelling', () => {
  test('the host undici hands to the socket is the one the guard judged, and it is refused', async () => {
    const dialled: buildConnector.Options[] = [];
    const recorder: buildConnector.connector = (target, callback) => {
      dialled.push(target);
      callback(new Error('recorded, not dialled'), null);
    };
    const agent = new Agent({ connect: recorder });
    const lookup = createPublicOnlyLookup(loopbackDns);
    try {
      for (const spelling of SPELLINGS) {
        const url = new URL(spelling);
        dialled.length = 0;
        await send(agent, spelling);
        const target = dialled[0];
        assert.ok(target, `${spelling} reached no connector`);
        const literal = literalAddress(url.hostname);
        if (isIP(target.hostname) !== 0) {
          // A literal: net.connect dials it as is, so the URL check must have judged this very address.
          assert.equal(literal, target.hostname, spelling);
          assert.ok(nonPublicRange(target.hostname), spelling);
          assert.throws(() => assertAllowedUrl(url, false), { code: 'FORBIDDEN_DESTINATION' }, spelling);
        } else {
          // A name: net.connect will call the lookup with exactly this string, and it must refuse.
          assert.equal(literal, undefined, spelling);
          assert.equal(target.hostname, url.hostname, spelling);
          const refused = await new Promise<unknown>((resolve) =>
            lookup(target.hostname, { all: true }, (error) => resolve(error)),
          );
          assertForbidden(refused, spelling);
        }
      }
    } finally {
      await agent.close();
    }
  });

  test('dialRefusal refuses every literal spelling before any socket exists', () => {
    for (const spelling of SPELLINGS) {
      const url = new URL(spelling);
      const hostname = literalAddress(url.hostname);
      if (hostname === undefined) continue;
      const target = { hostname, protocol: url.protocol, port: url.port };
      assertForbidden(dialRefusal(target, false), spelling);
      assert.equal(dialRefusal(target, true), undefined, spelling);
    }
    const publicTarget = { hostname: '93.184.216.34', protocol: 'https:', port: '' };
    assert.equal(dialRefusal(publicTarget, false), undefined);
    assertForbidden(dialRefusal({ ...publicTarget, port: '25' }, true), 'port 25');
    assertForbidden(
      dialRefusal({ hostname: 'mirror.example', protocol: 'http:', port: '6379' }, false),
      '6379',
    );
  });
});

describe('guarded connector', () => {
  let v4: Canary;
  let v6: Canary | undefined;
  before(async () => {
    v4 = await startCanary('127.0.0.1');
    v6 = await startCanary('::1').catch(() => undefined);
  });
  after(async () => {
    await Promise.all([v4.close(), v6?.close()]);
  });

  function guardedAgent(allowPrivate: boolean, lookup?: LookupFunction): Agent {
    return new Agent({
      connect: createGuardedConnector({
        timeoutMs: 2_000,
        allowPrivate,
        lookup: lookup ?? createPublicOnlyLookup(loopbackDns),
      }),
    });
  }

  function canaryUrls(): string[] {
    const p4 = v4.port;
    const urls = [
      `http://127.0.0.1:${p4}/`,
      `http://2130706433:${p4}/`,
      `http://0x7f.1:${p4}/`,
      `http://0177.0.0.1:${p4}/`,
      `https://127.0.0.1:${p4}/`,
      `http://[::ffff:127.0.0.1]:${p4}/`,
      `http://localhost:${p4}/`,
      `http://a.localhost:${p4}/`,
      `http://canary.example:${p4}/`,
      `https://canary.example:${p4}/`,
    ];
    if (v6) urls.push(`http://[::1]:${v6.port}/`, `http://[0::1]:${v6.port}/`, `https://[::1]:${v6.port}/`);
    return urls;
  }

  test('refuses every loopback spelling with no connection at all', async () => {
    const agent = guardedAgent(false);
    try {
      for (const url of canaryUrls()) assertForbidden(await send(agent, url), url);
    } finally {
      await agent.close();
    }
    assert.equal(v4.connections, 0);
    assert.equal(v6?.connections ?? 0, 0);
  });

  test('checks the address it connected to, should a lookup ever lie', async () => {
    // A lookup that skips every check, standing in for a future bug.
    const lying: LookupFunction = (_hostname, options, callback) => {
      if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
      else callback(null, '127.0.0.1', 4);
    };
    const agent = guardedAgent(false, lying);
    const connectionsBefore = v4.connections;
    try {
      const error = assertForbidden(await send(agent, `http://mirror.example:${v4.port}/`), 'lying lookup');
      assert.match(error.message, /mirror\.example: it resolves to a private address/);
    } finally {
      await agent.close();
    }
    // The socket was opened, then closed before a single byte of request went out.
    assert.equal(v4.connections, connectionsBefore + 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(v4.bytes, 0);
  });

  test('with allowPrivate it dials loopback, but still never a deny-listed port', async () => {
    const agent = guardedAgent(true);
    const connectionsBefore = v4.connections;
    try {
      await send(agent, `http://127.0.0.1:${v4.port}/`);
      assert.equal(v4.connections, connectionsBefore + 1);
      for (const port of [22, 25, 6379, 11211]) {
        assertForbidden(await send(agent, `http://127.0.0.1:${port}/`), `port ${port}`);
      }
    } finally {
      await agent.close();
    }
  });
});
