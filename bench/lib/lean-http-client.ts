/**
 * One keep-alive HTTP/1.1 connection that sends a request at a time and reads each answer into
 * one buffer it owns, for benchmarks that time a server's answers. A general client (undici) hands
 * out a fresh Buffer per chunk read; at a 1.27 MiB answer every 80 ms that was enough external
 * memory for the timing process to run a full GC several times a second, and its pauses (3-20 ms)
 * were counted as the server's latency. Here the body is counted, never kept: no allocation grows
 * with the answer's size. It understands answers with a Content-Length only (what ddm's servers
 * send), and says so otherwise.
 */
import { connect, type Socket } from 'node:net';
import { headEnd, keepsAlive, parseResponseHead, type ResponseHead } from '../../src/origin/response-head.js';
import { contentLength } from '../../src/origin/response-headers.js';
import { abortedError, BenchError } from './bench-error.js';

/** The read buffer, reused for every read: large enough that a big body takes few reads. */
const READ_BUFFER_BYTES = 256 * 1024;
const MAX_HEAD_BYTES = 16 * 1024;
/** What is kept of a body, for the message when the status is not the one expected. */
const KEPT_BODY_BYTES = 256;

export interface LeanConnectOptions {
  /** The address to connect from (a loopback alias, say). */
  localAddress?: string;
  /** Default READ_BUFFER_BYTES; small answers need far less. */
  readBufferBytes?: number;
}

export interface LeanRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** A JSON body, say; sent with its Content-Length. */
  body?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface LeanAnswer {
  status: number;
  bodyBytes: number;
  /** The first KEPT_BODY_BYTES of the body, as text. */
  bodyStart: string;
}

interface Pending {
  resolve(answer: LeanAnswer): void;
  reject(error: Error): void;
}

export class LeanHttpConnection {
  readonly #socket: Socket;
  readonly #head = Buffer.alloc(MAX_HEAD_BYTES);
  readonly #kept = Buffer.alloc(KEPT_BODY_BYTES);
  #headBytes = 0;
  #status = 0;
  #bodyLeft = -1;
  #bodyBytes = 0;
  #keptBytes = 0;
  #lastOnConnection = false;
  #pending: Pending | undefined;
  #failure: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('error', (error) => this.#fail(new BenchError('TOOL_FAILED', `connection: ${error.message}`)));
    socket.on('close', () => this.#fail(new BenchError('TOOL_FAILED', 'the server closed the connection')));
  }

  static open(
    host: string,
    port: number,
    signal: AbortSignal,
    options: LeanConnectOptions = {},
  ): Promise<LeanHttpConnection> {
    return new Promise((resolve, reject) => {
      let connection: LeanHttpConnection | undefined;
      const readBuffer = Buffer.alloc(options.readBufferBytes ?? READ_BUFFER_BYTES);
      const socket = connect({
        host,
        port,
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
        onread: {
          buffer: readBuffer,
          callback: (bytes) => {
            connection?.onBytes(readBuffer, bytes);
            return true;
          },
        },
      });
      const onAbort = () => socket.destroy(abortedError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(new BenchError('TOOL_FAILED', `cannot connect to ${host}:${port}: ${error.message}`));
      });
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.setNoDelay(true);
        connection = new LeanHttpConnection(socket);
        resolve(connection);
      });
    });
  }

  /** True until the connection fails or is closed: then open another. */
  get usable(): boolean {
    return this.#failure === undefined;
  }

  /**
   * Sends a request and resolves with its answer once the last body byte is read. A timeout or an
   * abort fails the connection too: its answer may still come, so it cannot carry another.
   */
  request(exchange: LeanRequest): Promise<LeanAnswer> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#pending) return Promise.reject(new BenchError('USAGE', 'one request at a time'));
    const { method, path, headers, body, timeoutMs, signal } = exchange;
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    let text = `${method} ${path} HTTP/1.1\r\n`;
    if (headers.host === undefined)
      text += `host: ${this.#socket.remoteAddress}:${this.#socket.remotePort}\r\n`;
    for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
    if (body !== undefined) text += `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    else text += '\r\n';
    this.#socket.write(text);
    return new Promise<LeanAnswer>((resolve, reject) => {
      const onAbort = () => this.#fail(abortedError(signal!));
      const timer = setTimeout(
        () => this.#fail(new BenchError('TIMEOUT', `${method} ${path}: no answer in ${timeoutMs} ms`)),
        timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      this.#pending = {
        resolve: (answer) => {
          settle();
          resolve(answer);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
    });
  }

  close(): void {
    this.#failure ??= new BenchError('ABORTED', 'connection closed');
    this.#socket.destroy();
  }

  private onBytes(buffer: Buffer, bytes: number): void {
    let offset = 0;
    if (this.#bodyLeft < 0) offset = this.#readHead(buffer, bytes);
    if (offset < 0 || this.#bodyLeft < 0) return;
    const body = Math.min(bytes - offset, this.#bodyLeft);
    if (bytes - offset > this.#bodyLeft) {
      this.#fail(new BenchError('TOOL_FAILED', 'bytes after the end of an answer (none were asked for)'));
      return;
    }
    if (this.#keptBytes < KEPT_BODY_BYTES)
      this.#keptBytes += buffer.copy(this.#kept, this.#keptBytes, offset, offset + body);
    this.#bodyBytes += body;
    this.#bodyLeft -= body;
    if (this.#bodyLeft === 0) this.#finish();
  }

  /** Collects the head; returns where the body starts in `buffer`, or -1 while there is none yet. */
  #readHead(buffer: Buffer, bytes: number): number {
    if (!this.#pending) {
      this.#fail(
        new BenchError(
          'TOOL_FAILED',
          `bytes from the server while no request was open: ${JSON.stringify(buffer.toString('latin1', 0, Math.min(bytes, 300)))}`,
        ),
      );
      return -1;
    }
    const before = this.#headBytes;
    this.#headBytes += buffer.copy(this.#head, before, 0, bytes);
    const end = headEnd(this.#head, before, this.#headBytes);
    if (end < 0) {
      if (this.#headBytes === MAX_HEAD_BYTES)
        this.#fail(new BenchError('TOOL_FAILED', `an answer's head is over ${MAX_HEAD_BYTES} bytes`));
      return -1;
    }
    let head: ResponseHead;
    try {
      head = parseResponseHead(this.#head.subarray(0, end), 'the server under test');
    } catch (error) {
      this.#fail(new BenchError('TOOL_FAILED', (error as Error).message));
      return -1;
    }
    const length = contentLength(head.headers);
    if (length === null || head.headers['transfer-encoding'] !== undefined) {
      this.#fail(
        new BenchError('TOOL_FAILED', `an answer without a Content-Length (status ${head.statusCode})`),
      );
      return -1;
    }
    this.#status = head.statusCode;
    this.#lastOnConnection = !keepsAlive(head);
    this.#bodyLeft = length;
    this.#headBytes = 0;
    if (this.#bodyLeft === 0) this.#finish();
    return end - before;
  }

  #finish(): void {
    const answer: LeanAnswer = {
      status: this.#status,
      bodyBytes: this.#bodyBytes,
      bodyStart: this.#kept.toString('utf8', 0, this.#keptBytes),
    };
    this.#bodyLeft = -1;
    this.#bodyBytes = 0;
    this.#keptBytes = 0;
    const pending = this.#pending;
    this.#pending = undefined;
    // Asked to close after this answer: the next request goes on another connection.
    if (this.#lastOnConnection) this.#fail(new BenchError('ABORTED', 'the server closed the connection'));
    pending?.resolve(answer);
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(this.#failure);
    this.#socket.destroy();
  }
}
