/**
 * Real web servers for interop tests, each started from the test on 127.0.0.1 with a generated
 * config in a temp dir: nginx, lighttpd, busybox httpd, python's http.server. .ci/run installs
 * them. A launcher picks a free port (bind port 0, close, use it) and tries again with another
 * when the server could not bind it (another process took it in between).
 *
 * Every server serves `docroot`; `stop()` kills it (SIGTERM, then SIGKILL) and removes the
 * temp dir it made (not the docroot, which belongs to the test).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export type RealServerKind = 'nginx' | 'lighttpd' | 'busybox' | 'python';

export interface RealServer {
  kind: RealServerKind;
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  /** Request lines the server logged so far (`GET /path HTTP/1.1`), when it logs them (nginx, python). */
  requestLines(): Promise<string[]>;
  stop(): Promise<void>;
}

export interface RealServerOptions {
  /** nginx: paths (prefix locations, e.g. `/gz/`) served with `gzip_static always`. */
  gzipStaticAlways?: string[];
  /** lighttpd: run `*.sh` files of the docroot as CGI scripts with /bin/sh. */
  cgi?: boolean;
}

/** Time for a server to accept connections after it was spawned. */
const START_TIMEOUT_MS = 15_000;
/** Time for a server to exit after SIGTERM before it gets SIGKILL. */
const STOP_TIMEOUT_MS = 5_000;
const PORT_ATTEMPTS = 4;
const POLL_MS = 50;

/** Which launcher needs which command, to fail with the package to install. */
const COMMANDS: Record<RealServerKind, { command: string; apt: string }> = {
  nginx: { command: 'nginx', apt: 'nginx-light' },
  lighttpd: { command: 'lighttpd', apt: 'lighttpd' },
  busybox: { command: 'busybox', apt: 'busybox' },
  python: { command: 'python3', apt: 'python3' },
};

interface Launch {
  child: ChildProcess;
  /** Where the server logs request lines, if anywhere. */
  logFile?: string;
  output: () => string;
}

export async function startRealServer(
  kind: RealServerKind,
  docroot: string,
  options: RealServerOptions = {},
): Promise<RealServer> {
  assertInstalled(kind);
  const dir = await mkdtemp(join(tmpdir(), `ddm-${kind}-`));
  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt += 1) {
    const port = await freePort();
    const launch = await spawnServer(kind, docroot, dir, port, options);
    try {
      await waitUntilListening(launch, port);
    } catch (error) {
      lastError = error;
      await kill(launch.child);
      continue;
    }
    return {
      kind,
      baseUrl: `http://127.0.0.1:${port}`,
      requestLines: () => requestLines(launch),
      stop: async () => {
        await kill(launch.child);
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`${kind} did not start after ${PORT_ATTEMPTS} ports: ${String(lastError)}`);
}

function assertInstalled(kind: RealServerKind): void {
  const { command, apt } = COMMANDS[kind];
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  assert.equal(found.status, 0, `interop tests need ${command} (apt-get install ${apt}; .ci/run does)`);
}

async function spawnServer(
  kind: RealServerKind,
  docroot: string,
  dir: string,
  port: number,
  options: RealServerOptions,
): Promise<Launch> {
  switch (kind) {
    case 'nginx': {
      const conf = join(dir, 'nginx.conf');
      const logFile = join(dir, 'access.log');
      await writeFile(conf, nginxConfig(docroot, dir, port, logFile, options));
      const global = `daemon off; pid ${join(dir, 'nginx.pid')}; error_log stderr;`;
      return { ...run('nginx', ['-p', dir, '-c', conf, '-g', global]), logFile };
    }
    case 'lighttpd': {
      const conf = join(dir, 'lighttpd.conf');
      await writeFile(conf, lighttpdConfig(docroot, port, options.cgi ?? false));
      return run('lighttpd', ['-D', '-f', conf]);
    }
    case 'busybox':
      return run('busybox', ['httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', docroot]);
    case 'python':
      return run('python3', [
        '-u',
        '-m',
        'http.server',
        String(port),
        '--bind',
        '127.0.0.1',
        '--directory',
        docroot,
      ]);
  }
}

function nginxConfig(
  docroot: string,
  dir: string,
  port: number,
  logFile: string,
  options: RealServerOptions,
): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((name) => `  ${name}_temp_path ${join(dir, name)};`)
    .join('\n');
  const gzipLocations = (options.gzipStaticAlways ?? [])
    .map((path) => `    location ${path} { gzip_static always; }`)
    .join('\n');
  // As root, workers would switch to nobody and could not read a test's 0700 temp dir.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}worker_processes 1;
events { worker_connections 64; }
http {
  access_log ${logFile};
${temp}
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${docroot};
${gzipLocations}
  }
}
`;
}

function lighttpdConfig(docroot: string, port: number, cgi: boolean): string {
  const cgiLines = cgi ? 'server.modules += ("mod_cgi")\ncgi.assign = (".sh" => "/bin/sh")\n' : '';
  return `server.document-root = "${docroot}"
server.bind = "127.0.0.1"
server.port = ${port}
mimetype.assign = ("" => "application/octet-stream")
${cgiLines}`;
}

function run(command: string, args: string[]): Launch {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return { child, output: () => output };
}

/** A port that was free a moment ago: bound on 0 by the kernel's choice, then released. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilListening(launch: Launch, port: number): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (launch.child.exitCode !== null || launch.child.signalCode !== null) {
      throw new Error(
        `exited early (${launch.child.exitCode ?? launch.child.signalCode}): ${launch.output()}`,
      );
    }
    if (await accepts(port)) return;
    await delay(POLL_MS);
  }
  throw new Error(`not listening on ${port} within ${START_TIMEOUT_MS} ms: ${launch.output()}`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Request lines from the access log (nginx) or the output (python logs `"GET /x HTTP/1.1"`). */
async function requestLines(launch: Launch): Promise<string[]> {
  const text = launch.logFile === undefined ? launch.output() : await readFile(launch.logFile, 'utf8');
  return [...text.matchAll(/"([A-Z]+ \S+ HTTP\/[\d.]+)"/g)].map((match) => match[1]!);
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
