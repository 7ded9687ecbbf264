/**
 * The engine in-process against the real test origin: handles, pause and resume, live options,
 * removal, and the one request schema.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Dispatcher } from 'undici';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { parseDownloadRequest } from '../../src/engine/request.js';
import type { DownloadState } from '../../src/engine/types.js';
import { isDdmError } from '../../src/errors.js';
import { createOriginDispatcher } from '../../src/origin/http-client.js';
import type { ByteRange } from '../../src/types/byte-range.js';
import { sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { type RangeLogEntry, startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { eventually, within } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const FINISH_MS = 90_000;

async function withEngine(
  fn: (engine: Engine, dir: string) => Promise<void>,
  config: Parameters<typeof createEngine>[0] = {},
): Promise<void> {
  const dispatcher: Dispatcher = createOriginDispatcher({ timeoutMs: 30_000, proxyFromEnv: false });
  await withTempDir(async (dir) => {
    const engine = createEngine({ dispatcher, dir, ...config });
    try {
      await fn(engine, dir);
    } finally {
      await engine.close();
      await dispatcher.close();
    }
  });
}

async function withOrigin(data: Buffer, rate: number, fn: (origin: TestOrigin) => Promise<void>) {
  const origin = await startTestOrigin({ data, rateBytesPerSec: rate });
  try {
    await fn(origin);
  } finally {
    await origin.close();
  }
}

/** Ranges the download asked for, without the probe's one byte. */
function transfers(log: readonly RangeLogEntry[]): RangeLogEntry[] {
  return log.filter((entry) => !(entry.start === 0 && entry.end === 1));
}

function overlaps(a: ByteRange, b: ByteRange): boolean {
  return a.start < b.end && b.start < a.end;
}

describe('engine', () => {
  test('a handle has a 16-hex id and a status with sources and a piece map naming who delivered each range', async () => {
    const data = testData(3 * MiB + 777);
    await withOrigin(data, 4 * MiB, async (origin) => {
      await withEngine(async (engine, dir) => {
        const states: DownloadState[] = [];
        const handle = engine.add({ url: origin.url, output: join(dir, 'a.bin'), connections: 2 });
        handle.on((event) => {
          if (event.type === 'state') states.push(event.state);
        });
        assert.match(handle.id, /^[0-9a-f]{16}$/);
        assert.equal(engine.get(handle.id), handle);
        await within(handle.finished(), FINISH_MS, 'download');
        const status = handle.status();
        assert.equal(status.state, 'complete');
        assert.deepEqual(states, ['active', 'complete']);
        assert.equal(status.totalBytes, data.length);
        assert.equal(status.completedBytes, data.length);
        assert.equal(status.output, join(dir, 'a.bin'));
        assert.deepEqual(
          status.sources.map((s) => s.id),
          ['local'],
        );
        assert.ok(status.sources[0]!.bytes === data.length);
        const covered = status.pieces.reduce((sum, piece) => sum + piece.end - piece.start, 0);
        assert.equal(covered, data.length);
        assert.ok(status.pieces.every((piece) => piece.source === 'local'));
        assert.equal(await sha256OfFile(join(dir, 'a.bin')), sha256(data));
      });
    });
  });

  test('pause then resume keeps every byte: the file is identical and no byte on disk at the pause is fetched again', async () => {
    const data = testData(6 * MiB + 4321);
    await withOrigin(data, 1 * MiB, async (origin) => {
      await withEngine(async (engine, dir) => {
        const output = join(dir, 'p.bin');
        const handle = engine.add({ url: origin.url, output, connections: 2 });
        await eventually(() => handle.status().completedBytes >= 1 * MiB, FINISH_MS, 'first MiB');
        await within(handle.pause(), 30_000, 'pause');
        const paused = handle.status();
        assert.equal(paused.state, 'paused');
        assert.equal(paused.connections, 0);
        assert.ok(existsSync(`${output}.part`) && existsSync(`${output}.ddm`), 'checkpointed on disk');
        const onDisk = paused.pieces;
        const doneBytes = onDisk.reduce((sum, piece) => sum + piece.end - piece.start, 0);
        assert.ok(doneBytes >= 1 * MiB && doneBytes < data.length, `paused with ${doneBytes} bytes`);
        const requestsAtPause = origin.rangeLog.length;
        handle.resume();
        await within(handle.finished(), FINISH_MS, 'resumed download');
        assert.equal(await sha256OfFile(output), sha256(data));
        const afterResume = transfers(origin.rangeLog.slice(requestsAtPause));
        assert.ok(afterResume.length > 0, 'the rest was fetched after the resume');
        for (const entry of afterResume) {
          for (const piece of onDisk) {
            assert.ok(!overlaps(entry, piece), `[${entry.start}, ${entry.end}) fetched again`);
          }
        }
      });
    });
  });

  test('setOptions from 1 to 4 connections mid-download: the origin sees 4 ranges at once, without a restart', async () => {
    const data = testData(8 * MiB);
    await withOrigin(data, 512 * 1024, async (origin) => {
      await withEngine(async (engine, dir) => {
        const output = join(dir, 'c.bin');
        const handle = engine.add({ url: origin.url, output, connections: 1 });
        await eventually(() => handle.status().completedBytes >= 256 * 1024, FINISH_MS, 'first bytes');
        assert.equal(origin.activeRanges, 1);
        const states: DownloadState[] = [];
        handle.on((event) => {
          if (event.type === 'state') states.push(event.state);
        });
        handle.setOptions({ connections: 4 });
        await eventually(() => origin.activeRanges === 4, 30_000, '4 concurrent ranges at the origin');
        assert.equal(handle.status().options.connections, 4);
        await within(handle.finished(), FINISH_MS, 'download');
        assert.deepEqual(states, ['complete'], 'no pause or restart in between');
        assert.equal(await sha256OfFile(output), sha256(data));
      });
    });
  });

  test('a removed download leaves no .part or control file, unless asked to keep them', async () => {
    const data = testData(4 * MiB);
    await withOrigin(data, 512 * 1024, async (origin) => {
      await withEngine(async (engine, dir) => {
        const gone = join(dir, 'gone.bin');
        const kept = join(dir, 'kept.bin');
        const first = engine.add({ url: origin.url, output: gone, connections: 1 });
        const second = engine.add({ url: origin.url, output: kept, connections: 1 });
        await eventually(
          () => existsSync(`${gone}.part`) && existsSync(`${kept}.ddm`) && second.status().completedBytes > 0,
          FINISH_MS,
          'both started',
        );
        await within(first.remove(), 30_000, 'remove');
        await within(second.remove({ keepFiles: true }), 30_000, 'remove keeping files');
        assert.equal(first.status().state, 'removed');
        assert.equal(existsSync(`${gone}.part`), false);
        assert.equal(existsSync(`${gone}.ddm`), false);
        assert.equal(existsSync(`${kept}.part`), true);
        assert.equal(existsSync(`${kept}.ddm`), true);
        assert.deepEqual(engine.list(), []);
        await assert.rejects(first.finished(), (error) => isDdmError(error, 'ABORTED'));
      });
    });
  });

  test('with maxActive 1, two queued downloads run one after the other', async () => {
    const data = testData(2 * MiB);
    await withOrigin(data, 2 * MiB, async (origin) => {
      await withEngine(
        async (engine, dir) => {
          const first = engine.add({ url: origin.url, output: join(dir, '1.bin') });
          const second = engine.add({ url: origin.url, output: join(dir, '2.bin') });
          const order: string[] = [];
          for (const [name, handle] of [
            ['first', first],
            ['second', second],
          ] as const) {
            handle.on((event) => {
              if (event.type === 'state') order.push(`${name}:${event.state}`);
            });
          }
          await within(Promise.all([first.finished(), second.finished()]), FINISH_MS, 'both downloads');
          assert.deepEqual(order, ['first:active', 'first:complete', 'second:active', 'second:complete']);
          assert.equal(await sha256OfFile(join(dir, '2.bin')), sha256(data));
        },
        { maxActive: 1 },
      );
    });
  });
});

describe('download request schema', () => {
  const problem = (input: unknown) => {
    try {
      parseDownloadRequest(input);
    } catch (error) {
      if (isDdmError(error)) return { code: error.code, key: error.details.key, message: error.message };
    }
    return undefined;
  };

  test('errors name the option key, never a flag', () => {
    assert.deepEqual(problem({ url: 'http://x/', connections: 65 }), {
      code: 'USAGE',
      key: 'connections',
      message: 'connections must be at most 64',
    });
    assert.equal(problem({ url: 'ftp://x/' })?.code, 'URL_INVALID');
    // -o NAME with dir DIR means DIR/NAME: the two are no longer exclusive.
    assert.equal(problem({ url: 'http://x/', header: ['bad'] })?.key, 'header');
    assert.equal(problem({ url: 'http://x/', checksum: 'crc32=ab' })?.key, 'checksum');
    assert.equal(problem({ url: 'http://x/', maxSpeed: 'fast' })?.key, 'maxSpeed');
    assert.equal(problem({ url: 'http://x/', peer: ['http://p/'] })?.code, 'NO_SECRET');
    assert.equal(problem({ url: 'http://x/', local: false })?.key, 'local');
    assert.equal(problem({ url: 'http://x/', bogus: 1 })?.key, 'bogus');
    for (const message of [problem({ url: 'http://x/', connections: 0 })?.message ?? '']) {
      assert.doesNotMatch(message, /--/);
    }
  });

  test('defaults are filled in and speeds parse', () => {
    const request = parseDownloadRequest({ url: 'http://x/f', maxSpeed: '1.5M' });
    assert.equal(request.options.connections, 4);
    assert.equal(request.maxSpeed, 1.5 * MiB);
    assert.equal(request.swarm, undefined);
  });
});
