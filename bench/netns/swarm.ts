/**
 * A ddm swarm over the simulated hosts, started through the command-line contract of DESIGN.md:
 * a tracker on the client's LAN address and one `ddm peer` per helper, each listening on its
 * LAN address and fetching from the origin through its own shaped link.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { safeParse } from 'valibot';
import { ANY_NODE, deriveKey, signRequest } from '../../src/protocol/auth.js';
import { API, PeerListResponse } from '../../src/protocol/messages.js';
import { BenchError, throwIfAborted } from '../lib/bench-error.js';
import { DDM_BIN } from '../lib/ddm-cli.js';
import { cleanEnv } from '../lib/processes.js';
import {
  describeExit,
  type HostProcess,
  killHostProcess,
  spawnInHost,
  stopHostProcess,
} from './host-process.js';
import {
  CLIENT_HOST,
  PEER_PORT,
  PEER_SLOTS,
  PEERS_READY_POLL_MS,
  PEERS_READY_TIMEOUT_MS,
  TRACKER_PORT,
} from './settings.js';
import { inHost, lanAddress } from './topology.js';

const run = promisify(execFile);
const POLL_REQUEST_TIMEOUT_S = 2;

export interface Swarm {
  readonly trackerUrl: string;
  readonly secret: string;
  readonly tracker: HostProcess;
  /** The `ddm peer` process of each helper host. */
  readonly peers: ReadonlyMap<number, HostProcess>;
}

export function ddmArgs(args: readonly string[]): { command: string; args: string[] } {
  return { command: process.execPath, args: [DDM_BIN, ...args] };
}

function startDdm(host: number, label: string, args: readonly string[]): HostProcess {
  const ddm = ddmArgs(args);
  return spawnInHost(host, label, ddm.command, ddm.args);
}

export function peerName(host: number): string {
  return `h${host}`;
}

function startPeer(host: number, trackerUrl: string, secret: string): HostProcess {
  return startDdm(host, `ddm peer ${peerName(host)}`, [
    'peer',
    '--listen',
    `${lanAddress(host)}:${PEER_PORT}`,
    '--tracker',
    trackerUrl,
    '--name',
    peerName(host),
    '--accept',
    'auto',
    '--slots',
    String(PEER_SLOTS),
    // The simulated origin has a private address, which peers refuse by default.
    '--allow-private',
    '--secret',
    secret,
  ]);
}

/** Names of the peers the tracker lists now, asked from the client host with a signed request. */
async function listedPeerNames(swarm: Swarm, signal: AbortSignal): Promise<Set<string>> {
  const headers = signRequest(deriveKey(swarm.secret), 'GET', API.peers, undefined, {
    authority: new URL(swarm.trackerUrl).host,
    node: ANY_NODE,
  });
  const headerArgs = Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);
  const curlArgs = [
    '-s',
    '-f',
    '-m',
    String(POLL_REQUEST_TIMEOUT_S),
    ...headerArgs,
    `${swarm.trackerUrl}${API.peers}`,
  ];
  try {
    const { stdout } = await run('bash', inHost(CLIENT_HOST, 'curl', curlArgs), { env: cleanEnv(), signal });
    const parsed = safeParse(PeerListResponse, JSON.parse(stdout));
    return new Set(parsed.success ? parsed.output.peers.map((peer) => peer.name) : []);
  } catch {
    // Not listening yet, or not answering yet.
    return new Set();
  }
}

function failIfDead(processes: readonly HostProcess[]): void {
  const dead = processes.find((candidate) => !candidate.isRunning());
  if (dead === undefined) return;
  throw new BenchError(
    'TOOL_FAILED',
    `${dead.label} stopped before the swarm was ready:\n${dead.outputTail().trim()}`,
  );
}

async function waitUntilListed(swarm: Swarm, signal: AbortSignal): Promise<void> {
  const wanted = [...swarm.peers.keys()].map(peerName);
  const attempts = Math.ceil(PEERS_READY_TIMEOUT_MS / PEERS_READY_POLL_MS);
  let listed = new Set<string>();
  for (let attempt = 0; attempt < attempts; attempt++) {
    throwIfAborted(signal);
    failIfDead([swarm.tracker, ...swarm.peers.values()]);
    listed = await listedPeerNames(swarm, signal);
    if (wanted.every((name) => listed.has(name))) return;
    await sleep(PEERS_READY_POLL_MS, undefined, { signal }).catch(() => undefined);
  }
  throw new BenchError(
    'NOT_READY',
    `the tracker at ${swarm.trackerUrl} listed [${[...listed].join(', ')}] after ${PEERS_READY_TIMEOUT_MS} ms, ` +
      `expected [${wanted.join(', ')}]`,
  );
}

/** Starts a tracker on the client host and a peer on each helper host, and waits until all are listed. */
export async function startSwarm(helpers: readonly number[], signal: AbortSignal): Promise<Swarm> {
  const secret = randomBytes(24).toString('base64url');
  const trackerUrl = `http://${lanAddress(CLIENT_HOST)}:${TRACKER_PORT}`;
  const tracker = startDdm(CLIENT_HOST, 'ddm tracker', [
    'tracker',
    '--listen',
    `${lanAddress(CLIENT_HOST)}:${TRACKER_PORT}`,
    '--secret',
    secret,
  ]);
  const peers = new Map(helpers.map((host) => [host, startPeer(host, trackerUrl, secret)] as const));
  const swarm: Swarm = { trackerUrl, secret, tracker, peers };
  try {
    await waitUntilListed(swarm, signal);
  } catch (error) {
    await stopSwarm(swarm);
    throw error;
  }
  return swarm;
}

export async function stopSwarm(swarm: Swarm): Promise<void> {
  await Promise.all([...swarm.peers.values(), swarm.tracker].map((member) => stopHostProcess(member)));
}

/** kill -9 on one helper's peer, as a crash or a pulled plug would look to the client. */
export async function crashPeer(swarm: Swarm, host: number): Promise<void> {
  const peer = swarm.peers.get(host);
  if (peer === undefined) throw new RangeError(`no peer on host ${host}`);
  killHostProcess(peer);
  const exit = await peer.exited;
  if (exit.signal !== 'SIGKILL') {
    throw new BenchError('TOOL_FAILED', `${peer.label} ${describeExit(exit)} before the kill`);
  }
}
