/**
 * The connect-time half of the SSRF guard, with an injected resolver standing in for DNS (there
 * is none here): mixed answers, rebinding, names that are numbers, and undici really calling
 * the lookup for every new connection. The only listener is a canary on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import type { LookupAddress, LookupAllOptions } from 'node:dns';
import { type AddressInfo, createServer, type LookupFunction } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Agent } from 'undici';
import { DdmError } from '../../src/errors.js';
import { createPublicOnlyLookup, publicOnlyLookup, type Resolver } from '../../src/peer/origin-guard.js';

interface Canary {
  port: number;
  readonly connections: number;
  close(): Promise<void>;
}

async function startCanary(host: string): Promise<Canary> {
  let connections = 0;
  const server = createServer((socket) => {
    connections += 1;
    socket.destroy();
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
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface FakeDns {
  resolve: Resolver;
  calls: { hostname: string; options: LookupAllOptions }[];
}

/** Answers each name from a script: one answer per call, the last one repeated. */
function fakeDns(script: Record<string, readonly (readonly string[])[]>): FakeDns {
  const calls: FakeDns['calls'] = [];
  const resolve: Resolver = async (hostname, options) => {
    calls.push({ hostname, options });
    const answers = script[hostname];
    if (answers === undefined) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
    }
    const count = calls.filter((call) => call.hostname === hostname).length;
    const answer = answers[Math.min(count, answers.length) - 1] ?? [];
    return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { resolve, calls };
}

type LookupResult = { address: string | LookupAddress[]; family?: number };

function lookupWith(lookup: LookupFunction, host: string, all: boolean, family = 0): Promise<LookupResult> {
  return new Promise((resolve, reject) => {
    lookup(host, { all, family }, (error, address, resultFamily) => {
      if (error) reject(error);
      else resolve({ address, ...(resultFamily === undefined ? {} : { family: resultFamily }) });
    });
  });
}

async function refusal(work: Promise<unknown>): Promise<DdmError> {
  const error = await work.then(
    () => assert.fail('expected a refusal'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof DdmError, String(error));
  assert.equal(error.code, 'FORBIDDEN_DESTINATION', error.message);
  return error;
}

describe('public-only lookup with an injected resolver', () => {
  test('public answers come back in the shape asked for', async () => {
    const dns = fakeDns({ 'cdn.example': [['93.184.216.34', '2606:4700::1111']] });
    const lookup = createPublicOnlyLookup(dns.resolve);
    assert.deepEqual(await lookupWith(lookup, 'cdn.example', false), { address: '93.184.216.34', family: 4 });
    assert.deepEqual(await lookupWith(lookup, 'cdn.example', true), {
      address: [
        { address: '93.184.216.34', family: 4 },
        { address: '2606:4700::1111', family: 6 },
      ],
    });
  });

  test('the resolver is always asked for every address, with the caller’s family', async () => {
    const dns = fakeDns({ 'cdn.example': [['2606:4700::1111']] });
    await lookupWith(createPublicOnlyLookup(dns.resolve), 'cdn.example', false, 6);
    assert.equal(dns.calls[0]?.options.all, true);
    assert.equal(dns.calls[0]?.options.family, 6);
  });

  test('an answer mixing public and private addresses is refused, in any order', async () => {
    for (const answer of [
      ['93.184.216.34', '127.0.0.1'],
      ['127.0.0.1', '93.184.216.34'],
      ['8.8.8.8', '1.1.1.1', '10.0.0.7'],
      ['2606:4700::1111', '::1'],
      ['93.184.216.34', 'fe80::1'],
      ['93.184.216.34', '::ffff:169.254.169.254'],
      ['2606:4700::1111', '64:ff9b::a00:1'],
    ]) {
      const dns = fakeDns({ 'mixed.example': [answer] });
      const lookup = createPublicOnlyLookup(dns.resolve);
      for (const all of [true, false]) {
        const error = await refusal(lookupWith(lookup, 'mixed.example', all));
        assert.match(error.message, /refusing to fetch mixed\.example: it resolves to a private address/);
        // What the name resolved to stays on the peer: the client learns only that it is refused.
        assert.deepEqual(error.details, { host: 'mixed.example' });
        for (const address of answer) assert.ok(!error.message.includes(address), error.message);
      }
    }
  });

  test('private-only and unparsable answers are refused', async () => {
    for (const answer of [
      ['127.0.0.1'],
      ['192.168.1.10'],
      ['169.254.169.254'],
      ['::1'],
      ['fd00::5'],
      ['bogus'],
    ]) {
      const dns = fakeDns({ 'inside.example': [answer] });
      await refusal(lookupWith(createPublicOnlyLookup(dns.resolve), 'inside.example', true));
    }
  });

  test('DNS rebinding: each lookup is judged on its own answer, nothing is cached', async () => {
    const dns = fakeDns({ 'rebind.example': [['93.184.216.34'], ['127.0.0.1'], ['93.184.216.34']] });
    const lookup = createPublicOnlyLookup(dns.resolve);
    assert.deepEqual(await lookupWith(lookup, 'rebind.example', false), {
      address: '93.184.216.34',
      family: 4,
    });
    await refusal(lookupWith(lookup, 'rebind.example', false));
    assert.deepEqual(await lookupWith(lookup, 'rebind.example', false), {
      address: '93.184.216.34',
      family: 4,
    });
    assert.equal(dns.calls.length, 3);
  });

  test('localhost and names under it are refused without asking the resolver', async () => {
    const dns = fakeDns({});
    const lookup = createPublicOnlyLookup(dns.resolve);
    for (const name of ['localhost', 'localhost.', 'LOCALHOST', 'api.localhost', 'a.b.localhost.']) {
      const error = await refusal(lookupWith(lookup, name, true));
      assert.match(error.message, /loopback by definition/);
    }
    assert.equal(dns.calls.length, 0);
  });

  test('names that are numbers in disguise are refused without asking the resolver', async () => {
    const dns = fakeDns({});
    const lookup = createPublicOnlyLookup(dns.resolve);
    for (const name of [
      '127.0.0.1.',
      '127.0.0.1...',
      '127.1.',
      '0x7f.1',
      '2130706433.',
      '10.0.0.1.',
      '::1.',
    ]) {
      await refusal(lookupWith(lookup, name, false));
    }
    assert.equal(dns.calls.length, 0);
  });

  test('a resolver failure passes through; an empty answer is a network error', async () => {
    const dns = fakeDns({ 'empty.example': [[]] });
    const lookup = createPublicOnlyLookup(dns.resolve);
    await assert.rejects(lookupWith(lookup, 'missing.example', false), { code: 'ENOTFOUND' });
    await assert.rejects(lookupWith(lookup, 'empty.example', false), { code: 'NETWORK' });
  });

  test('the system resolver: localhost is refused, a public literal passes without DNS traffic', async () => {
    await refusal(lookupWith(publicOnlyLookup, 'localhost', true));
    assert.deepEqual(await lookupWith(publicOnlyLookup, '8.8.8.8', false), { address: '8.8.8.8', family: 4 });
  });
});

describe('undici calls the lookup for every connection', () => {
  let canary: Canary;
  before(async () => {
    canary = await startCanary('127.0.0.1');
  });
  after(async () => {
    await canary.close();
  });

  async function request(lookup: LookupFunction, host: string): Promise<unknown> {
    const agent = new Agent({ connect: { lookup, timeout: 2_000 } });
    try {
      const response = await agent.request({
        origin: `http://${host}:${canary.port}`,
        path: '/',
        method: 'GET',
        signal: AbortSignal.timeout(5_000),
      });
      await response.body.dump();
      return response;
    } catch (error) {
      return error;
    } finally {
      await agent.close();
    }
  }

  test('a name answered with the canary’s address is refused on every attempt, and never dialled', async () => {
    const dns = fakeDns({
      'rebind.example': [['127.0.0.1']],
      'mixed.example': [['93.184.216.34', '127.0.0.1']],
      'mapped.example': [['::ffff:127.0.0.1']],
    });
    const lookup = createPublicOnlyLookup(dns.resolve);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      for (const host of ['rebind.example', 'mixed.example', 'mapped.example']) {
        const error = await request(lookup, host);
        assert.ok(error instanceof DdmError && error.code === 'FORBIDDEN_DESTINATION', String(error));
      }
    }
    assert.equal(dns.calls.length, 15);
    assert.equal(canary.connections, 0);
  });

  test('control: without the guard the same name does reach the canary', async () => {
    const dns = fakeDns({ 'rebind.example': [['127.0.0.1']] });
    const unguarded: LookupFunction = (hostname, options, callback) => {
      dns.resolve(hostname, { ...options, all: true }).then(
        (addresses) =>
          options.all ? callback(null, addresses) : callback(null, addresses[0]?.address ?? '', 4),
        (error: NodeJS.ErrnoException) => callback(error, '', 0),
      );
    };
    const before = canary.connections;
    await request(unguarded, 'rebind.example');
    assert.equal(canary.connections, before + 1);
  });
});
