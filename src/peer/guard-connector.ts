/**
 * An undici connector that applies the SSRF guard at the socket itself, so no code path that
 * forgets `beforeRequest` can reach a private address through this dispatcher: IP literals
 * (which `net.connect` dials without any lookup) are judged before dialling, names go through
 * the public-only lookup, deny-listed ports are never dialled, and the peer address of every
 * new socket is checked once more before undici may use it.
 */
import type { LookupFunction, Socket } from 'node:net';
import type { buildConnector as Connector } from 'undici';
import { effectivePort, isForbiddenPort } from '../util/http-ports.js';
import { buildConnector } from '../util/undici-parts.js';
import { nonPublicRange } from './guard-address.js';
import { forbiddenAddress, forbiddenName, forbiddenPort } from './guard-errors.js';
import { literalAddress } from './guard-host.js';
import { createPublicOnlyLookup } from './guard-lookup.js';

export interface GuardedConnectorOptions {
  /** Connect timeout. */
  timeoutMs: number;
  /** `--allow-private`: only the port deny list applies. */
  allowPrivate: boolean;
  /** Defaults to the public-only lookup over the system resolver. */
  lookup?: LookupFunction;
}

export function createGuardedConnector(opts: GuardedConnectorOptions): Connector.connector {
  const lookup = opts.allowPrivate ? undefined : (opts.lookup ?? createPublicOnlyLookup());
  const connect = buildConnector({ timeout: opts.timeoutMs, ...(lookup ? { lookup } : {}) });
  return (target, callback) => {
    const refusal = dialRefusal(target, opts.allowPrivate);
    if (refusal !== undefined) {
      callback(refusal, null);
      return;
    }
    if (opts.allowPrivate) {
      connect(target, callback);
      return;
    }
    connect(target, (error, socket) => {
      if (error !== null) {
        callback(error, null);
        return;
      }
      const late = refusalAfterDial(target, socket);
      if (late === undefined) {
        callback(null, socket);
        return;
      }
      socket.destroy();
      callback(late, null);
    });
  };
}

/** Belt and braces: the address the socket really reached, before a byte of request is sent. */
export function refusalAfterDial(target: Connector.Options, socket: Socket): Error | undefined {
  const remote = socket.remoteAddress ?? 'an unknown address';
  const range = nonPublicRange(remote);
  if (range === undefined) return undefined;
  // For a name, what it resolved to stays on this peer, as with the lookup's own refusals.
  return literalAddress(target.hostname) === undefined
    ? forbiddenName(target.hostname, 'resolves to a non-public address')
    : forbiddenAddress(target.hostname, remote, range);
}

/** Why `target` must not be dialled (port deny list; non-public IP literal), or undefined. */
export function dialRefusal(target: Connector.Options, allowPrivate: boolean): Error | undefined {
  const port = effectivePort(target.protocol, target.port);
  if (isForbiddenPort(port)) return forbiddenPort(target.hostname, port);
  if (allowPrivate) return undefined;
  const address = literalAddress(target.hostname);
  const range = address === undefined ? undefined : nonPublicRange(address);
  return address !== undefined && range !== undefined
    ? forbiddenAddress(target.hostname, address, range)
    : undefined;
}
