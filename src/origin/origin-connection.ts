/**
 * One keep-alive HTTP/1.1 connection to a plain-http origin, read without a buffer per read: the
 * socket reads a response head into a buffer of its own and a range's body straight into that
 * range's slabs (slab-ring.ts), which the consumer writes to disk and releases. One request at a
 * time; a response whose body the exchange does not want (for a range: anything but a
 * length-framed 206) is left unread for the caller to drop.
 */
import type { OnReadOpts, Socket } from 'node:net';
import {
  ORIGIN_HEAD_MAX_BYTES,
  ORIGIN_KEEP_ALIVE_TIMEOUT_MS,
  ORIGIN_SLABS_PER_RANGE,
  WRITE_BATCH_MAX_AGE_MS,
} from '../constants.js';
import { abortError, DdmError } from '../errors.js';
import type { LeasedBytes } from './leased-bytes.js';
import { describeUrl } from './origin-url.js';
import { headEnd, keepsAlive, parseResponseHead, type ResponseHead } from './response-head.js';
import { contentLength } from './response-headers.js';
import { type SlabPool, SlabRing } from './slab-ring.js';
import { fromTransportError } from './transport-errors.js';

/** Opens a TCP connection whose reads go through `onread` (origin-dialer.ts, peer/guard-dialer.ts). */
export type OriginDialer = (
  target: { hostname: string; port: number },
  onread: OnReadOpts,
  timeoutMs: number,
  signal: AbortSignal,
) => Promise<Socket>;

export interface Exchange {
  /** The request, ready to send: its head, and its body if it has one. */
  request: string;
  /**
   * How many bytes of this answer's body to read into slabs (a longer body is cut there and the
   * connection closed), or undefined to leave it unread for the caller to drop. Asked only of
   * answers framed by a Content-Length.
   */
  bodyBytes: (head: ResponseHead) => number | undefined;
  timeoutMs: number;
  url: URL;
}

/** A reused connection the origin had closed before it answered: the request may go again on a new one. */
export class StaleConnectionError extends Error {}

type Phase = 'idle' | 'head' | 'body' | 'closed';

/** The framing of a response whose body can be read into slabs: a Content-Length, no Transfer-Encoding. */
function lengthFramed(head: ResponseHead): boolean {
  return head.headers['transfer-encoding'] === undefined && contentLength(head.headers) !== null;
}

/** A range's answer: the body of a 206, up to `wanted` bytes of it. */
export function rangeBody(wanted: number): Exchange['bodyBytes'] {
  return (head) => (head.statusCode === 206 ? wanted : undefined);
}

export class OriginConnection {
  readonly onread: OnReadOpts = {
    buffer: () => this.target,
    callback: (bytes) => {
      this.onRead(bytes);
      return true;
    },
  };
  /** Requests this connection has carried. */
  exchanges = 0;
  private socket: Socket | undefined;
  private phase: Phase = 'idle';
  private readonly headBuf = Buffer.allocUnsafeSlow(ORIGIN_HEAD_MAX_BYTES);
  private headFill = 0;
  private target: Buffer = this.headBuf;
  private exchange: Exchange | undefined;
  private headWaiter: { resolve: (head: ResponseHead) => void; reject: (error: unknown) => void } | undefined;
  private body: SocketBody | undefined;
  /** The caller has checked the current response and took its body. */
  private accepted = false;
  /** The current response leaves the connection fit for another request. */
  private reusable = false;
  private socketError: unknown;
  private stopAbort: (() => void) | undefined;

  constructor(
    private readonly pool: SlabPool,
    /** Called when a response ended and the connection may carry another request. */
    private readonly onIdle: (connection: OriginConnection) => void,
    /** Called once, when the connection is gone. */
    private readonly onClosed: (connection: OriginConnection) => void,
  ) {}

  /** Binds the dialled socket (created with `this.onread`). */
  attach(socket: Socket): void {
    this.socket = socket;
    socket.on('error', (error) => {
      this.socketError = error;
    });
    socket.on('timeout', () => this.onTimeout());
    socket.on('close', () => this.onClose());
  }

  get open(): boolean {
    return this.phase !== 'closed' && this.socket !== undefined && !this.socket.destroyed;
  }

  /** Sends the request and resolves with the response head (not yet checked). */
  send(exchange: Exchange, signal: AbortSignal): Promise<ResponseHead> {
    const socket = this.socket;
    if (socket === undefined || this.phase !== 'idle') throw new Error('OriginConnection: not idle');
    this.exchange = exchange;
    this.exchanges += 1;
    this.phase = 'head';
    this.headFill = 0;
    this.target = this.headBuf;
    socket.ref();
    socket.setTimeout(exchange.timeoutMs);
    const onAbort = () => this.fail(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    this.stopAbort = () => signal.removeEventListener('abort', onAbort);
    const head = new Promise<ResponseHead>((resolve, reject) => {
      this.headWaiter = { resolve, reject };
    });
    if (signal.aborted) onAbort();
    else socket.write(exchange.request);
    return head;
  }

  /**
   * The caller checked the head and takes the body (a 206 with a Content-Length). Only now may
   * the connection carry another request, even if the whole body already came with the head.
   */
  acceptBody(): SocketBody | undefined {
    this.accepted = true;
    const body = this.body;
    if (body?.ended && this.phase === 'body') this.park();
    return body;
  }

  /** Closes the connection; a body still being read fails with `reason`. */
  destroy(reason?: DdmError): void {
    if (reason !== undefined) this.fail(reason);
    this.phase = 'closed';
    this.stopAbort?.();
    this.socket?.destroy();
  }

  /** Pauses reading while the range holds too many slabs; `resume` when it released some. */
  throttle(): void {
    const ring = this.body?.ring;
    if (this.phase !== 'body' || ring === undefined || this.socket === undefined) return;
    if (ring.held > ORIGIN_SLABS_PER_RANGE) {
      if (!this.socket.isPaused()) {
        // Waiting for the disk is not the origin's silence.
        this.socket.setTimeout(0);
        this.socket.pause();
      }
    } else if (this.socket.isPaused()) {
      this.socket.setTimeout(this.exchange?.timeoutMs ?? 0);
      this.socket.resume();
    }
  }

  private onRead(bytes: number): void {
    if (this.phase === 'head') this.onHeadBytes(bytes);
    else if (this.phase === 'body') this.onBodyBytes(bytes);
    else if (this.phase === 'idle') {
      // Bytes nobody asked for: the connection's framing can no longer be trusted.
      this.destroy();
    }
  }

  private onHeadBytes(bytes: number): void {
    const before = this.headFill;
    this.headFill += bytes;
    this.findHead(before);
  }

  private findHead(searchFrom: number): void {
    const end = headEnd(this.headBuf, searchFrom, this.headFill);
    if (end < 0) {
      if (this.headFill === this.headBuf.byteLength) {
        this.destroy(
          new DdmError(
            'BAD_RESPONSE',
            `the response head from ${this.where()} is larger than ${ORIGIN_HEAD_MAX_BYTES} bytes`,
            { details: { url: this.where() }, retryable: true },
          ),
        );
        return;
      }
      this.target = this.headBuf.subarray(this.headFill);
      return;
    }
    let head: ResponseHead;
    try {
      head = parseResponseHead(this.headBuf.subarray(0, end), this.where());
    } catch (error) {
      this.destroy(error as DdmError);
      return;
    }
    if (head.statusCode >= 100 && head.statusCode < 200) {
      // An interim answer (100 Continue, 103 Early Hints): the real one follows.
      this.headBuf.copy(this.headBuf, 0, end, this.headFill);
      this.headFill -= end;
      this.target = this.headBuf.subarray(this.headFill);
      this.findHead(0);
      return;
    }
    const waiter = this.headWaiter;
    this.headWaiter = undefined;
    const wanted = lengthFramed(head) ? this.exchange!.bodyBytes(head) : undefined;
    if (wanted !== undefined) this.startBody(head, wanted, this.headBuf.subarray(end, this.headFill));
    else {
      // Redirect, error or other framing: the caller drops the connection or reads it another way.
      this.phase = 'closed';
      this.socket?.pause();
    }
    waiter?.resolve(head);
  }

  private startBody(head: ResponseHead, bodyBytes: number, early: Buffer): void {
    const length = contentLength(head.headers)!;
    const wanted = Math.min(length, bodyBytes);
    this.body = new SocketBody(new SlabRing(this.pool), wanted, this);
    this.phase = 'body';
    this.accepted = false;
    // A longer body (busybox httpd) is cut off; bytes past the body mean the framing is off.
    this.reusable = length === wanted && keepsAlive(head) && early.byteLength <= wanted;
    if (early.byteLength > 0) this.body.ring.put(early.subarray(0, wanted));
    this.afterBodyBytes();
  }

  private onBodyBytes(bytes: number): void {
    this.body!.ring.filled(bytes);
    this.afterBodyBytes();
  }

  private afterBodyBytes(): void {
    const body = this.body!;
    const ring = body.ring;
    if (ring.received >= body.wanted) {
      this.endBody();
      return;
    }
    this.target = ring.space(body.wanted - ring.received);
    this.throttle();
    body.wake();
  }

  private endBody(): void {
    const body = this.body!;
    this.stopAbort?.();
    this.stopAbort = undefined;
    this.target = this.headBuf;
    body.ring.seal();
    body.complete();
    if (!this.reusable) this.destroy();
    else if (this.accepted) this.park();
  }

  /** Waits, unreferenced, for the next request (or the keep-alive timeout). */
  private park(): void {
    const socket = this.socket;
    if (socket === undefined || socket.destroyed) return;
    this.phase = 'idle';
    this.exchange = undefined;
    this.headFill = 0;
    this.body = undefined;
    socket.setTimeout(ORIGIN_KEEP_ALIVE_TIMEOUT_MS);
    socket.unref();
    this.onIdle(this);
  }

  private onTimeout(): void {
    if (this.phase === 'idle') {
      this.destroy();
      return;
    }
    const what = this.phase === 'head' ? 'response head' : 'next bytes of the body';
    this.destroy(
      new DdmError('TIMEOUT', `timed out waiting for the ${what} from ${this.where()}`, {
        details: { url: this.where() },
        retryable: true,
      }),
    );
  }

  private onClose(): void {
    const phase = this.phase;
    this.phase = 'closed';
    this.stopAbort?.();
    if (phase === 'head' && this.headWaiter !== undefined) {
      if (this.exchanges > 1 && this.headFill === 0) {
        const waiter = this.headWaiter;
        this.headWaiter = undefined;
        waiter.reject(new StaleConnectionError('closed by the origin before it answered'));
      } else {
        this.fail(this.closedError('head'));
      }
    } else if (phase === 'body') {
      this.fail(this.closedError('body'));
    }
    this.onClosed(this);
  }

  private closedError(phase: 'head' | 'body'): DdmError {
    const url = this.exchange?.url;
    const cause = this.socketError;
    if (url === undefined)
      return new DdmError('NETWORK', 'the origin closed the connection', { retryable: true });
    if (phase === 'head') {
      return cause === undefined
        ? new DdmError('NETWORK', `${describeUrl(url)} closed the connection before answering`, {
            details: { url: describeUrl(url) },
            retryable: true,
          })
        : fromTransportError(cause, url, new AbortController().signal);
    }
    const ring = this.body?.ring;
    const received = ring?.received ?? 0;
    const wanted = this.body?.wanted ?? 0;
    return new DdmError(
      'BAD_RESPONSE',
      `short body from ${describeUrl(url)}: got ${received} of ${wanted} bytes`,
      { cause, details: { url: describeUrl(url), received, expected: wanted }, retryable: true },
    );
  }

  /** Ends the exchange under way with `error`: a waiting head rejects, a body fails after its bytes. */
  private fail(error: DdmError): void {
    const waiter = this.headWaiter;
    this.headWaiter = undefined;
    if (waiter !== undefined) {
      waiter.reject(error);
      this.phase = 'closed';
      this.socket?.destroy();
      return;
    }
    if (this.body !== undefined && !this.body.ended) {
      this.body.fail(error);
      this.phase = 'closed';
      this.socket?.destroy();
    }
  }

  private where(): string {
    return this.exchange === undefined ? 'the origin' : describeUrl(this.exchange.url);
  }
}

/**
 * The bytes of one range as its connection reads them: whole slabs (a part-filled one once the
 * body ends, fails, or its bytes waited WRITE_BATCH_MAX_AGE_MS), each valid until released.
 */
export class SocketBody implements LeasedBytes, AsyncIterator<Uint8Array> {
  readonly leased = true;
  ended = false;
  private failure: unknown;
  private overdue = false;
  private waiter:
    | { resolve: (result: IteratorResult<Uint8Array>) => void; reject: (error: unknown) => void }
    | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly ring: SlabRing,
    readonly wanted: number,
    private readonly connection: OriginConnection,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    const ready = this.ready();
    if (ready !== undefined) return ready;
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.timer = setTimeout(() => {
        this.overdue = true;
        this.wake();
      }, WRITE_BATCH_MAX_AGE_MS);
    });
  }

  /** The consumer stopped early: the rest of the body is not read (its connection is closed). */
  return(): Promise<IteratorResult<Uint8Array>> {
    if (!this.ended) {
      this.ended = true;
      this.failure ??= new DdmError('ABORTED', 'range no longer wanted');
      this.connection.destroy();
    }
    return Promise.resolve({ done: true, value: undefined });
  }

  release(bytes: number): void {
    this.ring.release(bytes);
    this.connection.throttle();
  }

  /** More bytes came, or the body ended: hands them to a waiting consumer when due. */
  wake(): void {
    if (this.waiter === undefined) return;
    const ready = this.ready();
    if (ready === undefined) return;
    const waiter = this.waiter;
    this.waiter = undefined;
    clearTimeout(this.timer);
    ready.then(waiter.resolve, waiter.reject);
  }

  complete(): void {
    this.ended = true;
    this.wake();
  }

  fail(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    this.wake();
  }

  private ready(): Promise<IteratorResult<Uint8Array>> | undefined {
    const chunk = this.ring.take(this.ended || this.overdue);
    if (chunk !== undefined) {
      this.overdue = false;
      return Promise.resolve({ done: false, value: chunk });
    }
    if (!this.ended) return undefined;
    if (this.failure !== undefined && this.ring.received < this.wanted) return Promise.reject(this.failure);
    return Promise.resolve({ done: true, value: undefined });
  }
}
