/**
 * The node:http server under the tracker and the peer: bounded connections and timeouts, every
 * request authenticated before any route sees it, every answer signed, errors as JSON (even for
 * requests too malformed to reach a route).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type IpAddr from 'ipaddr.js';
import type { Logger } from 'pino';
import { type GenericSchema, safeParse } from 'valibot';
import {
  BACKGROUND_BATCH_REQUESTS,
  MAX_JSON_BODY_BYTES,
  SERVER_HEADERS_TIMEOUT_MS,
  SERVER_KEEP_ALIVE_TIMEOUT_MS,
  SERVER_MAX_CONNECTIONS,
  SERVER_MAX_CONNECTIONS_PER_ADDRESS,
  SERVER_MAX_HEADER_BYTES,
  SERVER_MAX_UNAUTHENTICATED_CONNECTIONS,
  SERVER_MAX_UNAUTHENTICATED_PER_ADDRESS,
  SERVER_REQUEST_TIMEOUT_MS,
  SERVER_SOCKET_IDLE_TIMEOUT_MS,
  SERVER_TIMEOUT_CHECK_INTERVAL_MS,
} from '../../constants.js';
import { policyFor } from '../../error-policy.js';
import { abortError, DdmError, type ErrorCode } from '../../errors.js';
import { ANY_NODE, type RequestTarget, RequestVerifier, type SwarmKey } from '../../protocol/auth.js';
import type { ReplayLimits } from '../../protocol/replay-memory.js';
import { requirePackage } from '../../util/require-package.js';
import { describeIssues } from '../../util/schema-issues.js';
import { BackgroundQueue } from './background-queue.js';
import { ConnectionLimiter } from './connection-limiter.js';
import { createNodeServer, nodeScheme, type ServerTls } from './server-tls.js';
import { readSignedRequest, sendError, sendJson } from './signed-answers.js';

const ipaddr = requirePackage<typeof IpAddr>('ipaddr.js');

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
  json<T>(schema: GenericSchema<unknown, T>): T;
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
  /** Open connections in all; beyond, the oldest idle one makes room, else the newcomer is dropped. */
  maxConnections?: number;
  /** Open connections from one source address, with the same rule. */
  maxConnectionsPerAddress?: number;
  /** Of those, connections without a correctly signed request yet, in all and per address. */
  maxUnauthenticated?: number;
  maxUnauthenticatedPerAddress?: number;
  /** Largest request body; a larger one is answered 413. */
  maxBodyBytes?: number;
  /**
   * A connection with no traffic either way for this long is closed. Must exceed the longest
   * silent wait of a route (an operator's consent, an origin's first byte).
   */
  socketIdleTimeoutMs?: number;
  /** Serve https with this certificate (`loadServerTls`); plain http without. */
  tls?: ServerTls;
  /**
   * This node's id: requests must name it (or ANY_NODE on `anyNodeRoutes`). A node without an id
   * (a tracker) takes only requests for ANY_NODE, bound to it by their authority alone.
   */
  nodeId?: string;
  /** Routes (`METHOD /path`) that a client may call before it knows the id: GET /v1/info. */
  anyNodeRoutes?: readonly string[];
  /** Replay memory, in all and per sender (a tracker sizes it by its swarm); a peer's default without. */
  replay?: ReplayLimits;
  /**
   * Routes (`METHOD /path`) whose requests can wait: served in small batches after the requests
   * parsed with them (see BackgroundQueue), e.g. a tracker's heartbeats behind its lists.
   */
  backgroundRoutes?: readonly string[];
}

export interface SignedServer {
  /** A URL that reaches the server from this machine. */
  url: string;
  address: AddressInfo;
  /** Stops accepting, aborts requests in flight, and resolves once every connection is closed. */
  close(): Promise<void>;
}

/** Statuses for DdmErrors raised by routes (src/error-policy.ts decides them). */
export function statusForCode(code: ErrorCode): number {
  return policyFor(code).wireStatus;
}

/** What a signed server serves, without a listener of its own (routes: host and port are unused). */
export type SignedHandlerOptions = Omit<SignedServerOptions, 'host' | 'port' | 'tls'>;

/** The routes of a signed server as a handler for someone else's server (the daemon's port). */
export interface SignedHandler {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Aborts every request in flight (fetches streaming included). */
  abortAll(reason: unknown): void;
}

/**
 * The signed routes for a server that is not ours: requests are authenticated, answers signed,
 * as on a server of our own, but connection limits and timeouts are the host server's.
 */
export function createSignedHandler(opts: SignedHandlerOptions): SignedHandler {
  const verifier = new RequestVerifier(opts.key);
  const calls = new Set<AbortController>();
  return {
    handle: (req, res) => {
      handle(req, res, opts, verifier, calls, () => {}).catch((error: unknown) => {
        opts.log?.error({ err: error }, 'request handler failed');
        res.destroy();
      });
    },
    abortAll: (reason) => {
      for (const call of calls) call.abort(reason);
    },
  };
}

export async function startSignedServer(
  opts: SignedServerOptions,
  signal: AbortSignal,
): Promise<SignedServer> {
  if (signal.aborted) throw abortError(signal);
  const verifier = new RequestVerifier(opts.key, undefined, opts.replay);
  // One controller per request in flight, aborted on close (no listener per request on a shared signal).
  const calls = new Set<AbortController>();
  const server = createNodeServer(
    {
      headersTimeout: SERVER_HEADERS_TIMEOUT_MS,
      requestTimeout: SERVER_REQUEST_TIMEOUT_MS,
      keepAliveTimeout: SERVER_KEEP_ALIVE_TIMEOUT_MS,
      connectionsCheckingInterval: SERVER_TIMEOUT_CHECK_INTERVAL_MS,
      maxHeaderSize: SERVER_MAX_HEADER_BYTES,
      // Checked in `handle` instead, so that the refusal is JSON like every other one.
      requireHostHeader: false,
    },
    opts.tls,
  );
  server.setTimeout(opts.socketIdleTimeoutMs ?? SERVER_SOCKET_IDLE_TIMEOUT_MS);
  const connections = limitConnections(server, opts);
  server.on('clientError', answerClientError);
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    connections.track(req, res);
    res.setHeader('connection', 'close');
    sendError(res, 417, 'PROTOCOL', 'only "Expect: 100-continue" is supported');
  });
  const background = backgroundQueueFor(opts);
  server.on('request', (req, res) => {
    connections.track(req, res);
    const serve = () =>
      handle(req, res, opts, verifier, calls, () => connections.authenticated(req)).catch(
        (error: unknown) => {
          opts.log?.error({ err: error }, 'request handler failed');
          res.destroy();
        },
      );
    if (background?.takes(req)) background.queue.push(serve);
    else void serve();
  });
  await listen(server, opts.host, opts.port);
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= shutDown(server, calls);
    return closing;
  };
  signal.addEventListener('abort', () => void close(), { once: true });
  return { url: `${nodeScheme(opts.tls)}://${urlHost(address.address)}:${address.port}`, address, close };
}

function backgroundQueueFor(opts: SignedServerOptions) {
  const routes = new Set(opts.backgroundRoutes ?? []);
  if (routes.size === 0) return undefined;
  const queue = new BackgroundQueue(BACKGROUND_BATCH_REQUESTS, (error) =>
    opts.log?.error({ err: error }, 'request handler failed'),
  );
  return { queue, takes: (req: IncomingMessage) => routes.has(`${req.method} ${pathOf(req)}`) };
}

/** Admits connections within the limits, and tells the limiter which ones are serving a request. */
function limitConnections(server: Server, opts: SignedServerOptions) {
  const limiter = new ConnectionLimiter({
    maxConnections: opts.maxConnections ?? SERVER_MAX_CONNECTIONS,
    maxPerAddress: opts.maxConnectionsPerAddress ?? SERVER_MAX_CONNECTIONS_PER_ADDRESS,
    maxUnauthenticated: opts.maxUnauthenticated ?? SERVER_MAX_UNAUTHENTICATED_CONNECTIONS,
    maxUnauthenticatedPerAddress: opts.maxUnauthenticatedPerAddress ?? SERVER_MAX_UNAUTHENTICATED_PER_ADDRESS,
  });
  // Under https a request's socket is the TLS layer, not the TCP socket admitted here (admission
  // comes before the handshake, so handshakes count too); both show the same remote endpoint.
  const admitted = new Map<string, Socket>();
  server.on('connection', (socket: Socket) => {
    if (limiter.admit(socket, socketAddress(socket)) === 'refused') {
      opts.log?.warn({ address: socketAddress(socket) }, 'connection refused: too many connections');
      return;
    }
    const endpoint = remoteEndpoint(socket);
    admitted.set(endpoint, socket);
    socket.once('close', () => {
      if (admitted.get(endpoint) === socket) admitted.delete(endpoint);
    });
  });
  const admittedSocket = (req: IncomingMessage) => admitted.get(remoteEndpoint(req.socket)) ?? req.socket;
  return {
    track(req: IncomingMessage, res: ServerResponse): void {
      const socket = admittedSocket(req);
      limiter.requestStarted(socket);
      res.once('close', () => limiter.requestEnded(socket));
    },
    authenticated(req: IncomingMessage): void {
      limiter.authenticated(admittedSocket(req));
    },
  };
}

function remoteEndpoint(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
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
  return socketAddress(req.socket);
}

/**
 * What a connection's requests need of its addresses, worked out once per connection: a tracker
 * answers thousands of keep-alive requests a second, and parsing both addresses each time was a
 * measurable share of its thread.
 */
interface SocketFacts {
  address: string;
  /** The last authority a request on this connection named, and whether it names this socket. */
  authority?: string;
  namesSocket?: boolean;
}

const socketFacts = new WeakMap<Socket, SocketFacts>();

function factsOf(socket: Socket): SocketFacts {
  let facts = socketFacts.get(socket);
  if (facts === undefined) {
    const raw = socket.remoteAddress ?? '';
    // Before the socket closes (after, remoteAddress is gone and nothing is cached).
    facts = { address: ipaddr.isValid(raw) ? ipaddr.process(raw).toString() : raw };
    if (raw !== '') socketFacts.set(socket, facts);
  }
  return facts;
}

function socketAddress(socket: Socket): string {
  return factsOf(socket).address;
}

interface ClientErrorAnswer {
  status: number;
  reason: string;
  code: 'PROTOCOL' | 'TIMEOUT';
  message: string;
}

/** What to answer a request that node:http could not parse (or that came too slowly). */
function clientErrorAnswer(error: NodeJS.ErrnoException): ClientErrorAnswer {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        reason: 'Request Header Fields Too Large',
        code: 'PROTOCOL',
        message: `request head larger than ${SERVER_MAX_HEADER_BYTES} bytes`,
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        reason: 'Request Timeout',
        code: 'TIMEOUT',
        message: 'request not received in time',
      };
    default:
      return { status: 400, reason: 'Bad Request', code: 'PROTOCOL', message: 'malformed HTTP request' };
  }
}

type ServedSocket = Socket & { _httpMessage?: ServerResponse | null };

/**
 * Answers an unparsable request with a JSON error, like every other refusal. As in node:http's
 * own handler, nothing is written once a response on this socket has started: raw bytes in the
 * middle of it would corrupt what the client reads.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: ServedSocket): void {
  const inFlight = socket._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  const answer = clientErrorAnswer(error);
  const body = JSON.stringify({ error: { code: answer.code, message: answer.message } });
  socket.end(
    `HTTP/1.1 ${answer.status} ${answer.reason}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      'cache-control: no-store\r\n' +
      'connection: close\r\n\r\n' +
      body,
  );
  // A client that never reads must not keep the socket (and its buffer) alive.
  socket.destroySoon();
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  opts: SignedHandlerOptions,
  verifier: RequestVerifier,
  calls: Set<AbortController>,
  onAuthenticated: () => void,
): Promise<void> {
  if (req.httpVersion === '1.1' && req.headers.host === undefined) {
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is answered 400.
    res.setHeader('connection', 'close');
    sendError(res, 400, 'PROTOCOL', 'HTTP/1.1 request without a Host header');
    return;
  }
  const maxBodyBytes = opts.maxBodyBytes ?? MAX_JSON_BODY_BYTES;
  const request = await readSignedRequest(req, verifier, maxBodyBytes).catch(() => undefined);
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
  const misdirected = misdirection(request.target, req, opts);
  if (misdirected !== undefined) {
    opts.log?.warn({ address: connectionAddress(req), url: req.url, reason: misdirected }, 'request refused');
    sendError(res, 421, 'PROTOCOL', misdirected, key, nonce);
    return;
  }
  // Only now is the connection a member's: a request recorded on its way elsewhere proves nothing.
  onAuthenticated();
  const route = findRoute(opts.routes, req);
  if (typeof route === 'number') {
    const text = route === 404 ? `no such endpoint: ${pathOf(req)}` : `method ${req.method} not allowed here`;
    sendError(res, route, 'PROTOCOL', text, key, nonce);
    return;
  }
  const ctx = new RequestContext(req, res, connectionAddress(req), request.body, nonce, key, calls);
  res.once('close', () => ctx.closed());
  try {
    await route(ctx);
  } catch (error) {
    answerFailure(ctx, error, opts.log);
  } finally {
    ctx.release();
  }
}

/**
 * A request as its route sees it. A class, not an object literal: a literal with a getter gets
 * an accessor pair of its own, and V8 allocates accessor pairs in the old generation. Each
 * request's pair pointed at its getter's closure, so every scavenge kept the request, its
 * response and their headers until a full collection freed the pair. At a tracker's 5,000
 * heartbeats a second that was ~15 MB/s promoted and two full collections a second, each a
 * pause in every list. With the getter on the prototype a heartbeat's objects die young
 * (measured on a bare signed server: ~295 KB promoted per scavenge before, ~1 KB after).
 */
class RequestContext implements SignedContext {
  /**
   * Made when a route first asks for its signal: a tracker's routes never do, and at thousands of
   * requests a second a controller, its signal and a listener each were a measurable share.
   */
  #call: AbortController | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly address: string,
    readonly body: Buffer,
    readonly nonce: string,
    readonly key: SwarmKey,
    private readonly calls: Set<AbortController>,
  ) {}

  get signal(): AbortSignal {
    if (this.#call === undefined) {
      this.#call = new AbortController();
      this.calls.add(this.#call);
      if (this.res.closed && !this.res.writableFinished) this.#call.abort(callerDisconnected());
    }
    return this.#call.signal;
  }

  json<T>(schema: GenericSchema<unknown, T>): T {
    return parseBody(this.body, schema);
  }

  reply(status: number, value: unknown): void {
    sendJson(this.res, status, value, this.key, this.nonce);
  }

  /** The response closed: before its end was written, the caller is gone and the route is aborted. */
  closed(): void {
    if (!this.res.writableFinished) this.#call?.abort(callerDisconnected());
  }

  /** The route is done: the server no longer aborts it on close. */
  release(): void {
    if (this.#call) this.calls.delete(this.#call);
  }
}

function callerDisconnected(): DdmError {
  return new DdmError('ABORTED', 'caller disconnected');
}

/**
 * Why a correctly signed request is not for this node, or undefined when it is. The signature
 * binds the target id and the Host the client dialled, so a request recorded on the way to
 * another node (another id, another address) is refused here, not served.
 */
function misdirection(
  target: RequestTarget,
  req: IncomingMessage,
  opts: SignedHandlerOptions,
): string | undefined {
  if (target.node === ANY_NODE) {
    const open = opts.nodeId === undefined || opts.anyNodeRoutes?.includes(`${req.method} ${pathOf(req)}`);
    if (!open) return `request does not name this node (${opts.nodeId}): ask GET /v1/info first`;
  } else if (target.node !== opts.nodeId) {
    const self = opts.nodeId === undefined ? 'a node without an id' : `node ${opts.nodeId}`;
    return `request is addressed to node ${target.node}, not to this one (${self})`;
  }
  if (!authorityNamesSocketOnce(target.authority, req.socket)) {
    return `request is addressed to ${target.authority.slice(0, 300)}, not to this node's address`;
  }
  return undefined;
}

/** As authorityNamesSocket, remembered for the connection's last authority. */
function authorityNamesSocketOnce(authority: string, socket: Socket): boolean {
  const facts = factsOf(socket);
  if (facts.authority !== authority || facts.namesSocket === undefined) {
    facts.authority = authority;
    facts.namesSocket = authorityNamesSocket(authority, socket);
  }
  return facts.namesSocket;
}

/**
 * Whether the Host a request was signed for names the address it arrived on. An IP literal must
 * be the connection's local address; a name cannot be checked here, and leaves the binding to
 * the node id. The port is not compared: a port forward on the same host (a relay, a container
 * mapping) is still this node, and two nodes on one host differ by id.
 */
export function authorityNamesSocket(authority: string, socket: Socket): boolean {
  let parsed: URL;
  try {
    parsed = new URL(`http://${authority}`);
  } catch {
    return false;
  }
  if (parsed.username !== '' || parsed.password !== '' || parsed.pathname !== '/') return false;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (!ipaddr.isValid(host)) return true;
  const local = socket.localAddress ?? '';
  if (!ipaddr.isValid(local)) return false;
  return ipaddr.process(host).toString() === ipaddr.process(local).toString();
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

function parseBody<T>(body: Buffer, schema: GenericSchema<unknown, T>): T {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new DdmError('PROTOCOL', 'request body is not valid JSON');
  }
  const parsed = safeParse(schema, value);
  if (parsed.success) return parsed.output;
  const problems = describeIssues(parsed.issues, 3);
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
