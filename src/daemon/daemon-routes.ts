/**
 * The daemon serves several parts on one port (the JSON-RPC, the web UI, the
 * swarm's peer protocol with --helper). Each part is a route that claims the paths it serves, so
 * the parts stay independent and the daemon only composes them.
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

/** Dispatches requests and upgrades to the first route that claims the path; 404 otherwise. */
export function routeRequests(routes: readonly DaemonRoute[]): {
  request: (req: IncomingMessage, res: ServerResponse) => void;
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
} {
  const find = (req: IncomingMessage) => routes.find((route) => route.matches(pathnameOf(req)));
  return {
    request: (req, res) => {
      const route = find(req);
      if (route) {
        route.handle(req, res);
        return;
      }
      const text = JSON.stringify({
        error: { code: 'NOT_FOUND', message: `no such endpoint: ${pathnameOf(req)}` },
      });
      res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    },
    upgrade: (req, socket, head) => {
      const route = find(req);
      if (route?.upgrade) {
        route.upgrade(req, socket, head);
        return;
      }
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    },
  };
}

export function pathnameOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
