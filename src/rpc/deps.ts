/**
 * What the RPC needs from the daemon. The settings store and the helper role are the daemon's
 * (CONTRACT §1); a route built without them (tests, an embedding) answers the `ddm.*` methods
 * that need them with a clear error.
 */
import type { IncomingMessage } from 'node:http';
import type { Engine } from '../engine/engine.js';
import type { FinishedDownload } from '../engine/session-store.js';
import type { SettingsStore } from '../types/daemon-settings.js';
import type { HelperRole } from '../types/helper-role.js';

export type RpcSettingsStore = SettingsStore;
export type RpcHelperRole = HelperRole;

/** The engine, with the swarm view branch daemon-helper adds (CONTRACT §2) when present. */
export type RpcEngine = Engine & { swarm?: () => unknown[] };

export interface RpcDeps {
  engine: RpcEngine;
  /** The daemon's secret: `token:SECRET` authorises a call. */
  secret: string;
  /** Host header values this daemon answers to (host:port, lower case). */
  allowedHosts: () => ReadonlySet<string>;
  /** Origins (scheme://host:port) besides the daemon's own that browsers may call from. */
  allowOrigins: readonly string[];
  /** The UI's session check: true authorises calls on that request or WebSocket without a token. */
  authorizeRequest?: (req: IncomingMessage) => boolean;
  settings?: RpcSettingsStore;
  helper?: RpcHelperRole;
  /** Downloads over in an earlier life of the daemon; purging results empties it. */
  finished?: FinishedDownload[];
  /** The queue or an option changed: save the session. */
  changed?: () => void;
  /** Writes the session file now. */
  saveSession?: () => Promise<void>;
  /** aria2.shutdown: the daemon stops (after the answer is sent). */
  shutdown?: () => void;
  /** The `ddm get` command line for a request (the CLI's vocabulary, handed in by `ddm daemon`). */
  commandLine?: (request: Record<string, unknown>) => string;
  /** Where a download can be read while it runs (the daemon's preview route), path and full URL. */
  previewUrl?: (gid: string) => { path: string; url: string };
  /** The download folder of downloads that name none (aria2's global `dir`); settings may change it. */
  dir: () => string;
}
