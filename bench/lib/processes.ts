/**
 * Every process the harness starts goes through here, so that all of them can be killed on
 * exit, on SIGINT and on SIGTERM. Each child leads its own process group: killing the group also
 * kills what it started (/usr/bin/time's child, nginx's workers).
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface CommandSpec {
  readonly command: string;
  readonly args: readonly string[];
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

export interface TrackedProcess {
  readonly label: string;
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  isRunning(): boolean;
  /** The last few KiB of stdout and stderr, for error messages. */
  outputTail(): string;
}

const OUTPUT_TAIL_CHARS = 8_192;
const STOP_GRACE_MS = 5_000;
const KILL_WAIT_MS = 5_000;
const PIPE_DRAIN_MS = 1_000;

const live = new Map<number, ChildProcess>();

/** The environment without DDM_* settings, so a stray variable cannot change what is measured. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('DDM_')));
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

export interface SpawnOptions {
  /** Sees every chunk of stdout as it comes (the tail is kept either way). */
  readonly onStdout?: (text: string) => void;
}

export function spawnTracked(label: string, spec: CommandSpec, options: SpawnOptions = {}): TrackedProcess {
  const child = spawn(spec.command, [...spec.args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cleanEnv(),
  });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', keep);
  if (options.onStdout)
    child.stdout?.on('data', (chunk: Buffer) => options.onStdout?.(chunk.toString('utf8')));
  child.stderr?.on('data', keep);
  let running = child.pid !== undefined;
  if (child.pid !== undefined) live.set(child.pid, child);
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (error) => {
      running = false;
      resolve({ code: null, signal: null, error });
    });
    child.once('exit', (code, signal) => {
      running = false;
      // Wait briefly for the pipes to drain so the output tail is complete; a grandchild that
      // still holds them open must not hold us up.
      const drained = setTimeout(() => resolve({ code, signal }), PIPE_DRAIN_MS);
      child.once('close', () => {
        clearTimeout(drained);
        resolve({ code, signal });
      });
    });
    child.once('close', () => {
      if (child.pid !== undefined) live.delete(child.pid);
    });
  });
  return {
    label,
    pid: child.pid ?? -1,
    exited,
    isRunning: () => running,
    outputTail: () => tail,
  };
}

function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** SIGTERM, then SIGKILL if the process group has not gone after a grace period. */
export async function stopProcess(tracked: TrackedProcess, graceMs = STOP_GRACE_MS): Promise<void> {
  if (!tracked.isRunning()) return;
  signalGroup(tracked.pid, 'SIGTERM');
  if ((await within(tracked.exited, graceMs)) !== undefined) return;
  signalGroup(tracked.pid, 'SIGKILL');
  await within(tracked.exited, KILL_WAIT_MS);
}

export function killNow(tracked: TrackedProcess): void {
  if (tracked.isRunning()) signalGroup(tracked.pid, 'SIGKILL');
}

/** Last resort on the way out: synchronous, so it also works from an 'exit' handler. */
export function killAllNow(): void {
  for (const pid of live.keys()) signalGroup(pid, 'SIGKILL');
  live.clear();
}
