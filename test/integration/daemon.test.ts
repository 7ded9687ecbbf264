/**
 * `ddm daemon` as a real process: its queue survives kill -9 (every download finishes
 * byte-identical and nothing saved is fetched again), SIGTERM checkpoints and stops, and its
 * JSON-RPC answers only to its secret and its own host names.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadControl } from '../../src/storage/control-file.js';
import type { ByteRange } from '../../src/types/byte-range.js';
import {
  DDM_BIN,
  type RunningCli,
  sha256,
  sha256OfFile,
  startCli,
  testData,
  withTempDir,
} from '../helpers/cli.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { eventually, within } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const FINISH_MS = 90_000;

/** The fields of ddm.getStatus / ddm.tellAll answers these tests read. */
interface DownloadAnswer {
  id: string;
  state: string;
  completedBytes: number;
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

/** One JSON-RPC call with the daemon's token; the answer's `result`, or a failure with its error. */
async function rpc(daemon: RunningDaemon, method: string, ...params: unknown[]): Promise<unknown> {
  const response = await fetch(`${daemon.url}/jsonrpc`, {
    method: 'POST',
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [`token:${daemon.secret}`, ...params] }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method}: ${response.status} ${text}`);
  return (JSON.parse(text) as { result: unknown }).result;
}

const add = async (daemon: RunningDaemon, request: Record<string, unknown>) => {
  const { url, ...keys } = request;
  return { id: ((await rpc(daemon, 'ddm.add', { urls: [url], ...keys })) as string[])[0]! };
};
const list = async (daemon: RunningDaemon) => (await rpc(daemon, 'ddm.tellAll')) as DownloadAnswer[];
const statusOf = async (daemon: RunningDaemon, id: string) =>
  (await rpc(daemon, 'ddm.getStatus', id)) as DownloadAnswer;

function overlaps(a: ByteRange, b: ByteRange): boolean {
  return a.start < b.end && b.start < a.end;
}

/** The HTTP status and JSON-RPC error message of a getVersion call with these headers and params. */
function rawCall(
  url: string,
  headers: Record<string, string>,
  params: unknown[],
): Promise<{ status: number; message: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/jsonrpc`, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { message: string } };
        resolve({ status: res.statusCode ?? 0, message: body.error?.message });
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify({ id: 1, method: 'aria2.getVersion', params }));
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
          const added = await add(daemon, {
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
        const listed = await list(daemon);
        assert.deepEqual(
          listed.map((d) => d.state),
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
            const downloads = await list(daemon!);
            return downloads.length === 3 && downloads.every((d) => d.state === 'complete');
          },
          FINISH_MS,
          'all three complete after the restart',
        );
        const after = await list(daemon);
        assert.deepEqual(
          after.map((d) => d.id),
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

  test('SIGTERM checkpoints and stops; the JSON-RPC wants the secret and its own Host; pause survives a restart', async () => {
    const data = testData(4 * MiB);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 256 * 1024 });
    let daemon: RunningDaemon | undefined;
    try {
      await withTempDir(async (root) => {
        const stateHome = join(root, 'state');
        daemon = await startDaemon(stateHome, root);
        const port = new URL(daemon.url).port;
        const token = `token:${daemon.secret}`;
        const evil = await rawCall(daemon.url, { host: `evil.example:${port}` }, [token]);
        assert.equal(evil.status, 403);
        assert.deepEqual(await rawCall(daemon.url, { host: `localhost:${port}` }, []), {
          status: 400,
          message: 'Unauthorized',
        });
        assert.deepEqual(await rawCall(daemon.url, { host: `localhost:${port}` }, ['token:wrong']), {
          status: 400,
          message: 'Unauthorized',
        });
        assert.equal((await rawCall(daemon.url, { host: `localhost:${port}` }, [token])).status, 200);

        const bad = await fetch(`${daemon.url}/jsonrpc`, {
          method: 'POST',
          body: JSON.stringify({
            id: 1,
            method: 'ddm.add',
            params: [token, { urls: [origin.url], connections: 100 }],
          }),
        });
        assert.equal(bad.status, 400);
        const badError = ((await bad.json()) as { error: { data: { key: string; code: string } } }).error;
        assert.deepEqual(badError.data, { code: 'USAGE', key: 'connections' });

        const output = join(root, 'kept.bin');
        const running = await add(daemon, { url: origin.url, output, connections: 1 });
        const pausedOutput = join(root, 'paused.bin');
        const paused = await add(daemon, {
          url: origin.url,
          output: pausedOutput,
          connections: 1,
        });
        await eventually(
          async () => (await statusOf(daemon!, paused.id)).completedBytes > 0,
          FINISH_MS,
          'second download started',
        );
        assert.equal(await rpc(daemon, 'aria2.pause', paused.id), paused.id);
        assert.equal((await statusOf(daemon, paused.id)).state, 'paused');
        await eventually(
          async () => (await statusOf(daemon!, running.id)).completedBytes > 0,
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
        assert.equal((await statusOf(daemon, paused.id)).state, 'paused');
        await rpc(daemon, 'aria2.unpause', paused.id);
        await eventually(
          async () => (await list(daemon!)).every((d) => d.state === 'complete'),
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
  test('the RPC secret is shown on a terminal, and only the file that holds it in a log', async () => {
    await withTempDir(async (root) => {
      const env = { ...process.env, XDG_STATE_HOME: join(root, 'state'), NO_COLOR: '1' };
      const daemonArgs = [DDM_BIN, 'daemon', '--listen', '127.0.0.1:0', '--dir', root];
      // script(1) gives the daemon a pseudo-terminal, as a person running it in a shell has.
      const command = [process.execPath, ...daemonArgs].map((word) => `'${word}'`).join(' ');
      const onTerminal = spawn('script', ['-qec', command, '/dev/null'], {
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let seen = '';
      onTerminal.stdout.on('data', (chunk: Buffer) => {
        seen += chunk.toString('utf8');
      });
      try {
        await eventually(
          () => /RPC secret [0-9a-f]{64} \(in \S+\)/.test(seen),
          30_000,
          'the secret on the terminal',
        );
        const [, shown, file] = /RPC secret ([0-9a-f]{64}) \(in (\S+)\)/.exec(seen)!;
        assert.equal(shown, (await readFile(file!, 'utf8')).trim());
      } finally {
        onTerminal.kill('SIGKILL');
        await within(once(onTerminal, 'close'), 10_000, 'script exits').catch(() => undefined);
      }
      // The same state directory, stderr a pipe (a service's log): the file, never the secret.
      const inLog = startCli(['daemon', '--listen', '127.0.0.1:0', '--dir', root], {
        XDG_STATE_HOME: join(root, 'state'),
      });
      try {
        const [, file] = (await inLog.waitFor(/RPC secret in (\S+)/)) as RegExpMatchArray;
        const secret = (await readFile(file!, 'utf8')).trim();
        await inLog.waitFor(/web UI at/);
        assert.ok(!inLog.stderr().includes(secret), 'the secret stays out of the log');
      } finally {
        inLog.child.kill('SIGKILL');
      }
    });
  });
  test('DDM_RPC_SECRET sets the RPC token (no secret file is made); aria2.shutdown stops the daemon with exit 0', async () => {
    await withTempDir(async (root) => {
      const stateHome = join(root, 'state');
      const secret = 'from-the-environment-0123456789';
      const cli = startCli(['daemon', '--listen', '127.0.0.1:0', '--dir', root], {
        XDG_STATE_HOME: stateHome,
        DDM_RPC_SECRET: secret,
      });
      try {
        const match = await cli.waitFor(/listening on (http:\/\/[0-9.:]+)/);
        await cli.waitFor(/RPC secret from --rpc-secret/);
        const daemon = { cli, url: match[1]!, secret };
        assert.equal(
          ((await rpc(daemon, 'aria2.getVersion')) as { version: string }).version.length > 0,
          true,
        );
        await assert.rejects(stat(join(stateHome, 'ddm', 'daemon-secret')), /ENOENT/);
        assert.equal(await rpc(daemon, 'aria2.shutdown'), 'OK');
        const exit = await within(cli.exited, 30_000, 'daemon stops after aria2.shutdown');
        assert.equal(exit.code, 0, exit.stderr);
      } finally {
        if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
      }
    });
  });
});
