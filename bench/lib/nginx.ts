/**
 * The origin: nginx serving the work dir on 127.0.0.1, run as our own child with its prefix,
 * config, pid file and temp dirs inside the work dir, so nothing system-wide is read or changed.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BenchError, isBenchError } from './bench-error.js';
import { freePorts, LOOPBACK, waitForPort } from './ports.js';
import { spawnTracked, stopProcess, type TrackedProcess } from './processes.js';

const run = promisify(execFile);
const START_TIMEOUT_MS = 10_000;
/** Temp paths nginx creates at start-up; each only exists if its module was built in. */
const TEMP_PATH_MODULES = ['proxy', 'fastcgi', 'uwsgi', 'scgi'] as const;

export interface Origin {
  /** `http://127.0.0.1:PORT/`; append a file name from the served dir. */
  readonly baseUrl: string;
  stop(): Promise<void>;
}

export interface OriginOptions {
  readonly nginx: string;
  readonly workDir: string;
  readonly servedDir: string;
  readonly signal: AbortSignal;
}

async function builtModules(nginx: string): Promise<Set<string>> {
  const { stderr } = await run(nginx, ['-V']);
  return new Set(TEMP_PATH_MODULES.filter((module) => !stderr.includes(`--without-http_${module}_module`)));
}

function config(prefix: string, servedDir: string, port: number, modules: Set<string>): string {
  const tempPaths = ['client_body', ...modules].map(
    (module) => `  ${module}_temp_path ${join(prefix, 'temp', module)};`,
  );
  return [
    'daemon off;',
    'worker_processes auto;',
    // As root, workers would otherwise run as nobody and could not read our private temp dir.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    `pid ${join(prefix, 'nginx.pid')};`,
    'error_log stderr warn;',
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    '  sendfile on;',
    '  tcp_nopush on;',
    '  keepalive_timeout 65s;',
    '  keepalive_requests 10000;',
    '  default_type application/octet-stream;',
    ...tempPaths,
    '  server {',
    `    listen ${LOOPBACK}:${port};`,
    `    root ${servedDir};`,
    '  }',
    '}',
    '',
  ].join('\n');
}

export async function startOrigin(options: OriginOptions): Promise<Origin> {
  const prefix = join(options.workDir, 'nginx');
  await mkdir(join(prefix, 'temp'), { recursive: true });
  const [port] = await freePorts(1);
  const configFile = join(prefix, 'nginx.conf');
  await writeFile(configFile, config(prefix, options.servedDir, port!, await builtModules(options.nginx)));
  const server: TrackedProcess = spawnTracked('nginx', {
    command: options.nginx,
    args: ['-p', prefix, '-c', configFile, '-e', 'stderr'],
  });
  const stop = () => stopProcess(server);
  try {
    await waitForPort(port!, 'nginx', {
      timeoutMs: START_TIMEOUT_MS,
      signal: options.signal,
      stillAlive: server.isRunning,
    });
  } catch (error) {
    await stop();
    if (isBenchError(error, 'ABORTED')) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new BenchError('TOOL_FAILED', `nginx did not start: ${reason}\n${server.outputTail().trim()}`, {
      cause: error,
    });
  }
  return { baseUrl: `http://${LOOPBACK}:${port}/`, stop };
}
