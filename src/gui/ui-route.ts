/**
 * The web UI's route on the daemon's port: `/` (the app, or the sign-in page), `/login`,
 * `/logout` and the static files under `/ui/`. Everything the app shows it gets from the
 * JSON-RPC at /jsonrpc, which lets a browser in through `UiSessions.authorizeRequest`.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UI_SIGN_IN_FAILURE_DELAY_MS, UI_SIGN_IN_MAX_BODY_BYTES } from '../constants.js';
import type { DaemonRoute } from '../types/daemon-route.js';
import { readUiAssetFiles } from './ui-asset-source.js';
import { appShellHtml, CONTENT_SECURITY_POLICY, signInPageHtml } from './ui-pages.js';
import type { UiSessions } from './ui-sessions.js';

export interface UiRouteDeps {
  sessions: UiSessions;
  /** Host header values this daemon answers to (host:port), as for the RPC. */
  allowedHosts: () => ReadonlySet<string>;
  /** The files to serve; read from ui/ and node_modules when absent. */
  assets?: Map<string, Buffer>;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

export function createUiRoute(deps: UiRouteDeps): DaemonRoute {
  const assets = new Map<string, Asset>();
  for (const [path, body] of deps.assets ?? readUiAssetFiles()) {
    const type = CONTENT_TYPES[extname(path)];
    if (!type) continue;
    assets.set(`/ui/${path}`, {
      body,
      type,
      etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`,
    });
  }
  const handle = (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://daemon');
    const host = (req.headers.host ?? '').toLowerCase();
    if (!deps.allowedHosts().has(host)) {
      return text(res, 403, 'This daemon answers only to its own address or localhost.');
    }
    if (url.pathname.startsWith('/ui/')) return serveAsset(req, res, assets.get(url.pathname));
    if (req.method === 'POST' && !sameOrigin(req, host)) {
      return text(res, 403, 'This form must be sent from the daemon’s own pages.');
    }
    if (url.pathname === '/login' && req.method === 'POST') return signIn(req, res, deps.sessions);
    if (url.pathname === '/logout' && req.method === 'POST') {
      deps.sessions.signOut(req);
      return redirect(res, '/', clearCookie(deps.sessions.cookieName));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return text(res, 405, `${req.method} is not allowed here.`);
    const token = url.searchParams.get('login');
    if (url.pathname === '/' && token !== null) {
      const session = deps.sessions.redeemLoginToken(token);
      // Redirected to a clean address either way, so the token leaves the history and the screen.
      return redirect(res, '/', session ? sessionCookie(deps.sessions.cookieName, session) : undefined);
    }
    if (url.pathname === '/login') {
      return deps.sessions.authorizeRequest(req) ? redirect(res, '/') : html(res, 200, signInPageHtml());
    }
    if (url.pathname === '/') {
      return deps.sessions.authorizeRequest(req)
        ? html(res, 200, appShellHtml())
        : html(res, 200, signInPageHtml());
    }
    return text(res, 404, 'No such page.');
  };
  return {
    name: 'ui',
    matches: (path) => path === '/' || path === '/login' || path === '/logout' || path.startsWith('/ui/'),
    handle: (req, res) => {
      handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) void text(res, 500, error instanceof Error ? error.message : String(error));
        else res.destroy();
      });
    },
  };
}

async function signIn(req: IncomingMessage, res: ServerResponse, sessions: UiSessions): Promise<void> {
  const body = await readFormBody(req);
  if (body === undefined) return html(res, 413, signInPageHtml({ problem: 'That form was too large.' }));
  const secret = body.get('secret') ?? '';
  if (secret === '') return html(res, 401, signInPageHtml({ problem: 'Enter the daemon’s secret.' }));
  const session = sessions.signIn(secret.trim());
  if (!session) {
    await sleep(UI_SIGN_IN_FAILURE_DELAY_MS);
    return html(res, 401, signInPageHtml({ problem: 'That is not this daemon’s secret.' }));
  }
  return redirect(res, '/', sessionCookie(sessions.cookieName, session));
}

/** A browser always names the page a POST comes from; a form on another site must not sign in or out. */
function sameOrigin(req: IncomingMessage, host: string): boolean {
  const origin = req.headers.origin;
  return origin === undefined || origin === `http://${host}`;
}

async function readFormBody(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > UI_SIGN_IN_MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sessionCookie(name: string, id: string): string {
  return `${name}=${id}; Path=/; HttpOnly; SameSite=Strict`;
}

function clearCookie(name: string): string {
  return `${name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
}

const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

async function html(res: ServerResponse, status: number, body: string): Promise<void> {
  res.writeHead(status, {
    ...PAGE_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

async function text(res: ServerResponse, status: number, body: string): Promise<void> {
  res.writeHead(status, {
    ...PAGE_HEADERS,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

async function redirect(res: ServerResponse, location: string, cookie?: string): Promise<void> {
  res.writeHead(303, { ...PAGE_HEADERS, location, ...(cookie ? { 'set-cookie': cookie } : {}) });
  res.end();
}

/** Revalidated on every load (cheap, a 304) so a new ddm's files are never mixed with old ones. */
async function serveAsset(
  req: IncomingMessage,
  res: ServerResponse,
  asset: Asset | undefined,
): Promise<void> {
  if (!asset) return text(res, 404, 'No such file.');
  const headers = {
    'content-type': asset.type,
    'cache-control': 'no-cache',
    etag: asset.etag,
    'x-content-type-options': 'nosniff',
  };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': asset.body.length });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}
