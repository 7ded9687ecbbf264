/**
 * The RPC under bad input and hostile callers: malformed JSON, wrong types, unknown gids, a
 * request over 2 MiB, thousands of calls in one batch, a WebSocket that never reads; wrong
 * tokens answered slowly, foreign Hosts and Origins refused, the UI's authorisation hook. Every
 * answer is a clear JSON-RPC error and the daemon keeps answering.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { MAX_MIRRORS, RPC_AUTH_FAILURE_DELAY_MS, RPC_MAX_REQUEST_BYTES } from '../../src/constants.js';
import { type Daemon, startDaemon } from '../../src/daemon/daemon.js';
import { routeRequests } from '../../src/daemon/daemon-routes.js';
import { createEngine } from '../../src/engine/engine.js';
import { createRpcRoute, type RpcRoute } from '../../src/rpc/rpc-route.js';
import { rawRpc } from '../helpers/rpc.js';
import { within } from '../helpers/wait.js';

const SECRET = 'limits-test-secret-0123456789';
const ALLOWED_ORIGIN = 'http://ariang.example:8080';

interface ErrorBody {
  id: unknown;
  error: { code: number; message: string };
}

function json(method: string, params: unknown[] = [], id: unknown = 1): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method, params: [`token:${SECRET}`, ...params] });
}

function statusWithHeaders(
  url: string,
  headers: Record<string, string>,
  method = 'POST',
): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/jsonrpc`, { method, headers }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('error', reject);
    req.end(method === 'POST' ? json('aria2.getVersion') : undefined);
  });
}

describe('JSON-RPC bad input and access', () => {
  let root: string;
  let daemon: Daemon;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ddm-rpc-limits-'));
    daemon = await startDaemon({
      host: '127.0.0.1',
      port: 0,
      dir: root,
      stateDir: join(root, 'state'),
      rpcSecret: SECRET,
      rpcAllowOrigins: [ALLOWED_ORIGIN],
    });
  });

  after(async () => {
    await daemon?.close();
    await rm(root, { recursive: true, force: true });
  });

  const alive = async () => {
    const answer = await rawRpc(daemon.url, json('aria2.getVersion'));
    assert.equal(answer.status, 200, answer.text);
  };

  test("malformed JSON, wrong types, unknown gid, bad shapes: aria2's codes and words", async () => {
    const parse = await rawRpc(daemon.url, '{"id":1,"method":');
    assert.equal(parse.status, 500);
    assert.deepEqual(parse.body, {
      id: null,
      jsonrpc: '2.0',
      error: { code: -32700, message: 'Parse error.' },
    });
    const wrongType = await rawRpc(daemon.url, json('aria2.tellStatus', [5]));
    assert.equal(wrongType.status, 400);
    assert.equal((wrongType.body as ErrorBody).error.message, 'The parameter at 0 has wrong type.');
    const missing = await rawRpc(daemon.url, json('aria2.tellStatus'));
    assert.equal((missing.body as ErrorBody).error.message, 'The parameter at 0 is required but missing.');
    const unknown = await rawRpc(daemon.url, json('aria2.tellStatus', ['0123456789abcdef']));
    assert.deepEqual((unknown.body as ErrorBody).error, {
      code: 1,
      message: 'GID 0123456789abcdef is not found',
    });
    const params = await rawRpc(
      daemon.url,
      JSON.stringify({ id: 1, method: 'aria2.getVersion', params: { a: 1 } }),
    );
    assert.equal(params.status, 500);
    assert.equal((params.body as ErrorBody).error.code, -32602);
    const noId = await rawRpc(daemon.url, JSON.stringify({ method: 'aria2.getVersion' }));
    assert.equal((noId.body as ErrorBody).error.code, -32600);
    const noMethod = await rawRpc(daemon.url, json('aria2.nope'));
    assert.equal((noMethod.body as ErrorBody).error.message, 'No such method: aria2.nope');
    const badOption = await rawRpc(
      daemon.url,
      json('aria2.addUri', [['http://127.0.0.1:1/x'], { split: '0' }]),
    );
    assert.match((badOption.body as ErrorBody).error.message, /processing the option '--split'/);
    // Several URIs are mirrors of one file, up to MAX_MIRRORS besides the first.
    const tooMany = Array.from({ length: MAX_MIRRORS + 2 }, (_, index) => `http://127.0.0.1:1/${index}`);
    const mirrors = await rawRpc(daemon.url, json('aria2.addUri', [tooMany]));
    assert.match((mirrors.body as ErrorBody).error.message, /^mirrors /);
    const badKey = await rawRpc(
      daemon.url,
      json('ddm.add', [{ urls: ['http://127.0.0.1:1/x'], connections: 'four' }]),
    );
    assert.match((badKey.body as ErrorBody).error.message, /^connections /);
    // Lenient as aria2: "json-rpc" instead of "jsonrpc", a string id, surplus parameters.
    const lenient = await rawRpc(
      daemon.url,
      JSON.stringify({
        'json-rpc': '2.0',
        id: 'abc',
        method: 'aria2.getVersion',
        params: [`token:${SECRET}`, 'surplus'],
      }),
    );
    assert.equal((lenient.body as { id: string }).id, 'abc');
    assert.ok((lenient.body as { result: object }).result);
    await alive();
  });

  test('a request over 2 MiB is refused with 413; a batch of 5000 calls is answered in full', async () => {
    const big = Buffer.alloc(RPC_MAX_REQUEST_BYTES + 1, 0x20);
    const refused = await rawRpc(daemon.url, big).catch((error: Error) => ({
      status: -1,
      body: error.message,
    }));
    assert.equal(refused.status, 413, JSON.stringify(refused.body));
    assert.equal((refused.body as ErrorBody).error.code, -32600);
    const calls = Array.from({ length: 5000 }, (_, index) => ({
      jsonrpc: '2.0',
      id: index,
      method: 'aria2.getGlobalStat',
      params: [`token:${SECRET}`],
    }));
    const batch = await rawRpc(daemon.url, JSON.stringify(calls));
    assert.equal(batch.status, 200);
    const answers = batch.body as { id: number; result: object }[];
    assert.equal(answers.length, 5000);
    assert.ok(answers.every((answer, index) => answer.id === index && answer.result));
    assert.deepEqual(await rawRpc(daemon.url, '[]').then((a) => a.body), []);
    await alive();
  });

  test('a wrong token is Unauthorized and answered slowly; listing methods needs none', async () => {
    const wrong = await rawRpc(
      daemon.url,
      JSON.stringify({ id: 1, method: 'aria2.getVersion', params: ['token:wrong'] }),
    );
    assert.deepEqual((wrong.body as ErrorBody).error, { code: 1, message: 'Unauthorized' });
    assert.ok(wrong.ms >= RPC_AUTH_FAILURE_DELAY_MS * 0.9, `answered after ${wrong.ms} ms`);
    const none = await rawRpc(daemon.url, JSON.stringify({ id: 1, method: 'aria2.tellActive' }));
    assert.equal((none.body as ErrorBody).error.message, 'Unauthorized');
    const listed = await rawRpc(daemon.url, JSON.stringify({ id: 1, method: 'system.listMethods' }));
    assert.ok((listed.body as { result: string[] }).result.includes('aria2.addUri'));
    const multi = await rawRpc(
      daemon.url,
      JSON.stringify({
        id: 1,
        method: 'system.multicall',
        params: [
          [
            { methodName: 'aria2.getVersion', params: [`token:${SECRET}`] },
            { methodName: 'aria2.getVersion', params: [] },
            { methodName: 'system.multicall', params: [] },
          ],
        ],
      }),
    );
    const results = (multi.body as { result: unknown[] }).result;
    assert.ok(Array.isArray(results[0]));
    assert.deepEqual(results[1], { code: 1, message: 'Unauthorized' });
    assert.deepEqual(results[2], { code: 1, message: 'Recursive system.multicall forbidden.' });
  });

  test('Host must name the daemon; browsers only from its own origin or --rpc-allow-origin; JSONP over GET', async () => {
    const port = daemon.port;
    assert.equal((await statusWithHeaders(daemon.url, { host: `evil.example:${port}` })).status, 403);
    assert.equal(
      (await statusWithHeaders(daemon.url, { host: `localhost:${port}`, origin: 'http://evil.example' }))
        .status,
      403,
    );
    assert.equal(
      (await statusWithHeaders(daemon.url, { host: `localhost:${port}`, origin: `http://localhost:${port}` }))
        .status,
      200,
    );
    const allowed = await statusWithHeaders(daemon.url, {
      host: `127.0.0.1:${port}`,
      origin: ALLOWED_ORIGIN,
    });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers['access-control-allow-origin'], ALLOWED_ORIGIN);
    const preflight = await statusWithHeaders(
      daemon.url,
      { host: `127.0.0.1:${port}`, origin: ALLOWED_ORIGIN },
      'OPTIONS',
    );
    assert.equal(preflight.status, 204);
    const evilSocket = new WebSocket(`ws://127.0.0.1:${port}/jsonrpc`, {
      headers: { origin: 'http://evil.example' },
    });
    const refused = await within(
      new Promise<string>((resolve) =>
        evilSocket.once('unexpected-response', (_req, res) => resolve(String(res.statusCode))),
      ),
      10_000,
      'refused upgrade',
    );
    assert.equal(refused, '403');
    const params = Buffer.from(JSON.stringify([`token:${SECRET}`])).toString('base64');
    const jsonp = await fetch(
      `${daemon.url}/jsonrpc?method=aria2.getVersion&id=foo&params=${encodeURIComponent(params)}&jsoncallback=cb`,
    );
    assert.match(await jsonp.text(), /^cb\(\{"id":"foo","jsonrpc":"2.0","result":\{/);
  });

  test('a WebSocket message over 2 MiB closes that session (1009); the daemon answers on', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${daemon.port}/jsonrpc`);
    await within(new Promise((resolve) => ws.once('open', resolve)), 10_000, 'open');
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(Buffer.alloc(RPC_MAX_REQUEST_BYTES + 10, 0x20));
    assert.equal(await within(closed, 10_000, 'closed'), 1009);
    await alive();
  });

  test('a WebSocket that never reads is dropped once it holds too much; the daemon answers on', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${daemon.port}/jsonrpc`);
    await within(new Promise((resolve) => ws.once('open', resolve)), 10_000, 'open');
    const socket = (ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // Each message asks for ~1.5 MB of answers; the client reads none of them.
    const batch = JSON.stringify(
      Array.from({ length: 1000 }, (_, id) => ({ id, method: 'system.listMethods' })),
    );
    const before = process.memoryUsage().rss;
    for (let index = 0; index < 60 && socket.readyState === 'open'; index += 1) {
      ws.send(batch);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await within(closed, 30_000, 'the server drops the session');
    const grown = process.memoryUsage().rss - before;
    assert.ok(grown < 200 * 1024 * 1024, `memory grew by ${grown} bytes`);
    await alive();
  });
});

describe('the UI authorisation hook', () => {
  let server: Server;
  let route: RpcRoute;
  let url: string;
  const engine = createEngine();

  before(async () => {
    let port = 0;
    route = createRpcRoute({
      engine,
      secret: SECRET,
      allowedHosts: () => new Set([`127.0.0.1:${port}`]),
      allowOrigins: [],
      dir: () => tmpdir(),
      authorizeRequest: (req) => req.headers.cookie === 'session=ok',
    });
    const router = routeRequests([route]);
    server = createServer(router.request);
    server.on('upgrade', router.upgrade);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    url = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    route.close();
    await new Promise((resolve) => server.close(resolve));
    await engine.close();
  });

  test('a request the hook authorises needs no token (one given is still stripped); others do', async () => {
    const bare = JSON.stringify({ id: 1, method: 'aria2.tellStatus', params: ['0123456789abcdef'] });
    const withCookie = await rawRpc(url, bare, { cookie: 'session=ok' });
    assert.equal((withCookie.body as ErrorBody).error.message, 'GID 0123456789abcdef is not found');
    const stripped = await rawRpc(
      url,
      JSON.stringify({ id: 1, method: 'aria2.tellStatus', params: ['token:anything', '0123456789abcdef'] }),
      { cookie: 'session=ok' },
    );
    assert.equal((stripped.body as ErrorBody).error.message, 'GID 0123456789abcdef is not found');
    const without = await rawRpc(url, bare);
    assert.equal((without.body as ErrorBody).error.message, 'Unauthorized');
    const ws = new WebSocket(`${url.replace('http', 'ws')}/jsonrpc`, { headers: { cookie: 'session=ok' } });
    await within(new Promise((resolve) => ws.once('open', resolve)), 10_000, 'open');
    const answer = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
    ws.send(JSON.stringify({ id: 7, method: 'aria2.getGlobalStat' }));
    assert.match(await within(answer, 10_000, 'answer'), /"numActive":"0"/);
    ws.terminate();
  });
});
