/**
 * Speed limits: the engine downloads from a local, unthrottled origin under a per-download or a
 * global limit, and the bytes on disk over 10 s are compared with the limit. Target: within 10%.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../../src/engine/engine.js';
import { createOriginDispatcher } from '../../src/origin/http-client.js';
import { sleep } from '../../src/util/abort.js';
import type { BenchOptions } from '../lib/args.js';
import { type Column, renderMarkdown, renderText } from '../lib/table.js';

const MiB = 1024 * 1024;
/** The window the limit is judged over. */
const MEASURE_MS = 10_000;
/** Allowed relative error of the measured rate. */
const TARGET_ERROR = 0.1;
/** Large enough that no case finishes inside the window. */
const VIRTUAL_FILE_BYTES = 4 * 1024 * MiB;
const CHUNK = Buffer.alloc(MiB, 0x5a);

interface Case {
  name: string;
  downloads: number;
  perDownload: number;
  global: number;
}

const CASES: readonly Case[] = [
  { name: '1 download, --max-speed 4M', downloads: 1, perDownload: 4 * MiB, global: 0 },
  { name: '1 download, --max-speed 16M', downloads: 1, perDownload: 16 * MiB, global: 0 },
  { name: '3 downloads, --max-overall-speed 8M', downloads: 3, perDownload: 0, global: 8 * MiB },
];

const COLUMNS: readonly Column[] = [
  { title: 'case', align: 'left' },
  { title: 'target (MiB/s)', align: 'right' },
  { title: 'measured over 10 s (MiB/s)', align: 'right' },
  { title: 'error', align: 'right' },
  { title: 'within 10%', align: 'left' },
];

export async function runRateLimit(_options: BenchOptions, signal: AbortSignal): Promise<number> {
  const origin = await startVirtualOrigin();
  const dir = await mkdtemp(join(tmpdir(), 'ddm-bench-ratelimit-'));
  const rows: string[][] = [];
  let allMet = true;
  try {
    for (const benchCase of CASES) {
      const measured = await measureCase(benchCase, origin.url, dir, signal);
      const target = benchCase.global || benchCase.perDownload * benchCase.downloads;
      const error = (measured - target) / target;
      const met = Math.abs(error) <= TARGET_ERROR;
      allMet &&= met;
      rows.push([
        benchCase.name,
        (target / MiB).toFixed(2),
        (measured / MiB).toFixed(2),
        `${(error * 100).toFixed(1)}%`,
        met ? 'yes' : 'NO',
      ]);
      process.stderr.write(`bench: ${benchCase.name}: ${(measured / MiB).toFixed(2)} MiB/s\n`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
    await new Promise<void>((resolve) => origin.server.close(() => resolve()));
  }
  process.stdout.write(`${renderText(COLUMNS, rows)}\n\n${renderMarkdown(COLUMNS, rows)}\n`);
  return allMet ? 0 : 1;
}

async function measureCase(benchCase: Case, url: string, dir: string, signal: AbortSignal): Promise<number> {
  const dispatcher = createOriginDispatcher({ timeoutMs: 30_000, proxyFromEnv: false });
  const engine = createEngine({ dispatcher, dir, maxSpeed: benchCase.global, signal });
  try {
    const handles = Array.from({ length: benchCase.downloads }, (_, index) =>
      engine.add({
        url: `${url}/${benchCase.downloads}-${benchCase.perDownload}-${index}.bin`,
        connections: 4,
        maxSpeed: benchCase.perDownload,
      }),
    );
    const completed = () => handles.reduce((sum, handle) => sum + handle.status().completedBytes, 0);
    // The window opens once every download is under way (probe done, files open).
    while (handles.some((handle) => handle.status().totalBytes === null)) await sleep(20, signal);
    const startBytes = completed();
    const started = performance.now();
    await sleep(MEASURE_MS, signal);
    const bytes = completed() - startBytes;
    const elapsedMs = performance.now() - started;
    await Promise.all(handles.map((handle) => handle.remove()));
    return (bytes * 1000) / elapsedMs;
  } finally {
    await engine.close();
    await dispatcher.close();
  }
}

/** An origin of one large virtual file per path, served as fast as the loopback goes. */
async function startVirtualOrigin(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => serve(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function serve(req: IncomingMessage, res: ServerResponse): void {
  const match = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  const start = match ? Number(match[1]) : 0;
  const end = match?.[2] ? Math.min(Number(match[2]) + 1, VIRTUAL_FILE_BYTES) : VIRTUAL_FILE_BYTES;
  const headers = {
    'accept-ranges': 'bytes',
    etag: '"virtual-1"',
    'content-length': String(end - start),
    ...(match ? { 'content-range': `bytes ${start}-${end - 1}/${VIRTUAL_FILE_BYTES}` } : {}),
  };
  res.writeHead(match ? 206 : 200, headers);
  let position = start;
  const pump = () => {
    while (position < end) {
      const piece = CHUNK.subarray(0, Math.min(CHUNK.length, end - position));
      position += piece.length;
      if (!res.write(piece)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  res.on('close', () => {
    position = end;
  });
  pump();
}
