/**
 * The same calls against the real aria2c (`aria2c --enable-rpc` on loopback) and against
 * `ddm daemon`, downloading from the same test origin: for every method of aria2's list, the
 * answers have the same keys and the same JSON types (values differ: gids, paths, speeds).
 * Option structs are the exception, said where it is checked: ddm answers the options it has,
 * each one a key aria2 has too.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Daemon, startDaemon } from '../../src/daemon/daemon.js';
import { testData } from '../helpers/cli.js';
import { rawRpc } from '../helpers/rpc.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { eventually } from '../helpers/wait.js';

const ARIA2C = '/usr/bin/aria2c';
const SECRET = 'conformance-secret-0123456789';
const MiB = 1024 * 1024;
const WAIT_MS = 30_000;

type Outcome = { result: unknown } | { error: number };

/** Keys and JSON types, recursively; an array is described by its first element. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
  if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(object)
        .sort()
        .map((key) => [key, shape(object[key])]),
    );
  }
  return value === null ? 'null' : typeof value;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

class Target {
  constructor(
    readonly name: string,
    readonly url: string,
  ) {}

  async outcome(method: string, ...params: unknown[]): Promise<Outcome> {
    // system.multicall takes no token of its own: each nested call carries one.
    const withToken = method === 'system.multicall' ? params : [`token:${SECRET}`, ...params];
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: withToken });
    const answer = (await rawRpc(this.url, body)).body as { result?: unknown; error?: { code: number } };
    return answer.error ? { error: answer.error.code } : { result: answer.result };
  }

  async result(method: string, ...params: unknown[]): Promise<unknown> {
    const outcome = await this.outcome(method, ...params);
    assert.ok('result' in outcome, `${this.name} ${method}: error ${JSON.stringify(outcome)}`);
    return outcome.result;
  }

  async state(gid: string): Promise<{ status: string; completedLength: string }> {
    return (await this.result('aria2.tellStatus', gid)) as { status: string; completedLength: string };
  }
}

/** Runs the scenario on one target; answers every call's outcome by a label naming the method. */
async function scenario(target: Target, fast: string, slow: string): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>();
  const record = async (label: string, method: string, ...params: unknown[]) => {
    const outcome = await target.outcome(method, ...params);
    outcomes.set(label, outcome);
    return 'result' in outcome ? outcome.result : undefined;
  };
  const until = (
    gid: string,
    check: (s: { status: string; completedLength: string }) => boolean,
    what: string,
  ) => eventually(async () => check(await target.state(gid)), WAIT_MS, `${target.name}: ${what}`);

  await record('getVersion', 'aria2.getVersion');
  await record('getSessionInfo', 'aria2.getSessionInfo');
  await record('listMethods', 'system.listMethods');
  await record('listNotifications', 'system.listNotifications');
  await record('getGlobalOption', 'aria2.getGlobalOption');
  await record('changeGlobalOption', 'aria2.changeGlobalOption', { 'max-concurrent-downloads': '5' });

  const done = (await record('addUri', 'aria2.addUri', [fast], { out: 'done.bin' })) as string;
  await until(done, (s) => s.status === 'complete', 'first download complete');
  const paused = (await record('addUri paused', 'aria2.addUri', [fast], {
    out: 'paused.bin',
    pause: 'true',
  })) as string;
  const second = (await target.result('aria2.addUri', [fast], {
    out: 'second.bin',
    pause: 'true',
  })) as string;
  const active = (await target.result('aria2.addUri', [slow], { out: 'slow.bin' })) as string;
  await until(active, (s) => s.status === 'active' && Number(s.completedLength) > 0, 'slow download running');

  await record('tellStatus complete', 'aria2.tellStatus', done);
  await record('tellStatus paused', 'aria2.tellStatus', paused);
  await record('tellStatus keys', 'aria2.tellStatus', done, ['gid', 'status', 'totalLength']);
  await record('getUris', 'aria2.getUris', paused);
  await record('getUris stopped', 'aria2.getUris', done);
  await record('getFiles', 'aria2.getFiles', done);
  await record('getPeers', 'aria2.getPeers', active);
  await record('getPeers stopped', 'aria2.getPeers', done);
  await record('getServers', 'aria2.getServers', active);
  await record('getServers not active', 'aria2.getServers', done);
  await record('getOption', 'aria2.getOption', paused);
  await record('tellActive', 'aria2.tellActive', ['gid', 'status', 'bitfield', 'connections']);
  await record('tellWaiting', 'aria2.tellWaiting', 0, 10);
  await record('tellWaiting from the back', 'aria2.tellWaiting', -1, 1, ['gid']);
  await record('tellStopped', 'aria2.tellStopped', 0, 10);
  await record('getGlobalStat', 'aria2.getGlobalStat');
  await record('changePosition', 'aria2.changePosition', second, 0, 'POS_SET');
  await record('changeUri', 'aria2.changeUri', paused, 1, [], []);
  await record('changeOption', 'aria2.changeOption', paused, { 'max-download-limit': '20K' });
  await record('changeOption bad value', 'aria2.changeOption', paused, { split: 'x' });
  await record('multicall', 'system.multicall', [
    { methodName: 'aria2.tellStatus', params: [`token:${SECRET}`, done, ['gid']] },
    { methodName: 'aria2.getVersion', params: ['token:wrong'] },
  ]);
  await record('unknown gid', 'aria2.tellStatus', '0123456789abcdef');
  await record('wrong type', 'aria2.tellStatus', 5);
  await record('addTorrent', 'aria2.addTorrent', 'bm90IGEgdG9ycmVudA==');
  await record('addMetalink', 'aria2.addMetalink', 'bm90IGEgbWV0YWxpbms=');
  // Several URIs of one file are its mirrors, in aria2 as in ddm; a Metalink names them too.
  const mirrored = (await record('addUri mirrors', 'aria2.addUri', [fast, `${fast}?mirror=2`], {
    out: 'mirrored.bin',
    pause: 'true',
  })) as string;
  await record('getUris mirrors', 'aria2.getUris', mirrored);
  const metalink = `<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="metalink.bin"><url priority="1">${fast}</url><url priority="2">${fast}?mirror=3</url></file>
</metalink>`;
  await record('addMetalink a file', 'aria2.addMetalink', Buffer.from(metalink).toString('base64'), {
    pause: 'true',
  });

  await record('pause', 'aria2.pause', active);
  await until(active, (s) => s.status === 'paused', 'paused');
  await record('unpause', 'aria2.unpause', active);
  await until(active, (s) => s.status === 'active', 'running again');
  await record('forcePause', 'aria2.forcePause', active);
  await until(active, (s) => s.status === 'paused', 'force-paused');
  await record('forceRemove', 'aria2.forceRemove', second);
  // aria2 forgets a download removed from the queue (it leaves no result), as ddm does.
  await eventually(
    async () => 'error' in (await target.outcome('aria2.tellStatus', second)),
    WAIT_MS,
    'forgotten',
  );
  await record('tellStatus removed from the queue', 'aria2.tellStatus', second);
  await record('pauseAll', 'aria2.pauseAll');
  await record('forcePauseAll', 'aria2.forcePauseAll');
  await record('unpauseAll', 'aria2.unpauseAll');
  await until(active, (s) => s.status === 'active', 'running after unpauseAll');
  await record('remove', 'aria2.remove', active);
  await until(active, (s) => s.status === 'removed', 'removed');
  await record('tellStatus removed', 'aria2.tellStatus', active);
  await record('removeDownloadResult', 'aria2.removeDownloadResult', done);
  await record('purgeDownloadResult', 'aria2.purgeDownloadResult');
  await record('saveSession', 'aria2.saveSession');
  await record('forceShutdown', 'aria2.forceShutdown');
  return outcomes;
}

/** aria2's methods that take part in the comparison: every one of its list. */
const ARIA2_METHODS = [
  'addUri',
  'remove',
  'forceRemove',
  'pause',
  'forcePause',
  'pauseAll',
  'forcePauseAll',
  'unpause',
  'unpauseAll',
  'tellStatus',
  'tellActive',
  'tellWaiting',
  'tellStopped',
  'getUris',
  'getFiles',
  'getServers',
  'getPeers',
  'changePosition',
  'changeUri',
  'getOption',
  'changeOption',
  'getGlobalOption',
  'changeGlobalOption',
  'getGlobalStat',
  'purgeDownloadResult',
  'removeDownloadResult',
  'getVersion',
  'getSessionInfo',
  'saveSession',
  'forceShutdown',
  'multicall',
  'listMethods',
  'listNotifications',
  'addTorrent',
  'addMetalink',
];

/** Options structs: ddm has fewer, each an aria2 name with a string value. */
const OPTION_STRUCTS = new Set(['getOption', 'getGlobalOption']);

describe('conformance with the real aria2c', () => {
  let root: string;
  let fast: TestOrigin;
  let slow: TestOrigin;
  let aria2c: ChildProcess | undefined;
  let daemon: Daemon | undefined;
  let aria2Url: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ddm-conformance-'));
    await mkdir(join(root, 'aria2'));
    await mkdir(join(root, 'ddm'));
    const data = testData(2 * MiB + 3, 9);
    fast = await startTestOrigin({ data });
    slow = await startTestOrigin({ data: testData(8 * MiB, 3), rateBytesPerSec: 128 * 1024 });
    const port = await freePort();
    aria2c = spawn(
      ARIA2C,
      [
        '--no-conf',
        '--enable-rpc',
        `--rpc-listen-port=${port}`,
        `--rpc-secret=${SECRET}`,
        `--dir=${join(root, 'aria2')}`,
        `--save-session=${join(root, 'aria2', 'session')}`,
        '--quiet',
      ],
      { stdio: 'ignore' },
    );
    aria2Url = `http://127.0.0.1:${port}`;
    await eventually(
      async () =>
        (await rawRpc(aria2Url, JSON.stringify({ id: 1, method: 'system.listMethods' }))).status === 200,
      10_000,
      'aria2c answers',
    );
    daemon = await startDaemon({
      host: '127.0.0.1',
      port: 0,
      dir: join(root, 'ddm'),
      stateDir: join(root, 'state'),
      rpcSecret: SECRET,
    });
  });

  after(async () => {
    aria2c?.kill('SIGKILL');
    await daemon?.close();
    await Promise.all([fast?.close(), slow?.close()]);
    await rm(root, { recursive: true, force: true });
  });

  test('every method answers with the keys and types aria2c answers with', async () => {
    const [theirs, ours] = await Promise.all([
      scenario(new Target('aria2c', aria2Url), fast.url, slow.url),
      scenario(new Target('ddm', daemon!.url), fast.url, slow.url),
    ]);
    const dump = process.env.RPC_CONFORMANCE_DUMP;
    if (dump) writeFileSync(dump, JSON.stringify([[...theirs], [...ours]]));
    const covered = new Set([...theirs.keys()].map((label) => label.split(' ')[0]!));
    for (const method of ARIA2_METHODS) assert.ok(covered.has(method), `${method} is compared`);
    for (const [label, expected] of theirs) {
      const actual = ours.get(label);
      assert.ok(actual, `ddm answered ${label}`);
      if ('error' in expected) {
        assert.deepEqual(actual, expected, `${label}: the same error code`);
        continue;
      }
      assert.ok('result' in actual, `${label}: ddm failed where aria2c answered: ${JSON.stringify(actual)}`);
      if (OPTION_STRUCTS.has(label)) {
        const aria2Keys = new Set(Object.keys(expected.result as object));
        for (const [key, value] of Object.entries(actual.result as object)) {
          assert.ok(aria2Keys.has(key), `${label}: aria2 has no option ${key}`);
          assert.equal(typeof value, 'string', `${label}: ${key}`);
        }
        continue;
      }
      assert.deepEqual(shape(actual.result), shape(expected.result), `${label}: keys and types`);
    }
  });
});
