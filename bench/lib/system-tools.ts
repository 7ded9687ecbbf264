/**
 * The outside programs the benchmark needs. Missing ones are installed from Debian's packages
 * when we are root, since a fresh machine of this project has none of them.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { BenchError } from './bench-error.js';
import { TIME_BINARY } from './timing.js';

const run = promisify(execFile);
const APT_TIMEOUT_MS = 10 * 60_000;
const VERSION_TIMEOUT_MS = 10_000;
/** nginx lives in sbin, which a non-login PATH may lack. */
const EXTRA_DIRS = ['/usr/sbin', '/sbin', '/usr/local/sbin'];

interface Requirement {
  readonly command: string;
  /** Debian packages that provide it, in order of preference. */
  readonly packages: readonly string[];
}

const REQUIREMENTS: readonly Requirement[] = [
  { command: 'nginx', packages: ['nginx-light', 'nginx'] },
  { command: 'aria2c', packages: ['aria2'] },
  { command: 'curl', packages: ['curl'] },
  { command: TIME_BINARY, packages: ['time'] },
];

export interface SystemTools {
  readonly nginx: string;
  readonly aria2c: string;
  readonly curl: string;
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

export async function findExecutable(command: string): Promise<string | undefined> {
  if (command.includes('/')) return (await isExecutable(command)) ? command : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, command);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

let aptUpdated = false;

async function aptInstall(pkg: string): Promise<boolean> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    await run('apt-get', ['update', '-qq'], { env, timeout: APT_TIMEOUT_MS });
    aptUpdated = true;
  }
  return run('apt-get', ['install', '-y', '-qq', pkg], { env, timeout: APT_TIMEOUT_MS }).then(
    () => true,
    () => false,
  );
}

async function ensure(requirement: Requirement): Promise<string> {
  const found = await findExecutable(requirement.command);
  if (found !== undefined) return found;
  const hint = `install it with: apt-get install -y ${requirement.packages[0]}`;
  if (process.getuid?.() !== 0) {
    throw new BenchError('TOOL_MISSING', `${requirement.command} not found and not root; ${hint}`);
  }
  for (const pkg of requirement.packages) {
    process.stderr.write(`bench: ${requirement.command} missing, installing Debian package ${pkg}\n`);
    if (await aptInstall(pkg)) {
      const installed = await findExecutable(requirement.command);
      if (installed !== undefined) return installed;
    }
  }
  throw new BenchError(
    'TOOL_MISSING',
    `${requirement.command} not found and could not be installed; ${hint}`,
  );
}

export async function ensureSystemTools(): Promise<SystemTools> {
  const paths = new Map<string, string>();
  // One at a time: apt-get holds a lock.
  for (const requirement of REQUIREMENTS) paths.set(requirement.command, await ensure(requirement));
  return { nginx: paths.get('nginx')!, aria2c: paths.get('aria2c')!, curl: paths.get('curl')! };
}

/** First line of `command args`, stdout or stderr (nginx prints its version on stderr). */
export async function versionLine(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(command, [...args], { timeout: VERSION_TIMEOUT_MS });
    return (stdout.trim() || stderr.trim()).split('\n')[0] ?? '';
  } catch {
    return 'unknown';
  }
}
