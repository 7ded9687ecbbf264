/**
 * The SSRF guard for the connections a helper reads ranges over itself (origin/origin-sockets.ts):
 * the same checks as its undici connector (guard-connector.ts), applied to `net.connect`. Literal
 * addresses and deny-listed ports are refused before dialling, names go through the public-only
 * lookup, and the address the socket reached is checked before a byte of request is sent.
 */
import type { LookupFunction } from 'node:net';
import type { buildConnector as Connector } from 'undici';
import type { OriginDialer } from '../origin/origin-connection.js';
import { dialSocket, socketHost } from '../origin/origin-dialer.js';
import { dialRefusal, refusalAfterDial } from './guard-connector.js';
import { createPublicOnlyLookup } from './guard-lookup.js';

export interface GuardedDialerOptions {
  /** `--allow-private`: only the port deny list applies. */
  allowPrivate: boolean;
  /** Defaults to the public-only lookup over the system resolver. */
  lookup?: LookupFunction;
}

export function createGuardedDialer(opts: GuardedDialerOptions): OriginDialer {
  const lookup = opts.allowPrivate ? undefined : (opts.lookup ?? createPublicOnlyLookup());
  return (target, onread, timeoutMs, signal) => {
    // Origin sockets carry plain http only.
    const judged: Connector.Options = {
      hostname: target.hostname,
      protocol: 'http:',
      port: String(target.port),
    };
    const refusal = dialRefusal(judged, opts.allowPrivate);
    if (refusal !== undefined) return Promise.reject(refusal);
    return dialSocket(
      {
        host: socketHost(target.hostname),
        port: target.port,
        onread,
        timeoutMs,
        ...(lookup ? { lookup, check: (socket) => refusalAfterDial(judged, socket) } : {}),
      },
      signal,
    );
  };
}
