/**
 * `ddm daemon`: one long-lived engine, its queue kept in the session file, and a loopback API.
 * On start the session is restored: every download that was waiting or active runs again and
 * resumes from its control file; paused ones stay paused; finished ones are listed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { Dispatcher } from 'undici';
import { DAEMON_SECRET_FILE_NAME, SESSION_FILE_NAME } from '../constants.js';
import { createEngine, type Engine } from '../engine/engine.js';
import {
  type FinishedDownload,
  loadSession,
  type Session,
  SessionWriter,
  snapshotSession,
} from '../engine/session-store.js';
import { DdmError } from '../errors.js';
import { createUiRoute } from '../gui/ui-route.js';
import { createUiSessions } from '../gui/ui-sessions.js';
import { createRpcRoute } from '../rpc/rpc-route.js';
import { type DaemonRoute, routeRequests } from './daemon-routes.js';
import { API_PATH_PREFIX, apiHandler } from './http-api.js';
import { ensureStateDir, loadOrCreateSecret } from './state-dir.js';

export interface DaemonOptions {
  host: string;
  port: number;
  /** Where downloads without a path of their own go. */
  dir: string;
  /** Overrides the session's limit. */
  maxActive?: number;
  stateDir: string;
  /** For requests to trackers and peers (TLS trust). */
  peerDispatcher?: Dispatcher;
  /** The RPC secret (--rpc-secret); absent: the one in the state directory, made on first start. */
  rpcSecret?: string;
  /** Browser origins besides the daemon's own that may call the RPC (--rpc-allow-origin). */
  rpcAllowOrigins?: string[];
}

export interface Daemon {
  readonly url: string;
  readonly port: number;
  readonly secret: string;
  readonly engine: Engine;
  readonly sessionPath: string;
  /** The web UI's address with a fresh one-time sign-in token: it opens the UI signed in, once. */
  uiLoginUrl(): string;
  /** Where the secret is kept; undefined when it was given (--rpc-secret). */
  readonly secretPath: string | undefined;
  /** Settles when a client asked the daemon to stop (aria2.shutdown). */
  readonly stopRequested: Promise<void>;
  /** Checkpoints every active download, saves the session, stops serving. */
  close(): Promise<void>;
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  await ensureStateDir(options.stateDir);
  const secretPath =
    options.rpcSecret === undefined ? join(options.stateDir, DAEMON_SECRET_FILE_NAME) : undefined;
  const secret = options.rpcSecret ?? (await loadOrCreateSecret(secretPath!));
  const sessionPath = join(options.stateDir, SESSION_FILE_NAME);
  const session = await loadSession(sessionPath);
  const engine = createEngine({
    dir: options.dir,
    ...(session ? session.limits : {}),
    ...(options.maxActive === undefined ? {} : { maxActive: options.maxActive }),
    ...(options.peerDispatcher ? { peerDispatcher: options.peerDispatcher } : {}),
  });
  const finished: FinishedDownload[] = [];
  const writer = new SessionWriter(sessionPath, () => snapshotSession(engine, finished));
  restore(engine, session, finished);
  engine.on(({ event }) => {
    if (event.type === 'state') writer.changed();
  });
  writer.changed();

  let port = options.port;
  const allowedHosts = () => hostsFor(options.host, port);
  const uiSessions = createUiSessions({ secret, port: () => port });
  let requestStop!: () => void;
  const stopRequested = new Promise<void>((resolve) => {
    requestStop = resolve;
  });
  const rpc = createRpcRoute({
    engine,
    secret,
    allowedHosts,
    allowOrigins: options.rpcAllowOrigins ?? [],
    dir: resolve(options.dir),
    finished,
    changed: () => writer.changed(),
    saveSession: async () => {
      writer.changed();
      await writer.flush();
    },
    shutdown: () => requestStop(),
    authorizeRequest: uiSessions.authorizeRequest,
  });
  const routes: DaemonRoute[] = [
    rpc,
    {
      name: 'api',
      matches: (path) => path.startsWith(API_PATH_PREFIX),
      handle: apiHandler({
        engine,
        secret,
        allowedHosts,
        finished: () => finished,
        changed: () => writer.changed(),
      }),
    },
    createUiRoute({ sessions: uiSessions, allowedHosts }),
  ];
  const router = routeRequests(routes);
  const server: Server = createServer(router.request);
  server.on('upgrade', router.upgrade);
  try {
    port = await listen(server, options.host, options.port);
  } catch (error) {
    rpc.close();
    await engine.close();
    throw error;
  }
  const hostText = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostText}:${port}`,
    port,
    secret,
    engine,
    sessionPath,
    uiLoginUrl: () => `${browserUrl(options.host, port)}/?login=${uiSessions.issueLoginToken()}`,
    secretPath,
    stopRequested,
    close: () => {
      closing ??= (async () => {
        rpc.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await engine.close();
        writer.changed();
        await writer.flush();
      })();
      return closing;
    },
  };
}

function restore(engine: Engine, session: Session | undefined, finished: FinishedDownload[]): void {
  for (const saved of session?.downloads ?? []) {
    if (saved.state === 'complete' || saved.state === 'error') {
      finished.push({
        id: saved.id,
        state: saved.state,
        request: saved.request,
        ...(saved.output === undefined ? {} : { output: saved.output }),
        ...(saved.error ? { error: saved.error } : {}),
      });
      continue;
    }
    engine.add(saved.request, { id: saved.id, paused: saved.state === 'paused' });
  }
}

/** An address a browser on this machine can open: a wildcard listen address is reached on loopback. */
function browserUrl(host: string, port: number): string {
  if (host === '0.0.0.0') return `http://127.0.0.1:${port}`;
  if (host === '::') return `http://[::1]:${port}`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Host header values that name this daemon: its own address, or localhost, with its port. */
function hostsFor(host: string, port: number): ReadonlySet<string> {
  const names = new Set(['localhost', '127.0.0.1', '[::1]']);
  if (host !== '0.0.0.0' && host !== '::') names.add(host.includes(':') ? `[${host}]` : host);
  return new Set([...names].map((name) => `${name.toLowerCase()}:${port}`));
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(new DdmError('USAGE', `cannot listen on ${host}:${port}: ${error.code ?? error.message}`));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
