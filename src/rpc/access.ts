/**
 * Who may talk to the RPC at all, before any token is read: only requests whose Host names this
 * daemon (a DNS-rebinding page carries its own name), and from a browser only pages of the
 * daemon's own origin or of an origin the operator allowed (`--rpc-allow-origin`).
 */
import type { IncomingMessage } from 'node:http';
import type { RpcDeps } from './deps.js';

export type Refusal = { status: 403; message: string } | undefined;

export function refusal(req: IncomingMessage, deps: Pick<RpcDeps, 'allowedHosts' | 'allowOrigins'>): Refusal {
  const host = (req.headers.host ?? '').toLowerCase();
  if (!deps.allowedHosts().has(host)) {
    return {
      status: 403,
      message: 'This daemon answers only to its own address or localhost (Host header).',
    };
  }
  if (!originAllowed(req, deps)) {
    return {
      status: 403,
      message: `Origin ${String(req.headers.origin)} may not call this daemon: start it with --rpc-allow-origin ${String(req.headers.origin)}`,
    };
  }
  return undefined;
}

/** No Origin (not a browser page), the daemon's own, or one the operator listed. */
export function originAllowed(req: IncomingMessage, deps: Pick<RpcDeps, 'allowOrigins'>): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const own = `http://${(req.headers.host ?? '').toLowerCase()}`;
  return origin.toLowerCase() === own || deps.allowOrigins.includes(origin);
}

/** CORS headers for an allowed foreign origin (AriaNg served from elsewhere). */
export function corsHeaders(req: IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  if (origin === undefined) return {};
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-methods': 'POST, GET, OPTIONS',
    'access-control-allow-headers': 'Content-Type, Authorization',
    'access-control-max-age': '1728000',
    vary: 'Origin',
  };
}
