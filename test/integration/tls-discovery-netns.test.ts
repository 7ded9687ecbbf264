/**
 * A real `ddm peer --tls-cert` announces `tls=1` over multicast DNS, and a real `ddm peers` in
 * another host dials it at https:// and judges its certificate. The hosts are two network
 * namespaces cabled to a bridge in a third; they and their addresses (10.98.0.0/24) exist only
 * for the test.
 *
 * Creating namespaces needs root (CI runs as root). Without it the test is reported as a todo
 * with the reason, as discovery-netns.test.ts does.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { parseFingerprint } from '../../src/transport/client/node-trust.js';
import { DDM_BIN } from '../helpers/cli.js';
import { TEST_SECRET } from '../helpers/swarm.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls-certs.js';

const execFileAsync = promisify(execFile);
/** Every wait on a process in this file is bounded by this. */
const PROCESS_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 60_000;
const PEER_ADDRESS = '10.98.0.2';
const CLIENT_ADDRESS = '10.98.0.3';
const QUICK_BROWSE = ['--discover-timeout', '0.5'];

const notRoot = process.getuid?.() !== 0;

interface Lab {
  peer: string;
  client: string;
  all: string[];
}

function ip(...args: string[]) {
  return execFileAsync('ip', args, { timeout: PROCESS_TIMEOUT_MS });
}

async function createLab(lab: Lab): Promise<void> {
  const [bridge] = lab.all;
  await ip('netns', 'add', bridge!);
  await ip('-n', bridge!, 'link', 'add', 'br0', 'type', 'bridge');
  await ip('-n', bridge!, 'link', 'set', 'br0', 'up');
  for (const [ns, address, cable] of [
    [lab.peer, PEER_ADDRESS, 'v2'],
    [lab.client, CLIENT_ADDRESS, 'v3'],
  ] as const) {
    await ip('netns', 'add', ns);
    await ip('link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', cable, 'netns', bridge!);
    await ip('-n', bridge!, 'link', 'set', cable, 'master', 'br0', 'up');
    await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
  }
}

async function destroyLab(lab: Lab): Promise<void> {
  for (const ns of lab.all) {
    const { stdout } = await ip('netns', 'pids', ns).catch(() => ({ stdout: '' }));
    for (const pid of stdout.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await ip('netns', 'del', ns).catch(() => undefined);
  }
}

interface DdmProcess {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/** `ip netns exec` execs ddm, so signals reach it. */
function ddmIn(ns: string, args: readonly string[]): DdmProcess {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, DDM_BIN, ...args], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      XDG_CONFIG_HOME: '/nonexistent-ddm-test',
      DDM_SECRET: TEST_SECRET,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), PROCESS_TIMEOUT_MS * 2);
  killer.unref();
  void exited.then(() => clearTimeout(killer));
  return {
    child,
    output: () => output,
    exited,
    waitFor: async (pattern) => {
      const deadline = Date.now() + PROCESS_TIMEOUT_MS;
      for (;;) {
        const match = output.match(pattern);
        if (match) return match;
        if (child.exitCode !== null) assert.fail(`exited before printing ${pattern}:\n${output}`);
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${pattern}:\n${output}`);
        await delay(50);
      }
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

interface PeersAnswer {
  peers: { name: string; address: string; tls?: boolean; foundBy: string[] }[];
  rejected: { name: string; url: string; message: string }[];
}

async function peersFromClient(lab: Lab, trustArgs: readonly string[]): Promise<PeersAnswer> {
  const run = ddmIn(lab.client, ['peers', '--json', ...QUICK_BROWSE, ...trustArgs]);
  const code = await run.exited;
  assert.equal(code, 0, run.output());
  const line = run
    .output()
    .split('\n')
    .find((text) => text.startsWith('{"peers"'));
  assert.ok(line, run.output());
  return JSON.parse(line) as PeersAnswer;
}

if (notRoot) {
  test('TLS peers found on the LAN between network namespaces', {
    todo: 'needs root to create network namespaces: run `npm test` as root (CI does)',
  }, () => {});
} else {
  describe('TLS peers found on the LAN between network namespaces', { timeout: TEST_TIMEOUT_MS }, () => {
    const prefix = `ddm-tls-${randomBytes(3).toString('hex')}`;
    const lab: Lab = { peer: `${prefix}-p`, client: `${prefix}-c`, all: [`${prefix}-br`] };
    lab.all.push(lab.peer, lab.client);
    let certs: TestCertificates | undefined;
    let peer: DdmProcess | undefined;
    let fingerprint = '';

    before(async () => {
      certs = await makeTestCertificates();
      try {
        await createLab(lab);
      } catch (error) {
        await destroyLab(lab);
        throw new Error(`cannot build the test LAN (needs root and iproute2): ${(error as Error).message}`);
      }
      // The CA-signed certificate names 127.0.0.1 only, not the address on the LAN.
      peer = ddmIn(lab.peer, [
        'peer',
        '--name',
        'tls-lan',
        '--listen',
        '0.0.0.0:7801',
        '--tls-cert',
        certs.file('leaf.crt'),
        '--tls-key',
        certs.file('leaf.key'),
      ]);
      fingerprint = (await peer.waitFor(/fingerprint ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})/))[1]!;
      await peer.waitFor(/announced on the LAN \(mDNS\) on eth0/);
    });

    after(async () => {
      await peer?.stop();
      await destroyLab(lab);
      await certs?.remove();
    });

    test('the peer prints the fingerprint of its certificate and listens on https', async () => {
      assert.equal(fingerprint, parseFingerprint(await certs!.opensslFingerprint('leaf.crt')));
      assert.match(peer!.output(), /listening on https:\/\//);
    });

    test('a client that pins it finds it on the LAN and lists it as https', async () => {
      const seen = await peersFromClient(lab, ['--tls-fingerprint', fingerprint]);
      assert.deepEqual(
        seen.peers.map((p) => [p.name, p.address, p.tls, p.foundBy]),
        [['tls-lan', PEER_ADDRESS, true, ['mdns']]],
      );
      assert.deepEqual(seen.rejected, []);
    });

    test('a client whose CA does not vouch for the LAN address dials https, refuses it, and says why', async () => {
      const seen = await peersFromClient(lab, ['--tls-ca', certs!.file('ca.crt')]);
      assert.deepEqual(seen.peers, []);
      assert.equal(seen.rejected.length, 1, JSON.stringify(seen.rejected));
      const [rejected] = seen.rejected;
      assert.equal(rejected!.url, `https://${PEER_ADDRESS}:7801`);
      assert.match(rejected!.message, /is not believed/);
      assert.match(rejected!.message, new RegExp(`does not name ${PEER_ADDRESS.replaceAll('.', '\\.')}`));
    });
  });
}
