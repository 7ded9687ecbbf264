/**
 * Dials the TCP connections that origin-connection.ts reads: `net.connect` with the connection's
 * own read buffers (`onread`), a connect timeout and the request's AbortSignal.
 */
import { connect, type LookupFunction, type OnReadOpts, type Socket } from 'node:net';
import { abortError } from '../errors.js';
import type { OriginDialer } from './origin-connection.js';

/** A URL's hostname as `net.connect` takes it (no IPv6 brackets). */
export function socketHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

export interface DialOptions {
  host: string;
  port: number;
  onread: OnReadOpts;
  lookup?: LookupFunction;
  timeoutMs: number;
  /** Judges the connected socket before a byte is sent; an error refuses it. */
  check?: (socket: Socket) => Error | undefined;
}

/** Resolves with the connected socket, or rejects (timeout: ETIMEDOUT; abort: ABORTED). */
export function dialSocket(options: DialOptions, signal: AbortSignal): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal));
      return;
    }
    const socket = connect({
      host: options.host,
      port: options.port,
      onread: options.onread,
      ...(options.lookup ? { lookup: options.lookup } : {}),
    });
    const settle = (error: unknown) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', settle);
      if (error === undefined) resolve(socket);
      else {
        socket.destroy();
        reject(error);
      }
    };
    const onConnect = () => settle(options.check?.(socket));
    const onAbort = () => settle(abortError(signal));
    const timer = setTimeout(
      () =>
        settle(
          Object.assign(new Error(`connect timed out after ${options.timeoutMs} ms`), { code: 'ETIMEDOUT' }),
        ),
      options.timeoutMs,
    );
    socket.once('connect', onConnect);
    socket.once('error', settle);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The client's own connections: any address its resolver gives. */
export const plainDialer: OriginDialer = (target, onread, timeoutMs, signal) =>
  dialSocket({ host: socketHost(target.hostname), port: target.port, onread, timeoutMs }, signal);
