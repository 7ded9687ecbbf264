/**
 * A link that expires in the middle (issue 16, part 2): a test origin hands out signed links
 * whose expiry is checked against its own clock, which a test moves forward once bytes have
 * flowed. The download keeps every byte, goes on with a new link (from --refresh-cmd, from a
 * rerun, from the RPC) and fetches no byte twice; a new link to another file is refused; a
 * link refused on the very first request stays an HTTP error.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Daemon, startDaemon } from '../../src/daemon/daemon.js';
import { runCli, sha256, sha256OfFile, startCli, testData, withTempDir } from '../helpers/cli.js';
import { call } from '../helpers/rpc.js';
import { startPeer, stopAll, TEST_SECRET } from '../helpers/swarm.js';
import { type RangeLogEntry, startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { eventually } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const HOUR_MS = 3_600_000;
/** Paced so the download is still running when the test expires its link. */
const RATE = 768 * 1024;
const WAIT_MS = 30_000;

/** Every range the origin served with a 206, but the 1-byte probes, overlaps no other. */
function assertNoByteTwice(log: readonly RangeLogEntry[], size: number): void {
  const served = log
    .filter((entry) => entry.status === 206 && entry.end - entry.start > 1)
    .sort((a, b) => a.start - b.start);
  let covered = 0;
  for (const entry of served) {
    assert.ok(entry.start >= covered, `byte ${entry.start} fetched twice: ${JSON.stringify(served)}`);
    covered = entry.end;
  }
  assert.equal(covered, size, 'the ranges cover the file');
}

/** Expires every link signed so far, once `bytes` have been served. */
async function expireAfter(origin: TestOrigin, bytes: number): Promise<void> {
  await eventually(() => origin.bytesServed >= bytes, WAIT_MS, 'bytes flow before the link expires');
  origin.options.clockOffsetMs = 2 * HOUR_MS;
}

/** A link that is still good after `expireAfter` moved the clock. */
const freshLink = (origin: TestOrigin) => origin.signedUrl(4 * HOUR_MS);

describe('a link that expires in the middle', () => {
  const data = testData(3 * MiB + 11, 16);
  let origin: TestOrigin;

  before(async () => {
    origin = await startTestOrigin({ data, rateBytesPerSec: RATE, expiringLinks: {} });
  });
  after(() => origin?.close());

  const reset = () => {
    origin.options.clockOffsetMs = 0;
    origin.resetCounters();
  };

  test('ddm get --refresh-cmd: the command gives a new link, the download ends with no byte fetched twice', async () => {
    reset();
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const linkFile = join(dir, 'link.txt');
      const running = startCli([
        'get',
        origin.signedUrl(HOUR_MS),
        '-o',
        output,
        '-c',
        '1',
        '--json',
        '--refresh-cmd',
        `cat '${linkFile}'`,
      ]);
      await writeFile(linkFile, `${freshLink(origin)}\n`);
      await expireAfter(origin, 256 * 1024);
      const result = await running.exited;
      assert.equal(result.code, 0, result.stderr + result.stdout);
      assert.equal(await sha256OfFile(output), sha256(data));
      assertNoByteTwice(origin.rangeLog, data.length);
      assert.match(result.stdout, /running the refresh command/);
      assert.match(result.stdout, /a new link was accepted/);
      // Each connection met the expiry once, then stopped asking with that link.
      assert.ok(origin.expiredAnswers <= 2, `expired answers: ${origin.expiredAnswers}`);
      // Signed links are never printed whole.
      assert.doesNotMatch(result.stdout + result.stderr, /sig=[0-9a-f]/);
    });
  });

  test('ddm get without --refresh-cmd ends with LINK_EXPIRED and keeps its files; a rerun with a new link resumes', async () => {
    reset();
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const running = startCli(['get', origin.signedUrl(HOUR_MS), '-o', output, '-c', '2']);
      await expireAfter(origin, 256 * 1024);
      const first = await running.exited;
      assert.equal(first.code, 3, first.stderr);
      assert.match(first.stderr, /\[LINK_EXPIRED\].*403.*new link to the same file resumes/);
      assert.ok(existsSync(`${output}.part`) && existsSync(`${output}.ddm`), 'files kept');
      const second = await runCli(['get', freshLink(origin), '-o', output, '-c', '2', '--quiet']);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(await sha256OfFile(output), sha256(data));
      assertNoByteTwice(origin.rangeLog, data.length);
    });
  });

  test('a refresh command that fails is reported and the download ends LINK_EXPIRED, resumable', async () => {
    reset();
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const running = startCli([
        'get',
        origin.signedUrl(HOUR_MS),
        '-o',
        output,
        '-c',
        '1',
        '--refresh-cmd',
        'echo "portal says no" >&2; exit 7',
      ]);
      await expireAfter(origin, 128 * 1024);
      const result = await running.exited;
      assert.equal(result.code, 3, result.stderr);
      assert.match(result.stderr, /\[LINK_EXPIRED\].*refresh command.*exit status 7.*portal says no/);
      assert.ok(existsSync(`${output}.part`) && existsSync(`${output}.ddm`), 'files kept');
    });
  });

  test('a 401, 403 or 410 on the very first request stays an HTTP error', async () => {
    reset();
    const forged = `${origin.url}?expires=${Date.now() + HOUR_MS}&sig=forged`;
    const result = await runCli(['get', forged, '-o', '/dev/null']);
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /\[HTTP_STATUS\].*403/);
    assert.doesNotMatch(result.stderr, /LINK_EXPIRED/);
  });
});
