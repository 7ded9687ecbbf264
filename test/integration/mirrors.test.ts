/**
 * Mirrors (issue 16, part 3): several URLs of one file. Connections spread over the URL and its
 * mirrors, a faster mirror does more ranges, one that dies is dropped with a notice and the
 * download goes on; a mirror of another size is dropped at its probe; one serving another file
 * of the same size is caught by the cross-mirror spot checks, its ranges fetched again.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadControl } from '../../src/storage/control-file.js';
import { controlPath } from '../../src/storage/file-names.js';
import { runCli, sha256, sha256OfFile, startCli, testData, withTempDir } from '../helpers/cli.js';
import { type Node, startPeer, stopAll, TEST_SECRET } from '../helpers/swarm.js';
import { type RangeLogEntry, startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { eventually } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const WAIT_MS = 30_000;

/** Bytes an origin served in ranges, the 1-byte probes left out. */
function rangeBytes(log: readonly RangeLogEntry[]): number {
  return log
    .filter((entry) => entry.status === 206 && entry.end - entry.start > 1)
    .reduce((sum, entry) => sum + entry.end - entry.start, 0);
}

describe('mirrors', () => {
  const origins: TestOrigin[] = [];
  const start = async (...args: Parameters<typeof startTestOrigin>) => {
    const origin = await startTestOrigin(...args);
    origins.push(origin);
    return origin;
  };
  after(async () => {
    await Promise.all(origins.map((origin) => origin.close()));
  });

  test('three mirrors of different speeds, one dying mid-way: the file is right, the dead one dropped, the fast one did most', async () => {
    const data = testData(6 * MiB + 5, 31);
    const slow = await start({ data, rateBytesPerSec: 256 * 1024 });
    const fast = await start({ data, rateBytesPerSec: 8 * MiB });
    const dying = await start({ data, rateBytesPerSec: 512 * 1024 });
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const running = startCli([
        'get',
        slow.url,
        '--mirror',
        fast.url,
        '--mirror',
        dying.url,
        '-o',
        output,
        '-c',
        '6',
        '--max-tries',
        '2',
        '--no-discover',
      ]);
      await eventually(() => dying.bytesServed >= 128 * 1024, WAIT_MS, 'the dying mirror serves some bytes');
      await dying.close();
      const result = await running.exited;
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await sha256OfFile(output), sha256(data));
      assert.match(result.stderr, new RegExp(`mirror http://127\\.0\\.0\\.1:${dying.port}/file dropped`));
      const fastBytes = rangeBytes(fast.rangeLog);
      assert.ok(
        fastBytes > rangeBytes(slow.rangeLog) && fastBytes > data.length / 2,
        `the fast mirror did most: fast ${fastBytes}, slow ${rangeBytes(slow.rangeLog)}, dying ${rangeBytes(dying.rangeLog)}`,
      );
    });
  });

  test('a mirror of another size is dropped at its probe, its query redacted, and never asked for a range', async () => {
    const data = testData(2 * MiB + 3, 32);
    const primary = await start({ data });
    const other = await start({ data: testData(2 * MiB + 4, 32) });
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const result = await runCli([
        'get',
        primary.url,
        '--mirror',
        `${other.url}?token=sesame`,
        '-o',
        output,
        '--no-discover',
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await sha256OfFile(output), sha256(data));
      assert.match(
        result.stderr,
        new RegExp(
          `mirror http://127\\.0\\.0\\.1:${other.port}/file\\?token=… dropped: it serves ${2 * MiB + 4} bytes`,
        ),
      );
      assert.doesNotMatch(result.stderr, /sesame/);
      assert.equal(rangeBytes(other.rangeLog), 0);
    });
  });

  test('a mirror serving another file of the same size is caught by spot checks; the file is the primary one', async () => {
    const data = testData(4 * MiB + 7, 33);
    const primary = await start({ data, rateBytesPerSec: 2 * MiB });
    const impostor = await start({ data: testData(data.length, 34), rateBytesPerSec: 2 * MiB });
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const result = await runCli([
        'get',
        primary.url,
        '--mirror',
        impostor.url,
        '-o',
        output,
        '-c',
        '4',
        '--no-discover',
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await sha256OfFile(output), sha256(data));
      assert.match(
        result.stderr,
        new RegExp(
          `mirror http://127\\.0\\.0\\.1:${impostor.port}/file dropped: served bytes that differ from the primary URL's`,
        ),
      );
    });
  });

  test('with --checksum, a mirror off by a few bytes is repaired from the primary and the checksum decides', async () => {
    const data = testData(4 * MiB + 21, 39);
    const flawed = Buffer.from(data);
    // One byte in every MiB: spot checks of 1% will most likely miss them, the checksum will not.
    for (let offset = 1234; offset < flawed.length; offset += MiB) flawed[offset]! ^= 0xff;
    const primary = await start({ data, rateBytesPerSec: 4 * MiB });
    const mirror = await start({ data: flawed, rateBytesPerSec: 4 * MiB });
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const result = await runCli([
        'get',
        primary.url,
        '--mirror',
        mirror.url,
        '-o',
        output,
        '--checksum',
        `sha256=${sha256(data)}`,
        '--no-discover',
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await sha256OfFile(output), sha256(data));
      assert.ok(rangeBytes(mirror.rangeLog) > 0, 'the mirror served ranges');
    });
  });

  test('helpers spread over the mirrors: each is offered one origin, and both origins serve ranges', async () => {
    const data = testData(4 * MiB + 1, 36);
    const primary = await start({ data, rateBytesPerSec: 2 * MiB });
    const mirror = await start({ data, rateBytesPerSec: 2 * MiB });
    const peers: Node[] = [];
    try {
      for (const name of ['m1', 'm2']) peers.push(await startPeer(name, ['--allow-private', '--slots', '2']));
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const result = await runCli(
          [
            'get',
            primary.url,
            '--mirror',
            mirror.url,
            '-o',
            output,
            '--no-local',
            '--no-discover',
            ...peers.flatMap((peer) => ['--peer', peer.url]),
          ],
          { DDM_SECRET: TEST_SECRET },
        );
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.ok(rangeBytes(primary.rangeLog) > 0, 'the primary served ranges to a helper');
        assert.ok(rangeBytes(mirror.rangeLog) > 0, 'the mirror served ranges to a helper');
      });
    } finally {
      await stopAll(peers);
    }
  });

  test('a primary URL that fails its probe hands over to the next mirror', async () => {
    const data = testData(1 * MiB + 3, 37);
    const broken = await start({ data, status: 404 });
    const mirror = await start({ data });
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const result = await runCli(['get', broken.url, '--mirror', mirror.url, '-o', output, '--no-discover']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await sha256OfFile(output), sha256(data));
      assert.match(
        result.stderr,
        new RegExp(
          `:${broken.port}/file failed its probe .*: trying the mirror http://127\\.0\\.0\\.1:${mirror.port}/file in its place`,
        ),
      );
    });
  });

  test('killed mid-way with mirrors, the same command resumes to the right file', async () => {
    const data = testData(4 * MiB + 13, 38);
    const primary = await start({ data, rateBytesPerSec: 512 * 1024 });
    const mirror = await start({ data, rateBytesPerSec: 512 * 1024 });
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const args = ['get', primary.url, '--mirror', mirror.url, '-o', output, '-c', '4', '--no-discover'];
      const first = startCli(args);
      await eventually(
        () => primary.bytesServed + mirror.bytesServed >= 2.5 * MiB,
        WAIT_MS,
        'more than half of the file arrives (a checkpoint a second)',
      );
      first.child.kill('SIGKILL');
      await first.exited;
      primary.options.rateBytesPerSec = undefined;
      mirror.options.rateBytesPerSec = undefined;
      const served = primary.bytesServed + mirror.bytesServed;
      const second = await runCli(args);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(await sha256OfFile(output), sha256(data));
      assert.ok(
        primary.bytesServed + mirror.bytesServed - served < data.length,
        `the rerun resumed: ${second.stderr}, ${primary.bytesServed + mirror.bytesServed - served}`,
      );
    });
  });

  // Each origin with its own ETag, as real mirrors have: the progress is recorded under the
  // URL that served the run, and the rerun must see it belongs to the same download.
  for (const direction of [
    'a mirror stood in, the primary is back',
    'the primary ran, a mirror stands in',
  ] as const) {
    test(`killed after a run from one URL, the rerun from another of its URLs resumes (${direction})`, async () => {
      const data = testData(4 * MiB + 17, direction.length);
      const primary = await start({ data, etag: '"primary-1"', rateBytesPerSec: 512 * 1024 });
      const mirror = await start({ data, etag: '"mirror-1"', rateBytesPerSec: 512 * 1024 });
      const firstDown = direction.startsWith('a mirror') ? primary : mirror;
      const secondDown = firstDown === primary ? mirror : primary;
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const args = ['get', primary.url, '--mirror', mirror.url, '-o', output, '-c', '4', '--no-discover'];
        firstDown.options.status = 404;
        const first = startCli(args);
        const keptBytes = async () => {
          const recorded = await loadControl(controlPath(output), AbortSignal.timeout(10_000)).catch(
            () => null,
          );
          return (recorded?.done ?? []).reduce((sum, range) => sum + range.end - range.start, 0);
        };
        await eventually(async () => (await keptBytes()) >= MiB, WAIT_MS, 'a checkpoint holds 1 MiB');
        first.child.kill('SIGKILL');
        await first.exited;
        firstDown.options.status = undefined;
        secondDown.options.rateBytesPerSec = undefined;
        if (secondDown === primary) primary.options.status = 404;
        const kept = await keptBytes();
        const served = primary.bytesServed + mirror.bytesServed;
        const second = await runCli(args);
        assert.equal(second.code, 0, second.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.match(second.stderr, /resuming progress fetched from http:\/\/127\.0\.0\.1:\d+\/file/);
        const fetchedAgain = primary.bytesServed + mirror.bytesServed - served;
        // Probes and the spot checks of mirror ranges aside, the rerun fetches what the control file lacked.
        assert.ok(fetchedAgain <= data.length - kept + 256 * 1024, `fetched ${fetchedAgain}, kept ${kept}`);
      });
    });
  }

  test('every origin failing ends the download with the error, progress kept', async () => {
    const data = testData(1 * MiB, 35);
    const primary = await start({ data });
    const mirror = await start({ data });
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      primary.options.dropAfterBytes = 1000;
      mirror.options.dropAfterBytes = 1000;
      const result = await runCli([
        'get',
        primary.url,
        '--mirror',
        mirror.url,
        '-o',
        output,
        '--max-tries',
        '1',
        '--no-discover',
      ]);
      assert.notEqual(result.code, 0, result.stderr);
      assert.match(result.stderr, /mirror http:\/\/127\.0\.0\.1:\d+\/file (failed|dropped)/);
    });
  });
});
