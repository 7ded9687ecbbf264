/**
 * Processes started inside a simulated host. stdout is split into lines for callers that follow
 * a tool's progress (ddm's --json events); the last few KiB of output are kept for error
 * messages. Every process is remembered so an interrupted benchmark can kill what it started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cleanEnv } from '../lib/processes.js';
import { STOP_GRACE_MS } from './settings.js';
import { inHost } from './topology.js';

const OUTPUT_TAIL_CHARS = 8_192;

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

export interface HostProcess {
  readonly label: string;
  readonly pid: number;
  readonly exited: Promise<ProcessExit>;
  isRunning(): boolean;
  outputTail(): string;
}

export interface SpawnOptions {
  readonly onStdoutLine?: (line: string) => void;
}

const live = new Map<number, ChildProcess>();

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

export function spawnInHost(
  host: number,
  label: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): HostProcess {
  // Its own process group, so that stopping it also stops anything it started.
  const child = spawn('bash', inHost(host, command, args), {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cleanEnv(),
  });
  let tail = '';
  const keep = (text: string) => {
    tail = (tail + text).slice(-OUTPUT_TAIL_CHARS);
  };
  const lines = createInterface({ input: child.stdout!, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on('line', (line) => {
    keep(`${line}\n`);
    options.onStdoutLine?.(line);
  });
  child.stderr!.on('data', (chunk: Buffer) => keep(chunk.toString('utf8')));
  let running = child.pid !== undefined;
  if (child.pid !== undefined) live.set(child.pid, child);
  // Not running from the exit on, though the pipes may close later: after exit the PID can be reused.
  child.once('exit', () => {
    running = false;
  });
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('error', (error) => {
      running = false;
      resolve({ code: null, signal: null, error });
    });
    child.once('close', (code, signal) => {
      running = false;
      if (child.pid !== undefined) live.delete(child.pid);
      resolve({ code, signal });
    });
  });
  return { label, pid: child.pid ?? -1, exited, isRunning: () => running, outputTail: () => tail };
}

function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** SIGTERM (ddm's clean stop), then SIGKILL if the process is still there after a grace period. */
export async function stopHostProcess(target: HostProcess, graceMs = STOP_GRACE_MS): Promise<void> {
  if (!target.isRunning()) return;
  signalGroup(target.pid, 'SIGTERM');
  if ((await within(target.exited, graceMs)) !== undefined) return;
  signalGroup(target.pid, 'SIGKILL');
  await within(target.exited, graceMs);
}

/** What a crash looks like from outside: no chance to say goodbye to anyone. */
export function killHostProcess(target: HostProcess): void {
  if (target.isRunning()) signalGroup(target.pid, 'SIGKILL');
}

export function killAllHostProcessesNow(): void {
  for (const pid of live.keys()) signalGroup(pid, 'SIGKILL');
  live.clear();
}

export function describeExit(exit: ProcessExit): string {
  if (exit.error !== undefined) return `could not start (${exit.error.message})`;
  return exit.signal !== null ? `was killed by ${exit.signal}` : `exited with ${exit.code}`;
}
