/**
 * A local swarm for the benchmark: one tracker and N peers, each a `ddm` process on its own
 * loopback port, started exactly as a user would start them.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { BenchError, throwIfAborted } from './bench-error.js';
import { DDM_BIN, type DdmUsage, ddmCommand } from './ddm-cli.js';
import { freePorts, LOOPBACK, waitForPort } from './ports.js';
import { cleanEnv, spawnTracked, stopProcess, type TrackedProcess } from './processes.js';

const run = promisify(execFile);
const START_TIMEOUT_MS = 15_000;
const LISTING_TIMEOUT_MS = 20_000;
const LISTING_POLL_MS = 250;
const PEERS_COMMAND_TIMEOUT_MS = 10_000;

export const SWARM_USAGES: readonly DdmUsage[] = [
  { command: 'tracker', options: ['--listen', '--secret'] },
  {
    command: 'peer',
    options: ['--listen', '--tracker', '--allow-private', '--secret', '--accept', '--name'],
  },
  { command: 'peers', options: ['--tracker', '--secret'] },
];

export interface SwarmPeer {
  readonly name: string;
  readonly process: TrackedProcess;
}

export interface Swarm {
  readonly trackerUrl: string;
  readonly secret: string;
  readonly peers: readonly SwarmPeer[];
  /** Throws if the tracker or a peer has died, with its last output. */
  assertAlive(): void;
  stop(): Promise<void>;
}

function failure(tracked: TrackedProcess, what: string): BenchError {
  return new BenchError('TOOL_FAILED', `${tracked.label} ${what}\n${tracked.outputTail().trim()}`);
}

async function startDdmServer(label: string, port: number, args: readonly string[], signal: AbortSignal) {
  const tracked = spawnTracked(label, ddmCommand(args));
  try {
    await waitForPort(port, label, { timeoutMs: START_TIMEOUT_MS, signal, stillAlive: tracked.isRunning });
  } catch (error) {
    await stopProcess(tracked);
    if (error instanceof BenchError && error.code !== 'ABORTED') throw failure(tracked, error.message);
    throw error;
  }
  return tracked;
}

/** Polls `ddm peers` until every peer's name shows up, so the first timed run sees the whole swarm. */
async function waitForListing(
  trackerUrl: string,
  secret: string,
  names: readonly string[],
  signal: AbortSignal,
) {
  const attempts = Math.ceil(LISTING_TIMEOUT_MS / LISTING_POLL_MS);
  let lastOutput = '';
  for (let attempt = 0; attempt < attempts; attempt++) {
    throwIfAborted(signal);
    lastOutput = await run(
      process.execPath,
      [DDM_BIN, 'peers', '--tracker', trackerUrl, '--secret', secret],
      {
        timeout: PEERS_COMMAND_TIMEOUT_MS,
        env: cleanEnv(),
        signal,
      },
    ).then(
      ({ stdout, stderr }) => `${stdout}${stderr}`,
      (error: { stdout?: string; stderr?: string; message?: string }) =>
        `${error.stdout ?? ''}${error.stderr ?? ''}` || (error.message ?? ''),
    );
    if (names.every((name) => lastOutput.includes(name))) return;
    await sleep(LISTING_POLL_MS, undefined, { signal }).catch(() => undefined);
  }
  throw new BenchError(
    'TIMEOUT',
    `the tracker did not list all ${names.length} peers within ${LISTING_TIMEOUT_MS} ms; last \`ddm peers\` output:\n${lastOutput.trim()}`,
  );
}

export async function startSwarm(peerCount: number, signal: AbortSignal): Promise<Swarm> {
  const secret = randomBytes(16).toString('hex');
  const [trackerPort, ...peerPorts] = await freePorts(1 + peerCount);
  const trackerUrl = `http://${LOOPBACK}:${trackerPort}`;
  const started: TrackedProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((tracked) => stopProcess(tracked)));
  };
  try {
    started.push(
      await startDdmServer(
        'ddm tracker',
        trackerPort!,
        ['tracker', '--listen', `${LOOPBACK}:${trackerPort}`, '--secret', secret],
        signal,
      ),
    );
    const peers: SwarmPeer[] = [];
    for (const [index, port] of peerPorts.entries()) {
      const name = `bench-peer-${index + 1}`;
      const args = ['peer', '--listen', `${LOOPBACK}:${port}`, '--tracker', trackerUrl, '--allow-private'];
      const tracked = await startDdmServer(
        `ddm peer ${name}`,
        port,
        [...args, '--secret', secret, '--accept', 'auto', '--name', name],
        signal,
      );
      started.push(tracked);
      peers.push({ name, process: tracked });
    }
    await waitForListing(
      trackerUrl,
      secret,
      peers.map((peer) => peer.name),
      signal,
    );
    return {
      trackerUrl,
      secret,
      peers,
      assertAlive() {
        const dead = started.find((tracked) => !tracked.isRunning());
        if (dead !== undefined) throw failure(dead, 'has exited during the benchmark');
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
