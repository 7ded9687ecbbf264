/**
 * A misbehaving-on-demand HTTP origin for tests: serves one in-memory file on 127.0.0.1 and
 * can be told (at any time, through `origin.options`) to drop connections, throttle, change
 * version, lie about ranges, redirect, or answer errors. Counters let tests check what was
 * fetched.
 *
 * Paths: `/file` and `/file/<name>` serve the file (`<name>` only shapes the URL; with
 * `redirects` they redirect first). `/r/<k>/<name>` are the redirect hops and
 * `/final/<name>` is where redirects end. `/loop` is the other half of `redirectLoop`.
 *
 * Range handling: one range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) gets a 206; a malformed or
 * multi-range header is ignored (200 with the whole file, which RFC 9110 allows); a range
 * starting past the end gets 416 with a Content-Range that names the size.
 *
 * Real servers' quirks: `overlongRanges` (busybox's 206 to the end), `bare416` (npm
 * http-server), `forceGzip` (nginx `gzip_static always`), `basicAuth`, and at start `tls` with
 * `http2Only` (an HTTP/2-only https origin).
 *
 * Signed links (`expiringLinks`, `signedUrl()`, `clockOffsetMs`): links that expire, as signed
 * cloud-storage URLs do, at a time of the origin's clock that a test can move forward.
 *
 * Counters of "times" switches (`status503`, `status429`, `dropTimes`, `wrongContentRange`,
 * `shortBody`) and `changeEtagAfterRequests` count requests that reach the file, not
 * redirect hops.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createSecureServer } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';

export interface TimesSwitch {
  /** How many more file requests get this treatment; decremented as they are served. */
  times: number;
}

export interface BusySwitch extends TimesSwitch {
  /** Sent as `Retry-After: <seconds>`; no header when absent. */
  retryAfterSec?: number;
}

export interface TestOriginOptions {
  data: Buffer;
  /** Range support; default true. Off: every GET is a 200 with the whole file. */
  ranges?: boolean;
  /** Per-response pacing of the body, in ~16 KiB chunks. */
  rateBytesPerSec?: number;
  /** Destroy the socket after this many body bytes of a response... */
  dropAfterBytes?: number;
  /** ...for this many responses (default: all of them). */
  dropTimes?: number;
  /** Strong ETag, quotes included. Default: derived from the content; null: none sent. */
  etag?: string | null;
  /** Default: a fixed date; null: none sent. */
  lastModified?: string | null;
  /** From file request number N+1 on, the file is a new version: other bytes, ETag and date. */
  changeEtagAfterRequests?: number;
  status503?: BusySwitch;
  status429?: BusySwitch;
  /** Number of redirect hops before the file. */
  redirects?: number;
  /** `/file` and `/loop` redirect to each other forever. */
  redirectLoop?: boolean;
  /** No Content-Length (chunked transfer), and no range support. */
  chunked?: boolean;
  /** Answer ranges with a Content-Range one byte off from what was asked. */
  wrongContentRange?: TimesSwitch;
  /** Send half the body announced by Content-Length, then close the connection. */
  shortBody?: TimesSwitch;
  contentDisposition?: string;
  contentType?: string;
  /** Answer every request with this status (e.g. 404, 403). */
  status?: number;
  /** Answer a range with everything from its start to the end of the file (busybox httpd does for `0-0`). */
  overlongRanges?: boolean;
  /** Answer 416 without a Content-Range header, as npm's http-server does for an empty file. */
  bare416?: boolean;
  /**
   * Serve the gzip of the file as the representation, with `Content-Encoding: gzip` whatever
   * the request's Accept-Encoding, ranges counting gzip bytes (nginx `gzip_static always`).
   */
  forceGzip?: boolean;
  /** `user:password` for Basic auth: file requests without it get 401. */
  basicAuth?: string;
  /** Fixed at start: serve https with this PEM certificate and key. */
  tls?: { cert: Buffer; key: Buffer };
  /** Fixed at start, with `tls`: speak only HTTP/2 (no HTTP/1.1 fallback in ALPN). */
  http2Only?: boolean;
  /**
   * Signed links, as cloud storage hands out: a file request needs the `?expires=<ms>&sig=<hmac>`
   * of `signedUrl()`; a missing or wrong signature, or an expiry in the past of the origin's
   * clock, gets `status` (default 403).
   */
  expiringLinks?: { status?: number };
  /** Moves the origin's clock (ms), so a test expires its links at the moment it chooses. */
  clockOffsetMs?: number;
}

export interface RangeLogEntry {
  /** Inclusive start. */
  start: number;
  /** Exclusive end, clamped to the size. */
  end: number;
  /** What the origin answered. */
  status: number;
  /** The request's query string (`?expires=…&sig=…` of a signed link); absent without one. */
  query?: string;
}

export interface RequestLogEntry {
  path: string;
  headers: IncomingHttpHeaders;
}

export interface TestOrigin {
  /** `http://127.0.0.1:<port>/file` */
  readonly url: string;
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string;
  readonly port: number;
  /** Live switches: change them between or during requests. */
  readonly options: TestOriginOptions;
  /** All requests, redirect hops included. */
  readonly requests: number;
  /** Requests that reached the file. */
  readonly fileRequests: number;
  /** File requests that carried a Range header. */
  readonly rangeRequests: number;
  /** Body bytes written to sockets. */
  readonly bytesServed: number;
  /** TCP connections accepted. */
  readonly connections: number;
  /** Every parsable single range asked for, in order. */
  readonly rangeLog: readonly RangeLogEntry[];
  /** Ranged responses whose body is being sent right now. */
  readonly activeRanges: number;
  /** Most ranged responses sent at once since the start (or the last reset). */
  readonly peakActiveRanges: number;
  /** Path and headers of every request, in order. */
  readonly requestLog: readonly RequestLogEntry[];
  /** The bytes the next file request will be served (the version after any change). */
  currentData(): Buffer;
  /** The ETag the next file request will carry. */
  currentEtag(): string | undefined;
  /** A link to `/file` (or `/file/<name>`) valid for `ttlMs` of the origin's clock (`expiringLinks`). */
  signedUrl(ttlMs: number, name?: string): string;
  /** File requests refused for an expired or bad signature (`expiringLinks`). */
  readonly expiredAnswers: number;
  resetCounters(): void;
  close(): Promise<void>;
}

const PACE_CHUNK_BYTES = 16 * 1024;
const DEFAULT_LAST_MODIFIED = 'Wed, 21 Oct 2015 07:28:00 GMT';
const CHANGED_LAST_MODIFIED = 'Thu, 22 Oct 2015 07:28:00 GMT';

interface Version {
  data: Buffer;
  etag: string | undefined;
  lastModified: string | undefined;
}

type ParsedRange = { kind: 'none' } | { kind: 'ok'; start: number; end: number } | { kind: 'unsatisfiable' };

export async function startTestOrigin(opts: TestOriginOptions): Promise<TestOrigin> {
  const options: TestOriginOptions = { ...opts };
  const sockets = new Set<Socket>();
  const counters = {
    requests: 0,
    fileRequests: 0,
    rangeRequests: 0,
    bytesServed: 0,
    connections: 0,
    expiredAnswers: 0,
  };
  const linkKey = randomBytes(16);
  const originNow = () => Date.now() + (options.clockOffsetMs ?? 0);
  const signature = (path: string, expires: string) =>
    createHmac('sha256', linkKey).update(`${path}\n${expires}`).digest('hex').slice(0, 32);
  /** Whether a signed link is missing, forged or past its time. */
  const linkRefused = (req: IncomingMessage): boolean => {
    const url = new URL(req.url ?? '/', 'http://origin');
    const expires = url.searchParams.get('expires') ?? '';
    const sig = url.searchParams.get('sig') ?? '';
    return sig !== signature(url.pathname, expires) || !(Number(expires) > originNow());
  };
  const ranges = { active: 0, peak: 0 };
  let rangeLog: RangeLogEntry[] = [];
  let requestLog: RequestLogEntry[] = [];
  let drops = 0;
  let changed: { source: Buffer; data: Buffer } | undefined;
  const gzipped = new WeakMap<Buffer, Buffer>();

  const defaultEtag = (data: Buffer) => `"${createHash('sha256').update(data).digest('hex').slice(0, 16)}"`;

  function versionFor(fileRequest: number): Version {
    const after = options.changeEtagAfterRequests;
    const isNew = after !== undefined && fileRequest > after;
    if (!isNew) {
      return {
        data: options.data,
        etag: options.etag === null ? undefined : (options.etag ?? defaultEtag(options.data)),
        lastModified:
          options.lastModified === null ? undefined : (options.lastModified ?? DEFAULT_LAST_MODIFIED),
      };
    }
    if (changed?.source !== options.data) {
      changed = { source: options.data, data: Buffer.from(options.data.map((byte) => byte ^ 0xff)) };
    }
    return {
      data: changed.data,
      etag:
        options.etag === null
          ? undefined
          : `${weakPrefix(options.etag)}"changed-${defaultEtag(changed.data).slice(1)}`,
      lastModified: options.lastModified === null ? undefined : CHANGED_LAST_MODIFIED,
    };
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    counters.requests += 1;
    requestLog.push({ path: req.url ?? '/', headers: req.headers });
    handle(req, res);
  };
  const server = createOriginServer(options, onRequest);
  server.on('connection', (socket: Socket) => {
    counters.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function handle(req: IncomingMessage, res: ServerResponse): void {
    if (options.status !== undefined) {
      sendStatus(res, options.status);
      return;
    }
    const path = new URL(req.url ?? '/', 'http://origin').pathname;
    const location = redirectLocation(path);
    if (location !== undefined) redirect(res, location);
    else if (isFilePath(path) || path.startsWith('/final/')) serveFile(req, res);
    else sendStatus(res, 404);
  }

  /** Where `path` redirects to under the current switches, if anywhere. */
  function redirectLocation(path: string): string | undefined {
    const name = path.split('/').filter(Boolean).slice(-1)[0] ?? 'file';
    const redirects = options.redirects ?? 0;
    if (isFilePath(path)) {
      if (options.redirectLoop) return '/loop';
      if (redirects === 0) return undefined;
      // The first hop is an absolute URL, later ones relative, to exercise both.
      const target = redirects === 1 ? `/final/${name}` : `/r/1/${name}`;
      return `http://127.0.0.1:${port()}${target}`;
    }
    if (path === '/loop') return '/file';
    const hop = /^\/r\/(\d+)\/([^/]+)$/.exec(path);
    if (hop === null) return undefined;
    const next = Number(hop[1]) + 1;
    return next >= redirects ? `/final/${hop[2]}` : `../${next}/${hop[2]}`;
  }

  function serveFile(req: IncomingMessage, res: ServerResponse): void {
    counters.fileRequests += 1;
    if (options.expiringLinks !== undefined && linkRefused(req)) {
      counters.expiredAnswers += 1;
      sendStatus(res, options.expiringLinks.status ?? 403);
      return;
    }
    for (const [status, busy] of [
      [503, options.status503],
      [429, options.status429],
    ] as const) {
      if (busy !== undefined && busy.times > 0) {
        busy.times -= 1;
        const headers: Record<string, string> =
          busy.retryAfterSec === undefined ? {} : { 'retry-after': String(busy.retryAfterSec) };
        sendStatus(res, status, headers);
        return;
      }
    }
    if (options.basicAuth !== undefined) {
      const expected = `Basic ${Buffer.from(options.basicAuth).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        sendStatus(res, 401, { 'www-authenticate': 'Basic realm="test"' });
        return;
      }
    }
    const version = encodedVersion(versionFor(counters.fileRequests));
    const size = version.data.length;
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && !etagListMatches(ifMatch, version.etag)) {
      sendStatus(res, 412);
      return;
    }
    const chunked = options.chunked ?? false;
    const rangesOn = (options.ranges ?? true) && !chunked;
    const rangeHeader = req.headers.range;
    if (rangeHeader !== undefined) counters.rangeRequests += 1;
    const parsed = rangeHeader === undefined ? { kind: 'none' as const } : parseRange(rangeHeader, size);
    const ifRange = req.headers['if-range'] as string | undefined;
    const useRange =
      rangesOn && parsed.kind !== 'none' && (ifRange === undefined || ifRangeMatches(ifRange, version));

    const headers: Record<string, string> = {
      'content-type': options.contentType ?? 'application/octet-stream',
    };
    if (rangesOn) headers['accept-ranges'] = 'bytes';
    if (version.etag !== undefined) headers.etag = version.etag;
    if (version.lastModified !== undefined) headers['last-modified'] = version.lastModified;
    if (options.contentDisposition !== undefined) headers['content-disposition'] = options.contentDisposition;

    if (options.forceGzip) headers['content-encoding'] = 'gzip';
    if (useRange && parsed.kind === 'unsatisfiable') {
      sendStatus(res, 416, options.bare416 ? headers : { ...headers, 'content-range': `bytes */${size}` });
      return;
    }
    let body = version.data;
    let status = 200;
    if (useRange && parsed.kind === 'ok') {
      status = 206;
      if (options.overlongRanges) parsed.end = size;
      body = version.data.subarray(parsed.start, parsed.end);
      const wrong = options.wrongContentRange;
      const shift = wrong !== undefined && wrong.times > 0 ? 1 : 0;
      if (shift > 0) wrong!.times -= 1;
      headers['content-range'] = `bytes ${parsed.start + shift}-${parsed.end - 1 + shift}/${size}`;
    }
    if (parsed.kind === 'ok') {
      const query = new URL(req.url ?? '/', 'http://origin').search;
      rangeLog.push({ start: parsed.start, end: parsed.end, status, ...(query ? { query } : {}) });
    }
    if (!chunked) headers['content-length'] = String(body.length);
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (status === 206) {
      ranges.active += 1;
      ranges.peak = Math.max(ranges.peak, ranges.active);
      res.once('close', () => {
        ranges.active -= 1;
      });
    }
    sendBody(res, body, cutOffFor(body.length));
  }

  /** How many body bytes to send before closing the socket, or undefined for all of them. */
  function cutOffFor(length: number): number | undefined {
    const short = options.shortBody;
    if (short !== undefined && short.times > 0 && !options.chunked) {
      short.times -= 1;
      return Math.floor(length / 2);
    }
    const dropAt = options.dropAfterBytes;
    if (dropAt !== undefined && dropAt < length && drops < (options.dropTimes ?? Number.POSITIVE_INFINITY)) {
      drops += 1;
      return dropAt;
    }
    return undefined;
  }

  function sendBody(res: ServerResponse, body: Buffer, cutOff: number | undefined): void {
    const limit = cutOff ?? body.length;
    const finish = () => {
      if (cutOff === undefined) res.end();
      else res.socket?.destroy();
    };
    const rate = options.rateBytesPerSec;
    if (rate === undefined) {
      const part = body.subarray(0, limit);
      counters.bytesServed += part.length;
      if (cutOff === undefined) res.end(part);
      else res.write(part, finish);
      return;
    }
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    // A slow pace must not keep the test process alive once the client is gone.
    res.once('close', () => clearTimeout(timer));
    const step = () => {
      if (res.destroyed) return;
      if (sent >= limit) {
        finish();
        return;
      }
      const piece = body.subarray(sent, Math.min(limit, sent + PACE_CHUNK_BYTES));
      sent += piece.length;
      counters.bytesServed += piece.length;
      const delayMs = (piece.length / rate) * 1000;
      const scheduleNext = () => {
        timer = setTimeout(step, delayMs);
      };
      if (res.write(piece)) scheduleNext();
      else res.once('drain', scheduleNext);
    };
    step();
  }

  /** With `forceGzip`, the version as gzip bytes (computed once per version). */
  function encodedVersion(version: Version): Version {
    if (!options.forceGzip) return version;
    let data = gzipped.get(version.data);
    if (data === undefined) {
      data = gzipSync(version.data);
      gzipped.set(version.data, data);
    }
    return { ...version, data };
  }

  function redirect(res: ServerResponse, location: string): void {
    res.writeHead(302, { location, 'content-length': '0' });
    res.end();
  }

  function sendStatus(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
    const text = `status ${status}\n`;
    res.writeHead(status, {
      'content-type': 'text/plain',
      'content-length': String(text.length),
      ...headers,
    });
    res.end(text);
  }

  function port(): number {
    return (server.address() as AddressInfo).port;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const baseUrl = `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port()}`;

  return {
    url: `${baseUrl}/file`,
    baseUrl,
    port: port(),
    options,
    get requests() {
      return counters.requests;
    },
    get fileRequests() {
      return counters.fileRequests;
    },
    get rangeRequests() {
      return counters.rangeRequests;
    },
    get bytesServed() {
      return counters.bytesServed;
    },
    get connections() {
      return counters.connections;
    },
    get rangeLog() {
      return rangeLog;
    },
    get activeRanges() {
      return ranges.active;
    },
    get peakActiveRanges() {
      return ranges.peak;
    },
    get requestLog() {
      return requestLog;
    },
    get expiredAnswers() {
      return counters.expiredAnswers;
    },
    signedUrl(ttlMs, name) {
      const path = name === undefined ? '/file' : `/file/${name}`;
      const expires = String(originNow() + ttlMs);
      return `${baseUrl}${path}?expires=${expires}&sig=${signature(path, expires)}`;
    },
    currentData: () => versionFor(counters.fileRequests + 1).data,
    currentEtag: () => versionFor(counters.fileRequests + 1).etag,
    resetCounters() {
      counters.requests = 0;
      counters.fileRequests = 0;
      counters.rangeRequests = 0;
      counters.bytesServed = 0;
      counters.connections = 0;
      counters.expiredAnswers = 0;
      rangeLog = [];
      requestLog = [];
      ranges.peak = ranges.active;
      drops = 0;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** http, https, or HTTP/2 only: the handler is the same (http2's compatibility API). */
function createOriginServer(options: TestOriginOptions, onRequest: RequestHandler): Server {
  if (options.tls === undefined) return createServer(onRequest);
  const { cert, key } = options.tls;
  if (!options.http2Only) return createHttpsServer({ cert, key }, onRequest);
  // Clients that offer no h2 in ALPN are refused, as HTTP/2-only origins do.
  return createSecureServer({ cert, key, allowHTTP1: false }, onRequest as never) as unknown as Server;
}

function weakPrefix(etag: string | undefined): string {
  return etag?.startsWith('W/') ? 'W/' : '';
}

function isFilePath(path: string): boolean {
  return path === '/file' || path.startsWith('/file/');
}

/** Parses a Range header against `size`. Multi-range and malformed headers count as absent. */
export function parseRange(header: string, size: number): ParsedRange {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return { kind: 'none' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'none' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'ok', start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return { kind: 'none' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = last === '' ? size : Math.min(size, Number(last) + 1);
  return { kind: 'ok', start, end };
}

function etagListMatches(header: string, etag: string | undefined): boolean {
  if (header.trim() === '*') return etag !== undefined;
  if (etag === undefined) return false;
  return header
    .split(',')
    .map((tag) => tag.trim())
    .some((tag) => tag === etag);
}

/** If-Range needs a strong match: an ETag equal to ours, or the exact Last-Modified date. */
function ifRangeMatches(header: string, version: Version): boolean {
  const value = header.trim();
  if (value.startsWith('"') || value.startsWith('W/'))
    return version.etag !== undefined && value === version.etag;
  return version.lastModified !== undefined && value === version.lastModified;
}
