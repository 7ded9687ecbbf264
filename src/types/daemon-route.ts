/**
 * One part of the daemon's HTTP server (the JSON-RPC, the web UI, the helper role): it claims
 * the paths it serves. The daemon composes routes (daemon/daemon-routes.ts); the type sits at the
 * bottom so each part can be one without importing the daemon.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export interface DaemonRoute {
  /** A short name for logs and errors. */
  readonly name: string;
  /** Whether this route serves `pathname` (no query string). The first route that claims it wins. */
  matches(pathname: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** An HTTP upgrade (WebSocket) on one of this route's paths; absent: the upgrade is refused. */
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}
