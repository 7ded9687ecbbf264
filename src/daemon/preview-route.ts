/**
 * `GET|HEAD /preview/<gid>/<token>`: a download's file over HTTP while it still runs, with
 * Range support, so a media player can open it and seek. A range not yet on disk is asked of
 * the download's scheduler before anything else and the response waits for it (at most
 * PREVIEW_WAIT_MS at a time, and never after the client left); a finished download is served
 * from its final file. A wrong token is a 404, like an unknown id: the route never serves
 * anything but the one download's file.
 */
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename } from 'node:path';
import { copyInOrder, type OrderedSource } from '../client/ordered-output.js';
import { PREVIEW_AHEAD_BYTES, PREVIEW_WAIT_MS } from '../constants.js';
import type { DownloadHandle } from '../engine/download-handle.js';
import type { FinishedDownload } from '../engine/session-store.js';
import type { ByteRange } from '../types/byte-range.js';
import type { DaemonRoute } from '../types/daemon-route.js';
import { pathnameOf } from './daemon-routes.js';
import type { PreviewTokens } from './preview-token.js';
import { contentTypeFor } from './preview-types.js';

export interface PreviewRouteDeps {
  tokens: PreviewTokens;
  /** A download of this daemon's engine. */
  download: (gid: string) => DownloadHandle | undefined;
  /** Downloads finished in an earlier life of the daemon (the session file). */
  finished?: readonly FinishedDownload[];
  allowedHosts: () => ReadonlySet<string>;
}

const PREFIX = '/preview/';
const SERVABLE = new Set(['waiting', 'active', 'paused', 'expired', 'complete']);

/** What a preview serves: where the bytes are, how many, and how to wait for the missing ones. */
interface Servable {
  name: string;
  size: number;
  source: OrderedSource;
  /** Stops asking for bytes (the response is over). */
  release(): void;
}

export function createPreviewRoute(deps: PreviewRouteDeps): DaemonRoute {
  return {
    name: 'preview',
    matches: (pathname) => pathname.startsWith(PREFIX),
    handle: (req, res) => {
      serve(deps, req, res).catch(() => res.destroy());
    },
  };
}

async function serve(deps: PreviewRouteDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!deps.allowedHosts().has((req.headers.host ?? '').toLowerCase())) {
    return plain(res, 403, 'This daemon answers only to its own address or localhost.');
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return plain(res, 405, 'A preview is read with GET or HEAD.');
  }
  const [gid, token, ...rest] = pathnameOf(req).slice(PREFIX.length).split('/');
  if (gid === undefined || token === undefined || rest.length > 0 || !deps.tokens.matches(gid, token)) {
    return plain(res, 404, 'No such preview.');
  }
  const servable = await servableOf(deps, gid);
  if (servable === 'gone') return plain(res, 404, 'No such preview.');
  if (servable === 'not-yet') {
    res.setHeader('retry-after', '2');
    return plain(res, 503, 'The download has not started yet: its size is not known.');
  }
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  try {
    await answer(req, res, servable, controller.signal);
  } finally {
    servable.release();
  }
}

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  servable: Servable,
  signal: AbortSignal,
): Promise<void> {
  const { size, name } = servable;
  const range = parseRange(req.headers.range, size);
  res.setHeader('accept-ranges', 'bytes');
  if (range === 'unsatisfiable') {
    res.setHeader('content-range', `bytes */${size}`);
    return plain(res, 416, `The file has ${size} bytes.`);
  }
  const { start, end } = range ?? { start: 0, end: size };
  res.writeHead(range === undefined ? 200 : 206, {
    'content-type': contentTypeFor(name),
    'content-length': String(end - start),
    ...(range === undefined ? {} : { 'content-range': `bytes ${start}-${end - 1}/${size}` }),
    'content-disposition': `inline; filename*=UTF-8''${encodeURIComponent(name)}`,
    // The file is the download's, not the daemon's: it must never run as one of its pages.
    'content-security-policy': "sandbox; default-src 'none'",
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  });
  if (req.method === 'HEAD' || end === start) {
    res.end();
    return;
  }
  await copyInOrder(servable.source, res, signal, { start, end, maxWaitMs: PREVIEW_WAIT_MS });
  res.end();
}

async function servableOf(deps: PreviewRouteDeps, gid: string): Promise<Servable | 'gone' | 'not-yet'> {
  const handle = deps.download(gid);
  if (handle === undefined) {
    const earlier = deps.finished?.find((download) => download.id === gid);
    return earlier?.state === 'complete' && earlier.output !== undefined
      ? finishedFile(earlier.output)
      : 'gone';
  }
  const status = handle.status();
  if (!SERVABLE.has(status.state)) return 'gone';
  if (status.state === 'complete' && status.output !== undefined) return finishedFile(status.output);
  if (status.output === undefined || status.totalBytes === null) return 'not-yet';
  return runningFile(handle, status.output, status.totalBytes);
}

async function finishedFile(output: string): Promise<Servable | 'gone'> {
  const info = await stat(output).catch(() => undefined);
  if (info === undefined || !info.isFile()) return 'gone';
  const view = { output, pieces: [], complete: true, size: info.size };
  return {
    name: basename(output),
    size: info.size,
    source: { view: () => view, wait: async () => {} },
    release: () => {},
  };
}

function runningFile(handle: DownloadHandle, output: string, size: number): Servable {
  let release: (() => void) | undefined;
  let wantedAt: number | undefined;
  const source: OrderedSource = {
    view: () => {
      const status = handle.status();
      const pieces = handle.reading.readable(status.pieces);
      return { output, pieces, complete: status.state === 'complete', size };
    },
    // What the player waits for goes first; the range moves on with the response.
    want: (position, end) => {
      if (position === wantedAt) return;
      wantedAt = position;
      release?.();
      release = handle.reading.prioritize({
        start: position,
        end: Math.min(end, position + PREVIEW_AHEAD_BYTES),
      });
    },
    wait: (maxWaitMs, signal) => handle.reading.waitForBytes(maxWaitMs, signal),
  };
  return { name: basename(output), size, source, release: () => release?.() };
}

/**
 * One range of a `Range: bytes=...` header (RFC 9110 §14.1.2) as [start, end); undefined
 * (serve the whole file) for no header, another unit, several ranges or bad syntax.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(first);
  const end = last === '' ? size : Math.min(size, Number(last) + 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

function plain(res: ServerResponse, status: number, text: string): void {
  const body = `${text}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}
