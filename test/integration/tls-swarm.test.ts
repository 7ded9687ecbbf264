/**
 * TLS end to end: real `ddm tracker` and `ddm peer` processes serving https on 127.0.0.1, a peer
 * that pins its tracker, a client that pins the tracker and trusts the peer's CA. Bytes are
 * checked with SHA-256; every refusal is one line with a stable exit code.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { EXIT } from '../../src/errors.js';
import { parseFingerprint } from '../../src/transport/client/node-trust.js';
import {
  type RunningCli,
  runCli,
  sha256,
  sha256OfFile,
  startCli,
  testData,
  withTempDir,
} from '../helpers/cli.js';
import { TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls-certs.js';

const MiB = 1024 * 1024;
const env = { DDM_SECRET: TEST_SECRET };
const LISTED_TIMEOUT_MS = 20_000;
const HTTPS_URL = /listening on (https:\/\/\S+)/;
const FINGERPRINT = /fingerprint ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})/;

let certs: TestCertificates;
let origin: TestOrigin;
let tracker: RunningCli;
let trackerUrl: string;
let trackerPin: string;
let peer: RunningCli;
const data = testData(6 * MiB, 7);

async function stop(node: RunningCli | undefined): Promise<void> {
  if (!node) return;
  if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGTERM');
  await node.exited;
}

interface PeersAnswer {
  peers: { name: string; tls?: boolean }[];
  rejected: { name: string; message: string }[];
}

/** `ddm peers` lists the peers a client would use: those it believes, proven by a signed info. */
async function listedPeers(trust: readonly string[]): Promise<PeersAnswer> {
  const result = await runCli(['peers', '--tracker', trackerUrl, ...trust, '--json'], env);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as PeersAnswer;
}

async function waitUntilListed(name: string): Promise<{ name: string; tls?: boolean }> {
  const deadline = Date.now() + LISTED_TIMEOUT_MS;
  const trust = ['--tls-fingerprint', trackerPin, '--tls-ca', certs.file('ca.crt')];
  while (Date.now() < deadline) {
    const found = (await listedPeers(trust)).peers.find((entry) => entry.name === name);
    if (found) return found;
    await delay(200);
  }
  assert.fail(`the tracker never listed ${name}`);
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one error line, got:\n${stderr}`);
  return lines[0]!;
}

before(async () => {
  certs = await makeTestCertificates();
  origin = await startTestOrigin({ data });
  tracker = startCli(
    [
      'tracker',
      '--listen',
      '127.0.0.1:0',
      '--heartbeat',
      '1',
      '--tls-cert',
      certs.file('node.crt'),
      '--tls-key',
      certs.file('node.key'),
    ],
    env,
  );
  trackerUrl = (await tracker.waitFor(HTTPS_URL))[1]!;
  trackerPin = (await tracker.waitFor(FINGERPRINT))[1]!;
  peer = startCli(
    [
      'peer',
      '--listen',
      '127.0.0.1:0',
      '--name',
      'tls-peer',
      '--allow-private',
      '--tracker',
      trackerUrl,
      '--tls-fingerprint',
      trackerPin,
      '--tls-cert',
      certs.file('leaf.crt'),
      '--tls-key',
      certs.file('leaf.key'),
    ],
    env,
  );
  await peer.waitFor(HTTPS_URL);
});

after(async () => {
  await Promise.all([stop(peer), stop(tracker)]);
  await origin?.close();
  await certs?.remove();
});

describe('a swarm over https', () => {
  test('the tracker prints the fingerprint openssl computes', async () => {
    assert.equal(trackerPin, parseFingerprint(await certs.opensslFingerprint('node.crt')));
  });

  test('the peer registers through its pin and is listed as https', async () => {
    const listed = await waitUntilListed('tls-peer');
    assert.equal(listed.tls, true);
  });

  test('a client that pins the tracker and trusts the CA downloads through the peer, byte-identical', async () => {
    await waitUntilListed('tls-peer');
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const result = await runCli(
        [
          'get',
          origin.url,
          '-o',
          output,
          '--tracker',
          trackerUrl,
          '--tls-fingerprint',
          trackerPin,
          '--tls-ca',
          certs.file('ca.crt'),
          '--no-local',
          '--json',
        ],
        env,
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await sha256OfFile(output), sha256(data));
    });
  });

  test('a wrong pin for the tracker stops the client with one line naming both fingerprints', async () => {
    const otherPin = parseFingerprint(await certs.opensslFingerprint('other.crt'));
    const result = await runCli(['peers', '--tracker', trackerUrl, '--tls-fingerprint', otherPin], env);
    assert.equal(result.code, EXIT.SWARM, result.stderr);
    const line = oneLine(result.stderr);
    assert.match(line, /TLS_FAILED/);
    assert.ok(line.includes(trackerPin) && line.includes(otherPin), line);
  });

  test('a client that believes the tracker but not the peer gets no bytes from it', async () => {
    await waitUntilListed('tls-peer');
    const seen = await listedPeers(['--tls-fingerprint', trackerPin]);
    assert.deepEqual(seen.peers, [], '`ddm peers` shows only peers a client would use');
    assert.deepEqual(
      seen.rejected.map((peer) => peer.name),
      ['tls-peer'],
    );
    await withTempDir(async (dir) => {
      const result = await runCli(
        [
          'get',
          origin.url,
          '-o',
          join(dir, 'out.bin'),
          '--tracker',
          trackerUrl,
          '--tls-fingerprint',
          trackerPin,
          '--no-local',
          '--json',
        ],
        env,
      );
      // What the peer and the tracker logged, for a failure that is not the expected one.
      const logs = `\npeer:\n${peer.stderr()}\ntracker:\n${tracker.stderr()}`;
      assert.equal(result.code, EXIT.SWARM, `${result.stderr}${logs}`);
      assert.match(result.stdout, /not trusted|does not match/, `${result.stdout}${logs}`);
    });
  });

  test('a plain http URL for the https tracker fails and suggests https', async () => {
    const result = await runCli(['peers', '--tracker', trackerUrl.replace('https:', 'http:')], env);
    assert.equal(result.code, EXIT.NETWORK, result.stderr);
    assert.match(oneLine(result.stderr), /https:\/\//);
  });

  test('a tracker with mismatched files refuses to start and names them', async () => {
    const result = await runCli(
      [
        'tracker',
        '--listen',
        '127.0.0.1:0',
        '--tls-cert',
        certs.file('node.crt'),
        '--tls-key',
        certs.file('other.key'),
      ],
      env,
    );
    assert.equal(result.code, EXIT.USAGE, result.stderr);
    assert.ok(oneLine(result.stderr).includes(certs.file('other.key')), result.stderr);
  });
});
