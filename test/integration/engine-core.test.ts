/**
 * The engine core in-process (no `dist/`, no subprocess): SegmentedDownload's write batching,
 * the wiring of peer verification, and a resume from a control file, against the test origin
 * and in-process peers on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Dispatcher } from 'undici';
import type { DownloadEvent } from '../../src/client/events.js';
import { OriginRangeSource, OWN_CONNECTION_FAILURES } from '../../src/client/origin-source.js';
import type { RangeSource } from '../../src/client/range-source.js';
import { SegmentedDownload } from '../../src/client/segmented-download.js';
import {
  MIN_SPLIT_BYTES,
  SLOW_WORKER_FACTOR,
  STALL_TIMEOUT_MS,
  WRITE_BUFFER_BYTES,
} from '../../src/constants.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import type { HandleEvent } from '../../src/engine/types.js';
import { DdmError } from '../../src/errors.js';
import { createOriginDispatcher, type OriginRequestOptions } from '../../src/origin/http-client.js';
import { probe } from '../../src/origin/probe.js';
import { type Peer, startPeer } from '../../src/peer/peer-server.js';
import { deriveKey } from '../../src/protocol/auth.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { loadControl } from '../../src/storage/control-file.js';
import { controlPath } from '../../src/storage/file-names.js';
import type { ByteRange } from '../../src/types/byte-range.js';
import { sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { type Lie, startLyingPeer } from '../helpers/lying-peer.js';
import { type RangeLogEntry, startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { eventually, within } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const FINISH_MS = 120_000;
const SECRET = 'engine-core-test-secret-0123456';

const dispatchers: Dispatcher[] = [];
after(async () => {
  await Promise.all(dispatchers.map((dispatcher) => dispatcher.close()));
});

function originDispatcher(): Dispatcher {
  const dispatcher = createOriginDispatcher({ timeoutMs: 30_000, proxyFromEnv: false });
  dispatchers.push(dispatcher);
  return dispatcher;
}

function requestOptions(): OriginRequestOptions {
  return {
    dispatcher: originDispatcher(),
    headers: {},
    userAgent: 'ddm-test',
    timeoutMs: 30_000,
    maxRedirects: 5,
  };
}

async function withOrigin<T>(
  options: Parameters<typeof startTestOrigin>[0],
  fn: (origin: TestOrigin) => Promise<T>,
): Promise<T> {
  const origin = await startTestOrigin(options);
  try {
    return await fn(origin);
  } finally {
    await origin.close();
  }
}

async function withEngine<T>(dir: string, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = createEngine({ dispatcher: originDispatcher(), dir });
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

/** Ranges a download asked for, without the probe's one byte. */
function transfers(log: readonly RangeLogEntry[]): RangeLogEntry[] {
  return log.filter((entry) => !(entry.start === 0 && entry.end === 1));
}

function overlaps(a: ByteRange, b: ByteRange): boolean {
  return a.start < b.end && b.start < a.end;
}

/** A deterministic generator of chunk sizes, so a failure can be replayed. */
function chunkSizes(seed: number, max: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return 1 + ((state >>> 0) % max);
  };
}

/**
 * The origin's own connections, with every body cut into pieces of 1 to `maxChunk` bytes: the
 * shape of a slow or jittery network, where each read brings a few hundred bytes.
 */
function choppedSource(inner: RangeSource, maxChunk: number, counter: { chunks: number }): RangeSource {
  const nextSize = chunkSizes(7, maxChunk);
  return {
    id: inner.id,
    label: inner.label,
    kind: inner.kind,
    failurePolicy: inner.failurePolicy,
    async open(range, signal) {
      const body = await inner.open(range, signal);
      return (async function* () {
        for await (const chunk of body) {
          for (let at = 0; at < chunk.byteLength; ) {
            const size = Math.min(nextSize(), chunk.byteLength - at);
            counter.chunks += 1;
            yield chunk.subarray(at, at + size);
            at += size;
          }
        }
      })();
    },
  };
}

describe('SegmentedDownload in-process: write batching', () => {
  test('tens of thousands of small chunks become a few large positional writes, and the bytes are right', async () => {
    const data = testData(6 * MiB + 321, 31);
    await withOrigin({ data }, async (origin) => {
      const options = requestOptions();
      const signal = AbortSignal.timeout(FINISH_MS);
      const probed = await probe(origin.url, options, signal);
      assert.equal(probed.size, data.length);
      const counter = { chunks: 0 };
      const source = choppedSource(
        new OriginRangeSource(probed.url, probed.validators, data.length, options),
        512,
        counter,
      );
      assert.equal(source.failurePolicy, OWN_CONNECTION_FAILURES);
      const scheduler = new Scheduler({
        size: data.length,
        pieceBytes: 2 * MiB,
        minSplitBytes: MIN_SPLIT_BYTES,
        stallTimeoutMs: STALL_TIMEOUT_MS,
        slowFactor: SLOW_WORKER_FACTOR,
      });
      const written = Buffer.alloc(data.length);
      const writes: { position: number; length: number; chunks: number }[] = [];
      const download = new SegmentedDownload(scheduler, [{ source, slots: 3 }], {
        maxTries: 3,
        write: async (chunks, position) => {
          let at = position;
          for (const chunk of chunks) {
            written.set(chunk, at);
            at += chunk.byteLength;
          }
          writes.push({ position, length: at - position, chunks: chunks.length });
        },
        onEvent: () => {},
      });
      await within(download.run(signal), FINISH_MS, 'segmented download');

      assert.equal(sha256(written), sha256(data), 'the bytes written are the file');
      assert.ok(counter.chunks > 20_000, `only ${counter.chunks} chunks: the test did not chop enough`);
      // A batch is flushed once it reaches WRITE_BUFFER_BYTES, so it overshoots by one chunk at most.
      for (const write of writes) {
        assert.ok(write.length <= WRITE_BUFFER_BYTES + 512, `a write of ${write.length} bytes`);
      }
      // Under load a slow stream also flushes on age; even so, far fewer writes than chunks.
      assert.ok(
        writes.length * 20 < counter.chunks,
        `${writes.length} writes for ${counter.chunks} chunks: chunks were not gathered`,
      );
      const sorted = [...writes].sort((a, b) => a.position - b.position);
      let end = 0;
      for (const write of sorted) {
        assert.equal(write.position, end, 'writes leave no gap and never overlap');
        end = write.position + write.length;
      }
      assert.equal(end, data.length);
      // A chunk that arrives after the scheduler split its range off is not written (another
      // slot fetches those bytes), so at most every chunk is.
      const writtenChunks = writes.reduce((sum, write) => sum + write.chunks, 0);
      assert.ok(writtenChunks <= counter.chunks, `${writtenChunks} chunks written of ${counter.chunks}`);
    });
  });
});

describe('SegmentedDownload in-process: each source its own failure policy', () => {
  test('a failing source whose policy is not fatal is dropped after its maxFailures, whatever its kind; the others finish', async () => {
    const data = testData(3 * MiB + 5, 32);
    await withOrigin({ data }, async (origin) => {
      const options = requestOptions();
      const signal = AbortSignal.timeout(FINISH_MS);
      const probed = await probe(origin.url, options, signal);
      let opened = 0;
      // Says it is 'local' (the kind that used to make every failure fatal), but is not fatal.
      const flaky: RangeSource = {
        id: 'flaky',
        label: 'flaky',
        kind: 'local',
        failurePolicy: { retried: false, endsDownload: false, maxFailures: 2, stallIsFailure: true },
        open: async () => {
          opened += 1;
          throw new DdmError('NETWORK', 'flaky source fails every range', { retryable: true });
        },
      };
      const origins = new OriginRangeSource(probed.url, probed.validators, data.length, options);
      const scheduler = new Scheduler({
        size: data.length,
        pieceBytes: 256 * 1024,
        minSplitBytes: 64 * 1024,
        stallTimeoutMs: STALL_TIMEOUT_MS,
        slowFactor: SLOW_WORKER_FACTOR,
      });
      const written = Buffer.alloc(data.length);
      const events: DownloadEvent[] = [];
      const download = new SegmentedDownload(
        scheduler,
        [
          { source: flaky, slots: 1 },
          { source: origins, slots: 2 },
        ],
        {
          maxTries: 3,
          write: async (chunks, position) => {
            let at = position;
            for (const chunk of chunks) {
              written.set(chunk, at);
              at += chunk.byteLength;
            }
          },
          onEvent: (event) => events.push(event),
        },
      );
      await within(download.run(signal), FINISH_MS, 'segmented download');
      assert.equal(sha256(written), sha256(data));
      assert.equal(opened, 2, 'tried once per range (not retried), and no more after its second failure');
      const flakyStats = download.stats().find((stats) => stats.source === 'flaky');
      assert.equal(flakyStats?.dropped, true);
      assert.equal(flakyStats?.failures, 2);
      assert.ok(
        events.some(
          (event) => event.type === 'peer' && event.source === 'flaky' && event.status === 'dropped',
        ),
      );
    });
  });
});

async function startHonestPeer(): Promise<Peer> {
  return startPeer(
    {
      host: '127.0.0.1',
      port: 0,
      key: deriveKey(SECRET),
      id: 'peer-honest-0001',
      name: 'honest',
      slots: 2,
      accept: 'auto',
      allowPrivate: true,
      trackers: [],
      timeoutMs: 30_000,
    },
    AbortSignal.timeout(FINISH_MS),
  );
}

interface SwarmRun {
  events: HandleEvent[];
  liarFetches: number;
}

/** One engine download with a liar and an honest peer, no own connections; the file must be right. */
async function downloadWithLiar(lie: Lie, withChecksum: boolean): Promise<SwarmRun> {
  const data = testData(10 * MiB, 21);
  // Paced so that both peers get work before the download is over.
  return withOrigin({ data, rateBytesPerSec: 2 * MiB }, async (origin) => {
    const liar = await startLyingPeer(data, lie, SECRET);
    const honest = await startHonestPeer();
    try {
      return await withTempDir((dir) =>
        withEngine(dir, async (engine) => {
          const output = join(dir, 'swarm.bin');
          const handle = engine.add({
            url: origin.url,
            output,
            local: false,
            peer: [liar.url, honest.url],
            secret: SECRET,
            ...(withChecksum ? { checksum: `sha256=${sha256(data)}` } : {}),
          });
          const events: HandleEvent[] = [];
          handle.on((event) => events.push(event));
          await within(handle.finished(), FINISH_MS, 'download with a lying peer');
          assert.equal(await sha256OfFile(output), sha256(data), 'the final file is never wrong');
          assert.ok(liar.fetches > 0, 'the liar was given work');
          return { events, liarFetches: liar.fetches };
        }),
      );
    } finally {
      await honest.close();
      await liar.close();
    }
  });
}

function droppedLiar(run: SwarmRun, lie: Lie): boolean {
  return run.events.some(
    (event) => event.type === 'peer' && event.label === `liar-${lie}` && event.status === 'dropped',
  );
}

describe('the engine in-process: peer verification wiring', () => {
  test('a peer serving another range is caught by spot checks (no checksum), dropped, and the file is right', async () => {
    const run = await downloadWithLiar('shift', false);
    assert.ok(droppedLiar(run, 'shift'), JSON.stringify(run.events.filter((e) => e.type === 'peer')));
  });

  test('a peer flipping the last byte of each answer is caught (spot checks rarely see it; the checksum audit does) and the file is right', async () => {
    const run = await downloadWithLiar('last-byte', true);
    assert.ok(droppedLiar(run, 'last-byte'), JSON.stringify(run.events.filter((e) => e.type === 'peer')));
  });
});

describe('the engine in-process: resume from a control file', () => {
  test('a new engine resumes what a closed one left, fetching no byte the control file records', async () => {
    const data = testData(8 * MiB + 99, 41);
    await withOrigin({ data, rateBytesPerSec: 1 * MiB }, (origin) =>
      withTempDir(async (dir) => {
        const output = join(dir, 'resumed.bin');
        const request = { url: origin.url, output, connections: 2 };
        await withEngine(dir, async (engine) => {
          const handle = engine.add(request);
          await eventually(() => handle.status().completedBytes >= 2 * MiB, FINISH_MS, 'first 2 MiB');
        });
        assert.ok(existsSync(`${output}.part`), 'the .part file stays');
        const saved = await loadControl(controlPath(output), AbortSignal.timeout(10_000));
        assert.ok(saved, 'closing the engine wrote the control file');
        const savedBytes = saved.done.reduce((sum, range) => sum + range.end - range.start, 0);
        assert.ok(savedBytes >= 2 * MiB && savedBytes < data.length, `saved ${savedBytes} bytes`);

        const before = origin.rangeLog.length;
        origin.options.rateBytesPerSec = 8 * MiB;
        await withEngine(dir, async (engine) => {
          const handle = engine.add(request);
          await within(handle.finished(), FINISH_MS, 'resumed download');
          const earlier = handle
            .status()
            .pieces.filter((piece) => piece.source === 'earlier')
            .reduce((sum, piece) => sum + piece.end - piece.start, 0);
          assert.equal(earlier, savedBytes, 'the piece map credits the resumed bytes to the earlier run');
        });
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.ok(!existsSync(controlPath(output)), 'the control file is gone once the file is done');
        const fetched = transfers(origin.rangeLog.slice(before));
        assert.ok(fetched.length > 0, 'the rest was fetched');
        for (const entry of fetched) {
          for (const range of saved.done) {
            assert.ok(!overlaps(entry, range), `[${entry.start}, ${entry.end}) was fetched again`);
          }
        }
      }),
    );
  });
});
