/**
 * `ddm daemon` as a real process: its queue survives kill -9 (every download finishes
 * byte-identical and nothing saved is fetched again), SIGTERM checkpoints and stops, and its
 * API answers only to its secret and its own host names.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadControl } from '../../src/storage/control-file.js';
import type { ByteRange } from '../../src/types/byte-range.js';
import { type RunningCli, sha256, sha256OfFile, startCli, testData, withTempDir } from '../helpers/cli.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { eventually, within } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const FINISH_MS = 90_000;

/** The fields of the API's answers these tests read. */
interface ApiAnswer {
  id: string;
  state: string;
  completedBytes: number;
  downloads: { id: string; state: string }[];
}

interface RunningDaemon {
  cli: RunningCli;
  url: string;
  secret: string;
}

async function startDaemon(stateHome: string, dir: string): Promise<RunningDaemon> {
  const cli = startCli(['daemon', '--listen', '127.0.0.1:0', '--dir', dir], { XDG_STATE_HOME: stateHome });
  const match = await cli.waitFor(/listening on (http:\/\/[0-9.:]+)/);
  const secret = (await readFile(join(stateHome, 'ddm', 'daemon-secret'), 'utf8')).trim();
  return { cli, url: match[1]!, secret };
}

async function api(daemon: RunningDaemon, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  const response = await fetch(`${daemon.url}/api/v0/downloads${path}`, {
    method,
    headers: { authorization: `Bearer ${daemon.secret}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return (text === '' ? {} : JSON.parse(text)) as ApiAnswer;
}

function overlaps(a: ByteRange, b: ByteRange): boolean {
  return a.start < b.end && b.start < a.end;
}

function rawStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/api/v0/downloads`, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ddm daemon', () => {
  test('kill -9 while three downloads run, restart: all three finish byte-identical, no saved range fetched twice', async () => {
    const files = [testData(4 * MiB + 11, 1), testData(4 * MiB + 22, 2), testData(4 * MiB + 33, 3)];
    const origins: TestOrigin[] = [];
    for (const data of files) origins.push(await startTestOrigin({ data, rateBytesPerSec: 256 * 1024 }));
    let daemon: RunningDaemon | undefined;
    try {
      await withTempDir(async (root) => {
        const stateHome = join(root, 'state');
        const dir = join(root, 'downloads');
        daemon = await startDaemon(stateHome, root);
        const outputs = files.map((_, index) => join(root, `file-${index}.bin`));
        const ids: string[] = [];
        for (const [index, origin] of origins.entries()) {
          const added = await api(daemon, 'POST', '', {
            url: origin.url,
            output: outputs[index],
            connections: 2,
          });
          assert.match(added.id, /^[0-9a-f]{16}$/);
          ids.push(added.id);
        }
        const controlDone = async (output: string) =>
          (await loadControl(`${output}.ddm`, AbortSignal.timeout(5_000)))?.done ?? [];
        await eventually(
          async () => (await Promise.all(outputs.map(controlDone))).every((done) => done.length > 0),
          FINISH_MS,
          'every download checkpointed some bytes',
        );
        const listed = await api(daemon, 'GET', '');
        assert.deepEqual(
          listed.downloads.map((d: { state: string }) => d.state),
          ['active', 'active', 'active'],
        );
        daemon.cli.child.kill('SIGKILL');
        await within(daemon.cli.exited, 10_000, 'daemon killed');
        const saved = await Promise.all(outputs.map(controlDone));
        const logAtKill = origins.map((origin) => origin.rangeLog.length);
        for (const done of saved) {
          const bytes = done.reduce((sum, r) => sum + r.end - r.start, 0);
          assert.ok(bytes > 0 && bytes < 4 * MiB, `saved ${bytes} bytes`);
        }

        daemon = await startDaemon(stateHome, dir);
        await eventually(
          async () => {
            const list = await api(daemon!, 'GET', '');
            return (
              list.downloads.length === 3 &&
              list.downloads.every((d: { state: string }) => d.state === 'complete')
            );
          },
          FINISH_MS,
          'all three complete after the restart',
        );
        const after = await api(daemon, 'GET', '');
        assert.deepEqual(
          after.downloads.map((d: { id: string }) => d.id),
          ids,
          'same ids after the restart',
        );
        for (const [index, output] of outputs.entries()) {
          assert.equal(await sha256OfFile(output), sha256(files[index]!), output);
          const fetched = origins[index]!.rangeLog.slice(logAtKill[index]!).filter(
            (e) => !(e.start === 0 && e.end === 1),
          );
          for (const entry of fetched) {
            for (const range of saved[index]!) {
              assert.ok(
                !overlaps(entry, range),
                `file ${index}: saved [${range.start}, ${range.end}) fetched again`,
              );
            }
          }
        }
        const secretMode = (await stat(join(stateHome, 'ddm', 'daemon-secret'))).mode & 0o777;
        assert.equal(secretMode, 0o600);
        daemon.cli.child.kill('SIGTERM');
        assert.equal((await within(daemon.cli.exited, 30_000, 'daemon stop')).code, 0);
      });
    } finally {
      if (daemon && daemon.cli.child.exitCode === null) daemon.cli.child.kill('SIGKILL');
      await Promise.all(origins.map((origin) => origin.close()));
    }
  });

  test('SIGTERM checkpoints and stops; the API wants the secret and its own Host; pause survives a restart', async () => {
    const data = testData(4 * MiB);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 256 * 1024 });
    let daemon: RunningDaemon | undefined;
    try {
      await withTempDir(async (root) => {
        const stateHome = join(root, 'state');
        daemon = await startDaemon(stateHome, root);
        const port = new URL(daemon.url).port;
        assert.equal(
          await rawStatus(daemon.url, {
            host: `evil.example:${port}`,
            authorization: `Bearer ${daemon.secret}`,
          }),
          403,
        );
        assert.equal(await rawStatus(daemon.url, { host: `localhost:${port}` }), 401);
        assert.equal(
          await rawStatus(daemon.url, { host: `localhost:${port}`, authorization: 'Bearer wrong' }),
          401,
        );
        assert.equal(
          await rawStatus(daemon.url, {
            host: `localhost:${port}`,
            authorization: `Bearer ${daemon.secret}`,
          }),
          200,
        );

        const bad = await fetch(`${daemon.url}/api/v0/downloads`, {
          method: 'POST',
          headers: { authorization: `Bearer ${daemon.secret}` },
          body: JSON.stringify({ url: origin.url, connections: 100 }),
        });
        assert.equal(bad.status, 400);
        assert.equal(((await bad.json()) as { error: { key: string } }).error.key, 'connections');

        const output = join(root, 'kept.bin');
        const running = await api(daemon, 'POST', '', { url: origin.url, output, connections: 1 });
        const pausedOutput = join(root, 'paused.bin');
        const paused = await api(daemon, 'POST', '', {
          url: origin.url,
          output: pausedOutput,
          connections: 1,
        });
        await eventually(
          async () => (await api(daemon!, 'GET', `/${paused.id}`)).completedBytes > 0,
          FINISH_MS,
          'second download started',
        );
        assert.equal((await api(daemon, 'POST', `/${paused.id}/pause`)).state, 'paused');
        await eventually(
          async () => (await api(daemon!, 'GET', `/${running.id}`)).completedBytes > 0,
          FINISH_MS,
          'first download has bytes',
        );
        daemon.cli.child.kill('SIGTERM');
        const exit = await within(daemon.cli.exited, 30_000, 'daemon stop');
        assert.equal(exit.code, 0, exit.stderr);
        const session = JSON.parse(await readFile(join(stateHome, 'ddm', 'session.json'), 'utf8'));
        assert.deepEqual(
          session.downloads.map((d: { id: string; state: string }) => [d.id, d.state]),
          [
            [running.id, 'waiting'],
            [paused.id, 'paused'],
          ],
        );
        const done = (await loadControl(`${output}.ddm`, AbortSignal.timeout(5_000)))?.done ?? [];
        assert.ok(done.length > 0, 'checkpointed on SIGTERM');

        daemon = await startDaemon(stateHome, root);
        assert.equal((await api(daemon, 'GET', `/${paused.id}`)).state, 'paused');
        await api(daemon, 'POST', `/${paused.id}/resume`);
        await eventually(
          async () =>
            (await api(daemon!, 'GET', '')).downloads.every((d: { state: string }) => d.state === 'complete'),
          FINISH_MS,
          'both complete',
        );
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.equal(await sha256OfFile(pausedOutput), sha256(data));
        daemon.cli.child.kill('SIGTERM');
        await within(daemon.cli.exited, 30_000, 'daemon stop');
      });
    } finally {
      if (daemon && daemon.cli.child.exitCode === null) daemon.cli.child.kill('SIGKILL');
      await origin.close();
    }
  });
});
