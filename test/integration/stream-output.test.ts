/**
 * `ddm get URL -o -`: the file goes to stdout in order while every connection (and helper)
 * fetches; a slow reader slows the download instead of growing ddm's memory.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { STREAM_WINDOW_BYTES } from '../../src/constants.js';
import { CLI_TIMEOUT_MS, DDM_BIN, runCli, sha256, testData } from '../helpers/cli.js';
import { startLyingPeer } from '../helpers/lying-peer.js';
import { type Node, startPeer, stopAll, TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin } from '../helpers/test-origin.js';

const MiB = 1024 * 1024;
/** The throttled consumer of a whole file of several windows (at 1 MB/s it would take a minute; the 1 MB/s test reads ten seconds). */
const READER_BYTES_PER_SEC = 4_000_000;

interface Streamed {
  code: number | null;
  sha256: string;
  bytes: number;
  stderr: string;
  /** The ddm process's peak resident memory (VmHWM), in bytes, read just before it exited. */
  peakRssBytes: number | undefined;
  /** Most bytes the origin had sent beyond what the reader had taken. */
  peakAheadBytes: number;
}

/**
 * Runs `ddm get ... -o -` and hashes its stdout; `readBytesPerSec` throttles the reading
 * side (the pipe fills and ddm must wait).
 */
function streamGet(
  args: readonly string[],
  readBytesPerSec?: number,
  served: () => number = () => 0,
  /** The reader leaves (closes the pipe) once it has this many bytes. */
  stopAfterBytes = Number.POSITIVE_INFINITY,
): Promise<Streamed> {
  const child = spawn(process.execPath, [DDM_BIN, 'get', ...args, '-o', '-'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      XDG_CONFIG_HOME: '/nonexistent-ddm-test-config',
      DDM_SECRET: TEST_SECRET,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const hash = createHash('sha256');
  let bytes = 0;
  let stderr = '';
  let peakRssBytes: number | undefined;
  let peakAheadBytes = 0;
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS * 2);
  const sampler = setInterval(() => {
    peakAheadBytes = Math.max(peakAheadBytes, served() - bytes);
    void peakOf(child.pid!).then((peak) => {
      if (peak !== undefined) peakRssBytes = Math.max(peakRssBytes ?? 0, peak);
    });
  }, 100);
  const reading = (async () => {
    const started = Date.now();
    for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      if (bytes >= stopAfterBytes) {
        child.stdout!.destroy();
        break;
      }
      if (readBytesPerSec !== undefined) {
        const dueMs = (bytes / readBytesPerSec) * 1000 - (Date.now() - started);
        if (dueMs > 0) await delay(dueMs);
      }
    }
  })();
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearInterval(sampler);
      reading.then(
        () => resolve({ code, sha256: hash.digest('hex'), bytes, stderr, peakRssBytes, peakAheadBytes }),
        reject,
      );
    });
  });
}

async function peakOf(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  return match ? Number(match[1]) * 1024 : undefined;
}

async function streamFolders(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => name.startsWith('ddm-stdout-'));
}

describe('ddm get -o -', { timeout: 240_000 }, () => {
  test('writes exactly the file to stdout, with several connections, and leaves nothing behind', async () => {
    const data = testData(24 * MiB + 777, 5);
    const origin = await startTestOrigin({ data });
    try {
      const before = await streamFolders();
      const result = await streamGet([origin.url, '--connections', '4', '--quiet']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.bytes, data.length);
      assert.equal(result.sha256, sha256(data));
      assert.equal(result.stderr, '');
      assert.ok(origin.rangeRequests >= 4, `ranges were fetched in parallel: ${origin.rangeRequests}`);
      assert.deepEqual(await streamFolders(), before, 'the temporary folder is gone');
    } finally {
      await origin.close();
    }
  });

  test('progress and --json go to stderr; stdout carries only the bytes', async () => {
    const data = testData(3 * MiB, 6);
    const origin = await startTestOrigin({ data });
    try {
      const result = await streamGet([origin.url, '--json']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.sha256, sha256(data));
      assert.match(result.stderr, /"type":"done","output":"stdout"/);
      assert.doesNotMatch(result.stderr, /ddm-stdout-/, 'the temporary path is not shown');
    } finally {
      await origin.close();
    }
  });

  test('works with helpers: two peers fetch, the output is the file', async () => {
    const data = testData(20 * MiB, 7);
    // Paced, so the helpers join while most of the file is still to fetch.
    const origin = await startTestOrigin({ data, rateBytesPerSec: 4 * MiB });
    const peers: Node[] = [];
    try {
      for (const name of ['h1', 'h2']) peers.push(await startPeer(name, ['--allow-private']));
      const result = await streamGet([
        origin.url,
        '--connections',
        '2',
        '--peer',
        peers[0]!.url,
        '--peer',
        peers[1]!.url,
        '--json',
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.sha256, sha256(data));
      const done = result.stderr
        .split('\n')
        .filter((line) => line.includes('"type":"done"'))
        .map((line) => JSON.parse(line) as { sources: { kind: string; bytes: number }[] })[0];
      assert.ok(done, result.stderr);
      const peerBytes = done.sources.filter((s) => s.kind === 'peer').reduce((sum, s) => sum + s.bytes, 0);
      assert.ok(peerBytes > 0, `the helpers delivered: ${JSON.stringify(done.sources)}`);
    } finally {
      await stopAll(peers);
      await origin.close();
    }
  });

  test("a helper's bytes go to stdout only after their spot checks: a liar is caught before", async () => {
    const data = testData(12 * MiB, 9);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 2 * MiB });
    const liar = await startLyingPeer(data, 'shift', TEST_SECRET, { rateBytesPerSec: 2 * MiB });
    try {
      const result = await streamGet([origin.url, '--connections', '2', '--peer', liar.url]);
      assert.ok(liar.fetches > 0, 'the liar delivered bytes');
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /peer liar-shift dropped: sent bytes that differ from the origin/);
      assert.equal(result.sha256, sha256(data), 'none of its bytes reached stdout');
    } finally {
      await liar.close();
      await origin.close();
    }
  });

  test('a throttled reader slows the download; memory stays bounded', async () => {
    // Several windows long; the origin is much faster than the reader.
    const size = 3 * STREAM_WINDOW_BYTES + 12_345;
    const data = testData(size, 8);
    const origin = await startTestOrigin({ data });
    try {
      const result = await streamGet(
        [origin.url, '--connections', '4', '--quiet'],
        READER_BYTES_PER_SEC,
        () => origin.bytesServed,
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.sha256, sha256(data));
      // The download waited for the reader: never much more than a window ahead of it (socket
      // buffers of the responses in flight are the slack).
      assert.ok(
        result.peakAheadBytes < STREAM_WINDOW_BYTES + 12 * MiB,
        `the origin ran ${(result.peakAheadBytes / MiB).toFixed(1)} MiB ahead of the reader`,
      );
      assert.ok(result.peakRssBytes !== undefined, 'VmHWM was read');
      // Node's own footprint plus a window's worth of slack; a file held in memory would be 48 MiB more.
      assert.ok(result.peakRssBytes < 160 * MiB, `peak RSS ${(result.peakRssBytes / MiB).toFixed(0)} MiB`);
    } finally {
      await origin.close();
    }
  });

  test('a reader at 1 MB/s holds the download back to a window ahead of it, in bounded memory', async () => {
    const data = testData(3 * STREAM_WINDOW_BYTES, 12);
    const origin = await startTestOrigin({ data });
    try {
      // Ten seconds of reading at 1 MB/s, then the reader leaves.
      const result = await streamGet(
        [origin.url, '--connections', '4', '--quiet'],
        1_000_000,
        () => origin.bytesServed,
        10_000_000,
      );
      assert.equal(result.code, 130, result.stderr);
      assert.ok(result.bytes >= 10_000_000);
      assert.ok(
        origin.bytesServed < result.bytes + STREAM_WINDOW_BYTES + 12 * MiB,
        `the origin sent ${(origin.bytesServed / MiB).toFixed(1)} MiB for ${(result.bytes / MiB).toFixed(1)} MiB read`,
      );
      assert.ok(result.peakAheadBytes < STREAM_WINDOW_BYTES + 12 * MiB);
      assert.ok(
        result.peakRssBytes !== undefined && result.peakRssBytes < 160 * MiB,
        `peak RSS ${result.peakRssBytes}`,
      );
    } finally {
      await origin.close();
    }
  });

  test('a reader that goes away ends ddm at once and quietly, and nothing is left behind', async () => {
    const origin = await startTestOrigin({ data: testData(40 * MiB, 10), rateBytesPerSec: 4 * MiB });
    try {
      const before = await streamFolders();
      const child = spawn(process.execPath, [DDM_BIN, 'get', origin.url, '-o', '-', '--quiet'], {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          XDG_CONFIG_HOME: '/nonexistent-ddm-test-config',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      // `| head -c 1`: the first bytes, then the pipe is closed.
      child.stdout!.once('data', () => child.stdout!.destroy());
      const started = Date.now();
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.ok(Date.now() - started < 20_000, 'ddm ended soon after its reader');
      assert.equal(code, 130);
      assert.equal(
        stderr,
        'ddm: error [ABORTED]: stdout was closed (-o - does not resume: a new run starts over)\n',
      );
      assert.deepEqual(await streamFolders(), before, 'the temporary folder is gone');
    } finally {
      await origin.close();
    }
  });

  test('-o - with several URLs, or with --dir, is a usage error', async () => {
    const several = await runCli(['get', 'http://127.0.0.1:9/a', 'http://127.0.0.1:9/b', '-o', '-']);
    assert.equal(several.code, 2);
    assert.match(several.stderr, /^ddm: error \[USAGE\]: -o names one file/m);
    const withDir = await runCli(['get', 'http://127.0.0.1:9/a', '-o', '-', '--dir', tmpdir()]);
    assert.equal(withDir.code, 2);
    assert.match(withDir.stderr, /^ddm: error \[USAGE\]: -o - writes to stdout, so --dir/m);
    assert.equal(withDir.stdout, '');
  });
});
