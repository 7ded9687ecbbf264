import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import {
  type AddressInfo,
  connect,
  createServer as createTcpServer,
  type Socket,
  type Server as TcpServer,
} from 'node:net';
import { after, describe, it } from 'node:test';
import { Agent, type Dispatcher, EnvHttpProxyAgent } from 'undici';
import { originRequestsFor } from '../../src/client/download.js';
import { DdmError, isDdmError } from '../../src/errors.js';
import { createOriginDispatcher, type OriginRequestOptions } from '../../src/origin/http-client.js';
import { isLeased } from '../../src/origin/leased-bytes.js';
import { probe } from '../../src/origin/probe.js';
import { openRange } from '../../src/origin/range-request.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { drain } from '../helpers/wait.js';

const TIMEOUT_MS = 5_000;
const PROXY_VARIABLES = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'];

function requestOptions(
  dispatcher: Dispatcher,
  overrides: Partial<OriginRequestOptions> = {},
): OriginRequestOptions {
  return {
    dispatcher,
    headers: {},
    userAgent: 'ddm-test',
    timeoutMs: TIMEOUT_MS,
    maxRedirects: 5,
    ...overrides,
  };
}

async function withProxyEnv<T>(values: Record<string, string>, run: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(PROXY_VARIABLES.map((name) => [name, process.env[name]]));
  for (const name of PROXY_VARIABLES) delete process.env[name];
  Object.assign(process.env, values);
  try {
    return await run();
  } finally {
    for (const name of PROXY_VARIABLES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  }
}

async function listen<T extends Server | TcpServer>(server: T): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A forward proxy for loopback targets only: CONNECT tunnels and absolute-form requests. */
function startLoopbackProxy(): { server: Server; used: string[]; sockets: Set<Socket> } {
  const used: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const target = new URL(req.url ?? '');
    used.push(`GET ${target.host}`);
    if (target.hostname !== '127.0.0.1') return res.writeHead(403).end();
    const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  server.on('connect', (req, client: Socket) => {
    const [host, port] = (req.url ?? '').split(':');
    used.push(`CONNECT ${req.url}`);
    if (host !== '127.0.0.1') return client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream).add(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  server.on('connection', (socket) => sockets.add(socket));
  return { server, used, sockets };
}

describe('createOriginDispatcher', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  /** A loopback proxy, closed after the test. */
  async function startedProxy(): Promise<{
    proxy: ReturnType<typeof startLoopbackProxy>;
    proxyPort: number;
  }> {
    const proxy = startLoopbackProxy();
    const proxyPort = await listen(proxy.server);
    cleanups.push(async () => {
      for (const socket of proxy.sockets) socket.destroy();
      await new Promise((resolve) => proxy.server.close(resolve));
    });
    return { proxy, proxyPort };
  }

  async function origin(data = Buffer.from('0123456789')): Promise<TestOrigin> {
    const started = await startTestOrigin({ data });
    cleanups.push(() => started.close());
    return started;
  }

  it('is a plain Agent without proxy variables, or when told to ignore them', async () => {
    await withProxyEnv({}, async () => {
      const dispatcher = createOriginDispatcher({ timeoutMs: TIMEOUT_MS });
      assert.ok(dispatcher instanceof Agent);
      await dispatcher.close();
    });
    await withProxyEnv({ HTTP_PROXY: 'http://127.0.0.1:9' }, async () => {
      const dispatcher = createOriginDispatcher({ timeoutMs: TIMEOUT_MS, proxyFromEnv: false });
      assert.ok(dispatcher instanceof Agent);
      await dispatcher.close();
    });
  });

  it('goes through the proxy named by http_proxy, and around it for NO_PROXY hosts', async () => {
    const server = await origin();
    const { proxy, proxyPort } = await startedProxy();
    await withProxyEnv({ http_proxy: `http://127.0.0.1:${proxyPort}` }, async () => {
      const dispatcher = createOriginDispatcher({ timeoutMs: TIMEOUT_MS });
      assert.ok(dispatcher instanceof EnvHttpProxyAgent);
      const result = await probe(server.url, requestOptions(dispatcher), AbortSignal.timeout(TIMEOUT_MS));
      assert.equal(result.size, 10);
      assert.equal(proxy.used.length, 1);
      assert.match(proxy.used[0]!, new RegExp(`127\\.0\\.0\\.1:${server.port}$`));
      await dispatcher.close();
    });
    await withProxyEnv({ HTTP_PROXY: `http://127.0.0.1:${proxyPort}`, NO_PROXY: '127.0.0.1' }, async () => {
      const dispatcher = createOriginDispatcher({ timeoutMs: TIMEOUT_MS });
      await probe(server.url, requestOptions(dispatcher), AbortSignal.timeout(TIMEOUT_MS));
      assert.equal(proxy.used.length, 1, 'NO_PROXY bypassed the proxy');
      await dispatcher.close();
    });
  });

  it('sends ranges through the proxy as well: no own origin sockets while a proxy is configured', async () => {
    const server = await origin();
    const { proxy, proxyPort } = await startedProxy();
    const signal = () => AbortSignal.timeout(TIMEOUT_MS);
    await withProxyEnv({ http_proxy: `http://127.0.0.1:${proxyPort}` }, async () => {
      const { requestOptions: opts, close } = await originRequestsFor({ url: server.url }, signal());
      assert.equal(opts.sockets, undefined);
      const body = await openRange(server.url, { start: 2, end: 7 }, {}, opts, signal(), { lease: true });
      assert.equal(isLeased(body), false);
      assert.equal((await drain(body)).toString(), '23456');
      assert.equal(proxy.used.length, 1, 'the range went through the proxy');
      await close();
    });
    await withProxyEnv({}, async () => {
      const { requestOptions: opts, close } = await originRequestsFor({ url: server.url }, signal());
      const body = await openRange(server.url, { start: 2, end: 7 }, {}, opts, signal(), { lease: true });
      assert.equal(isLeased(body), true, 'without a proxy the range uses own sockets');
      await drain(body);
      await close();
    });
  });

  it('passes connect options to undici, so a custom lookup decides where names resolve', async () => {
    const server = await origin();
    const looked: string[] = [];
    const lookup = (
      hostname: string,
      options: { all?: boolean },
      callback: (
        error: Error | null,
        address: string | Array<{ address: string; family: number }>,
        family?: number,
      ) => void,
    ) => {
      looked.push(hostname);
      if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
      else callback(null, '127.0.0.1', 4);
    };
    const dispatcher = createOriginDispatcher({
      timeoutMs: TIMEOUT_MS,
      proxyFromEnv: false,
      connect: { lookup },
    });
    cleanups.push(() => dispatcher.close());
    const result = await probe(
      `http://origin.ddm-test.invalid:${server.port}/file`,
      requestOptions(dispatcher),
      AbortSignal.timeout(TIMEOUT_MS),
    );
    assert.equal(result.size, 10);
    assert.deepEqual(looked, ['origin.ddm-test.invalid']);
  });

  it('surfaces a DdmError raised by the lookup (a connect-time refusal) unchanged', async () => {
    const refusal = new DdmError('FORBIDDEN_DESTINATION', 'refusing to connect to a private address');
    const lookup = (_hostname: string, _options: unknown, callback: (error: Error) => void) =>
      callback(refusal);
    const dispatcher = createOriginDispatcher({
      timeoutMs: TIMEOUT_MS,
      proxyFromEnv: false,
      connect: { lookup },
    });
    cleanups.push(() => dispatcher.close());
    await assert.rejects(
      probe(
        'http://private.ddm-test.invalid:9/file',
        requestOptions(dispatcher),
        AbortSignal.timeout(TIMEOUT_MS),
      ),
      (error) => error === refusal,
    );
  });

  it('limits sockets per origin to `connections`', async () => {
    const server = await startTestOrigin({ data: Buffer.alloc(64 * 1024), rateBytesPerSec: 512 * 1024 });
    cleanups.push(() => server.close());
    const dispatcher = createOriginDispatcher({ timeoutMs: TIMEOUT_MS, connections: 2, proxyFromEnv: false });
    cleanups.push(() => dispatcher.close());
    const signal = AbortSignal.timeout(TIMEOUT_MS);
    await Promise.all(
      [0, 1, 2, 3].map(async (index) => {
        const body = await openRange(
          server.url,
          { start: index * 1024, end: (index + 1) * 1024 },
          {},
          requestOptions(dispatcher),
          signal,
        );
        for await (const _ of body);
      }),
    );
    assert.equal(server.fileRequests, 4);
    assert.equal(server.connections, 2);
  });

  it('times out a silent origin with a retryable TIMEOUT', async () => {
    const silent = createTcpServer((socket) => socket.on('error', () => {}));
    const port = await listen(silent);
    const sockets = new Set<Socket>();
    silent.on('connection', (socket) => sockets.add(socket));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const dispatcher = createOriginDispatcher({ timeoutMs: 200, proxyFromEnv: false });
    cleanups.push(() => dispatcher.close());
    const started = performance.now();
    await assert.rejects(
      probe(
        `http://127.0.0.1:${port}/file`,
        requestOptions(dispatcher, { timeoutMs: 200 }),
        AbortSignal.timeout(TIMEOUT_MS),
      ),
      (error) => {
        assert.ok(isDdmError(error, 'TIMEOUT'));
        assert.equal(error.retryable, true);
        return true;
      },
    );
    assert.ok(performance.now() - started < 2_000);
  });

  it('times out a body that stalls', async () => {
    const server = await startTestOrigin({ data: Buffer.alloc(64 * 1024), rateBytesPerSec: 1 });
    cleanups.push(() => server.close());
    const dispatcher = createOriginDispatcher({ timeoutMs: 200, proxyFromEnv: false });
    cleanups.push(() => dispatcher.close());
    const body = await openRange(
      server.url,
      { start: 0, end: 64 * 1024 },
      {},
      requestOptions(dispatcher, { timeoutMs: 200 }),
      AbortSignal.timeout(TIMEOUT_MS),
    );
    await assert.rejects(
      (async () => {
        for await (const _ of body);
      })(),
      (error) => isDdmError(error, 'TIMEOUT') && error.retryable,
    );
  });
});

describe('request headers', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('sends the user agent, identity encoding and user headers, but never a user Range', async () => {
    const server = await startTestOrigin({ data: Buffer.from('abcdef') });
    cleanups.push(() => server.close());
    const dispatcher = createOriginDispatcher({ timeoutMs: TIMEOUT_MS, proxyFromEnv: false });
    cleanups.push(() => dispatcher.close());
    const headers = { 'X-Token': 'abc', Range: 'bytes=0-', 'If-Range': '"nope"' };
    await probe(server.url, requestOptions(dispatcher, { headers }), AbortSignal.timeout(TIMEOUT_MS));
    const sent = server.requestLog[0]!.headers;
    assert.equal(sent['user-agent'], 'ddm-test');
    assert.equal(sent['accept-encoding'], 'identity');
    assert.equal(sent['x-token'], 'abc');
    assert.equal(sent.range, 'bytes=0-0');
    assert.equal(sent['if-range'], undefined);
  });

  it('turns URL credentials into Basic auth, and drops credentials on a redirect to another origin', async () => {
    const target = await startTestOrigin({ data: Buffer.from('abcdef') });
    cleanups.push(() => target.close());
    const redirector = createServer((_req, res) => {
      res.writeHead(302, { location: `${target.url}/moved.bin` }).end();
    });
    const port = await listen(redirector);
    cleanups.push(() => new Promise((resolve) => redirector.close(resolve)));
    const dispatcher = createOriginDispatcher({ timeoutMs: TIMEOUT_MS, proxyFromEnv: false });
    cleanups.push(() => dispatcher.close());
    const seenByRedirector: Array<string | undefined> = [];
    redirector.prependListener('request', (req) => seenByRedirector.push(req.headers.authorization));

    const headers = { Authorization: 'Bearer secret', Cookie: 'session=1', 'X-Other': 'kept' };
    const result = await probe(
      `http://user:p%40ss@127.0.0.1:${port}/start`,
      requestOptions(dispatcher, { headers }),
      AbortSignal.timeout(TIMEOUT_MS),
    );
    assert.equal(result.fileName, 'moved.bin');
    assert.deepEqual(seenByRedirector, ['Bearer secret']);
    const sent = target.requestLog[0]!.headers;
    assert.equal(sent.authorization, undefined);
    assert.equal(sent.cookie, undefined);
    assert.equal(sent['x-other'], 'kept');

    await probe(
      `http://user:p%40ss@127.0.0.1:${port}/start`,
      requestOptions(dispatcher),
      AbortSignal.timeout(TIMEOUT_MS),
    );
    assert.equal(seenByRedirector[1], `Basic ${Buffer.from('user:p@ss').toString('base64')}`);
    assert.equal(target.requestLog[1]!.headers.authorization, undefined);
  });
});
