/**
 * The daemon's JSON-RPC driven by the npm package `aria2` (a client nobody here wrote), over
 * HTTP and WebSocket: add, status, pause, unpause, change options, remove, multicall, batch and
 * notifications; then ddm's own methods. Bytes are checked with SHA-256.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Aria2 from 'aria2';
import { WebSocket } from 'ws';
import { commandLineFor } from '../../src/cli/command-line.js';
import { type Daemon, startDaemon } from '../../src/daemon/daemon.js';
import { sha256, sha256OfFile, testData } from '../helpers/cli.js';
import { call } from '../helpers/rpc.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { eventually, within } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const SECRET = 'rpc-test-secret-0123456789';
const FINISH_MS = 30_000;

interface Status {
  gid: string;
  status: string;
  totalLength: string;
  completedLength: string;
  files: { path: string }[];
  errorCode?: string;
}

describe('JSON-RPC driven by the aria2 npm client', () => {
  let root: string;
  let daemon: Daemon;
  let origin: TestOrigin;
  let slow: TestOrigin;
  let missing: TestOrigin;
  let second: TestOrigin;
  const data = testData(3 * MiB + 7, 5);
  let aria2: Aria2;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ddm-rpc-'));
    origin = await startTestOrigin({ data });
    slow = await startTestOrigin({ data, rateBytesPerSec: 256 * 1024 });
    missing = await startTestOrigin({ data, status: 404 });
    second = await startTestOrigin({ data });
    daemon = await startDaemon({
      commandLine: commandLineFor,
      host: '127.0.0.1',
      port: 0,
      dir: root,
      stateDir: join(root, 'state'),
      rpcSecret: SECRET,
    });
    aria2 = new Aria2({ host: '127.0.0.1', port: daemon.port, secret: SECRET });
  });

  after(async () => {
    await daemon?.close();
    await Promise.all([origin, slow, missing, second].map((o) => o?.close()));
    await rm(root, { recursive: true, force: true });
  });

  const ddm = (method: string, ...params: unknown[]) => call(daemon.url, SECRET, method, ...params);
  const status = (gid: string) => aria2.call('tellStatus', gid) as Promise<Status>;
  const until = async (gid: string, state: string) => {
    let last: Status | undefined;
    try {
      const check = async () => {
        last = await status(gid);
        return last.status === state;
      };
      await eventually(check, FINISH_MS, `${gid} ${state}`);
    } catch (error) {
      assert.fail(`${(error as Error).message}; last status: ${JSON.stringify(last)}`);
    }
  };

  test('over HTTP: addUri with options, tellStatus, getOption, changeOption, complete byte-identical', async () => {
    const gid = (await aria2.call('addUri', [origin.url], {
      out: 'http.bin',
      split: '3',
      'max-connection-per-server': '2',
      header: ['X-Test: 1'],
      'unknown-option': 'ignored',
    })) as string;
    assert.match(gid, /^[0-9a-f]{16}$/);
    await until(gid, 'complete');
    const done = await status(gid);
    assert.equal(done.totalLength, String(data.length));
    assert.equal(done.completedLength, String(data.length));
    assert.equal(done.errorCode, '0');
    assert.equal(done.files[0]!.path, join(root, 'http.bin'));
    assert.equal(await sha256OfFile(join(root, 'http.bin')), sha256(data));
    const options = (await aria2.call('getOption', gid)) as Record<string, string>;
    assert.equal(options.split, '2', 'one server: min(split, max-connection-per-server)');
    assert.equal(options.out, join(root, 'http.bin'));
    assert.ok(
      origin.requestLog.some((entry) => entry.headers['x-test'] === '1'),
      'header option sent',
    );
    const keys = (await aria2.call('tellStatus', gid, ['gid', 'status', 'nope'])) as Record<string, string>;
    assert.deepEqual(keys, { gid, status: 'complete' });
  });

  test('over HTTP: pause, changeOption, unpause, remove; multicall and batch', async () => {
    const gid = (await aria2.call('addUri', [slow.url], { out: 'slow.bin', split: '1' })) as string;
    await eventually(async () => Number((await status(gid)).completedLength) > 0, FINISH_MS, 'bytes arrive');
    assert.equal(await aria2.call('pause', gid), gid);
    assert.equal((await status(gid)).status, 'paused');
    assert.equal(await aria2.call('changeOption', gid, { 'max-download-limit': '100K', split: '2' }), 'OK');
    const options = (await aria2.call('getOption', gid)) as Record<string, string>;
    assert.equal(options['max-download-limit'], String(100 * 1024));
    assert.equal(options.split, '2');
    await assert.rejects(
      aria2.call('changeOption', gid, { split: 'many' }),
      /processing the option '--split'/,
    );
    assert.equal(await aria2.call('unpause', gid), gid);
    await eventually(async () => (await status(gid)).status === 'active', FINISH_MS, 'running again');

    const multi = await aria2.multicall([
      ['tellStatus', gid, ['status']],
      ['getGlobalStat'],
      ['tellStatus', '0000000000000000'],
    ]);
    assert.deepEqual(multi[0], [{ status: 'active' }]);
    assert.equal((multi[1] as [{ numActive: string }])[0].numActive, '1');
    assert.deepEqual(multi[2], { code: 1, message: 'GID 0000000000000000 is not found' });

    const batch = await Promise.allSettled(
      await aria2.batch([['getVersion'], ['tellActive', ['gid']], ['nope']]),
    );
    assert.equal(batch[0]!.status, 'fulfilled');
    assert.deepEqual(batch[1], { status: 'fulfilled', value: [{ gid }] });
    assert.match(String((batch[2] as PromiseRejectedResult).reason), /No such method: aria2.nope/);
    assert.equal(await aria2.call('remove', gid), gid);
    assert.equal((await status(gid)).status, 'removed');
  });

  test('batch errors stay per call', async () => {
    const answers = await aria2.batch([['getVersion'], ['tellStatus', 'ffffffffffffffff']]);
    assert.ok((await answers[0]) !== undefined);
    await assert.rejects(answers[1]!, /GID ffffffffffffffff is not found/);
  });

  test('over WebSocket: notifications of start, pause, stop, complete and error reach the authorised session only', async () => {
    const ws = new Aria2({ host: '127.0.0.1', port: daemon.port, secret: SECRET });
    await within(ws.open(), 10_000, 'websocket open');
    const seen: string[] = [];
    for (const name of [
      'onDownloadStart',
      'onDownloadPause',
      'onDownloadStop',
      'onDownloadComplete',
      'onDownloadError',
    ]) {
      ws.on(name, (params: [{ gid: string }]) => seen.push(`${name} ${params[0].gid}`));
    }
    const silent = new WebSocket(`ws://127.0.0.1:${daemon.port}/jsonrpc`);
    const silentGot: unknown[] = [];
    silent.on('message', (message) => silentGot.push(String(message)));
    await within(new Promise((resolve) => silent.once('open', resolve)), 10_000, 'raw websocket open');
    try {
      await ws.call('getVersion');
      const gid = (await ws.call('addUri', [slow.url], { out: 'ws.bin' })) as string;
      await eventually(() => seen.includes(`onDownloadStart ${gid}`), FINISH_MS, 'start notified');
      await ws.call('pause', gid);
      await eventually(() => seen.includes(`onDownloadPause ${gid}`), FINISH_MS, 'pause notified');
      await ws.call('remove', gid);
      await eventually(() => seen.includes(`onDownloadStop ${gid}`), FINISH_MS, 'stop notified');
      // As aria2c: a download removed from the queue (paused) leaves no result behind.
      await assert.rejects(ws.call('tellStatus', gid), /is not found/);

      const good = (await ws.call('addUri', [origin.url], { out: 'ws-done.bin' })) as string;
      await eventually(() => seen.includes(`onDownloadComplete ${good}`), FINISH_MS, 'complete notified');
      assert.equal(await sha256OfFile(join(root, 'ws-done.bin')), sha256(data));

      const bad = (await ws.call('addUri', [missing.url], { out: 'missing.bin' })) as string;
      await eventually(() => seen.includes(`onDownloadError ${bad}`), FINISH_MS, 'error notified');
      const failed = (await ws.call('tellStatus', bad)) as Status & { errorMessage: string };
      assert.equal(failed.status, 'error');
      assert.equal(failed.errorCode, '3', 'an HTTP 404 is aria2 exit status 3');
      assert.match(failed.errorMessage, /404/);
      assert.deepEqual(silentGot, [], 'a session without an authorised call gets no notification');
    } finally {
      silent.terminate();
      await ws.close();
    }
  });

  test('ddm.*: add several, status with name and eta, piece map, events, command line, pushed progress', async () => {
    const gids = (await ddm('ddm.add', {
      urls: [`${origin.url}/one.bin`, `${second.url}/two.bin`],
      dir: join(root, 'many'),
      createDirs: true,
      connections: 2,
    })) as string[];
    assert.equal(gids.length, 2);
    await assert.rejects(
      ddm('ddm.add', { urls: [origin.url], connections: 100 }),
      /connections must be at most/,
    );
    // Added paused in the same call (the web UI's "Start paused"), not added and then paused.
    const [held] = (await ddm('ddm.add', {
      urls: [`${origin.url}/held.bin`],
      dir: join(root, 'held'),
      createDirs: true,
      paused: true,
    })) as string[];
    assert.equal(((await ddm('ddm.getStatus', held)) as { state: string }).state, 'paused');
    await assert.rejects(
      ddm('ddm.add', { urls: [origin.url], paused: 'yes' }),
      /paused must be true or false/,
    );
    await ddm('aria2.remove', held);
    for (const gid of gids) await until(gid, 'complete');
    assert.equal(await sha256OfFile(join(root, 'many', 'two.bin')), sha256(data));
    const rich = (await ddm('ddm.getStatus', gids[0])) as {
      name: string;
      eta: null;
      helpers: number;
      completedBytes: number;
    };
    assert.equal(rich.completedBytes, data.length);
    assert.equal(rich.eta, null);
    assert.equal(rich.helpers, 0);
    assert.equal(rich.name, 'one.bin');
    const map = (await ddm('ddm.getPieceMap', gids[0])) as {
      totalLength: number;
      pieces: { start: number; end: number; source: string }[];
      sources: { id: string }[];
    };
    assert.equal(map.totalLength, data.length);
    assert.equal(
      map.pieces.reduce((sum, p) => sum + p.end - p.start, 0),
      data.length,
    );
    for (const piece of map.pieces)
      assert.ok(
        map.sources.some((s) => s.id === piece.source),
        piece.source,
      );
    const events = (await ddm('ddm.getEvents', gids[0])) as { type: string; text: string }[];
    assert.ok(
      events.some((e) => e.type === 'done'),
      JSON.stringify(events),
    );
    assert.match(
      (await ddm('ddm.getCommandLine', gids[0])) as string,
      /^ddm get http:\/\/127\.0\.0\.1:\d+\/file\/one\.bin --dir \S+ --create-dirs --connections 2$/,
    );
    const all = (await ddm('ddm.tellAll')) as { id: string }[];
    assert.ok(gids.every((gid) => all.some((d) => d.id === gid)));
    const settings = (await ddm('ddm.getSettings')) as { dir: string; maxActive: number };
    assert.equal(settings.dir, root);
    const changed = (await ddm('ddm.changeSettings', { maxActive: 4 })) as { maxActive: number };
    assert.equal(changed.maxActive, 4);
    assert.equal(
      ((await aria2.call('getGlobalOption')) as Record<string, string>)['max-concurrent-downloads'],
      '4',
    );
    await assert.rejects(ddm('ddm.changeSettings', { maxActive: 'many' }), /maxActive/);
    assert.equal(((await ddm('ddm.getHelperRole')) as { enabled: boolean }).enabled, false);
    assert.deepEqual(await ddm('ddm.getHelpRequests'), []);
    await assert.rejects(ddm('ddm.answerHelpRequest', '0123456789abcdef', 'yes'), /\(1\)/);
    await assert.rejects(ddm('ddm.answerHelpRequest', '0123456789abcdef', 'perhaps'), /yes, no or always/);
    assert.deepEqual(await ddm('ddm.getSwarm'), []);

    const ws = new WebSocket(`ws://127.0.0.1:${daemon.port}/jsonrpc`);
    await within(new Promise((resolve) => ws.once('open', resolve)), 10_000, 'websocket open');
    try {
      const messages: {
        id?: string;
        method?: string;
        result?: unknown;
        params?: [{ downloads: unknown[] }];
      }[] = [];
      ws.on('message', (message) => messages.push(JSON.parse(String(message))));
      ws.send(
        JSON.stringify({
          id: 's',
          method: 'ddm.subscribe',
          params: [`token:${SECRET}`, { intervalMs: 200 }],
        }),
      );
      await eventually(() => messages.some((m) => m.method === 'ddm.onProgress'), 10_000, 'progress pushed');
      assert.deepEqual(messages.find((m) => m.id === 's')?.result, 'OK');
      const pushed = messages.find((m) => m.method === 'ddm.onProgress')!;
      assert.ok(pushed.params![0].downloads.length >= 2);
    } finally {
      ws.terminate();
    }
    await assert.rejects(ddm('ddm.subscribe'), /WebSocket only/);
  });
});
