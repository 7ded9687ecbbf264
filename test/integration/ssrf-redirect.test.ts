/**
 * The SSRF guard after redirects, through the real origin layer (getFollowingRedirects over the
 * dispatcher a peer builds, with its public-only lookup). Real origins here live on 127.0.0.1,
 * which a guarded peer would never reach, so the test's `beforeRequest` lets exactly those
 * origins through, standing in for public servers, and applies the guard to every other hop.
 * Each origin then redirects (301/302/303/307/308, over http and https) to canaries on
 * 127.0.0.1 and ::1, which must see no connection at all.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { MAX_REDIRECTS } from '../../src/constants.js';
import { DdmError } from '../../src/errors.js';
import { getFollowingRedirects } from '../../src/origin/follow-redirects.js';
import { createOriginDispatcher, type OriginRequestOptions } from '../../src/origin/http-client.js';
import { assertAllowedUrl, publicOnlyLookup } from '../../src/peer/origin-guard.js';

/** Self-signed for IP 127.0.0.1, valid until 2126; a test fixture, not a secret. */
const TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBmDCCAT6gAwIBAgIUBkoVSzSB2ABcbTo5eNGFpq8HlyowCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNZGRtLXNzcmYtdGVzdDAgFw0yNjExMjExMjI3NTFaGA8yMTI2
MTAyODEyMjc1MVowGDEWMBQGA1UEAwwNZGRtLXNzcmYtdGVzdDBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABDs4LJAxa9CFdKtQU5elnfjj3tOXC1Ad4eputNLjGL3u
kHZbCd5GwzqBZDvHYmKIjyUMe8H2vXae8Puv88rkANyjZDBiMB0GA1UdDgQWBBTR
9w95shedlGghX0IahmFtc1ZS9DAfBgNVHSMEGDAWgBTR9w95shedlGghX0IahmFt
c1ZS9DAPBgNVHRMBAf8EBTADAQH/MA8GA1UdEQQIMAaHBH8AAAEwCgYIKoZIzj0E
AwIDSAAwRQIgfHGPsefy10AsCN5ZkKZ2xKqWt98e/0prIs/5nIbV1ScCIQCxGPoZ
WIM71Wc1t/PYMVajv1H7fcpEIXko4ooBqHWrIA==
-----END CERTIFICATE-----
`;
const TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgiCvVK+MjT9NfQ3HU
cNHsMwq2JyrCnzaMuKsVBrHNLnOhRANCAAQ7OCyQMWvQhXSrUFOXpZ34497TlwtQ
HeHqbrTS4xi97pB2WwneRsM6gWQ7x2JiiI8lDHvB9r12nvD7r/PK5ADc
-----END PRIVATE KEY-----
`;

interface Canary {
  port: number;
  readonly connections: number;
}

const servers: { close(callback: () => void): unknown }[] = [];
after(async () => {
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

async function startCanary(host: string): Promise<Canary> {
  let connections = 0;
  const server = createTcpServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  const port = await listen(server, host);
  return {
    port,
    get connections() {
      return connections;
    },
  };
}

/** `/to?s=STATUS&u=TARGET` redirects to TARGET; anything else is a small 200. */
function redirector(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://origin');
  const target = url.searchParams.get('u');
  if (url.pathname === '/to' && target !== null) {
    // Header values are bytes: a non-ASCII host travels percent-encoded, as real servers send it.
    res.writeHead(Number(url.searchParams.get('s') ?? 302), {
      location: target.replace(/[^\x20-\x7e]/gu, (char) => encodeURIComponent(char)),
      'content-length': 0,
    });
    res.end();
    return;
  }
  res.writeHead(200, { 'content-length': 4 });
  res.end('file');
}

function via(origin: string, target: string, status = 302): string {
  return `${origin}/to?s=${status}&u=${encodeURIComponent(target)}`;
}

describe('SSRF guard on every redirect hop', () => {
  let v4: Canary;
  let v6: Canary | undefined;
  let httpOrigin: string;
  let httpsOrigin: string;
  let trusted: Set<string>;

  before(async () => {
    v4 = await startCanary('127.0.0.1');
    v6 = await startCanary('::1').catch(() => undefined);
    const plainPort = await listen(createHttpServer(redirector), '127.0.0.1');
    const tlsPort = await listen(
      createHttpsServer({ cert: TLS_CERT, key: TLS_KEY }, redirector),
      '127.0.0.1',
    );
    httpOrigin = `http://127.0.0.1:${plainPort}`;
    httpsOrigin = `https://127.0.0.1:${tlsPort}`;
    trusted = new Set([new URL(httpOrigin).host, new URL(httpsOrigin).host]);
  });

  /** The same dispatcher wiring as a peer without --allow-private, shared by the tests. */
  const dispatcher = createOriginDispatcher({
    timeoutMs: 3_000,
    proxyFromEnv: false,
    connect: { lookup: publicOnlyLookup, ca: TLS_CERT },
  });
  after(() => dispatcher.destroy());

  async function follow(start: string): Promise<{ error: DdmError; seen: URL[] }> {
    const seen: URL[] = [];
    const opts: OriginRequestOptions = {
      dispatcher,
      headers: {},
      userAgent: 'ddm-ssrf-test',
      timeoutMs: 3_000,
      maxRedirects: MAX_REDIRECTS,
      beforeRequest: (url) => {
        seen.push(url);
        // The test origins stand in for public servers; every other hop meets the real guard.
        if (!trusted.has(url.host)) assertAllowedUrl(url, false);
      },
    };
    try {
      const response = await getFollowingRedirects(start, {}, opts, AbortSignal.timeout(10_000));
      await response.body.dump();
      assert.fail(`${start} was fetched: ${response.url.href}`);
    } catch (error) {
      assert.ok(error instanceof DdmError, String(error));
      return { error, seen };
    }
  }

  function targets(): { target: string; status: number; refusedBy: 'hop' | 'dial' }[] {
    const p4 = v4.port;
    const list = [
      { target: `http://127.0.0.1:${p4}/file`, status: 301, refusedBy: 'hop' as const },
      { target: `http://2130706433:${p4}/file`, status: 302, refusedBy: 'hop' as const },
      { target: `http://0x7f.1:${p4}/file`, status: 303, refusedBy: 'hop' as const },
      { target: `http://0177.0.0.1:${p4}/file`, status: 307, refusedBy: 'hop' as const },
      { target: `http://127.0.0.1.:${p4}/file`, status: 308, refusedBy: 'hop' as const },
      { target: `http://[::ffff:127.0.0.1]:${p4}/file`, status: 302, refusedBy: 'hop' as const },
      { target: `//127.0.0.1:${p4}/scheme-relative`, status: 302, refusedBy: 'hop' as const },
      { target: `https://127.0.0.1:${p4}/upgrade`, status: 302, refusedBy: 'hop' as const },
      { target: `http://user:pw@127.0.0.1:${p4}/file`, status: 302, refusedBy: 'hop' as const },
      { target: 'http://localhost:25/', status: 302, refusedBy: 'hop' as const },
      { target: `http://localhost:${p4}/file`, status: 302, refusedBy: 'dial' as const },
      { target: `https://localhost:${p4}/file`, status: 307, refusedBy: 'dial' as const },
      { target: `http://ｌｏｃａｌｈｏｓｔ:${p4}/file`, status: 308, refusedBy: 'dial' as const },
      { target: `http://foo.localhost:${p4}/file`, status: 301, refusedBy: 'dial' as const },
    ];
    if (v6) {
      list.push(
        { target: `http://[::1]:${v6.port}/file`, status: 302, refusedBy: 'hop' },
        { target: `https://[0:0:0:0:0:0:0:1]:${v6.port}/file`, status: 307, refusedBy: 'hop' },
      );
    }
    return list;
  }

  test('a redirect to a canary is refused, from http and from https, and never dialled', async () => {
    for (const origin of [httpOrigin, httpsOrigin]) {
      for (const { target, status, refusedBy } of targets()) {
        const start = via(origin, target, status);
        const { error, seen } = await follow(start);
        const what = `${start}: ${error.message}`;
        if (origin.startsWith('https:') && target.startsWith('http:')) {
          // https to http is refused as a downgrade before the guard even looks.
          assert.equal(error.code, 'BAD_RESPONSE', what);
          continue;
        }
        assert.equal(error.code, 'FORBIDDEN_DESTINATION', what);
        // beforeRequest ran on the redirect target, i.e. on the URL that would have been sent.
        assert.equal(seen.length, 2, what);
        assert.equal(seen[1]?.href, new URL(target, origin).href, what);
        if (refusedBy === 'dial')
          assert.match(error.message, /names a private address|resolves to a private address/, what);
      }
    }
    assert.equal(v4.connections, 0);
    assert.equal(v6?.connections ?? 0, 0);
  });

  test('every hop of a long chain is judged: http to https and back, then a canary', async () => {
    const canary = `http://127.0.0.1:${v4.port}/file`;
    // http → https → https → canary over https (the final hop is an upgrade of the canary).
    const chain = via(
      httpOrigin,
      via(httpsOrigin, via(httpsOrigin, `https://127.0.0.1:${v4.port}/x`, 307), 308),
    );
    const deep = await follow(chain);
    assert.equal(deep.error.code, 'FORBIDDEN_DESTINATION', deep.error.message);
    assert.deepEqual(
      deep.seen.map((url) => url.protocol),
      ['http:', 'https:', 'https:', 'https:'],
    );
    // http → https → http is a downgrade; http → http → http → canary is refused at the last hop.
    const back = await follow(via(httpOrigin, via(httpsOrigin, via(httpOrigin, canary))));
    assert.equal(back.error.code, 'BAD_RESPONSE', back.error.message);
    const plain = await follow(via(httpOrigin, via(httpOrigin, via(httpOrigin, canary, 301), 303), 307));
    assert.equal(plain.error.code, 'FORBIDDEN_DESTINATION', plain.error.message);
    assert.equal(plain.seen.length, 4);
    assert.equal(v4.connections, 0);
  });

  test('a redirect to another scheme is not followed at all', async () => {
    for (const target of [
      `ftp://127.0.0.1:${v4.port}/file`,
      `gopher://127.0.0.1:${v4.port}/_x`,
      'file:///etc/passwd',
    ]) {
      const { error, seen } = await follow(via(httpOrigin, target));
      assert.equal(error.code, 'BAD_RESPONSE', error.message);
      assert.equal(seen.length, 1);
    }
    assert.equal(v4.connections, 0);
  });

  test('control: with --allow-private the same redirects do reach the canaries', async () => {
    for (const target of [`http://2130706433:${v4.port}/file`, `http://localhost:${v4.port}/file`]) {
      const before = v4.connections;
      const opts: OriginRequestOptions = {
        dispatcher: createOriginDispatcher({ timeoutMs: 3_000, proxyFromEnv: false }),
        headers: {},
        userAgent: 'ddm-ssrf-test',
        timeoutMs: 3_000,
        maxRedirects: MAX_REDIRECTS,
        beforeRequest: (url) => assertAllowedUrl(url, true),
      };
      await getFollowingRedirects(via(httpOrigin, target), {}, opts, AbortSignal.timeout(10_000)).then(
        (response) => response.body.dump(),
        () => undefined,
      );
      await opts.dispatcher.destroy();
      assert.ok(v4.connections > before, target);
    }
  });
});
