/**
 * A link that expires in the middle (issue 16, part 2): a test origin hands out signed links
 * whose expiry is checked against its own clock, which a test moves forward once bytes have
 * flowed. The download keeps every byte, goes on with a new link (from --refresh-cmd, from a
 * rerun, from the RPC) and fetches no byte twice; a new link to another file is refused; a
 * link refused on the very first request stays an HTTP error.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Daemon, startDaemon } from '../../src/daemon/daemon.js';
import { runCli, sha256, sha256OfFile, startCli, testData, withTempDir } from '../helpers/cli.js';
import { call, rawRpc } from '../helpers/rpc.js';
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

/** `ddm get` of an hour's link over one connection, with `refreshCommand` to renew it. */
function getWithRefresh(
  origin: TestOrigin,
  output: string,
  refreshCommand: string,
  extra: readonly string[] = [],
) {
  const link = origin.signedUrl(HOUR_MS);
  return startCli(['get', link, '-o', output, '-c', '1', ...extra, '--refresh-cmd', refreshCommand]);
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
      const running = getWithRefresh(origin, output, `cat '${linkFile}'`, ['--json']);
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
      const running = getWithRefresh(origin, output, 'echo "portal says no" >&2; exit 7');
      await expireAfter(origin, 128 * 1024);
      const result = await running.exited;
      assert.equal(result.code, 3, result.stderr);
      assert.match(result.stderr, /\[LINK_EXPIRED\].*refresh command.*exit status 7.*portal says no/);
      assert.ok(existsSync(`${output}.part`) && existsSync(`${output}.ddm`), 'files kept');
    });
  });

  test('a helper switches to the new link with the client (--no-local: only the helper fetches)', async () => {
    reset();
    const peer = await startPeer('helper', ['--allow-private', '--slots', '1']);
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const linkFile = join(dir, 'link.txt');
        const running = startCli(
          [
            'get',
            origin.signedUrl(HOUR_MS),
            '-o',
            output,
            '--peer',
            peer.url,
            '--no-local',
            '--json',
            '--refresh-cmd',
            `cat '${linkFile}'`,
          ],
          { DDM_SECRET: TEST_SECRET },
        );
        const fresh = freshLink(origin);
        await writeFile(linkFile, `${fresh}\n`);
        await expireAfter(origin, 256 * 1024);
        const result = await running.exited;
        assert.equal(result.code, 0, result.stderr + result.stdout);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.match(result.stdout, /peer helper: .*403.*the link has expired/);
        const done = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
          type: string;
          sources: { kind: string; bytes: number }[];
        };
        assert.equal(done.type, 'done');
        const helped = done.sources.filter((source) => source.kind === 'peer');
        assert.ok(helped.length === 1 && helped[0]!.bytes > 0, JSON.stringify(done.sources));
        const freshQuery = new URL(fresh).search;
        assert.ok(
          origin.rangeLog.some((entry) => entry.query === freshQuery && entry.end - entry.start > 1),
          'ranges were fetched with the new link',
        );
      });
    } finally {
      await stopAll([peer]);
    }
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

describe('the daemon: an expired download waits for a new link from the RPC, across a restart', () => {
  const data = testData(3 * MiB + 5, 17);
  const SECRET = 'expiry-rpc-secret-0123456789';
  let origin: TestOrigin;
  let otherSize: TestOrigin;
  let otherEtag: TestOrigin;
  let daemon: Daemon | undefined;
  let root: string;

  before(async () => {
    origin = await startTestOrigin({ data, rateBytesPerSec: RATE, expiringLinks: {} });
    otherSize = await startTestOrigin({ data: data.subarray(1) });
    // Same size, other bytes: the default ETag is the content's hash, so it differs.
    otherEtag = await startTestOrigin({ data: Buffer.from(data.map((byte) => byte ^ 1)) });
  });
  after(async () => {
    await daemon?.close();
    await Promise.all([origin, otherSize, otherEtag].map((o) => o?.close()));
  });

  const start = (stateDir: string) =>
    startDaemon({ host: '127.0.0.1', port: 0, dir: root, stateDir, rpcSecret: SECRET });
  const rpc = (method: string, ...params: unknown[]) => call(daemon!.url, SECRET, method, ...params);
  /** The call's error as the RPC answers it: aria2's message, ddm's code in `data`. */
  const refusal = async (method: string, ...params: unknown[]) => {
    const answer = await rawRpc(
      daemon!.url,
      JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [`token:${SECRET}`, ...params] }),
    );
    const body = answer.body as { error?: { code: number; message: string; data?: { code: string } } };
    assert.ok(body.error, `${method} was refused: ${answer.text}`);
    return body.error;
  };
  const status = (gid: string) =>
    rpc('ddm.getStatus', gid) as Promise<{ state: string; url: string; completedBytes: number }>;

  test('expired → refused links leave it as it was → restart keeps it → changeUri finishes it, no byte twice', async () => {
    await withTempDir(async (dir) => {
      root = dir;
      const stateDir = join(dir, 'state');
      daemon = await start(stateDir);
      const expiring = origin.signedUrl(HOUR_MS);
      const gid = (await rpc('aria2.addUri', [expiring], { out: 'a.bin', split: '2' })) as string;
      await expireAfter(origin, 256 * 1024);
      await eventually(async () => (await status(gid)).state === 'expired', WAIT_MS, 'link expired');
      const expired = await status(gid);
      assert.equal(expired.url, expiring);
      const aria2 = (await rpc('aria2.tellStatus', gid, ['status', 'completedLength'])) as Record<
        string,
        string
      >;
      assert.equal(aria2.status, 'paused', 'aria2 sees a paused download');
      assert.ok(Number(aria2.completedLength) > 0);

      // A link to a file of another size, or of the same size with another ETag: refused.
      const bySize = await refusal('aria2.changeUri', gid, 1, [expiring], [otherSize.url]);
      assert.equal(bySize.data?.code, 'LINK_MISMATCH');
      assert.match(bySize.message, /not the same file: it is \d+ bytes/);
      const byEtag = await refusal('ddm.changeLink', gid, otherEtag.url);
      assert.equal(byEtag.data?.code, 'LINK_MISMATCH');
      assert.match(byEtag.message, /ETag/);
      const unchanged = await status(gid);
      assert.deepEqual(
        [unchanged.state, unchanged.url, unchanged.completedBytes],
        [expired.state, expired.url, expired.completedBytes],
      );
      // An expired link offered again is refused by the origin: an error, and nothing changes.
      const again = await refusal('ddm.changeLink', gid, expiring);
      assert.equal(again.data?.code, 'HTTP_STATUS');

      await daemon.close();
      daemon = await start(stateDir);
      const restored = await status(gid);
      assert.equal(restored.state, 'expired', 'the session keeps the expired state');
      // After the restart the file's identity comes from the control file: still refused.
      const afterRestart = await refusal('ddm.changeLink', gid, otherEtag.url);
      assert.equal(afterRestart.data?.code, 'LINK_MISMATCH');
      assert.equal((await status(gid)).state, 'expired');

      const fresh = freshLink(origin);
      assert.deepEqual(await rpc('aria2.changeUri', gid, 1, [expiring], [fresh]), [1, 1]);
      await eventually(async () => (await status(gid)).state === 'complete', WAIT_MS, 'complete');
      assert.equal(await sha256OfFile(join(dir, 'a.bin')), sha256(data));
      assertNoByteTwice(origin.rangeLog, data.length);
      const uris = (await rpc('aria2.getFiles', gid)) as { uris: { uri: string }[] }[];
      assert.equal(uris[0]?.uris[0]?.uri, fresh);
      await daemon.close();
      const session = JSON.parse(await readFile(join(stateDir, 'session.json'), 'utf8')) as {
        downloads: { id: string; request: { url: string } }[];
      };
      assert.equal(
        session.downloads.find((saved) => saved.id === gid)?.request.url,
        fresh,
        'the session keeps the new link',
      );
      daemon = undefined;
    });
  });

  test('changeUri adds a mirror of the same size, refuses one of another size, and removes it', async () => {
    await withTempDir(async (dir) => {
      root = dir;
      const stateDir = join(dir, 'state');
      daemon = await start(stateDir);
      const plain = otherEtag.url;
      const gid = (await rpc('aria2.addUri', [plain], { out: 'm.bin', pause: 'true' })) as string;
      const bySize = await refusal('aria2.changeUri', gid, 1, [], [otherSize.url]);
      assert.equal(bySize.data?.code, 'LINK_MISMATCH');
      // A mirror's validators are its own server's: the same size is what it must share.
      const mirror = `${otherEtag.baseUrl}/file/m.bin`;
      assert.deepEqual(await rpc('aria2.changeUri', gid, 1, [], [mirror]), [0, 1]);
      const saved = async () => {
        await rpc('aria2.saveSession');
        const session = JSON.parse(await readFile(join(stateDir, 'session.json'), 'utf8')) as {
          downloads: { id: string; request: { url: string; mirrors?: string[] } }[];
        };
        return session.downloads.find((download) => download.id === gid)?.request;
      };
      assert.deepEqual((await saved())?.mirrors, [mirror]);
      assert.deepEqual(await rpc('aria2.changeUri', gid, 1, [mirror], []), [1, 0]);
      assert.deepEqual((await saved())?.mirrors, []);
      const emptied = await refusal('aria2.changeUri', gid, 1, [plain], []);
      assert.match(emptied.message, /needs a URL/);
      assert.equal((await status(gid)).url, plain);
      await daemon.close();
      daemon = undefined;
    });
  });
});
