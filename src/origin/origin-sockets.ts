/**
 * ddm's own keep-alive connections to plain-http origins, for the byte path: a range is read
 * from the socket straight into fixed slabs (origin-connection.ts) rather than through undici's
 * buffer per read and stream per response. Only the common case goes this way: an `http:` URL,
 * no proxy, a 206 with a Content-Length. Everything else (https, redirects, chunked bodies) is
 * left to undici by returning undefined before any byte of the body is read.
 */

import {
  type Exchange,
  OriginConnection,
  type OriginDialer,
  rangeBody,
  StaleConnectionError,
} from './origin-connection.js';
import { requestText } from './request-text.js';
import type { ResponseHead } from './response-head.js';
import { SlabPool } from './slab-ring.js';
import { fromTransportError } from './transport-errors.js';

export interface SocketAnswer {
  head: ResponseHead;
  /** Carries the answer; `acceptBody` once the head is checked, `destroy` otherwise. */
  connection: OriginConnection;
}

export class OriginSockets {
  readonly slabs = new SlabPool();
  private readonly idle = new Map<string, OriginConnection[]>();

  constructor(private readonly dial: OriginDialer) {}

  /**
   * Sends a GET for `url` with `headers` (lower-case names) and resolves with the answer's head;
   * undefined when the request cannot be written as is (a header undici would refuse).
   */
  async request(
    url: URL,
    headers: Record<string, string>,
    wanted: number,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<SocketAnswer | undefined> {
    const request = requestText('GET', url, headers);
    if (request === undefined) return undefined;
    return this.exchange({ request, bodyBytes: rangeBody(wanted), timeoutMs, url }, signal);
  }

  /**
   * Sends `exchange.request` as it is (a reused connection first) and resolves with the answer's
   * head; a connection the server had closed as it was reused is replaced once per try.
   */
  async exchange(exchange: Exchange, signal: AbortSignal): Promise<SocketAnswer> {
    const { url, timeoutMs } = exchange;
    let connection = this.takeIdle(url.host);
    for (;;) {
      connection ??= await this.connect(url, timeoutMs, signal);
      try {
        return { head: await connection.send(exchange, signal), connection };
      } catch (error) {
        // The origin closed an idle connection as it was reused: the request goes again, on a new one.
        if (!(error instanceof StaleConnectionError)) throw fromTransportError(error, url, signal);
        connection = undefined;
      }
    }
  }

  /** Closes the idle connections (a download or a helper is done). */
  close(): void {
    for (const connections of this.idle.values()) for (const connection of connections) connection.destroy();
    this.idle.clear();
  }

  private takeIdle(key: string): OriginConnection | undefined {
    const connections = this.idle.get(key);
    for (let connection = connections?.pop(); connection !== undefined; connection = connections?.pop()) {
      if (connection.open) return connection;
    }
    return undefined;
  }

  private async connect(url: URL, timeoutMs: number, signal: AbortSignal): Promise<OriginConnection> {
    const key = url.host;
    const connection = new OriginConnection(
      this.slabs,
      (idle) => this.park(key, idle),
      (closed) => this.forget(key, closed),
    );
    const port = url.port === '' ? 80 : Number(url.port);
    try {
      connection.attach(
        await this.dial({ hostname: url.hostname, port }, connection.onread, timeoutMs, signal),
      );
    } catch (error) {
      throw fromTransportError(error, url, signal);
    }
    return connection;
  }

  private park(key: string, connection: OriginConnection): void {
    const connections = this.idle.get(key);
    if (connections === undefined) this.idle.set(key, [connection]);
    else connections.push(connection);
  }

  private forget(key: string, connection: OriginConnection): void {
    const connections = this.idle.get(key);
    if (connections === undefined) return;
    const at = connections.indexOf(connection);
    if (at >= 0) connections.splice(at, 1);
    if (connections.length === 0) this.idle.delete(key);
  }
}
