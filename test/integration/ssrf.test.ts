/**
 * The SSRF guard through the real peer path: a peer started in-process without
 * --allow-private is asked, with signed offers and fetches, to reach canary listeners on
 * 127.0.0.1 and ::1 through every spelling we know. Each must be refused with
 * FORBIDDEN_DESTINATION (403) and the canaries must see no connection at all. A peer with
 * --allow-private then shows that the same spellings do reach the canaries, so the zero is
 * the guard's doing and not a dead canary.
 *
 * Every spelling names loopback (or this host): if the guard failed, nothing would leave
 * the machine.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { DdmError } from '../../src/errors.js';
import { type Peer, startPeer } from '../../src/peer/peer-server.js';
import { deriveKey } from '../../src/protocol/auth.js';
import { PeerClient } from '../../src/transport/client/peer-client.js';

const key = deriveKey('ssrf test secret');
const CLIENT_ID = 'client-ssrf-0001';

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

/**
 * `offer`: the URL check refuses the offer itself. `connect`: the offer names a host that is
 * a name, so it is accepted, and the public-only lookup refuses when the fetch dials it.
 * `reaches`: which canary an --allow-private peer does connect to with this URL.
 */
interface Case {
  url: string;
  stage: 'offer' | 'connect';
  reaches?: 'v4' | 'v6';
}

const SLASH_EXAMPLE = '\\@example.org/';

function ipv4Cases(p: number): Case[] {
  const reaching = [
    `http://127.0.0.1:${p}/file`,
    `http://127.1:${p}/file`,
    `http://127.0.1:${p}/file`,
    `http://2130706433:${p}/file`,
    `http://0x7f000001:${p}/file`,
    `http://0X7F000001:${p}/file`,
    `http://0x7f.0.0.1:${p}/file`,
    `http://0x7f.0x0.0x0.0x1:${p}/file`,
    `http://0x7f.1:${p}/file`,
    `http://0177.0.0.1:${p}/file`,
    `http://017700000001:${p}/file`,
    `http://0177.1:${p}/file`,
    `http://0177.0x0.0.01:${p}/file`,
    `http://127.0x0.1:${p}/file`,
    `http://127.000.000.001:${p}/file`,
    `http://00000177.0.0.1:${p}/file`,
    `http://0x00007f.1:${p}/file`,
    `http://127.0.0.1.:${p}/file`,
    `http://127.1.:${p}/file`,
    `http://%31%32%37.0.0.1:${p}/file`,
    `http://%31%32%37%2e%30%2e%30%2e%31:${p}/file`,
    `http://１２７.０.０.１:${p}/file`,
    `http://127。0。0。1:${p}/file`,
    `http://①②⑦.0.0.1:${p}/file`,
    `http://127.0.\n0.1:${p}/file`,
    `HTTP://127.0.0.1:${p}/file`,
    `https://127.0.0.1:${p}/file`,
    `HtTpS://2130706433:${p}/file`,
    `http://127.0.0.1:${p}#@example.org/`,
    `http://127.0.0.1:${p}?@example.org/`,
    `http://127.0.0.1:${p}${SLASH_EXAMPLE}`,
    `http://[::ffff:127.0.0.1]:${p}/file`,
    `http://[::ffff:7f00:1]:${p}/file`,
    `http://[::FFFF:127.0.0.1]:${p}/file`,
    `http://[0:0:0:0:0:ffff:127.0.0.1]:${p}/file`,
    `http://[0000:0000:0000:0000:0000:ffff:7f00:0001]:${p}/file`,
  ];
  const elsewhere = [
    `http://127.0.0.2:${p}/file`,
    `http://127.255.255.254:${p}/file`,
    `http://0.0.0.0:${p}/file`,
    `http://0:${p}/file`,
    `http://0x0:${p}/file`,
    `http://[::ffff:0.0.0.0]:${p}/file`,
    `http://127.0.0.1...:${p}/file`,
  ];
  return [
    ...reaching.map((url): Case => ({ url, stage: 'offer', reaches: 'v4' })),
    ...elsewhere.map((url): Case => ({ url, stage: 'offer' })),
  ];
}

function ipv6Cases(p: number): Case[] {
  const reaching = [
    `http://[::1]:${p}/file`,
    `http://[0:0:0:0:0:0:0:1]:${p}/file`,
    `http://[0000:0000:0000:0000:0000:0000:0000:0001]:${p}/file`,
    `http://[::0:1]:${p}/file`,
    `http://[0::1]:${p}/file`,
    `https://[::1]:${p}/file`,
  ];
  const elsewhere = [`http://[::]:${p}/file`, `http://[0:0::0]:${p}/file`];
  return [
    ...reaching.map((url): Case => ({ url, stage: 'offer', reaches: 'v6' })),
    ...elsewhere.map((url): Case => ({ url, stage: 'offer' })),
  ];
}

function nameCases(p: number): Case[] {
  const reaching = [
    `http://localhost:${p}/file`,
    `http://LOCALHOST:${p}/file`,
    `http://%6c%6f%63%61%6c%68%6f%73%74:${p}/file`,
    `http://ｌｏｃａｌｈｏｓｔ:${p}/file`,
    `https://localhost:${p}/file`,
  ];
  // Whether a resolver answers these varies (glibc has no `localhost.` in /etc/hosts terms, and
  // names under localhost need systemd-resolved); they are refused before any resolver is asked.
  const unresolvable = [
    `http://localhost.:${p}/file`,
    `http://LocalHost.:${p}/file`,
    `http://foo.localhost:${p}/file`,
    `http://a.b.LOCALHOST.:${p}/file`,
  ];
  return [
    ...reaching.map((url): Case => ({ url, stage: 'connect', reaches: 'v4' })),
    ...unresolvable.map((url): Case => ({ url, stage: 'connect' })),
  ];
}

/** Refused before anything else is looked at, whoever the host is. */
function credentialAndPortCases(p4: number, p6: number): Case[] {
  return [
    `http://user:pass@127.0.0.1:${p4}/file`,
    `http://example.org@127.0.0.1:${p4}/file`,
    `http://user@localhost:${p4}/file`,
    `http://u:p@[::1]:${p6}/file`,
    'http://localhost:22/',
    'http://localhost:25/',
    'http://127.0.0.1:6379/',
    'https://127.0.0.1:993/',
    'http://[::1]:11211/',
    'http://localhost:0/',
  ].map((url): Case => ({ url, stage: 'offer' }));
}

/** Names that /etc/hosts maps to loopback, beyond localhost: real resolution by the system resolver. */
async function hostsFileCases(p4: number, p6: number): Promise<Case[]> {
  const text = await readFile('/etc/hosts', 'utf8').catch(() => '');
  const cases = new Map<string, Case>();
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    const family = address === '::1' ? 'v6' : address?.startsWith('127.') ? 'v4' : undefined;
    if (family === undefined) continue;
    for (const name of names) {
      if (name === '' || /(^|\.)localhost\.?$/i.test(name) || !/^[a-z0-9.-]+$/i.test(name)) continue;
      if (cases.has(name)) continue;
      const exact = address === '127.0.0.1' || address === '::1';
      const port = family === 'v6' ? p6 : p4;
      cases.set(name, {
        url: `http://${name}:${port}/file`,
        stage: 'connect',
        ...(exact ? { reaches: family } : {}),
      });
    }
  }
  return [...cases.values()];
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
});

async function peer(allowPrivate: boolean): Promise<Peer> {
  const started = await startPeer(
    {
      host: '127.0.0.1',
      port: 0,
      key,
      id: allowPrivate ? 'peer-ssrf-open-01' : 'peer-ssrf-closed1',
      name: allowPrivate ? 'open' : 'closed',
      slots: 4,
      accept: 'auto',
      allowPrivate,
      trackers: [],
      timeoutMs: 3_000,
    },
    AbortSignal.timeout(60_000),
  );
  cleanups.push(() => started.close());
  return started;
}

function offerFor(url: string) {
  return { clientId: CLIENT_ID, clientName: 'ssrf-tester', url, fileName: 'file', size: 1_000 };
}

function fetchFor(url: string) {
  return { clientId: CLIENT_ID, url, start: 0, end: 100, validators: {} };
}

async function outcome(work: Promise<unknown>): Promise<DdmError | 'ok'> {
  try {
    const result = await work;
    if (result && typeof result === 'object' && Symbol.asyncIterator in result) {
      for await (const _ of result as AsyncIterable<Uint8Array>) {
        // drained
      }
    }
    return 'ok';
  } catch (error) {
    if (error instanceof DdmError) return error;
    throw error;
  }
}

function assertForbidden(result: DdmError | 'ok', what: string): void {
  assert.ok(result instanceof DdmError, `${what}: was not refused`);
  assert.equal(result.code, 'FORBIDDEN_DESTINATION', `${what}: ${result.message}`);
  assert.equal(result.details.nodeStatus, 403, what);
}

describe('SSRF through a real peer without --allow-private', () => {
  let v4: Canary;
  let v6: Canary | undefined;
  let cases: Case[];

  before(async () => {
    v4 = await startCanary('127.0.0.1');
    cleanups.push(() => v4.close());
    // ::1 may be missing where IPv6 is off; the IPv4 canary still proves the point then.
    v6 = await startCanary('::1').catch(() => undefined);
    if (v6) cleanups.push(() => v6?.close() ?? Promise.resolve());
    const p6 = v6?.port ?? v4.port;
    cases = [
      ...ipv4Cases(v4.port),
      ...(v6 ? ipv6Cases(v6.port) : []),
      ...nameCases(v4.port),
      ...credentialAndPortCases(v4.port, p6),
      ...(await hostsFileCases(v4.port, p6)),
    ];
  });

  test('at least 60 spellings, each refused with 403 FORBIDDEN_DESTINATION; the canaries see 0 connections', async (t) => {
    const closed = await peer(false);
    const client = new PeerClient(closed.url, key);
    const signal = () => AbortSignal.timeout(10_000);
    let forbidden = 0;
    for (const { url, stage } of cases) {
      const offered = await outcome(client.offer(offerFor(url), signal()));
      if (stage === 'offer') {
        assertForbidden(offered, `offer ${url}`);
        forbidden += 1;
        // No consent was given, so a fetch of the same URL is refused too, and dials nothing.
        const fetched = await outcome(client.fetch(fetchFor(url), signal()));
        assert.ok(fetched instanceof DdmError && fetched.details.nodeStatus === 403, `fetch ${url}`);
        continue;
      }
      assert.equal(offered, 'ok', `offer of name ${url} should wait for the dial to be judged`);
      const fetched = await outcome(client.fetch(fetchFor(url), signal()));
      assertForbidden(fetched, `fetch ${url}`);
      assert.match((fetched as DdmError).message, /refusing to fetch /);
      forbidden += 1;
    }
    t.diagnostic(`${forbidden} spellings refused with 403 FORBIDDEN_DESTINATION`);
    assert.ok(forbidden >= 60, `only ${forbidden} spellings`);
    assert.equal(v4.connections, 0, 'connections to the 127.0.0.1 canary');
    assert.equal(v6?.connections ?? 0, 0, 'connections to the ::1 canary');
  });

  test('other schemes are refused at the door, and dial nothing', async () => {
    const closed = await peer(false);
    const client = new PeerClient(closed.url, key);
    for (const url of [
      `ftp://127.0.0.1:${v4.port}/file`,
      `gopher://127.0.0.1:${v4.port}/_GET%20/`,
      `dict://127.0.0.1:${v4.port}/info`,
      `ws://127.0.0.1:${v4.port}/`,
      'file:///etc/passwd',
      ` http://127.0.0.1:${v4.port}/file`,
    ]) {
      const offered = await outcome(client.offer(offerFor(url), AbortSignal.timeout(10_000)));
      assert.ok(offered instanceof DdmError, url);
      const status = Number(offered.details.nodeStatus);
      assert.ok(status >= 400 && status < 500, `${url}: ${status} ${offered.message}`);
    }
    assert.equal(v4.connections, 0);
  });

  test('control: with --allow-private the same spellings do reach the canaries', async (t) => {
    const open = await peer(true);
    const client = new PeerClient(open.url, key);
    const reaching = cases.filter((entry) => entry.reaches !== undefined);
    t.diagnostic(`${reaching.length} spellings reach a canary when private addresses are allowed`);
    assert.ok(reaching.length >= 40, `${reaching.length} reaching cases`);
    const missed: string[] = [];
    for (const { url, reaches } of reaching) {
      const canary = reaches === 'v6' ? v6 : v4;
      assert.ok(canary);
      const connectionsBefore = canary.connections;
      const offered = await outcome(client.offer(offerFor(url), AbortSignal.timeout(10_000)));
      assert.equal(offered, 'ok', `offer ${url}: ${offered === 'ok' ? '' : offered.message}`);
      const fetched = await outcome(client.fetch(fetchFor(url), AbortSignal.timeout(10_000)));
      if (canary.connections === connectionsBefore) {
        missed.push(`${url} (${fetched === 'ok' ? 'ok' : fetched.message})`);
      }
    }
    assert.deepEqual(missed, [], 'spellings that did not reach their canary');
  });
});
