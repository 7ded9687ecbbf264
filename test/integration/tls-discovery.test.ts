/**
 * Peers found on the LAN that serve https, without multicast: the browse is replaced by a list
 * of announcements (what browseLan returns after parsing `tls=1`), and real https peers on
 * 127.0.0.1 answer. The multicast side, a real `ddm peer --tls-cert` announcing `tls=1`, is in
 * tls-discovery-netns.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import type { DownloadEvent } from '../../src/client/events.js';
import { discoverSwarm, findPeers, type SwarmOptions } from '../../src/client/swarm.js';
import type { LanAnnouncement } from '../../src/discovery/browser.js';
import { download } from '../../src/engine/one-shot-download.js';
import { isDdmError } from '../../src/errors.js';
import { type Peer, startPeer } from '../../src/peer/peer-server.js';
import { deriveKey } from '../../src/protocol/auth.js';
import { API } from '../../src/protocol/messages.js';
import { loadNodeTrust, type NodeTrust } from '../../src/transport/client/node-trust.js';
import { loadServerTls } from '../../src/transport/server/server-tls.js';
import { sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls-certs.js';

const SECRET = 'tls-discovery-secret-0123456789';
const key = deriveKey(SECRET);
const TEST_TIMEOUT_MS = 15_000;
const data = testData(2 * 1024 * 1024 + 99, 13);

let certs: TestCertificates;
let trust: NodeTrust;
let origin: TestOrigin;
let peer: Peer;
let relay: Relay;
const controller = new AbortController();

function signal(): AbortSignal {
  return AbortSignal.any([controller.signal, AbortSignal.timeout(TEST_TIMEOUT_MS)]);
}

function announced(port: number, claims: Partial<LanAnnouncement> = {}): LanAnnouncement {
  return {
    instance: `ddm-${peer.id}._ddm._tcp.local`,
    id: peer.id,
    name: 'tls-peer',
    slots: 2,
    protocol: 1,
    port,
    addresses: ['127.0.0.1'],
    ...claims,
  };
}

function swarmOptions(found: LanAnnouncement[], extra: Partial<SwarmOptions> = {}) {
  const events: DownloadEvent[] = [];
  const swarm: SwarmOptions = {
    trackers: [],
    peers: [],
    secret: SECRET,
    clientName: 'client',
    onEvent: (event) => events.push(event),
    discovery: { timeoutMs: 10, browse: async () => found },
    ...extra,
  };
  return { swarm, events };
}

function failures(events: readonly DownloadEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'peer' && e.status === 'failed' ? [e.message ?? ''] : []));
}

interface Relay {
  url: string;
  port: number;
  /** Paths asked through the relay, in order. */
  paths: string[];
  close(): Promise<void>;
}

/**
 * Plain http in front of the https peer: passes requests and answers through unchanged, as an
 * attacker on the LAN could after announcing its own address without `tls=1`.
 */
async function startRelay(target: string): Promise<Relay> {
  const upstream = new Agent({ connect: { rejectUnauthorized: false } });
  const paths: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    paths.push(req.url ?? '');
    void forward(req, res).catch(() => res.destroy());
  });
  const forward = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    // The Host the client dialled passes through, as through a TCP relay: it is signed.
    const headers = { ...req.headers };
    delete headers.connection;
    const answer = await request(`${target}${req.url}`, {
      method: req.method as 'GET' | 'POST',
      headers,
      ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
      dispatcher: upstream,
      signal: signal(),
    });
    const body = Buffer.from(await answer.body.arrayBuffer());
    const passed: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && name !== 'connection' && name !== 'transfer-encoding') passed[name] = value;
    }
    res.writeHead(answer.statusCode, passed).end(body);
  };
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    paths,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await upstream.close();
    },
  };
}

before(async () => {
  certs = await makeTestCertificates();
  trust = await loadNodeTrust({ caFile: certs.file('ca.crt') }, signal());
  origin = await startTestOrigin({ data });
  const tls = await loadServerTls(
    { certFile: certs.file('leaf.crt'), keyFile: certs.file('leaf.key') },
    signal(),
  );
  assert.ok(tls);
  peer = await startPeer(
    {
      host: '127.0.0.1',
      port: 0,
      key,
      id: 'tls-lan-peer-0001',
      name: 'tls-peer',
      slots: 2,
      accept: 'auto',
      allowPrivate: true,
      trackers: [],
      tls,
    },
    controller.signal,
  );
  relay = await startRelay(peer.url);
});

after(async () => {
  controller.abort();
  await relay?.close();
  await peer?.close();
  await origin?.close();
  await trust?.close();
  await certs?.remove();
});

describe('https peers found on the LAN', () => {
  test('a peer that announces tls=1 is dialled at https:// and proves it is a member', async () => {
    assert.match(peer.url, /^https:/);
    const { swarm, events } = swarmOptions([announced(peer.address.port, { tls: true })], {
      dispatcher: trust.dispatcher,
    });
    const targets = await findPeers(swarm, key, signal());
    assert.deepEqual(targets, [
      { id: peer.id, name: 'tls-peer', url: `https://127.0.0.1:${peer.address.port}` },
    ]);
    assert.deepEqual(failures(events), []);
  });

  test('a download through it, with no bytes from this machine, is byte-identical', async () => {
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const events: DownloadEvent[] = [];
      const result = await download(
        {
          url: origin.url,
          output,
          connections: 2,
          local: false,
          onEvent: (event) => events.push(event),
          swarm: (swarmSignal) =>
            discoverSwarm(
              swarmOptions([announced(peer.address.port, { tls: true })], {
                dispatcher: trust.dispatcher,
                onEvent: (event) => events.push(event),
              }).swarm,
              swarmSignal,
            ),
        },
        signal(),
      );
      assert.equal(await sha256OfFile(output), sha256(data));
      const fromPeer = result.sources.find((source) => source.label === 'tls-peer');
      assert.ok(fromPeer && fromPeer.bytes > 0, JSON.stringify(result.sources));
      assert.deepEqual(failures(events), []);
    });
  });

  test('a LAN peer whose certificate is not believed is reported and not used; the search goes on', async () => {
    // No --tls-ca and no pin: the system CAs decide, and they do not know the test CA.
    const { swarm, events } = swarmOptions([announced(peer.address.port, { tls: true })]);
    assert.deepEqual(await findPeers(swarm, key, signal()), []);
    const [message, ...others] = failures(events);
    assert.deepEqual(others, []);
    assert.match(message ?? '', /found on the LAN, is not believed: .*TLS certificate not trusted/);
  });

  test('an announcement without tls=1 for an https peer is refused when something relays it in clear', async () => {
    relay.paths.length = 0;
    const { swarm, events } = swarmOptions([announced(relay.port)], { dispatcher: trust.dispatcher });
    assert.deepEqual(await findPeers(swarm, key, signal()), []);
    assert.match(failures(events).join('\n'), /serves https but answered over plain http/);
    // The relay saw the signed question, never an offer with a URL in it.
    assert.deepEqual(relay.paths, [API.info]);
  });

  test('a --peer http:// URL that reaches an https peer through a relay stops the client', async () => {
    const { swarm } = swarmOptions([], { peers: [relay.url], dispatcher: trust.dispatcher });
    await assert.rejects(findPeers(swarm, key, signal()), (error: unknown) => {
      assert.ok(isDdmError(error, 'TLS_FAILED'), String(error));
      assert.match(error.message, /use https:\/\//);
      return true;
    });
  });
});
