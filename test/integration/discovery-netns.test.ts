/**
 * LAN discovery for real: multicast DNS between network namespaces joined by a Linux bridge,
 * each namespace a host with its own address. The namespaces, their cables and their private
 * addresses (10.99.0.0/24, fd99::/64) exist only for the test and are removed after it.
 *
 * Creating namespaces needs root (CI runs as root). Without it the test is reported as a todo
 * with the reason, so that `npm test` keeps running for everyone else.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { DDM_BIN, sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';

const execFileAsync = promisify(execFile);
/** Every wait on a process in this file is bounded by this. */
const PROCESS_TIMEOUT_MS = 30_000;
/** Each test, including its own setup and cleanup. */
const TEST_TIMEOUT_MS = 90_000;

function run(command: string, args: readonly string[]) {
  return execFileAsync(command, args, { timeout: PROCESS_TIMEOUT_MS });
}
const MiB = 1024 * 1024;
const OTHER_SECRET = 'another-swarm-secret-0123456789';
/** The hosts on the test LAN, by the last byte of their addresses; peerV6 has no IPv4 at all. */
const HOSTS = { peerA: 2, client: 3, origin: 4, peerB: 5, peerV6: 6 } as const;
type HostName = keyof typeof HOSTS;
const IPV6_ONLY: readonly HostName[] = ['peerV6'];
const ORIGIN_PORT = 8080;
/** Answers on a bridge take well under this; the default (1.5 s) is exercised by the first test. */
const QUICK_BROWSE = ['--discover-timeout', '0.5'];

const notRoot = process.getuid?.() !== 0;

interface Lab {
  namespaces: string[];
  host(name: HostName): string;
  ipv4(name: HostName): string;
  ipv6(name: HostName): string;
}

/** A bridge in its own namespace and one namespace per host, each cabled to it with a veth pair. */
async function createLab(): Promise<Lab> {
  const prefix = `ddm-t-${randomBytes(3).toString('hex')}`;
  const bridge = `${prefix}-br`;
  const lab: Lab = {
    namespaces: [bridge],
    host: (name) => `${prefix}-${name}`,
    ipv4: (name) => `10.99.0.${HOSTS[name]}`,
    ipv6: (name) => `fd99::${HOSTS[name]}`,
  };
  const ip = (...args: string[]) => run('ip', args);
  await ip('netns', 'add', bridge);
  await ip('-n', bridge, 'link', 'add', 'br0', 'type', 'bridge');
  await ip('-n', bridge, 'link', 'set', 'br0', 'up');
  for (const name of Object.keys(HOSTS) as HostName[]) {
    const ns = lab.host(name);
    const cable = `v${HOSTS[name]}`;
    await ip('netns', 'add', ns);
    lab.namespaces.push(ns);
    await ip('link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', cable, 'netns', bridge);
    await ip('-n', bridge, 'link', 'set', cable, 'master', 'br0', 'up');
    if (!IPV6_ONLY.includes(name)) await ip('-n', ns, 'addr', 'add', `${lab.ipv4(name)}/24`, 'dev', 'eth0');
    await ip('-n', ns, 'addr', 'add', `${lab.ipv6(name)}/64`, 'dev', 'eth0', 'nodad');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
  }
  return lab;
}

async function destroyLab(lab: Lab): Promise<void> {
  for (const ns of lab.namespaces) {
    const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
    for (const pid of stdout.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}

interface HostProcess {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp): Promise<void>;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/** Runs a command inside a host's namespace; `ip netns exec` execs it, so signals reach it. */
function startIn(ns: string, command: readonly string[], env: NodeJS.ProcessEnv = {}): HostProcess {
  const child = spawn('ip', ['netns', 'exec', ns, ...command], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, XDG_CONFIG_HOME: '/nonexistent-ddm-test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
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
      while (!pattern.test(output)) {
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

function ddmIn(ns: string, args: readonly string[], secret = TEST_SECRET): HostProcess {
  return startIn(ns, [process.execPath, DDM_BIN, ...args], { DDM_SECRET: secret });
}

async function ddmRun(ns: string, args: readonly string[]): Promise<{ code: number | null; output: string }> {
  const running = ddmIn(ns, args);
  const code = await running.exited;
  return { code, output: running.output() };
}

async function startPeerIn(
  lab: Lab,
  host: HostName,
  name: string,
  { secret = TEST_SECRET, listen = '0.0.0.0:7801' } = {},
): Promise<HostProcess> {
  const peer = ddmIn(lab.host(host), ['peer', '--name', name, '--allow-private', '--listen', listen], secret);
  await peer.waitFor(/announced on the LAN \(mDNS\) on eth0/);
  return peer;
}

type DdmEvent = { type: string; [key: string]: unknown };

function events(output: string): DdmEvent[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"type":'))
    .map((line) => JSON.parse(line) as DdmEvent);
}

/** The sources that fetched bytes, from the `done` event. */
function fetchedBy(all: readonly DdmEvent[]): { label: string; bytes: number }[] {
  const done = all.find((e) => e.type === 'done');
  assert.ok(done, 'no done event');
  return (done.sources as { label: string; bytes: number }[]).filter((source) => source.bytes > 0);
}

interface PeersAnswer {
  peers: { name: string; address: string; foundBy: string[] }[];
  rejected: { name: string; message: string }[];
}

async function peersSeenFrom(lab: Lab, host: HostName): Promise<PeersAnswer> {
  const result = await ddmRun(lab.host(host), ['peers', '--json', ...QUICK_BROWSE]);
  assert.equal(result.code, 0, result.output);
  const line = result.output.split('\n').find((text) => text.startsWith('{"peers"'));
  assert.ok(line, result.output);
  return JSON.parse(line) as PeersAnswer;
}

/**
 * The origin is the test's own server on 127.0.0.1, reached from the origin host's namespace
 * through a Unix socket (the file system is shared, the network is not): a relay there listens
 * on the test LAN and pipes every connection to the socket.
 */
async function exposeOrigin(lab: Lab, origin: TestOrigin, dir: string) {
  const socketPath = join(dir, 'origin.sock');
  const open = new Set<Socket>();
  const bridge: Server = createServer((socket) => {
    const upstream = connect(origin.port, '127.0.0.1');
    for (const end of [socket, upstream]) {
      open.add(end);
      end.on('close', () => open.delete(end));
    }
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => bridge.listen(socketPath, resolve));
  const relayScript = `
    const net = require('node:net');
    const [socketPath, host, port] = process.argv.slice(1);
    net.createServer((client) => {
      const upstream = net.connect(socketPath);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    }).listen(Number(port), host, () => console.log('relay ready'));`;
  const relay = startIn(lab.host('origin'), [
    process.execPath,
    '-e',
    relayScript,
    socketPath,
    lab.ipv4('origin'),
    String(ORIGIN_PORT),
  ]);
  await relay.waitFor(/relay ready/);
  return {
    url: `http://${lab.ipv4('origin')}:${ORIGIN_PORT}/file`,
    close: async () => {
      await relay.stop();
      const closed = new Promise<void>((resolve) => bridge.close(() => resolve()));
      for (const socket of open) socket.destroy();
      await closed;
      await rm(socketPath, { force: true });
    },
  };
}

if (notRoot) {
  test('LAN discovery between network namespaces', {
    todo: 'needs root to create network namespaces: run `npm test` as root (CI does)',
  }, () => {});
} else {
  describe('LAN discovery between network namespaces', { timeout: TEST_TIMEOUT_MS * 6 }, () => {
    let lab: Lab | undefined;
    const started: HostProcess[] = [];
    const track = (process: HostProcess) => {
      started.push(process);
      return process;
    };

    before(async () => {
      try {
        lab = await createLab();
      } catch (error) {
        if (lab) await destroyLab(lab);
        throw new Error(`cannot build the test LAN (needs root and iproute2): ${(error as Error).message}`);
      }
    });

    after(async () => {
      await Promise.all(started.map((process) => process.stop()));
      if (lab) await destroyLab(lab);
    });

    test('a peer found on the LAN takes part in a download: byte-identical, every byte through it', {
      timeout: TEST_TIMEOUT_MS,
    }, async (t) => {
      const data = testData(8 * MiB, 61);
      const origin = await startTestOrigin({ data });
      try {
        await withTempDir(async (dir) => {
          const exposed = await exposeOrigin(lab!, origin, dir);
          const peer = track(await startPeerIn(lab!, 'peerA', 'alpha'));
          try {
            const output = join(dir, 'out.bin');
            const started = Date.now();
            const result = await ddmRun(lab!.host('client'), [
              'get',
              exposed.url,
              '-o',
              output,
              '--no-local',
              '--json',
            ]);
            const elapsedMs = Date.now() - started;
            assert.equal(result.code, 0, result.output);
            assert.equal(await sha256OfFile(output), sha256(data));
            const all = events(result.output);
            assert.ok(
              all.some((e) => e.type === 'peer' && e.label === 'alpha' && e.status === 'accepted'),
              result.output,
            );
            assert.deepEqual(
              fetchedBy(all).map((s) => [s.label, s.bytes]),
              [['alpha', data.length]],
            );
            t.diagnostic(`ddm get through a discovered peer: ${elapsedMs} ms (8 MiB, 1.5 s of browsing)`);
          } finally {
            await peer.stop();
            await exposed.close();
          }
        });
      } finally {
        await origin.close();
      }
    });

    test('a peer that stops (SIGTERM) disappears from `ddm peers`', {
      timeout: TEST_TIMEOUT_MS,
    }, async (t) => {
      const peer = track(await startPeerIn(lab!, 'peerA', 'beta'));
      const hidden = track(
        ddmIn(lab!.host('peerB'), ['peer', '--name', 'hidden', '--no-announce', '--listen', '0.0.0.0:7801']),
      );
      await hidden.waitFor(/listening on/);
      const seen = await peersSeenFrom(lab!, 'client');
      await hidden.stop();
      assert.doesNotMatch(hidden.output(), /announced/, '--no-announce says nothing of the LAN');
      assert.deepEqual(
        seen.peers.map((p) => [p.name, p.address, p.foundBy]),
        [['beta', lab!.ipv4('peerA'), ['mdns']]],
      );
      const stoppedAt = Date.now();
      assert.equal(await peer.stop(), 0, peer.output());
      const deadline = Date.now() + 10_000;
      let names = ['beta'];
      while (names.length > 0 && Date.now() < deadline) {
        names = (await peersSeenFrom(lab!, 'client')).peers.map((p) => p.name);
      }
      assert.deepEqual(names, [], 'the stopped peer is still listed');
      t.diagnostic(`the stopped peer was gone from ddm peers ${Date.now() - stoppedAt} ms after SIGTERM`);
    });

    test('a peer with another secret is found but not used, and said so', {
      timeout: TEST_TIMEOUT_MS,
    }, async () => {
      const data = testData(4 * MiB, 62);
      const origin = await startTestOrigin({ data });
      try {
        await withTempDir(async (dir) => {
          const exposed = await exposeOrigin(lab!, origin, dir);
          const member = track(await startPeerIn(lab!, 'peerA', 'member'));
          const stranger = track(await startPeerIn(lab!, 'peerB', 'stranger', { secret: OTHER_SECRET }));
          try {
            const output = join(dir, 'out.bin');
            const result = await ddmRun(lab!.host('client'), [
              'get',
              exposed.url,
              '-o',
              output,
              '--no-local',
              '--json',
              ...QUICK_BROWSE,
            ]);
            assert.equal(result.code, 0, result.output);
            assert.equal(await sha256OfFile(output), sha256(data));
            const all = events(result.output);
            const failed = all.find((e) => e.type === 'peer' && e.label === 'stranger');
            assert.equal(failed?.status, 'failed', result.output);
            assert.match(String(failed?.message), /not a member of this swarm/);
            assert.deepEqual(
              fetchedBy(all).map((s) => s.label),
              ['member'],
            );

            const seen = await peersSeenFrom(lab!, 'client');
            assert.deepEqual(
              seen.peers.map((p) => p.name),
              ['member'],
            );
            assert.deepEqual(
              seen.rejected.map((p) => p.name),
              ['stranger'],
            );
            assert.match(seen.rejected[0]!.message, /not a member of this swarm/);
          } finally {
            await Promise.all([member.stop(), stranger.stop()]);
            await exposed.close();
          }
        });
      } finally {
        await origin.close();
      }
    });

    test('a peer on an IPv6-only host is found over IPv6 multicast, at its IPv6 address', {
      timeout: TEST_TIMEOUT_MS,
    }, async () => {
      const peer = track(await startPeerIn(lab!, 'peerV6', 'sixer', { listen: '[::]:7801' }));
      try {
        const seen = await peersSeenFrom(lab!, 'client');
        assert.deepEqual(
          seen.peers.map((p) => [p.name, p.address]),
          [['sixer', lab!.ipv6('peerV6')]],
        );
      } finally {
        await peer.stop();
      }
    });

    test('with discovery on and no peer on the LAN, `ddm get` downloads alone', {
      timeout: TEST_TIMEOUT_MS,
    }, async () => {
      const data = testData(2 * MiB, 63);
      const origin = await startTestOrigin({ data });
      try {
        await withTempDir(async (dir) => {
          const exposed = await exposeOrigin(lab!, origin, dir);
          try {
            const output = join(dir, 'out.bin');
            const result = await ddmRun(lab!.host('client'), [
              'get',
              exposed.url,
              '-o',
              output,
              '--json',
              ...QUICK_BROWSE,
            ]);
            assert.equal(result.code, 0, result.output);
            assert.equal(await sha256OfFile(output), sha256(data));
            assert.ok(
              events(result.output).some((e) => e.type === 'notice' && e.message === 'no peers found'),
              result.output,
            );
            const alone = await ddmRun(lab!.host('client'), [
              'get',
              exposed.url,
              '-o',
              join(dir, 'none.bin'),
              '--no-local',
              ...QUICK_BROWSE,
            ]);
            assert.equal(alone.code, 7, alone.output);
            assert.match(alone.output, /NO_WORKERS/);
          } finally {
            await exposed.close();
          }
        });
      } finally {
        await origin.close();
      }
    });
  });
}
