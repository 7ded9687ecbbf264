/**
 * TLS between nodes, library level: server certificates from files, clients that pin a fingerprint
 * or trust a CA, and clear failures for every mismatch. The https node is a small signed server on
 * 127.0.0.1 built from the same pieces as the real ones (tls-swarm.test.ts runs the real ones).
 */
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as v from 'valibot';
import { DdmError } from '../../src/errors.js';
import { deriveKey, RequestVerifier, type SwarmKey } from '../../src/protocol/auth.js';
import { loadNodeTrust, type NodeTrust, parseFingerprint } from '../../src/transport/client/node-trust.js';
import { signedJson, signedStream } from '../../src/transport/client/signed-http.js';
import {
  createNodeServer,
  loadServerTls,
  nodeScheme,
  type ServerTls,
} from '../../src/transport/server/server-tls.js';
import {
  readSignedRequest,
  sendError,
  sendJson,
  sendStreamHead,
} from '../../src/transport/server/signed-answers.js';
import { sha256 } from '../helpers/cli.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls-certs.js';

const key = deriveKey('tls test secret');
const TEST_TIMEOUT_MS = 10_000;
const PAYLOAD = randomBytes(3 * 1024 * 1024 + 17);
const Hello = v.object({ hello: v.string() });
/** The code of a certificate the client does not believe. */
const TLS_REFUSED = 'TLS_FAILED';

let certs: TestCertificates;
const closers: (() => Promise<void>)[] = [];

function signal(): AbortSignal {
  return AbortSignal.timeout(TEST_TIMEOUT_MS);
}

function file(name: string): string {
  return certs.file(name);
}

function opensslFingerprint(certName: string): Promise<string> {
  return certs.opensslFingerprint(certName);
}

before(async () => {
  certs = await makeTestCertificates();
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await certs?.remove();
});

async function trust(options: { fingerprints?: string[]; caFile?: string }): Promise<NodeTrust> {
  const loaded = await loadNodeTrust(options, signal());
  closers.push(() => loaded.close());
  return loaded;
}

interface TestNode {
  url: string;
  /** Requests that reached the HTTP layer (a refused TLS handshake never gets there). */
  requests: number;
}

/**
 * A signed node with the real server pieces: `GET /hello` answers JSON, `POST /range` streams
 * the asked slice of PAYLOAD.
 */
async function startNode(tls: ServerTls | undefined, nodeKey: SwarmKey = key): Promise<TestNode> {
  const verifier = new RequestVerifier(nodeKey);
  const node: TestNode = { url: '', requests: 0 };
  const server = createNodeServer({}, tls);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    node.requests += 1;
    void answer(req, res, verifier, nodeKey).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  closers.push(() => closeServer(server));
  node.url = `${nodeScheme(tls)}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return node;
}

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  verifier: RequestVerifier,
  nodeKey: SwarmKey,
): Promise<void> {
  const request = await readSignedRequest(req, verifier);
  if (!request.ok) {
    sendError(res, request.status, request.code, request.message);
    return;
  }
  if (req.url === '/hello') {
    sendJson(res, 200, { hello: 'over tls' }, nodeKey, request.nonce);
    return;
  }
  const { start, end } = JSON.parse(request.body.toString('utf8')) as { start: number; end: number };
  sendStreamHead(res, end - start, nodeKey, request.nonce);
  res.end(PAYLOAD.subarray(start, end));
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function serverTls(cert: string, keyName: string): Promise<ServerTls> {
  const loaded = await loadServerTls({ certFile: file(cert), keyFile: file(keyName) }, signal());
  assert.ok(loaded);
  return loaded;
}

function hello(node: TestNode, nodeTrust?: NodeTrust, callKey: SwarmKey = key) {
  return signedJson({
    baseUrl: node.url,
    method: 'GET',
    path: '/hello',
    key: callKey,
    schema: Hello,
    signal: signal(),
    role: 'peer',
    ...(nodeTrust ? { dispatcher: nodeTrust.dispatcher } : {}),
  });
}

async function fetchRange(node: TestNode, nodeTrust: NodeTrust, start: number, end: number): Promise<Buffer> {
  const body = await signedStream({
    baseUrl: node.url,
    path: '/range',
    body: { start, end },
    key,
    expectedBytes: end - start,
    signal: signal(),
    role: 'peer',
    dispatcher: nodeTrust.dispatcher,
  });
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function rejectsWith(work: Promise<unknown>, code: string, ...messages: RegExp[]): Promise<DdmError> {
  let caught: unknown;
  await work.then(
    () => undefined,
    (error: unknown) => {
      caught = error;
    },
  );
  assert.ok(caught instanceof DdmError, `expected a DdmError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const message of messages) assert.match(caught.message, message);
  assert.doesNotMatch(caught.message, /\n/, 'one line');
  return caught;
}

function escaped(text: string): RegExp {
  return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}

describe('server certificate files', () => {
  test('no files means plain http', async () => {
    assert.equal(await loadServerTls({}, signal()), undefined);
    assert.equal(nodeScheme(undefined), 'http');
  });

  test('a good pair loads, with the fingerprint openssl prints', async () => {
    const tls = await serverTls('node.crt', 'node.key');
    assert.equal(parseFingerprint(await opensslFingerprint('node.crt')), tls.fingerprint);
    assert.equal(nodeScheme(tls), 'https');
  });

  test('one file without the other is a usage error', async () => {
    await rejectsWith(loadServerTls({ certFile: file('node.crt') }, signal()), 'USAGE', /--tls-key/);
    await rejectsWith(loadServerTls({ keyFile: file('node.key') }, signal()), 'USAGE', /--tls-cert/);
  });

  test('an unreadable file is named', async () => {
    const missing = file('missing.crt');
    await rejectsWith(
      loadServerTls({ certFile: missing, keyFile: file('node.key') }, signal()),
      'USAGE',
      escaped(`--tls-cert ${missing}`),
      /ENOENT/,
    );
  });

  test('a key that belongs to another certificate is named with both files', async () => {
    await rejectsWith(
      loadServerTls({ certFile: file('node.crt'), keyFile: file('other.key') }, signal()),
      'CONFIG_INVALID',
      escaped(`--tls-key ${file('other.key')}`),
      escaped(`--tls-cert ${file('node.crt')}`),
    );
  });

  test('swapped, encrypted or empty files are explained', async () => {
    await rejectsWith(
      loadServerTls({ certFile: file('node.key'), keyFile: file('node.crt') }, signal()),
      'CONFIG_INVALID',
      /no PEM certificate/,
      /swapped/,
    );
    await rejectsWith(
      loadServerTls({ certFile: file('node.crt'), keyFile: file('encrypted.key') }, signal()),
      'CONFIG_INVALID',
      escaped(file('encrypted.key')),
      /encrypted/,
    );
    await rejectsWith(
      loadServerTls({ certFile: file('node.crt'), keyFile: file('empty.pem') }, signal()),
      'CONFIG_INVALID',
      /no PEM private key/,
    );
  });
});

describe('client trust settings', () => {
  test('fingerprints are accepted as openssl or Node print them, or as plain hex', async () => {
    const tls = await serverTls('node.crt', 'node.key');
    const printed = await opensslFingerprint('node.crt');
    assert.match(printed, /^sha256 Fingerprint=/i);
    for (const form of [printed, tls.fingerprint, tls.fingerprint.replaceAll(':', '').toLowerCase()]) {
      assert.equal(parseFingerprint(form), tls.fingerprint);
    }
  });

  test('a malformed fingerprint is a usage error', () => {
    for (const bad of ['', 'AB:CD', 'zz'.repeat(32), 'ab'.repeat(33)]) {
      assert.throws(
        () => parseFingerprint(bad),
        (error: unknown) => error instanceof DdmError && error.code === 'USAGE',
      );
    }
  });

  test('an unreadable or empty CA file is named', async () => {
    await rejectsWith(loadNodeTrust({ caFile: file('nope.crt') }, signal()), 'USAGE', /--tls-ca .*nope\.crt/);
    await rejectsWith(
      loadNodeTrust({ caFile: file('empty.pem') }, signal()),
      'CONFIG_INVALID',
      /--tls-ca .*empty\.pem holds no PEM certificate/,
    );
  });
});

describe('https between nodes', () => {
  let node: TestNode;
  let nodeTls: ServerTls;

  before(async () => {
    nodeTls = await serverTls('node.crt', 'node.key');
    node = await startNode(nodeTls);
  });

  test('a pinned fingerprint carries signed JSON and streamed ranges', async () => {
    const pinned = await trust({ fingerprints: [await opensslFingerprint('node.crt')] });
    assert.deepEqual(await hello(node, pinned), { hello: 'over tls' });
    const start = 12_345;
    const end = PAYLOAD.length - 99;
    const bytes = await fetchRange(node, pinned, start, end);
    assert.equal(sha256(bytes), sha256(PAYLOAD.subarray(start, end)));
  });

  test('one of several pins is enough', async () => {
    const otherTls = await serverTls('other.crt', 'other.key');
    const pinned = await trust({ fingerprints: [otherTls.fingerprint, nodeTls.fingerprint] });
    assert.deepEqual(await hello(node, pinned), { hello: 'over tls' });
  });

  test('a wrong pin fails before any request is sent, showing expected and actual', async () => {
    const otherTls = await serverTls('other.crt', 'other.key');
    const pinned = await trust({ fingerprints: [otherTls.fingerprint] });
    const before = node.requests;
    const error = await rejectsWith(
      hello(node, pinned),
      TLS_REFUSED,
      escaped(`peer at ${node.url}`),
      escaped(nodeTls.fingerprint),
      escaped(otherTls.fingerprint),
    );
    assert.equal(error.details.tls, true);
    assert.equal(node.requests, before, 'no request reached the node');
    await rejectsWith(fetchRange(node, pinned, 0, 10), TLS_REFUSED, escaped(otherTls.fingerprint));
  });

  test('the HMAC still applies over TLS', async () => {
    const pinned = await trust({ fingerprints: [nodeTls.fingerprint] });
    await rejectsWith(hello(node, pinned, deriveKey('another swarm')), 'AUTH_FAILED', /not a member|refused/);
  });

  test('without pins or a CA, the system CAs refuse a self-signed node and say how to pin it', async () => {
    const system = await trust({});
    await rejectsWith(
      hello(node, system),
      TLS_REFUSED,
      /not trusted by the system CAs/,
      escaped(nodeTls.fingerprint),
      /--tls-fingerprint/,
    );
    // Even a caller that forgot the trust dispatcher gets a clear refusal, not a stack of OpenSSL text.
    await rejectsWith(hello(node), TLS_REFUSED, /not trusted by the system CAs/, /--tls-ca/);
  });

  test('a CA that did not sign the node is not enough', async () => {
    const ca = await trust({ caFile: file('ca.crt') });
    await rejectsWith(hello(node, ca), TLS_REFUSED, /not trusted by --tls-ca .*ca\.crt/);
  });

  test('a plain http URL to an https node fails and suggests https', async () => {
    const plainUrl = node.url.replace('https:', 'http:');
    const error = await rejectsWith(
      hello({ url: plainUrl, requests: 0 }),
      'NETWORK',
      escaped(`peer at ${plainUrl}`),
      /https:\/\//,
    );
    assert.doesNotMatch(error.message, /AUTH|secret/i);
  });
});

describe('https with a CA', () => {
  let node: TestNode;
  let leafTls: ServerTls;

  before(async () => {
    leafTls = await serverTls('leaf.crt', 'leaf.key');
    node = await startNode(leafTls);
  });

  test('a CA-signed node is believed with --tls-ca', async () => {
    const ca = await trust({ caFile: file('ca.crt') });
    assert.deepEqual(await hello(node, ca), { hello: 'over tls' });
    const bytes = await fetchRange(node, ca, 0, PAYLOAD.length);
    assert.equal(sha256(bytes), sha256(PAYLOAD));
  });

  test('pins and a CA add up: either one vouches', async () => {
    const nodeFingerprint = new X509Certificate(await readFile(file('node.crt'))).fingerprint256;
    const both = await trust({ fingerprints: [nodeFingerprint], caFile: file('ca.crt') });
    assert.deepEqual(await hello(node, both), { hello: 'over tls' });
    const selfSignedNode = await startNode(await serverTls('node.crt', 'node.key'));
    assert.deepEqual(await hello(selfSignedNode, both), { hello: 'over tls' });
  });

  test('pins alone replace the CA: a CA-signed node that is not pinned is refused', async () => {
    const otherTls = await serverTls('other.crt', 'other.key');
    const pinned = await trust({ fingerprints: [otherTls.fingerprint] });
    await rejectsWith(hello(node, pinned), TLS_REFUSED, escaped(leafTls.fingerprint));
  });
});

describe('an https client to a plain http node', () => {
  test('fails and says the node does not speak TLS', async () => {
    const plain = await startNode(undefined);
    const pinned = await trust({ fingerprints: ['00'.repeat(32)] });
    await rejectsWith(
      hello({ url: plain.url.replace('http:', 'https:'), requests: 0 }, pinned),
      'NETWORK',
      /does not speak TLS/,
      /--tls-cert/,
    );
    // Plain http passes through a trust dispatcher untouched.
    assert.deepEqual(await hello(plain, pinned), { hello: 'over tls' });
  });
});
