/**
 * The daemon's preview: `/preview/<gid>/<token>` serves a download while it still runs, with
 * Range support. Real daemon and helper processes, the real curl, bytes checked with SHA-256.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type RunningCli, sha256, startCli, testData, withTempDir } from '../helpers/cli.js';
import { call } from '../helpers/rpc.js';
import { type Node, startPeer, stopAll, TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin } from '../helpers/test-origin.js';
import { eventually } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const SIZE = 32 * MiB + 4321;
/** Each response of the origin: the whole download takes over ten seconds. */
const ORIGIN_RATE = 512 * 1024;
/** A range far ahead must come much sooner than the whole file would. */
const PROMPT_MS = 8_000;

interface Status {
  id: string;
  state: string;
  totalBytes: number | null;
  completedBytes: number;
}

/** Runs curl; the body as bytes, the status code and how long it took. */
function curl(
  args: readonly string[],
): Promise<{ status: number; body: Buffer; ms: number; stderr: string }> {
  const started = Date.now();
  const child = spawn(
    'curl',
    ['-s', '-S', '--max-time', '60', '-o', '-', '-w', '%{stderr}%{http_code}', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () =>
      resolve({
        status: Number(stderr.slice(-3)),
        body: Buffer.concat(chunks),
        ms: Date.now() - started,
        stderr,
      }),
    );
  });
}

async function startDaemon(
  stateHome: string,
  dir: string,
): Promise<{ cli: RunningCli; url: string; secret: string }> {
  await mkdir(dir, { recursive: true });
  const cli = startCli(['daemon', '--listen', '127.0.0.1:0', '--dir', dir], { XDG_STATE_HOME: stateHome });
  const match = await cli.waitFor(/listening on (http:\/\/[0-9.:]+)/);
  const secret = (await readFile(join(stateHome, 'ddm', 'daemon-secret'), 'utf8')).trim();
  return { cli, url: match[1]!, secret };
}

describe('preview of a running download', { timeout: 240_000 }, () => {
  test('ranges far ahead come promptly, seeking works while helpers fetch, the finished file is whole', async () => {
    await withTempDir(async (home) => {
      const data = testData(SIZE, 11);
      const origin = await startTestOrigin({ data, rateBytesPerSec: ORIGIN_RATE });
      const peers: Node[] = [];
      let daemon = await startDaemon(join(home, 'state'), join(home, 'downloads'));
      const rpc = (method: string, ...params: unknown[]) =>
        call(daemon.url, daemon.secret, method, ...params);
      try {
        for (const name of ['h1', 'h2']) peers.push(await startPeer(name, ['--allow-private']));
        const [gid] = (await rpc('ddm.add', {
          urls: [`${origin.baseUrl}/file/movie.mp4`],
          connections: 2,
          peer: peers.map((peer) => peer.url),
          secret: TEST_SECRET,
        })) as string[];
        const { url, path } = (await rpc('ddm.getPreviewUrl', gid)) as { url: string; path: string };
        assert.equal(url, `${daemon.url}${path}`);
        assert.match(path, new RegExp(`^/preview/${gid}/[0-9a-f]{32}$`));
        assert.deepEqual(await rpc('ddm.getPreviewUrl', gid), { url, path }, 'the address is stable');
        await eventually(
          async () => ((await rpc('ddm.getStatus', gid)) as Status).totalBytes === SIZE,
          20_000,
          'the download started',
        );

        // A player jumps to the end (where an MP4's index may be): far ahead of the download.
        const ahead = { start: 28 * MiB + 17, end: 28 * MiB + 17 + 256 * 1024 };
        const far = await curl(['-r', `${ahead.start}-${ahead.end - 1}`, url]);
        assert.equal(far.status, 206, far.stderr);
        assert.equal(sha256(far.body), sha256(data.subarray(ahead.start, ahead.end)));
        assert.ok(far.ms < PROMPT_MS, `the range came in ${far.ms} ms`);
        const after = (await rpc('ddm.getStatus', gid)) as Status;
        assert.notEqual(after.state, 'complete', 'the range came before the whole download');

        // Seeking back and forth while the helpers work.
        for (const offset of [4 * MiB + 3, 20 * MiB, 12 * MiB + 99, SIZE - 5_000]) {
          const end = Math.min(SIZE, offset + 100_000);
          const response = await fetch(url, {
            headers: { range: `bytes=${offset}-${end - 1}` },
            signal: AbortSignal.timeout(60_000),
          });
          assert.equal(response.status, 206);
          assert.equal(response.headers.get('content-range'), `bytes ${offset}-${end - 1}/${SIZE}`);
          assert.equal(response.headers.get('content-length'), String(end - offset));
          assert.equal(response.headers.get('content-type'), 'video/mp4');
          const body = Buffer.from(await response.arrayBuffer());
          assert.equal(sha256(body), sha256(data.subarray(offset, end)), `bytes at ${offset}`);
        }

        const head = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(30_000) });
        assert.equal(head.status, 200);
        assert.equal(head.headers.get('content-length'), String(SIZE));
        assert.equal(head.headers.get('accept-ranges'), 'bytes');
        const beyond = await fetch(url, {
          headers: { range: `bytes=${SIZE}-` },
          signal: AbortSignal.timeout(30_000),
        });
        assert.equal(beyond.status, 416);
        assert.equal(beyond.headers.get('content-range'), `bytes */${SIZE}`);

        // A wrong token, another id's token, or anything but the exact address: 404.
        const wrong = path.replace(/[0-9a-f]{32}$/, '0'.repeat(32));
        for (const bad of [wrong, `${path}x`, `${path}/..`, `/preview/${gid}`, '/preview/../daemon-secret']) {
          const response = await fetch(`${daemon.url}${bad}`, { signal: AbortSignal.timeout(30_000) });
          assert.equal(response.status, 404, bad);
          assert.doesNotMatch(await response.text(), new RegExp(daemon.secret));
        }

        await eventually(
          async () => ((await rpc('ddm.getStatus', gid)) as Status).state === 'complete',
          120_000,
          'the download finished',
        );
        const sources = (await rpc('ddm.getSources', gid)) as { kind: string; bytes: number }[];
        assert.ok(
          sources.some((source) => source.kind === 'peer' && source.bytes > 0),
          `the helpers delivered: ${JSON.stringify(sources)}`,
        );
        const whole = await curl([url]);
        assert.equal(whole.status, 200, whole.stderr);
        assert.equal(sha256(whole.body), sha256(data));

        // A restarted daemon keeps the address: the same token, the finished file behind it.
        daemon.cli.child.kill('SIGTERM');
        await daemon.cli.exited;
        daemon = await startDaemon(join(home, 'state'), join(home, 'downloads'));
        const again = (await rpc('ddm.getPreviewUrl', gid)) as { path: string };
        assert.equal(again.path, path);
        const reopened = await curl(['-r', '1000-1999', `${daemon.url}${path}`]);
        assert.equal(reopened.status, 206, reopened.stderr);
        assert.equal(sha256(reopened.body), sha256(data.subarray(1000, 2000)));
      } finally {
        daemon.cli.child.kill('SIGTERM');
        await daemon.cli.exited;
        await stopAll(peers);
        await origin.close();
      }
    });
  });
});
