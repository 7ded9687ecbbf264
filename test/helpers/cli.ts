/**
 * Runs the real `ddm` command (bin/ddm.js, built into dist/) as a child process, with an empty
 * config directory so the developer's own config never leaks into a test.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const DDM_BIN = resolve(import.meta.dirname, '../../bin/ddm.js');
/** Long enough for a 2-core CI machine, short enough that a hang fails the test. */
export const CLI_TIMEOUT_MS = 60_000;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stderr/stdout match of `pattern`; rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<CliResult>;
}

export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd?: string): RunningCli {
  const child = spawn(process.execPath, [DDM_BIN, ...args], {
    cwd,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      XDG_CONFIG_HOME: '/nonexistent-ddm-test-config',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const check of listeners) check();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    for (const check of listeners) check();
  });
  const exited = new Promise<CliResult>((resolveExit) => {
    child.on('close', (code, signal) => resolveExit({ code, signal, stdout: out, stderr: err }));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS * 2);
  timer.unref();
  void exited.then(() => clearTimeout(timer));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (pattern, timeoutMs = CLI_TIMEOUT_MS) =>
      new Promise((resolveMatch, reject) => {
        const check = () => {
          const match = err.match(pattern) ?? out.match(pattern);
          if (!match) return;
          cleanup();
          resolveMatch(match);
        };
        const onExit = () => {
          cleanup();
          reject(new Error(`ddm exited before printing ${pattern}\nstdout: ${out}\nstderr: ${err}`));
        };
        const timeout = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern}\nstdout: ${out}\nstderr: ${err}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timeout);
          listeners.delete(check);
          child.off('close', onExit);
        };
        listeners.add(check);
        child.once('close', onExit);
        check();
      }),
  };
}

/** Runs ddm to completion (bounded by CLI_TIMEOUT_MS). */
export async function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
): Promise<CliResult> {
  const running = startCli(args, env, cwd);
  const timer = setTimeout(() => running.child.kill('SIGKILL'), CLI_TIMEOUT_MS);
  try {
    return await running.exited;
  } finally {
    clearTimeout(timer);
  }
}

export async function sha256OfFile(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ddm-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Pseudo-random, incompressible-enough test data of `size` bytes, reproducible from `seed`. */
export function testData(size: number, seed = 1): Buffer {
  const data = Buffer.allocUnsafe(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= size; i += 4) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    data.writeUInt32LE(state >>> 0, i);
  }
  for (let i = size - (size % 4); i < size; i++) data[i] = i & 0xff;
  return data;
}
