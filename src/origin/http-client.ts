/**
 * The undici dispatcher that carries every request to an origin, and the options each
 * origin request needs. One dispatcher is shared by all connections of a download so
 * keep-alive sockets are reused between pieces.
 */
import type { buildConnector, Dispatcher, Agent as UndiciAgent } from 'undici';
import { ORIGIN_KEEP_ALIVE_TIMEOUT_MS } from '../constants.js';
import { Agent, EnvHttpProxyAgent } from '../util/undici-parts.js';
import type { OriginSockets } from './origin-sockets.js';

export interface OriginDispatcherOptions {
  /** Connect timeout, and the default headers/body idle timeout. */
  timeoutMs: number;
  /** Most sockets open to one origin at a time; unlimited when absent. */
  connections?: number;
  /** Honour HTTP_PROXY, HTTPS_PROXY and NO_PROXY (any case). Default true. */
  proxyFromEnv?: boolean;
  /**
   * Extra undici connect options (e.g. a `lookup` that refuses private addresses), or a whole
   * connector function. Behind a proxy these apply to the connection to the proxy, not to the origin.
   */
  connect?: object | buildConnector.connector;
  /** How the origin's certificate is judged (`--ca-certificate`, `--insecure`); ignored with a connector function. */
  tls?: OriginTls;
}

/** Trust for https origins; the system's CAs when empty. */
export interface OriginTls {
  /** PEM certificates believed instead of the system's CAs. */
  ca?: string[];
  /** Believe any certificate (`--insecure`). */
  insecure?: boolean;
}

/** Everything an origin request needs besides the URL; shared by probe, range and whole requests. */
export interface OriginRequestOptions {
  dispatcher: Dispatcher;
  /** Extra request headers (e.g. from `--header`). Sent to the first origin only, see request-headers. */
  headers: Record<string, string>;
  userAgent: string;
  /** Time allowed for the response headers, and for each gap between body chunks. */
  timeoutMs: number;
  maxRedirects: number;
  /** Called before every hop, redirects included; throws to refuse the destination (SSRF guard). */
  beforeRequest?: (url: URL) => void;
  /**
   * Decode a body the origin content-codes (gzip...) although ddm asks for identity
   * (`--compressed`). Without it such a body is refused with ENCODED_RESPONSE.
   */
  decodeContent?: boolean;
  /** Bytes a response body buffers before it pushes back on the socket; default ORIGIN_BODY_HIGH_WATER_MARK_BYTES. */
  bodyHighWaterMarkBytes?: number;
  /**
   * ddm's own connections for plain-http ranges whose consumer releases what it wrote
   * (origin-sockets.ts); absent, or behind a proxy, every request goes through `dispatcher`.
   */
  sockets?: OriginSockets;
}

const PROXY_VARIABLES = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'];

export function proxyConfiguredInEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return PROXY_VARIABLES.some((name) => Boolean(env[name] || env[name.toLowerCase()]));
}

export function createOriginDispatcher(opts: OriginDispatcherOptions): Dispatcher {
  const tlsOptions = tlsConnectOptions(opts.tls);
  const agentOptions: UndiciAgent.Options = {
    // Some origins (CDNs, gRPC-style gateways) speak only HTTP/2; ALPN picks it when offered.
    allowH2: true,
    // Pipelining would queue a piece behind another piece's body on one socket.
    pipelining: 1,
    keepAliveTimeout: ORIGIN_KEEP_ALIVE_TIMEOUT_MS,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    // A connector function (the peer's guarded one) replaces undici's; options extend it.
    connect:
      typeof opts.connect === 'function'
        ? (opts.connect as buildConnector.connector)
        : { timeout: opts.timeoutMs, ...tlsOptions, ...opts.connect },
    ...(opts.connections === undefined ? {} : { connections: opts.connections }),
  };
  if ((opts.proxyFromEnv ?? true) && proxyConfiguredInEnv()) {
    // Through a proxy, `connect` reaches the proxy; the origin's TLS is set up by requestTls.
    return new EnvHttpProxyAgent({ ...agentOptions, requestTls: { ...tlsOptions } });
  }
  return new Agent(agentOptions);
}

function tlsConnectOptions(tls: OriginTls | undefined): { ca?: string[]; rejectUnauthorized?: boolean } {
  if (tls?.insecure) return { rejectUnauthorized: false };
  if (tls?.ca !== undefined) return { ca: tls.ca };
  return {};
}
