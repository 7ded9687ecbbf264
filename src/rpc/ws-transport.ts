/**
 * JSON-RPC over WebSocket on /jsonrpc: the same calls, plus notifications pushed to sessions that
 * made an authorised call. Each session holds at most RPC_WS_MAX_BUFFERED_BYTES, unanswered
 * requests in and unsent answers out together: a client that never reads is dropped, not fed.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { WebSocket, WebSocketServer as WebSocketServerClass } from 'ws';
import { RPC_AUTH_FAILURE_DELAY_MS, RPC_MAX_REQUEST_BYTES, RPC_WS_MAX_BUFFERED_BYTES } from '../constants.js';
import { requirePackage } from '../util/require-package.js';
import { refusal } from './access.js';
import type { RpcDeps } from './deps.js';
import type { JsonRpc } from './json-rpc.js';
import { parseError } from './rpc-error.js';

const { WebSocketServer } = requirePackage<{ WebSocketServer: typeof WebSocketServerClass }>('ws');

/** What a session sends when asked for progress (ddm.subscribe): the downloads' statuses. */
export type ProgressSnapshot = () => unknown;

export class WsSession {
  #authorized: boolean;
  #pendingBytes = 0;
  #chain: Promise<void> = Promise.resolve();
  #progressTimer: NodeJS.Timeout | undefined;
  #lastProgress = '';

  constructor(
    private readonly socket: WebSocket,
    private readonly rpc: JsonRpc,
    private readonly preAuthorized: boolean,
    private readonly progress: ProgressSnapshot,
    onClose: (session: WsSession) => void,
  ) {
    this.#authorized = preAuthorized;
    // Text or binary frames alike: the message is JSON either way.
    socket.on('message', (data: Buffer) => this.#received(data));
    socket.on('close', () => {
      this.unsubscribe();
      onClose(this);
    });
    socket.on('error', () => socket.terminate());
  }

  /** aria2's and ddm's notifications, to sessions that made an authorised call. */
  notify(method: string, params: unknown[]): void {
    if (this.#authorized) this.#send({ jsonrpc: '2.0', method, params });
  }

  subscribe(intervalMs: number): void {
    this.unsubscribe();
    this.#lastProgress = '';
    const tick = () => {
      const downloads = this.progress();
      const text = JSON.stringify(downloads);
      if (text === this.#lastProgress) return;
      this.#lastProgress = text;
      this.#send({ jsonrpc: '2.0', method: 'ddm.onProgress', params: [{ downloads }] });
    };
    this.#progressTimer = setInterval(tick, intervalMs);
    this.#progressTimer.unref();
    queueMicrotask(tick);
  }

  unsubscribe(): void {
    clearInterval(this.#progressTimer);
    this.#progressTimer = undefined;
  }

  close(): void {
    this.unsubscribe();
    this.socket.terminate();
  }

  #received(data: Buffer): void {
    this.#pendingBytes += data.length;
    if (this.#overLimit(0)) return;
    this.#chain = this.#chain.then(async () => {
      try {
        await this.#answer(data);
      } finally {
        this.#pendingBytes -= data.length;
      }
    });
  }

  async #answer(data: Buffer): Promise<void> {
    let message: unknown;
    try {
      message = JSON.parse(data.toString('utf8'));
    } catch {
      const error = parseError();
      this.#send({ id: null, jsonrpc: '2.0', error: { code: error.code, message: error.message } });
      return;
    }
    const answer = await this.rpc.answer(message, this.preAuthorized, { session: this });
    if (answer.authorized) this.#authorized = true;
    if (answer.authFailed) await delay(RPC_AUTH_FAILURE_DELAY_MS);
    this.#send(answer.body);
  }

  #send(body: unknown): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    const text = JSON.stringify(body);
    if (this.#overLimit(Buffer.byteLength(text))) return;
    this.socket.send(text);
  }

  /** Drops the session when what it holds would pass the bound. */
  #overLimit(adding: number): boolean {
    if (this.socket.bufferedAmount + this.#pendingBytes + adding <= RPC_WS_MAX_BUFFERED_BYTES) return false;
    this.close();
    return true;
  }
}

export interface WsTransport {
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  sessions(): ReadonlySet<WsSession>;
  close(): void;
}

export function wsTransport(rpc: JsonRpc, deps: RpcDeps, progress: ProgressSnapshot): WsTransport {
  const server = new WebSocketServer({ noServer: true, maxPayload: RPC_MAX_REQUEST_BYTES });
  const sessions = new Set<WsSession>();
  return {
    upgrade: (req, socket, head) => {
      const refused = refusal(req, deps);
      if (refused) {
        const text = JSON.stringify({ error: { code: 1, message: refused.message } });
        socket.end(
          `HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
        );
        return;
      }
      const preAuthorized = deps.authorizeRequest?.(req) ?? false;
      server.handleUpgrade(req, socket, head, (ws) => {
        sessions.add(new WsSession(ws, rpc, preAuthorized, progress, (session) => sessions.delete(session)));
      });
    },
    sessions: () => sessions,
    close: () => {
      for (const session of sessions) session.close();
      sessions.clear();
      server.close();
    },
  };
}
