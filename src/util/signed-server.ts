/**
 * The node:http server under the tracker and the peer: bounded connections and timeouts, every
 * request authenticated before any route sees it, every answer signed, errors as JSON.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import type { ZodType } from 'zod';
import {
  MAX_JSON_BODY_BYTES,
  SERVER_HEADERS_TIMEOUT_MS,
  SERVER_KEEP_ALIVE_TIMEOUT_MS,
  SERVER_MAX_CONNECTIONS,
  SERVER_REQUEST_TIMEOUT_MS,
} from '../constants.js';
import { abortError, DdmError, type ErrorCode } from '../errors.js';
import { RequestVerifier, type SwarmKey } from '../protocol/auth.js';
import { readSignedRequest, sendError, sendJson } from './signed-http.js';

export interface SignedContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** The caller's address as seen on the TCP connection (IPv4-mapped IPv6 shown as IPv4). */
  address: string;
  body: Buffer;
  nonce: string;
  /** Aborts when the caller disconnects or the server closes. */
  signal: AbortSignal;
  key: SwarmKey;
  /** The body parsed and validated, or a PROTOCOL DdmError (answered as 400). */
  json<T>(schema: ZodType<T>): T;
  /** Answers JSON signed for this request. */
  reply(status: number, value: unknown): void;
}

export type Route = (ctx: SignedContext) => Promise<void> | void;

export interface SignedServerOptions {
  host: string;
  port: number;
  key: SwarmKey;
  /** Keyed by `METHOD /path`, e.g. `POST /v1/register`. */
  routes: Readonly<Record<string, Route>>;
  log?: Logger;
  maxConnections?: number;
}

export interface SignedServer {
  /** A URL that reaches the server from this machine. */
  url: string;
  address: AddressInfo;
  /** Stops accepting, aborts requests in flight, and resolves once every connection is closed. */
  close(): Promise<void>;
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  PROTOCOL: 400,
  URL_INVALID: 400,
  AUTH_FAILED: 401,
  PEER_REFUSED: 403,
  FORBIDDEN_DESTINATION: 403,
  PEER_ID_TAKEN: 409,
  ORIGIN_CHANGED: 412,
  PEER_BUSY: 503,
  TRACKER_FULL: 503,
};

/** Statuses for DdmErrors raised by routes; anything unlisted went wrong upstream of this node. */
export function statusForCode(code: ErrorCode): number {
  return STATUS_BY_CODE[code] ?? 502;
}

export async function startSignedServer(
  opts: SignedServerOptions,
  signal: AbortSignal,
): Promise<SignedServer> {
  if (signal.aborted) throw abortError(signal);
  const verifier = new RequestVerifier(opts.key);
  // One controller per request in flight, aborted on close (no listener per request on a shared signal).
  const calls = new Set<AbortController>();
  const server = createServer({
    headersTimeout: SERVER_HEADERS_TIMEOUT_MS,
    requestTimeout: SERVER_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: SERVER_KEEP_ALIVE_TIMEOUT_MS,
  });
  server.maxConnections = opts.maxConnections ?? SERVER_MAX_CONNECTIONS;
  server.on('request', (req, res) => {
    handle(req, res, opts, verifier, calls).catch((error: unknown) => {
      opts.log?.error({ err: error }, 'request handler failed');
      res.destroy();
    });
  });
  await listen(server, opts.host, opts.port);
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= shutDown(server, calls);
    return closing;
  };
  signal.addEventListener('abort', () => void close(), { once: true });
  return { url: `http://${urlHost(address.address)}:${address.port}`, address, close };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'EADDRINUSE' ? 'address already in use' : (error.code ?? error.message);
      reject(new DdmError('USAGE', `cannot listen on ${host}:${port}: ${reason}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function shutDown(server: Server, calls: Set<AbortController>): Promise<void> {
  const reason = new DdmError('ABORTED', 'server is shutting down');
  for (const call of calls) call.abort(reason);
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** An unspecified listen address is reached through loopback; IPv6 needs brackets in a URL. */
function urlHost(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '[::1]';
  return address.includes(':') ? `[${address}]` : address;
}

/** The remote address of a connection, with IPv4-mapped IPv6 (`::ffff:a.b.c.d`) shown as IPv4. */
export function connectionAddress(req: IncomingMessage): string {
  const raw = req.socket.remoteAddress ?? '';
  return ipaddr.isValid(raw) ? ipaddr.process(raw).toString() : raw;
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  opts: SignedServerOptions,
  verifier: RequestVerifier,
  calls: Set<AbortController>,
): Promise<void> {
  const request = await readSignedRequest(req, verifier, MAX_JSON_BODY_BYTES).catch(() => undefined);
  if (request === undefined) {
    res.destroy();
    return;
  }
  if (!request.ok) {
    opts.log?.warn(
      { address: connectionAddress(req), url: req.url, reason: request.message },
      'request refused',
    );
    if (request.status === 413) res.setHeader('connection', 'close');
    sendError(res, request.status, request.code, request.message);
    return;
  }
  const { key } = opts;
  const { nonce } = request;
  const route = findRoute(opts.routes, req);
  if (typeof route === 'number') {
    const text = route === 404 ? `no such endpoint: ${pathOf(req)}` : `method ${req.method} not allowed here`;
    sendError(res, route, 'PROTOCOL', text, key, nonce);
    return;
  }
  const call = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) call.abort(new DdmError('ABORTED', 'caller disconnected'));
  };
  res.once('close', onClose);
  calls.add(call);
  const ctx: SignedContext = {
    req,
    res,
    address: connectionAddress(req),
    body: request.body,
    nonce,
    signal: call.signal,
    key,
    json: (schema) => parseBody(request.body, schema),
    reply: (status, value) => sendJson(res, status, value, key, nonce),
  };
  try {
    await route(ctx);
  } catch (error) {
    answerFailure(ctx, error, opts.log);
  } finally {
    calls.delete(call);
  }
}

function findRoute(routes: Readonly<Record<string, Route>>, req: IncomingMessage): Route | 404 | 405 {
  const path = pathOf(req);
  const route = routes[`${req.method} ${path}`];
  if (route) return route;
  return Object.keys(routes).some((entry) => entry.endsWith(` ${path}`)) ? 405 : 404;
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function parseBody<T>(body: Buffer, schema: ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new DdmError('PROTOCOL', 'request body is not valid JSON');
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`)
    .join('; ');
  throw new DdmError('PROTOCOL', `invalid request: ${problems}`.slice(0, 1_000));
}

/** Answers a route's failure as signed JSON, or cuts the connection if the answer already started. */
function answerFailure(ctx: SignedContext, error: unknown, log: Logger | undefined): void {
  const { res } = ctx;
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  if (error instanceof DdmError) {
    sendError(
      res,
      statusForCode(error.code),
      error.code,
      error.message,
      ctx.key,
      ctx.nonce,
      plainDetails(error),
    );
    return;
  }
  log?.error({ err: error, url: ctx.req.url }, 'unexpected failure while answering');
  sendError(res, 500, 'INTERNAL', 'internal error', ctx.key, ctx.nonce);
}

/**
 * Only plain values cross the wire; a cause or an object in the details stays here. Whether a
 * retry may help travels along, since the client cannot judge an origin failure it did not see.
 */
function plainDetails(error: DdmError): Record<string, string | number | boolean | null> {
  const plain: Record<string, string | number | boolean | null> = { retryable: error.retryable };
  for (const [name, value] of Object.entries(error.details)) {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
      plain[name] = value as string | number | boolean | null;
    }
  }
  return plain;
}
