/**
 * The simulated hosts, through bench/netns/netns.sh: namespaces ddm-h0 (client) and ddm-h1..N
 * (helpers), each with a download link shaped by tbf to the origin in ddm-inet, and a shared
 * unshaped LAN. All state lives in ddm-* namespaces, so teardown cannot miss anything.
 */
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BenchError } from '../lib/bench-error.js';
import {
  CLIENT_HOST,
  HOST_ADDRESS_OFFSET,
  LAN_SUBNET_PREFIX,
  NETNS_COMMAND_TIMEOUT_MS,
  ORIGIN_ADDRESS,
  TCP_PAYLOAD_PER_FRAME_RATIO,
} from './settings.js';

const run = promisify(execFile);
export const NETNS_SCRIPT = fileURLToPath(new URL('./netns.sh', import.meta.url));

export interface Topology {
  readonly clientMbit: number;
  /** Download rate of helper i + 1 (host ddm-h(i+1)). */
  readonly helperMbits: readonly number[];
}

export function helperHosts(topology: Topology): number[] {
  return topology.helperMbits.map((_, index) => index + 1);
}

export function hostMbit(topology: Topology, host: number): number {
  const mbit = host === CLIENT_HOST ? topology.clientMbit : topology.helperMbits[host - 1];
  if (mbit === undefined) throw new RangeError(`no host ${host} in this topology`);
  return mbit;
}

export function lanAddress(host: number): string {
  return `${LAN_SUBNET_PREFIX}${HOST_ADDRESS_OFFSET + host}`;
}

export function originUrl(fileName: string): string {
  return `http://${ORIGIN_ADDRESS}/${encodeURIComponent(fileName)}`;
}

/** The most file bytes per second a set of links can carry over TCP. */
export function tcpLimitBytesPerSecond(mbits: readonly number[]): number {
  const total = mbits.reduce((sum, mbit) => sum + mbit, 0);
  return (total * 1e6 * TCP_PAYLOAD_PER_FRAME_RATIO) / 8;
}

/** The argv that runs `command` inside a host: netns.sh execs, so the PID ends up being the command's. */
export function inHost(host: number | string, command: string, args: readonly string[]): string[] {
  return [NETNS_SCRIPT, 'exec', String(host), command, ...args];
}

async function netns(args: readonly string[], signal: AbortSignal): Promise<void> {
  try {
    await run('bash', [NETNS_SCRIPT, ...args], { timeout: NETNS_COMMAND_TIMEOUT_MS, signal });
  } catch (error) {
    const failed = error as { stderr?: string; message?: string };
    throw new BenchError(
      'TOOL_FAILED',
      `netns.sh ${args.join(' ')} failed: ${(failed.stderr ?? failed.message ?? '').trim()}`,
      {
        cause: error,
      },
    );
  }
}

/** Builds the hosts (removing leftovers of an earlier run first) and starts nginx on `servedDir`. */
export async function setUpTopology(
  topology: Topology,
  servedDir: string,
  signal: AbortSignal,
): Promise<void> {
  await netns(['setup', String(topology.clientMbit), ...topology.helperMbits.map(String)], signal);
  await netns(['origin', servedDir], signal);
}

export async function setDownloadRate(host: number, mbit: number, signal: AbortSignal): Promise<void> {
  await netns(['rate', String(host), String(mbit)], signal);
}

export async function tearDownTopology(): Promise<void> {
  // Not abortable: teardown is what runs after an abort.
  await netns(['teardown'], new AbortController().signal);
}

/** For the 'exit' handler, where nothing asynchronous runs any more. */
export function tearDownTopologyNow(): void {
  spawnSync('bash', [NETNS_SCRIPT, 'teardown'], { stdio: 'ignore', timeout: NETNS_COMMAND_TIMEOUT_MS });
}
