/**
 * `ddm daemon`: one long-lived engine, its queue kept in the session file, and aria2's JSON-RPC (src/rpc/) on loopback.
 * On start the session is restored: every download that was waiting or active runs again and
 * resumes from its control file; paused ones stay paused; finished ones are listed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { safeParse } from 'valibot';
import {
  DAEMON_SECRET_FILE_NAME,
  PREVIEW_KEY_FILE_NAME,
  SESSION_FILE_NAME,
  SWARM_SECRET_FILE_NAME,
} from '../constants.js';
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
import { loadNodeTrust, type NodeTrust } from '../transport/client/node-trust.js';
import { newNodeId } from '../util/node-id.js';
import { issuePath } from '../util/schema-issues.js';
import { type DaemonRoute, routeRequests } from './daemon-routes.js';
import { DaemonHelperRole, type HelperRole } from './helper-role.js';
import { HelperService } from './helper-service.js';
import { daemonHostNames } from './host-names.js';
import { createPreviewRoute } from './preview-route.js';
import { previewTokens } from './preview-token.js';
import {
  type DaemonSettings,
  DaemonSettingsStore,
  defaultSettings,
  type SavedSettings,
  type SettingsOverrides,
  type SettingsStore,
  savedSettingsSchema,
} from './settings.js';
import { ensureStateDir, loadOrCreateSecret } from './state-dir.js';

export interface DaemonOptions {
  host: string;
  port: number;
  /** Where downloads without a path of their own go, for this run (overrides the saved setting). */
  dir?: string;
  /** Downloads at once, for this run (overrides the saved setting). */
  maxActive?: number;
  /** Other settings for this run only (flags of `ddm daemon`); the saved ones stay. */
  settings?: SettingsOverrides;
  stateDir: string;
  /**
   * For requests to trackers and peers. When absent the daemon builds its own from the
   * `tlsFingerprints` setting and `tlsCa`, and rebuilds it when the setting changes.
   */
  peerDispatcher?: Dispatcher;
  /** PEM CA file that signs https trackers and peers (`--tls-ca`). */
  tlsCa?: string;
  /** The helper may fetch loopback and private addresses (`--allow-private`). */
  allowPrivate?: boolean;
  /** How long a help request waits for an answer. */
  consentTimeoutMs?: number;
  /** Heartbeat pace asked of the trackers' registration (tests). */
  heartbeatMs?: number;
  /** The helper's name as clients see it; default the host name. */
  helperName?: string;
  log?: Logger;
  /** Lines about the helper role (where it is announced, tracker trouble). */
  report?: (line: string) => void;
  /** The RPC secret (--rpc-secret); absent: the one in the state directory, made on first start. */
  rpcSecret?: string;
  /** Browser origins besides the daemon's own that may call the RPC (--rpc-allow-origin). */
  rpcAllowOrigins?: string[];
  /** The `ddm get` command line for a request (`ddm.getCommandLine`); the CLI hands in its own. */
  commandLine?: (request: Record<string, unknown>) => string;
}

export interface Daemon {
  readonly url: string;
  readonly port: number;
  readonly secret: string;
  readonly engine: Engine;
  readonly sessionPath: string;
  /** The web UI's address with a fresh one-time sign-in token: it opens the UI signed in, once. */
  uiLoginUrl(): string;
  readonly settings: SettingsStore;
  /** Exists even when the role is off. */
  readonly helper: HelperRole;
  /** Where the RPC secret is kept; undefined when it was given (--rpc-secret). */
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
  // Its own key, not the RPC secret: a preview address must not give anything away about it.
  const previews = previewTokens(await loadOrCreateSecret(join(options.stateDir, PREVIEW_KEY_FILE_NAME)));
  const session = await loadSession(sessionPath);
  const engine = createEngine({
    ...(options.peerDispatcher ? { peerDispatcher: options.peerDispatcher } : {}),
    // The UI, scripts and `refreshCmd` can give an expired download a new link: it waits for one.
    waitForLinks: true,
  });
  const finished: FinishedDownload[] = [];
  const overrides = overridesOf(options);
  let port = options.port;
  const hostText = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = () => `http://${hostText}:${port}`;
  const saved = savedSettingsOf(session, sessionPath);
  const role = new DaemonHelperRole(newNodeId(), (options.helperName ?? hostname()).slice(0, 64), {
    ...saved.helper,
    ...overrides.helper,
  });
  const helperService = new HelperService({
    role,
    host: options.host,
    port: () => port,
    url,
    allowPrivate: options.allowPrivate === true,
    report: options.report ?? (() => {}),
    ...(options.consentTimeoutMs === undefined ? {} : { consentTimeoutMs: options.consentTimeoutMs }),
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    ...(options.log ? { log: options.log } : {}),
  });
  const trusts = new TrustCache(options.peerDispatcher, options.tlsCa);
  let listening = false;
  let store: DaemonSettingsStore | undefined;
  const writer = new SessionWriter(sessionPath, () =>
    withoutSwarmSecret(
      snapshotSession(engine, finished, store ? sessionSettings(store) : undefined),
      store?.swarmSecret(),
    ),
  );
  const apply = async (settings: DaemonSettings, swarmSecret: string | undefined) => {
    const dispatcher = await trusts.forFingerprints(settings.tlsFingerprints);
    engine.setLimits({
      maxActive: settings.maxActive,
      maxConnections: settings.maxConnections,
      maxSpeed: settings.maxOverallSpeed,
    });
    engine.setRequestDefaults({
      dir: settings.dir,
      connections: settings.connections,
      maxSpeed: settings.maxSpeed,
      tracker: settings.trackers,
      peer: settings.peers,
      ...(swarmSecret === undefined ? {} : { secret: swarmSecret, discover: settings.lanDiscovery }),
    });
    engine.setPeerDispatcher(dispatcher);
    if (listening)
      await helperService.apply(settings.helper, helperContext(settings, swarmSecret, dispatcher));
  };
  try {
    store = await DaemonSettingsStore.open({
      saved,
      overrides,
      secretFile: join(options.stateDir, SWARM_SECRET_FILE_NAME),
      apply,
      persist: async () => {
        writer.changed();
        await writer.flush();
      },
    });
  } catch (error) {
    await engine.close();
    await trusts.close();
    throw error;
  }
  const settings = store;
  restore(engine, session, finished);
  engine.on(({ event }) => {
    if (event.type === 'state') writer.changed();
  });
  writer.changed();

  const allowedHosts = () => daemonHostNames(options.host, port);
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
    ...(options.commandLine ? { commandLine: options.commandLine } : {}),
    dir: () => settings.get().dir,
    settings,
    helper: role,
    finished,
    changed: () => writer.changed(),
    saveSession: async () => {
      writer.changed();
      await writer.flush();
    },
    shutdown: () => requestStop(),
    authorizeRequest: uiSessions.authorizeRequest,
    previewUrl: (gid) => {
      const path = previews.pathFor(gid);
      return { path, url: `${browserUrl(options.host, port)}${path}` };
    },
  });
  const routes: DaemonRoute[] = [
    rpc,
    createUiRoute({ sessions: uiSessions, allowedHosts }),
    createPreviewRoute({ tokens: previews, download: (gid) => engine.get(gid), finished, allowedHosts }),
    helperService.route,
  ];
  const router = routeRequests(routes);
  const server: Server = createServer(router.request);
  server.on('upgrade', router.upgrade);
  const closeAll = async () => {
    rpc.close();
    await helperService.close();
    await engine.close();
    await trusts.close();
  };
  try {
    port = await listen(server, options.host, options.port);
    listening = true;
    const current = settings.get();
    const dispatcher = await trusts.forFingerprints(current.tlsFingerprints);
    await helperService.apply(current.helper, helperContext(current, settings.swarmSecret(), dispatcher));
  } catch (error) {
    server.close();
    await closeAll();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    url: url(),
    port,
    secret,
    engine,
    sessionPath,
    uiLoginUrl: () => `${browserUrl(options.host, port)}/?login=${uiSessions.issueLoginToken()}`,
    settings,
    helper: role,
    secretPath,
    stopRequested,
    close: () => {
      closing ??= (async () => {
        rpc.close();
        await helperService.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await closeAll();
        writer.changed();
        await writer.flush();
      })();
      return closing;
    },
  };
}

function helperContext(
  settings: DaemonSettings,
  swarmSecret: string | undefined,
  dispatcher: Dispatcher | undefined,
) {
  return { swarmSecret, trackers: settings.trackers, lanDiscovery: settings.lanDiscovery, dispatcher };
}

/** The run's overrides: the settings flags, plus the older `dir` and `maxActive` options. */
function overridesOf(options: DaemonOptions): SettingsOverrides {
  return {
    ...options.settings,
    ...(options.dir === undefined ? {} : { dir: resolve(options.dir) }),
    ...(options.maxActive === undefined ? {} : { maxActive: options.maxActive }),
  };
}

/** The saved settings over the defaults; an older session without settings gives its limits. */
function savedSettingsOf(session: Session | undefined, path: string): SavedSettings {
  const defaults = defaultSettings(resolve('.'));
  if (!session) return defaults;
  if (session.settings === undefined) {
    return {
      ...defaults,
      maxActive: session.limits.maxActive,
      maxConnections: session.limits.maxConnections,
      maxOverallSpeed: session.limits.maxSpeed,
    };
  }
  const parsed = safeParse(savedSettingsSchema, session.settings);
  if (!parsed.success) {
    throw new DdmError(
      'CONTROL_CORRUPT',
      `the settings in the session file ${path} are not readable (${issuePath(parsed.issues[0])}); fix or remove them`,
    );
  }
  const { helper, ...plain } = parsed.output;
  const known = Object.fromEntries(Object.entries(plain).filter(([, value]) => value !== undefined));
  return { ...defaults, ...known, helper: { ...defaults.helper, ...helper } } as SavedSettings;
}

/**
 * The swarm secret stays in its own file: a download that took it from the settings is saved
 * without it, and takes it from the settings again when restored.
 */
function withoutSwarmSecret(session: Session, swarmSecret: string | undefined): Session {
  if (swarmSecret === undefined) return session;
  return {
    ...session,
    downloads: session.downloads.map((download) => {
      if (download.request.secret !== swarmSecret) return download;
      const { secret: _, ...request } = download.request;
      return { ...download, request };
    }),
  };
}

function sessionSettings(store: DaemonSettingsStore): Record<string, unknown> {
  return { ...store.saved() };
}

/** One trust per set of pinned fingerprints; each is kept until the daemon stops (downloads may use it). */
class TrustCache {
  readonly #trusts = new Map<string, Promise<NodeTrust>>();

  constructor(
    private readonly fixed: Dispatcher | undefined,
    private readonly caFile: string | undefined,
  ) {}

  async forFingerprints(fingerprints: readonly string[]): Promise<Dispatcher | undefined> {
    if (this.fixed) return this.fixed;
    if (fingerprints.length === 0 && this.caFile === undefined) return undefined;
    const name = JSON.stringify([...fingerprints].sort());
    let trust = this.#trusts.get(name);
    if (!trust) {
      trust = loadNodeTrust({ fingerprints, caFile: this.caFile }, new AbortController().signal);
      this.#trusts.set(name, trust);
      trust.catch(() => this.#trusts.delete(name));
    }
    return (await trust).dispatcher;
  }

  async close(): Promise<void> {
    const trusts = await Promise.allSettled(this.#trusts.values());
    await Promise.all(
      trusts.map((trust) => (trust.status === 'fulfilled' ? trust.value.close() : undefined)),
    );
  }
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
    engine.add(saved.request, {
      id: saved.id,
      paused: saved.state === 'paused',
      restored: {
        ...(saved.linkWorked ? { linkWorked: true } : {}),
        ...(saved.output === undefined ? {} : { output: saved.output }),
        ...(saved.state === 'expired'
          ? { expired: { message: saved.error?.message ?? 'the link expired' } }
          : {}),
      },
    });
  }
}

/** An address a browser on this machine can open: a wildcard listen address is reached on loopback. */
function browserUrl(host: string, port: number): string {
  if (host === '0.0.0.0') return `http://127.0.0.1:${port}`;
  if (host === '::') return `http://[::1]:${port}`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
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
