/**
 * The demo's stand-in for an internet server: serves one in-memory file over HTTP on
 * 127.0.0.1 with Range support, a strong ETag, and a speed cap per connection, so that
 * spreading a download over more connections (and peers) visibly pays off.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** Chunks are paced at this granularity to approximate a steady rate. */
const PACE_CHUNK_BYTES = 64 * 1024;

export interface DemoOrigin {
  url: string;
  close(): Promise<void>;
}

export async function startDemoOrigin(
  data: Buffer,
  bytesPerSecondPerConnection: number,
  signal: AbortSignal,
): Promise<DemoOrigin> {
  const etag = `"${createHash('sha256').update(data).digest('hex').slice(0, 32)}"`;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    serve(req, res, data, etag, bytesPerSecondPerConnection).catch(() => res.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  signal.addEventListener('abort', () => void close(), { once: true });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/demo.bin`, close };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  data: Buffer,
  etag: string,
  rate: number,
): Promise<void> {
  if (req.url !== '/demo.bin') {
    res.writeHead(404).end();
    return;
  }
  const range = parseRange(req.headers.range, data.length);
  const ifRange = req.headers['if-range'];
  const useRange = range !== undefined && (ifRange === undefined || ifRange === etag);
  const [start, end] = useRange ? range : [0, data.length];
  res.writeHead(useRange ? 206 : 200, {
    'content-length': end - start,
    'accept-ranges': 'bytes',
    etag,
    'content-type': 'application/octet-stream',
    ...(useRange ? { 'content-range': `bytes ${start}-${end - 1}/${data.length}` } : {}),
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await sendPaced(res, data.subarray(start, end), rate);
}

function parseRange(header: string | undefined, size: number): [number, number] | undefined {
  const match = header?.match(/^bytes=(\d+)-(\d*)$/);
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = match[2] === '' ? size : Math.min(size, Number(match[2]) + 1);
  return start < end ? [start, end] : undefined;
}

async function sendPaced(res: ServerResponse, body: Buffer, bytesPerSecond: number): Promise<void> {
  const started = Date.now();
  for (let offset = 0; offset < body.length && !res.destroyed; offset += PACE_CHUNK_BYTES) {
    const chunk = body.subarray(offset, offset + PACE_CHUNK_BYTES);
    const dueMs = ((offset + chunk.length) * 1000) / bytesPerSecond - (Date.now() - started);
    if (dueMs > 0) await new Promise((resolve) => setTimeout(resolve, dueMs));
    if (!res.write(chunk)) await drainOrClose(res);
  }
  res.end();
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
