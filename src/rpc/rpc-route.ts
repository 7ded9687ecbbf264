/**
 * The daemon's /jsonrpc route: aria2's JSON-RPC and ddm's own methods over HTTP and WebSocket,
 * with aria2's notifications and ddm's pushed to the authorised WebSocket sessions.
 */
import type { DaemonRoute } from '../daemon/daemon-routes.js';
import { aria2Methods } from './aria2-methods.js';
import { ddmMethods } from './ddm-methods.js';
import type { RpcDeps } from './deps.js';
import { DownloadBook } from './download-book.js';
import { httpHandler } from './http-transport.js';
import { JsonRpc } from './json-rpc.js';
import { wsTransport } from './ws-transport.js';

export const RPC_PATH = '/jsonrpc';

export const NOTIFICATIONS = [
  'aria2.onDownloadStart',
  'aria2.onDownloadPause',
  'aria2.onDownloadStop',
  'aria2.onDownloadComplete',
  'aria2.onDownloadError',
  'ddm.onProgress',
  'ddm.onHelpRequest',
  'ddm.onHelpRequestSettled',
  'ddm.onSettingsChanged',
] as const;

export interface RpcRoute extends DaemonRoute {
  /** Drops every WebSocket session and stops listening to the engine. */
  close(): void;
}

export function createRpcRoute(deps: RpcDeps): RpcRoute {
  const broadcast = (method: string, params: unknown[]) => {
    for (const session of ws.sessions()) session.notify(method, params);
  };
  const book = new DownloadBook(deps, (method, gid) => broadcast(method, [{ gid }]));
  const environment = { deps, book };
  const rpc = new JsonRpc(
    { ...aria2Methods(environment), ...ddmMethods(environment) },
    deps.secret,
    NOTIFICATIONS,
  );
  const ws = wsTransport(rpc, deps, () => book.all().map((view) => view.status));
  const disposers = [
    deps.helper?.on((event) => {
      if (event.type === 'help-request') broadcast('ddm.onHelpRequest', [event.request]);
      if (event.type === 'help-request-settled') {
        broadcast('ddm.onHelpRequestSettled', [{ id: event.id, answer: event.answer }]);
      }
    }),
    deps.settings?.on((settings) => broadcast('ddm.onSettingsChanged', [settings])),
  ];
  const handle = httpHandler(rpc, deps);
  return {
    name: 'rpc',
    matches: (pathname) => pathname === RPC_PATH,
    handle,
    upgrade: (req, socket, head) => ws.upgrade(req, socket, head),
    close: () => {
      for (const dispose of disposers) dispose?.();
      book.close();
      ws.close();
    },
  };
}
